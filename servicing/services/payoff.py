"""Payoff (提前结清): pay the payoff quote for the business date and the loan is settled.

The quote (``servicing.payoff.payoff_plan``) owes the current period's interest only as accrued to the
payoff date; interest of later periods is not owed at all. To make the schedule say so, the payoff
writes a new schedule version (reason 「提前结清」) before taking the money:

* installments due on or before the date are copied unchanged (they are paid in full by the payoff);
* the **current installment** (the first one due after the date) takes all principal not yet due, its
  interest is cut to what has accrued (``interest_paid + accrued``) and it carries the prepayment fee;
* later installments are dropped when nothing was paid on them, otherwise kept with what was paid as
  their whole amount (principal moved to the current installment, unpaid interest cut).

Ledger, in the same transaction:

* interest already booked on a cut installment is reduced by a **waiver** entry
  (Dr interest_income / Cr interest_receivable) — unbooked interest simply never reaches the ledger;
* the prepayment fee is posted as a fee (Dr fee_receivable / Cr fee_income) with ``fee_due`` on the
  current installment;
* overpayment held for the borrower is applied first (the quote deducts it), then the payment itself is
  a repayment over the new version (art. 561 waterfall, interest booked as it is paid); any surplus
  over the quote is held as overpayment (溢缴款);
* the loan is settled through ``loan_transition("settle")`` and the settlement certificate is issued.

``check_ledger`` agrees with the new version at every step. Refusals (nothing written): bad input (400),
a loan that is not active/overdue (409 ``loan_not_repayable``), an amount below the quote (422
``payoff_amount_short``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction

from applications.lifecycle import loans_for_update
from applications.models import SERVICING_STATUSES, LoanStatus
from applications.selectors import loan_get_for_actor
from applications.services import require_perm
from loanops.exceptions import DomainError, InvalidTransition
from loanops.money import ZERO
from servicing.models import Account, EntryKind, Installment, Repayment, ScheduleVersion
from servicing.payoff import PayoffPlan, payoff_plan
from servicing.selectors import loan_balances
from servicing.services.business_date import business_date_get
from servicing.services.closing import settle_if_paid
from servicing.services.common import installment_status, installments_for_update
from servicing.services.ledger import EntrySpec, Posting, journal_post, journal_post_many
from servicing.services.overpayment import overpayment_apply_locked
from servicing.services.repayments import post_payment, validate_payment
from servicing.services.schedules import copy_installment, version_write

__all__ = ["loan_payoff"]


def _settlement_items(
    installments: list[Installment], plan: PayoffPlan
) -> tuple[list[Installment], list[tuple[Installment, Decimal]]]:
    """The installments of the settling version and the booked interest each one gives up."""
    items: list[Installment] = []
    waived: list[tuple[Installment, Decimal]] = []
    for item in sorted(installments, key=lambda i: i.period):
        copy = copy_installment(item)
        if plan.current_period is None or item.period < plan.current_period:
            items.append(copy)
            continue
        if item.period == plan.current_period:
            copy.principal_due = copy.principal_paid + plan.principal_not_due
            new_interest = copy.interest_paid + plan.accrued
            copy.fee_due += plan.prepayment_fee
            copy.remaining_after = ZERO
        else:
            if not (item.principal_paid or item.interest_paid or item.fee_due or item.penalty_due):
                continue  # untouched later installment: not owed any more
            copy.principal_due = copy.principal_paid
            new_interest = copy.interest_paid
        if copy.interest_booked and copy.interest_due > new_interest:
            waived.append((copy, copy.interest_due - new_interest))
        copy.interest_due = new_interest
        items.append(copy)
    return items, waived


@transaction.atomic
def loan_payoff(
    *, actor: Any, loan_id: int, amount: Any, channel: str, reference: str = "", reason: str = ""
) -> Repayment:
    """Pay off the loan on the business date with at least the quoted total (perm ``servicing.add_repayment``)."""
    require_perm(actor, "servicing.add_repayment")
    today = business_date_get()
    value, paid_on, channel, reference = validate_payment(
        amount=amount, paid_on=today, channel=channel, reference=reference, today=today
    )
    loan_get_for_actor(actor=actor, loan_id=loan_id)
    loan = loans_for_update().select_related("product", "customer").get(pk=loan_id)
    if loan.status not in SERVICING_STATUSES:
        raise InvalidTransition(
            f"贷款当前状态为「{LoanStatus(loan.status).label}」，不能提前结清",
            code="loan_not_repayable",
            extra={"status": loan.status},
        )
    held = loan_balances(loan)["overpayment"]
    installments = installments_for_update(loan)
    plan = payoff_plan(loan=loan, installments=installments, on=today, overpayment=held)
    if value < plan.total:
        raise DomainError(
            f"结清金额不足：应付 {plan.total} 元，实付 {value} 元",
            code="payoff_amount_short",
            fields={"amount": [f"至少 {plan.total}"]},
            extra={"total": plan.total, "items": plan.items},
        )

    old = ScheduleVersion.objects.select_for_update().get(loan=loan, is_current=True)
    items, waived = _settlement_items(installments, plan)
    for item in items:
        item.status = installment_status(item, today=today)
    version_write(
        actor=actor,
        loan=loan,
        old=old,
        items=items,
        reason=str(reason or "").strip()[:200] or "提前结清",
        principal=plan.principal_not_due,
        term_months=0,
        first_due_date=old.first_due_date,
    )
    if waived:
        journal_post_many(
            [
                EntrySpec(
                    loan_id=loan.pk,
                    kind=EntryKind.WAIVER,
                    business_date=today,
                    postings=[
                        Posting(Account.INTEREST_INCOME, debit=amount_),
                        Posting(Account.INTEREST_RECEIVABLE, credit=amount_),
                    ],
                    memo=f"提前结清：第{item.period}期未计提利息减免",
                )
                for item, amount_ in waived
            ],
            actor=actor,
        )
    if plan.prepayment_fee > 0:
        journal_post(
            loan=loan,
            kind=EntryKind.FEE,
            business_date=today,
            postings=[
                Posting(Account.FEE_RECEIVABLE, debit=plan.prepayment_fee),
                Posting(Account.FEE_INCOME, credit=plan.prepayment_fee),
            ],
            actor=actor,
            memo="提前结清手续费",
        )
    if held > 0:  # the held credit pays first (the quote deducted it)
        overpayment_apply_locked(actor=actor, loan=loan, today=today, reason="提前结清")
    current = installments_for_update(loan)
    repayment = post_payment(
        actor=actor,
        loan=loan,
        installments=current,
        value=value,
        paid_on=paid_on,
        channel=channel,
        reference=reference,
        today=today,
        action="loan.payoff",
        allocate_all=True,
    )
    settled = settle_if_paid(loan, current, actor=actor, on=paid_on, reason=str(reason or "").strip() or "提前结清")
    if not settled:  # the plan covers every installment, so this cannot happen unless the figures disagree
        raise DomainError("结清金额与还款计划不一致，未能结清", code="payoff_inconsistent")
    return repayment
