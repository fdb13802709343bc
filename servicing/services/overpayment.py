"""Overpayment (溢缴款): money held in suspense, applied to the loan's installments or refunded.

A repayment beyond the installments that are due and the next one is credited to the ``overpayment``
account (see ``post_payment``). What happens to it is a manager's decision (perm
``servicing.refund_overpayment``), recorded in the ledger and the audit trail:

* ``overpayment_apply`` — apply the held credit to the loan's installments now: due ones first, then the
  following ones in period order (the art. 561 / product order within each), as a ``Repayment`` with
  channel ``suspense``: Dr overpayment / Cr receivables. A loan with nothing left to pay is settled.
* ``overpayment_refund`` — pay (part of) the credit back to the borrower: Dr overpayment /
  Cr cash_clearing (kind ``refund``). Also on a settled or archived loan.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction

from applications.lifecycle import loans_for_update
from applications.models import SERVICING_STATUSES, LoanStatus
from applications.selectors import loan_get_for_actor
from applications.services import FieldErrors, require_perm
from compliance.audit import audit_record
from loanops.exceptions import DomainError, InvalidTransition
from loanops.money import ZERO
from servicing.allocation import allocate
from servicing.models import Account, EntryKind, JournalEntry, Repayment, RepaymentChannel
from servicing.selectors import loan_balances
from servicing.services.business_date import business_date_get
from servicing.services.closing import settle_if_paid
from servicing.services.common import installments_for_update
from servicing.services.ledger import Posting, journal_post
from servicing.services.repayments import outstanding_of, post_payment, validate_payment

__all__ = ["overpayment_apply", "overpayment_apply_locked", "overpayment_refund"]


def overpayment_apply_locked(*, actor: Any, loan: Any, today: Any, reason: str) -> Repayment | None:
    """Apply the held credit of a locked loan to its installments; None when there is nothing to apply."""
    held = loan_balances(loan)["overpayment"]
    if held <= 0:
        return None
    installments = installments_for_update(loan)
    open_items = [outstanding_of(item) for item in installments if item.outstanding > 0]
    _, leftover = allocate(held, open_items, as_of=today, order=loan.product.allocation_order)
    value = held - leftover
    if value <= 0:
        return None
    repayment = post_payment(
        actor=actor,
        loan=loan,
        installments=installments,
        value=value,
        paid_on=today,
        channel=RepaymentChannel.SUSPENSE,
        reference="",
        today=today,
        action="overpayment.apply",
        allocate_all=True,
        debit_account=Account.OVERPAYMENT,
    )
    settle_if_paid(loan, installments, actor=actor, on=today, reason=reason or "溢缴款冲抵结清")
    return repayment


@transaction.atomic
def overpayment_apply(*, actor: Any, loan_id: int, reason: str = "") -> Repayment:
    """Apply the loan's held overpayment to its installments (manager's decision); 422 when none is held."""
    require_perm(actor, "servicing.refund_overpayment")
    loan_get_for_actor(actor=actor, loan_id=loan_id)
    loan = loans_for_update().select_related("product").get(pk=loan_id)
    if loan.status not in SERVICING_STATUSES:
        raise InvalidTransition(
            f"贷款当前状态为「{LoanStatus(loan.status).label}」，溢缴款只能退还",
            code="loan_not_repayable",
            extra={"status": loan.status},
        )
    repayment = overpayment_apply_locked(actor=actor, loan=loan, today=business_date_get(), reason=reason)
    if repayment is None:
        raise DomainError("没有可冲抵的溢缴款或应还款项", code="nothing_to_apply")
    return repayment


@transaction.atomic
def overpayment_refund(*, actor: Any, loan_id: int, amount: Any, reason: str) -> JournalEntry:
    """Refund (part of) the held overpayment to the borrower (manager's decision; a reason is required)."""
    require_perm(actor, "servicing.refund_overpayment")
    today = business_date_get()
    value, _, _, _ = validate_payment(amount=amount, paid_on=today, channel="bank_transfer", reference="", today=today)
    reason = str(reason or "").strip()
    if not reason:
        errors = FieldErrors()
        errors.add("reason", "请填写退款原因")
        errors.raise_if_any()
    loan_get_for_actor(actor=actor, loan_id=loan_id)
    loan = loans_for_update().get(pk=loan_id)
    held: Decimal = loan_balances(loan)["overpayment"]
    if value > held:
        raise DomainError(
            f"退款金额 {value} 超过溢缴款余额 {held}",
            code="refund_exceeds_overpayment",
            fields={"amount": [f"不超过 {held}"]},
            extra={"overpayment": held},
        )
    entry = journal_post(
        loan=loan,
        kind=EntryKind.REFUND,
        business_date=today,
        postings=[Posting(Account.OVERPAYMENT, debit=value), Posting(Account.CASH_CLEARING, credit=value)],
        actor=actor,
        memo=f"退还溢缴款：{reason}",
    )
    audit_record(
        actor=actor,
        action="overpayment.refund",
        subject=loan,
        before={"overpayment": held},
        after={"overpayment": held - value + ZERO},
        reason=reason,
        data={"amount": value, "entry_id": entry.pk},
    )
    return entry
