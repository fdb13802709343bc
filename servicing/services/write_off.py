"""Write-off (核销) of a 损失 loan and the recoveries after it (核销后收回).

* **Proposal** by risk (``servicing.propose_write_off``), with a reason: the loan must be overdue (else 409,
  the ``write_off`` transition's source) and classified 损失 (else 422 ``not_loss_class``); one open
  proposal per loan (409 ``write_off_pending``).
* **Approval** by a manager (``applications.write_off_loan``, the transition's permission) who is not the
  proposer (403, four eyes). It writes off the receivables as the journal holds them — Dr
  write_off_expense / Cr principal, interest, penalty and fee receivable (``source_key="write_off:<loan>"``)
  — and moves the loan overdue → written_off through ``loan_transition``. The schedule is left as it was
  (frozen: the batch only touches active/overdue loans), so ``ledger_check`` proves for a written-off loan
  that every receivable is zero and that the write-off expense equals the schedule's outstanding amounts.
* **Rejection** by such a manager closes the proposal; nothing else changes.
* **Recovery** (``servicing.add_writeoffrecovery``): amount, date, channel; Dr cash_clearing / Cr
  recovery_income. Recoveries may not exceed the amount written off (422 ``recovery_exceeds_write_off``).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from applications.lifecycle import loan_transition, loans_for_update
from applications.models import Loan, LoanStatus, RiskClass
from applications.selectors import loan_get_for_actor
from compliance.audit import audit_record
from loanops.exceptions import ConflictError, DomainError, InputError, InvalidTransition
from loanops.money import ZERO, to_decimal, to_money
from servicing.models import Account, EntryKind, WriteOff, WriteOffRecovery
from servicing.selectors import loan_balances
from servicing.services.business_date import business_date_get
from servicing.services.ledger import Posting, journal_post

__all__ = [
    "loan_write_off",
    "recovery_record",
    "write_off_approve",
    "write_off_propose",
    "write_off_reject",
]


def _require_reason(reason: str, message: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InputError("请填写原因", fields={"reason": [message]})
    return reason


def _locked_loan(actor: Any, loan_id: int) -> Loan:
    loan_get_for_actor(actor=actor, loan_id=loan_id)  # 404 for a loan the actor may not see
    return loans_for_update().get(pk=loan_id)


def _open_write_off(loan: Loan) -> WriteOff | None:
    return WriteOff.objects.select_for_update().filter(loan=loan, status=WriteOff.Status.PROPOSED).first()


def _require_writable(loan: Loan) -> None:
    if loan.status != LoanStatus.OVERDUE:
        raise InvalidTransition(
            f"贷款当前状态为「{LoanStatus(loan.status).label}」，只有逾期贷款可以核销",
            extra={"status": loan.status, "transition": "write_off"},
        )
    if loan.risk_class != RiskClass.LOSS:
        raise DomainError(
            f"只有五级分类为「损失」的贷款可以核销（当前：{RiskClass(loan.risk_class).label}）",
            code="not_loss_class",
            extra={"risk_class": loan.risk_class},
        )


@transaction.atomic
def write_off_propose(*, actor: Any, loan_id: int, reason: str) -> WriteOff:
    if not actor.has_perm("servicing.propose_write_off"):
        raise PermissionDenied("您没有权限提出核销申请")
    reason = _require_reason(reason, "核销申请必须填写理由")
    loan = _locked_loan(actor, loan_id)
    _require_writable(loan)
    if _open_write_off(loan) is not None:
        raise ConflictError("该贷款已有待审批的核销申请", code="write_off_pending")
    proposal = WriteOff.objects.create(loan=loan, reason=reason, proposed_by=actor)
    audit_record(
        actor=actor,
        action="loan.write_off_propose",
        subject=loan,
        before={"status": loan.status},
        after={"write_off": WriteOff.Status.PROPOSED},
        reason=reason,
        data={"write_off_id": proposal.pk, "balances": loan_balances(loan)},
    )
    return proposal


def _decision_checks(actor: Any, loan: Loan) -> WriteOff:
    if not actor.has_perm("applications.write_off_loan"):
        raise PermissionDenied("您没有权限审批核销")
    proposal = _open_write_off(loan)
    if proposal is None:
        raise DomainError("该贷款没有待审批的核销申请，请先由风控提出核销申请", code="no_write_off_proposal")
    if proposal.proposed_by_id == actor.pk:
        raise PermissionDenied("四眼原则：核销审批人不能是核销申请人")
    return proposal


@transaction.atomic
def write_off_approve(*, actor: Any, loan_id: int, reason: str = "") -> WriteOff:
    loan = _locked_loan(actor, loan_id)
    proposal = _decision_checks(actor, loan)
    _require_writable(loan)
    balances = loan_balances(loan)
    if balances["overpayment"] > 0:
        raise DomainError("贷款尚有溢缴款挂账，请先退款后再核销", code="overpayment_outstanding")
    amounts = {
        Account.PRINCIPAL_RECEIVABLE: balances["principal_receivable"],
        Account.INTEREST_RECEIVABLE: balances["interest_receivable"],
        Account.PENALTY_RECEIVABLE: balances["penalty_receivable"],
        Account.FEE_RECEIVABLE: balances["fee_receivable"],
    }
    if any(amount < 0 for amount in amounts.values()):
        raise DomainError("贷款应收余额异常，请先核对账务", code="ledger_inconsistent", extra={"balances": balances})
    total = sum(amounts.values(), ZERO)
    today = business_date_get()
    entry = None
    if total > 0:
        entry = journal_post(
            loan=loan,
            kind=EntryKind.WRITE_OFF,
            business_date=today,
            postings=[
                Posting(Account.WRITE_OFF_EXPENSE, debit=total),
                *(Posting(account, credit=amount) for account, amount in amounts.items() if amount > 0),
            ],
            actor=actor,
            memo=f"核销（申请人：{proposal.proposed_by.get_username()}）",
            source_key=f"write_off:{loan.pk}",
        )
    proposal.status = WriteOff.Status.APPROVED
    proposal.decided_by = actor
    proposal.decided_at = timezone.now()
    proposal.decision_note = (reason or "").strip()
    proposal.business_date = today
    proposal.principal = amounts[Account.PRINCIPAL_RECEIVABLE]
    proposal.interest = amounts[Account.INTEREST_RECEIVABLE]
    proposal.penalty = amounts[Account.PENALTY_RECEIVABLE]
    proposal.fee = amounts[Account.FEE_RECEIVABLE]
    proposal.journal_entry = entry
    proposal.save()
    loan_transition(
        loan,
        "write_off",
        actor=actor,
        reason=proposal.decision_note or proposal.reason,
        write_off_id=proposal.pk,
        proposed_by=proposal.proposed_by_id,
        amount=total,
    )
    return proposal


@transaction.atomic
def write_off_reject(*, actor: Any, loan_id: int, reason: str) -> WriteOff:
    reason = _require_reason(reason, "驳回核销申请必须填写原因")
    loan = _locked_loan(actor, loan_id)
    proposal = _decision_checks(actor, loan)
    proposal.status = WriteOff.Status.REJECTED
    proposal.decided_by = actor
    proposal.decided_at = timezone.now()
    proposal.decision_note = reason
    proposal.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    audit_record(
        actor=actor,
        action="loan.write_off_reject",
        subject=loan,
        after={"write_off": WriteOff.Status.REJECTED},
        reason=reason,
        data={"write_off_id": proposal.pk},
    )
    return proposal


WRITE_OFF_ACTIONS = ("propose", "approve", "reject")


def loan_write_off(*, actor: Any, loan_id: int, reason: str = "", action: str = "") -> WriteOff:
    """``POST /loans/{id}/write-off/``: ``action`` propose / approve / reject; empty = approve when a proposal
    is pending, otherwise propose."""
    if not action:
        loan = loan_get_for_actor(actor=actor, loan_id=loan_id)
        pending = WriteOff.objects.filter(loan=loan, status=WriteOff.Status.PROPOSED).exists()
        action = "approve" if pending else "propose"
    if action == "propose":
        return write_off_propose(actor=actor, loan_id=loan_id, reason=reason)
    if action == "approve":
        return write_off_approve(actor=actor, loan_id=loan_id, reason=reason)
    if action == "reject":
        return write_off_reject(actor=actor, loan_id=loan_id, reason=reason)
    raise InputError("操作有误", fields={"action": [f"须为 {' / '.join(WRITE_OFF_ACTIONS)}"]})


@transaction.atomic
def recovery_record(
    *,
    actor: Any,
    loan_id: int,
    amount: Decimal | str,
    recovered_on: date,
    channel: str,
    reference: str = "",
    note: str = "",
) -> WriteOffRecovery:
    """Book money recovered on a written-off loan: Dr cash_clearing / Cr recovery_income."""
    if not actor.has_perm("servicing.add_writeoffrecovery"):
        raise PermissionDenied("您没有权限登记核销后收回")
    loan = _locked_loan(actor, loan_id)
    errors: dict[str, list[str]] = {}
    try:
        value = to_decimal(amount)
    except (TypeError, ValueError, ArithmeticError):
        value = ZERO
        errors["amount"] = ["金额格式有误"]
    if "amount" not in errors and (value <= 0 or to_money(value) != value):
        errors["amount"] = ["收回金额须为大于 0 的金额（最多两位小数）"]
    if channel not in WriteOffRecovery.Channel.values:
        errors["channel"] = ["收回渠道有误"]
    today = business_date_get()
    if recovered_on > today:
        errors["recovered_on"] = [f"收回日期不能晚于营业日 {today.isoformat()}"]
    if loan.status != LoanStatus.WRITTEN_OFF:
        if errors:
            raise InputError("输入有误", fields=errors)
        raise DomainError("只有已核销的贷款可以登记核销后收回", code="loan_not_written_off")
    write_off = WriteOff.objects.get(loan=loan, status=WriteOff.Status.APPROVED)
    if write_off.business_date and recovered_on < write_off.business_date:
        errors.setdefault("recovered_on", []).append(f"收回日期不能早于核销日 {write_off.business_date.isoformat()}")
    if errors:
        raise InputError("输入有误", fields=errors)
    recovered = WriteOffRecovery.objects.filter(write_off=write_off).aggregate(total=Sum("amount"))["total"] or ZERO
    if recovered + value > write_off.total:
        raise DomainError(
            f"累计收回 {to_money(recovered + value)} 超过核销金额 {write_off.total}",
            code="recovery_exceeds_write_off",
            extra={"recovered": recovered, "written_off": write_off.total},
        )
    entry = journal_post(
        loan=loan,
        kind=EntryKind.RECOVERY,
        business_date=recovered_on,
        postings=[Posting(Account.CASH_CLEARING, debit=value), Posting(Account.RECOVERY_INCOME, credit=value)],
        actor=actor,
        memo=f"核销后收回（{WriteOffRecovery.Channel(channel).label}）{reference}".strip(),
    )
    recovery = WriteOffRecovery.objects.create(
        loan=loan,
        write_off=write_off,
        amount=value,
        recovered_on=recovered_on,
        channel=channel,
        reference=reference,
        note=note,
        journal_entry=entry,
        recorded_by=actor,
    )
    audit_record(
        actor=actor,
        action="loan.write_off_recovery",
        subject=loan,
        after={"recovered_total": recovered + value},
        reason=note,
        data={"recovery_id": recovery.pk, "amount": value, "channel": channel, "recovered_on": recovered_on},
    )
    return recovery
