"""Repayments (还款): record with the art. 561 waterfall, and reverse (冲正) a wrongly recorded one.

Accounting of a repayment of A (one entry, kind ``repayment``)::

    Dr cash_clearing          A
        Cr fee_receivable         fees allocated
        Cr penalty_receivable     penalty allocated
        Cr interest_receivable    interest allocated
        Cr principal_receivable   principal allocated
        Cr overpayment            what is beyond the due installments and the next one (溢缴款挂账)

Interest is receivable only once booked (see ``servicing.services`` docstring): before allocating, the
interest of every installment that is due on the business date, or that receives part of this payment,
is booked in its own accrual entry if it was not booked yet.

A reversal posts the mirror entry (kind ``reversal``, ``reverses=`` the original), takes the allocated
amounts off the installments again and recomputes their status. Interest booked early stays booked (it
is owed anyway and ``installments_fall_due`` skips it). Repayments of a settled or archived loan cannot
be reversed here.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from applications.lifecycle import loans_for_update
from applications.models import SERVICING_STATUSES, LoanStatus
from applications.selectors import loan_get_for_actor
from applications.services import FieldErrors, require_perm
from compliance.audit import audit_record
from loanops.exceptions import DomainError, InvalidTransition
from loanops.money import MONEY_MAX_DIGITS, ZERO, to_money
from servicing.allocation import Allocation, Outstanding, allocate
from servicing.models import (
    Account,
    AllocationComponent,
    EntryKind,
    Installment,
    InstallmentStatus,
    Repayment,
    RepaymentAllocation,
    RepaymentChannel,
)
from servicing.selectors import loan_balances
from servicing.services.business_date import business_date_get
from servicing.services.closing import settle_if_paid
from servicing.services.common import installment_status, installments_for_update, principal_outstanding_refresh
from servicing.services.ledger import Posting, interest_book, journal_post, mirror
from servicing.settlement_models import Prepayment

__all__ = ["outstanding_of", "post_payment", "repayment_record", "repayment_reverse", "validate_payment"]

_MAX_AMOUNT = Decimal(10) ** (MONEY_MAX_DIGITS - 2) - Decimal("0.01")

_RECEIVABLE: dict[str, str] = {
    AllocationComponent.FEE: Account.FEE_RECEIVABLE,
    AllocationComponent.PENALTY: Account.PENALTY_RECEIVABLE,
    AllocationComponent.INTEREST: Account.INTEREST_RECEIVABLE,
    AllocationComponent.PRINCIPAL: Account.PRINCIPAL_RECEIVABLE,
}


def outstanding_of(item: Installment) -> Outstanding:
    return Outstanding(
        key=item.pk,
        period=item.period,
        due_date=item.due_date,
        fee=item.fee_due - item.fee_paid,
        penalty=item.penalty_due - item.penalty_paid,
        interest=item.interest_due - item.interest_paid,
        principal=item.principal_due - item.principal_paid,
    )


def validate_payment(
    *, amount: Any, paid_on: Any, channel: Any, reference: Any, today: date
) -> tuple[Decimal, date, str, str]:
    errors = FieldErrors()
    value = ZERO
    try:
        value = Decimal(str(amount).strip()) if not isinstance(amount, float | bool) else Decimal("NaN")
    except (InvalidOperation, ValueError):
        value = Decimal("NaN")
    if not value.is_finite():
        errors.add("amount", "请输入有效的金额")
    elif value <= 0:
        errors.add("amount", "还款金额必须大于 0")
    elif to_money(value) != value:
        errors.add("amount", "金额最多保留两位小数")
    elif value > _MAX_AMOUNT:
        errors.add("amount", "金额超出允许的最大值")
    if isinstance(paid_on, datetime) or not isinstance(paid_on, date):
        errors.add("paid_on", "请输入有效的还款日期（YYYY-MM-DD）")
    elif paid_on > today:
        errors.add("paid_on", f"还款日期不能晚于当前营业日 {today.isoformat()}")
    if channel not in RepaymentChannel.values or channel == RepaymentChannel.SUSPENSE:
        errors.add("channel", "不支持的还款渠道")
    reference = str(reference or "").strip()
    if len(reference) > 64:
        errors.add("reference", "参考号最多 64 个字符")
    errors.raise_if_any()
    return to_money(value), paid_on, str(channel), reference


@transaction.atomic
def repayment_record(
    *,
    actor: Any,
    loan_id: int,
    amount: Decimal | str | int,
    paid_on: date,
    channel: str,
    reference: str = "",
) -> Repayment:
    """Record money received for a loan and allocate it (perm ``servicing.add_repayment``).

    Input errors are field-level (400) and write nothing; a loan that is not active/overdue is refused
    with 409 ``loan_not_repayable``. When nothing is outstanding afterwards the loan is settled in the
    same transaction (by the actor, or by the ``system`` user if the actor may not settle).
    """
    require_perm(actor, "servicing.add_repayment")
    today = business_date_get()
    value, paid_on, channel, reference = validate_payment(
        amount=amount, paid_on=paid_on, channel=channel, reference=reference, today=today
    )
    loan_get_for_actor(actor=actor, loan_id=loan_id)
    loan = loans_for_update().select_related("product").get(pk=loan_id)
    if loan.status not in SERVICING_STATUSES:
        raise InvalidTransition(
            f"贷款当前状态为「{LoanStatus(loan.status).label}」，不能登记还款",
            code="loan_not_repayable",
            extra={"status": loan.status},
        )
    if loan.disbursed_on is not None and paid_on < loan.disbursed_on:
        errors = FieldErrors()
        errors.add("paid_on", f"还款日期不能早于放款日 {loan.disbursed_on.isoformat()}")
        errors.raise_if_any()

    installments = installments_for_update(loan)
    repayment = post_payment(
        actor=actor,
        loan=loan,
        installments=installments,
        value=value,
        paid_on=paid_on,
        channel=channel,
        reference=reference,
        today=today,
    )
    settle_if_paid(loan, installments, actor=actor, on=paid_on, reason="还款结清")
    return repayment


def post_payment(
    *,
    actor: Any,
    loan: Any,
    installments: list[Installment],
    value: Decimal,
    paid_on: date,
    channel: str,
    reference: str,
    today: date,
    action: str = "repayment.record",
    allocate_all: bool = False,
    debit_account: str = Account.CASH_CLEARING,
) -> Repayment:
    """Allocate ``value`` over the locked ``installments`` and post it (the body of ``repayment_record``).

    Only what is due (installments due on ``today``) and the **next** installment (the first one not yet
    due that is not paid) take the money; the rest is held in suspense (``overpayment``, 溢缴款) — unless the amount
    covers every installment of the schedule, which it then pays in full (the loan settles) — until a
    manager applies it to later installments or refunds it (``overpayment_apply`` / ``overpayment_refund``).
    ``allocate_all`` lets every installment take money (payoff, applying held credit). ``debit_account``
    is where the money comes from (cash, or the held overpayment when applying it).

    The caller has checked the input and the loan's state and locked loan and installments; it settles
    the loan afterwards if it should. Also used by the payoff (``loan_payoff``).
    """
    by_id = {item.pk: item for item in installments}
    open_items = sorted((item for item in installments if item.outstanding > 0), key=lambda item: item.period)
    if value >= sum((item.outstanding for item in open_items), ZERO):
        allocate_all = True  # it pays off the whole schedule (as scheduled): nothing to hold but the surplus
    if not allocate_all:
        upcoming = [item for item in open_items if item.due_date > today][:1]
        open_items = [item for item in open_items if item.due_date <= today] + upcoming
    allocations, surplus = allocate(
        value,
        [outstanding_of(item) for item in open_items],
        as_of=today,
        order=loan.product.allocation_order,
    )

    # Book interest that is due today or being paid now and was not booked yet.
    paid_interest_ids = {a.key for a in allocations if a.component == AllocationComponent.INTEREST}
    to_book = [
        item
        for item in installments
        if not item.interest_booked and (item.due_date <= today or item.pk in paid_interest_ids)
    ]
    interest_book(to_book, business_date=today, actor=actor)

    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for allocation in allocations:
        item = by_id[allocation.key]
        field = f"{allocation.component}_paid"
        setattr(item, field, getattr(item, field) + allocation.amount)
        totals[allocation.component] += allocation.amount
    touched = {a.key for a in allocations}
    for key in touched:
        item = by_id[key]
        item.status = installment_status(item, today=today)
        if item.status == InstallmentStatus.PAID:
            item.paid_on = paid_on
    Installment.objects.bulk_update(
        [by_id[key] for key in sorted(touched)],
        ["principal_paid", "interest_paid", "fee_paid", "penalty_paid", "status", "paid_on"],
    )
    principal_outstanding_refresh(loan.pk)

    postings = [Posting(debit_account, debit=value)]
    postings += [Posting(_RECEIVABLE[component], credit=total) for component, total in totals.items()]
    if surplus:
        postings.append(Posting(Account.OVERPAYMENT, credit=surplus))
    entry = journal_post(
        loan=loan,
        kind=EntryKind.REPAYMENT,
        business_date=today,
        postings=postings,
        actor=actor,
        memo=f"还款 {paid_on.isoformat()} {channel} {reference}".strip(),
    )
    repayment = Repayment.objects.create(
        loan=loan,
        amount=value,
        paid_on=paid_on,
        channel=channel,
        reference=reference,
        journal_entry=entry,
        recorded_by=actor,
    )
    rows = [_allocation_row(repayment, a) for a in allocations]
    if surplus:
        rows.append(RepaymentAllocation(repayment=repayment, component=AllocationComponent.OVERPAYMENT, amount=surplus))
    RepaymentAllocation.objects.bulk_create(rows)
    audit_record(
        actor=actor,
        action=action,
        subject=loan,
        after={"repayment_id": repayment.pk, "amount": value, "paid_on": paid_on},
        data={"allocated": dict(totals), "overpayment": surplus, "channel": channel, "reference": reference},
    )
    return repayment


def _allocation_row(repayment: Repayment, allocation: Allocation) -> RepaymentAllocation:
    return RepaymentAllocation(
        repayment=repayment, installment_id=allocation.key, component=allocation.component, amount=allocation.amount
    )


@transaction.atomic
def repayment_reverse(*, actor: Any, repayment_id: int, reason: str) -> Repayment:
    """Reverse a repayment (perm ``servicing.reverse_repayment``, managers); a reason is required.

    Posts the mirror entry, takes the allocations off the installments and marks the repayment reversed.
    Refused with 422 ``already_reversed`` or ``loan_closed`` (the loan is settled or archived).
    """
    require_perm(actor, "servicing.reverse_repayment")
    reason = str(reason or "").strip()
    if not reason:
        errors = FieldErrors()
        errors.add("reason", "请填写冲正原因")
        errors.raise_if_any()
    loan_id = Repayment.objects.values_list("loan_id", flat=True).get(pk=repayment_id)
    loan_get_for_actor(actor=actor, loan_id=loan_id)
    loan = loans_for_update().get(pk=loan_id)
    repayment = Repayment.objects.select_for_update(of=("self",)).select_related("journal_entry").get(pk=repayment_id)
    if repayment.reversed_at is not None:
        raise DomainError("该笔还款已冲正", code="already_reversed")
    held_by_it = sum(
        (a.amount for a in repayment.allocations.all() if a.component == AllocationComponent.OVERPAYMENT), ZERO
    )
    if held_by_it and loan_balances(loan)["overpayment"] < held_by_it:
        raise DomainError("该笔还款的溢缴款已被冲抵或退还，请先冲正冲抵/退还后再冲正本笔还款", code="overpayment_used")
    if Prepayment.objects.filter(repayment=repayment).exists():
        raise DomainError(
            "提前还款已生成新的还款计划，不能直接冲正",
            code="prepayment_not_reversible",
            extra={"repayment": repayment.pk},
        )
    if loan.status not in SERVICING_STATUSES:
        raise DomainError(
            f"贷款当前状态为「{LoanStatus(loan.status).label}」，不能冲正其还款",
            code="loan_closed",
            extra={"status": loan.status},
        )
    today = business_date_get()
    installments = {item.pk: item for item in installments_for_update(loan)}
    touched: set[int] = set()
    for allocation in repayment.allocations.all():
        if allocation.installment_id is None:  # overpayment: only possible on a settled loan
            continue
        item = installments.get(allocation.installment_id)
        if item is None:
            raise DomainError("还款所分配的期次已被新的还款计划取代，不能直接冲正", code="schedule_superseded")
        field = f"{allocation.component}_paid"
        setattr(item, field, getattr(item, field) - allocation.amount)
        touched.add(item.pk)
    for key in touched:
        item = installments[key]
        item.status = installment_status(item, today=today)
        if item.status != InstallmentStatus.PAID:
            item.paid_on = None
    Installment.objects.bulk_update(
        [installments[key] for key in sorted(touched)],
        ["principal_paid", "interest_paid", "fee_paid", "penalty_paid", "status", "paid_on"],
    )
    principal_outstanding_refresh(loan.pk)
    original = repayment.journal_entry
    if original is None:
        raise DomainError("该笔还款没有对应的记账凭证", code="no_journal_entry")
    journal_post(
        loan=loan,
        kind=EntryKind.REVERSAL,
        business_date=today,
        postings=mirror(original),
        actor=actor,
        memo=f"冲正还款 #{repayment.pk}：{reason}",
        source_key=f"reversal:{original.pk}",
        reverses=original,
    )
    repayment.reversed_at = timezone.now()
    repayment.reversed_by = actor
    repayment.reversal_reason = reason
    repayment.save(update_fields=["reversed_at", "reversed_by", "reversal_reason"])
    audit_record(
        actor=actor,
        action="repayment.reverse",
        subject=loan,
        before={"repayment_id": repayment.pk, "amount": repayment.amount},
        after={"reversed": True},
        reason=reason,
    )
    return repayment
