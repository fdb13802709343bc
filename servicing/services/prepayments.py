"""Partial prepayment (提前还款): pay part of the principal early, then a new schedule version.

What is booked, in one transaction, for a plan (see ``servicing.prepayment``) of principal A, accrued
interest I and prepayment fee F (cash received A + I + F)::

    accrual    Dr interest_receivable I   / Cr interest_income I     (when I > 0)
    fee        Dr fee_receivable F        / Cr fee_income F          (when F > 0)
    repayment  Dr cash_clearing A + I + F / Cr principal_receivable A, interest_receivable I, fee_receivable F

plus a ``Repayment`` (allocations principal / interest / fee, not tied to an installment), a
``Prepayment`` row linking the repayment to the schedule versions before and after, and the new schedule
version (``schedule_replace``, reason 「提前还款 …」). The principal receivable then equals the new
schedule's unpaid principal, so ``check_ledger`` stays green. A prepayment cannot be reversed with
``repayment_reverse`` (its schedule has been replaced).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from applications.lifecycle import loans_for_update
from applications.selectors import loan_get_for_actor
from applications.services import FieldErrors, require_perm
from compliance.audit import audit_record
from loanops.money import ZERO
from servicing.models import (
    Account,
    AllocationComponent,
    EntryKind,
    Repayment,
    RepaymentAllocation,
    RepaymentChannel,
    ScheduleVersion,
)
from servicing.prepayment import PrepaymentPlan, parse_prepayment_input, prepayment_plan, require_active
from servicing.services.business_date import business_date_get
from servicing.services.common import installments_for_update
from servicing.services.ledger import Posting, journal_post
from servicing.services.schedules import schedule_replace
from servicing.settlement_models import Prepayment, PrepaymentOption

__all__ = ["prepayment_quote", "prepayment_record"]


def prepayment_quote(*, actor: Any, loan_id: int, amount: Any, option: Any) -> PrepaymentPlan:
    """Preview a prepayment on the business date (nothing written); the same refusals as the booking."""
    value, option = parse_prepayment_input(amount=amount, option=option)
    loan = loan_get_for_actor(actor=actor, loan_id=loan_id)
    require_active(loan)
    version = ScheduleVersion.objects.get(loan=loan, is_current=True)
    installments = list(version.installments.order_by("period"))
    return prepayment_plan(
        loan=loan, version=version, installments=installments, amount=value, option=option, on=business_date_get()
    )


@transaction.atomic
def prepayment_record(
    *,
    actor: Any,
    loan_id: int,
    amount: Any,
    option: str,
    channel: str = RepaymentChannel.BANK_TRANSFER,
    reference: str = "",
) -> Prepayment:
    """Book a partial prepayment on the business date (perm ``servicing.add_repayment``)."""
    require_perm(actor, "servicing.add_repayment")
    value, option = parse_prepayment_input(amount=amount, option=option)
    errors = FieldErrors()
    if channel not in RepaymentChannel.values:
        errors.add("channel", "不支持的还款渠道")
    reference = str(reference or "").strip()
    if len(reference) > 64:
        errors.add("reference", "参考号最多 64 个字符")
    errors.raise_if_any()
    loan_get_for_actor(actor=actor, loan_id=loan_id)
    loan = loans_for_update().select_related("product").get(pk=loan_id)
    require_active(loan)
    today = business_date_get()
    installments = installments_for_update(loan)
    version = ScheduleVersion.objects.get(loan=loan, is_current=True)
    plan = prepayment_plan(loan=loan, version=version, installments=installments, amount=value, option=option, on=today)
    label = PrepaymentOption(option).label
    new_version = schedule_replace(
        actor=actor,
        loan=loan,
        rows=plan.rows,
        reason=f"提前还款本金 {plan.principal}（{label}）",
        as_of=today,
        prepaid_principal=plan.principal,
    )
    if plan.interest > 0:
        journal_post(
            loan=loan,
            kind=EntryKind.ACCRUAL,
            business_date=today,
            postings=[
                Posting(Account.INTEREST_RECEIVABLE, debit=plan.interest),
                Posting(Account.INTEREST_INCOME, credit=plan.interest),
            ],
            actor=actor,
            memo=f"提前还款本金 {plan.principal} 计息 {plan.interest_days} 天",
        )
    if plan.fee > 0:
        journal_post(
            loan=loan,
            kind=EntryKind.FEE,
            business_date=today,
            postings=[Posting(Account.FEE_RECEIVABLE, debit=plan.fee), Posting(Account.FEE_INCOME, credit=plan.fee)],
            actor=actor,
            memo="提前还款手续费",
        )
    credits = [
        (AllocationComponent.FEE, Account.FEE_RECEIVABLE, plan.fee),
        (AllocationComponent.INTEREST, Account.INTEREST_RECEIVABLE, plan.interest),
        (AllocationComponent.PRINCIPAL, Account.PRINCIPAL_RECEIVABLE, plan.principal),
    ]
    entry = journal_post(
        loan=loan,
        kind=EntryKind.REPAYMENT,
        business_date=today,
        postings=[Posting(Account.CASH_CLEARING, debit=plan.total)]
        + [Posting(account, credit=amount) for _, account, amount in credits if amount > ZERO],
        actor=actor,
        memo=f"提前还款 {today.isoformat()} {channel} {reference}".strip(),
    )
    repayment = Repayment.objects.create(
        loan=loan,
        amount=plan.total,
        paid_on=today,
        channel=channel,
        reference=reference,
        journal_entry=entry,
        recorded_by=actor,
    )
    RepaymentAllocation.objects.bulk_create(
        RepaymentAllocation(repayment=repayment, component=component, amount=amount)
        for component, _, amount in credits
        if amount > ZERO
    )
    prepayment = Prepayment.objects.create(
        loan=loan,
        repayment=repayment,
        option=option,
        effective_on=today,
        principal=plan.principal,
        interest=plan.interest,
        fee=plan.fee,
        old_version=version,
        new_version=new_version,
        created_by=actor,
    )
    audit_record(
        actor=actor,
        action="prepayment.record",
        subject=loan,
        before={"version": version.version, "installment": plan.old_installment, "periods": plan.old_periods},
        after={"version": new_version.version, "installment": plan.new_installment, "periods": plan.new_periods},
        data={
            "option": option,
            "principal": plan.principal,
            "interest": plan.interest,
            "fee": plan.fee,
            "total": plan.total,
            "repayment_id": repayment.pk,
        },
    )
    return prepayment
