"""Extension (展期) and restructuring (重组) of an active or overdue loan.

* **Request** by ops or the customer (``servicing.request_restructuring``; a customer only for their own
  loan — 404 otherwise): the kind, the new number of monthly installments for the remaining principal
  (``term_months``), and for a restructuring optionally a new rate (not above the loan's rate cap) and
  repayment method. An extension keeps rate and method and must lengthen the remaining term. The
  loan's kept installments plus the new ones may not exceed the product's maximum term. One open request
  per loan (409 ``restructuring_pending``); a loan that is not active/overdue → 409 ``loan_not_servicing``.
* **Approval** by risk (``servicing.approve_restructuring``) who is not the requester; when the outstanding
  principal is above ``settings.LOANOPS_RESTRUCTURE_MANAGER_LIMIT`` a manager
  (``servicing.approve_restructuring_above_limit``) approves after risk, and is neither the requester nor the
  risk approver (403 otherwise). **Rejection** at either stage by the same people.
* **Effect of the final approval** (one transaction): a new schedule version through
  ``servicing.services.schedules.schedule_replace`` — installments already due (or touched) are kept as
  history, their unpaid principal is rolled into the new rows (``roll_over_arrears``), and the whole
  remaining principal is re-amortised over ``term_months`` monthly installments continuing the loan's due
  dates after the business date. Unpaid interest, penalty and fees of the kept installments stay owed; the
  ledger is unchanged. The loan is flagged restructured: ``restructured_on`` = business date and
  ``restructure_observation_until`` = business date + ``LOANOPS_RESTRUCTURE_OBSERVATION_MONTHS`` (default 6)
  months; while it runs the class is at least 关注 (applied at once, and by the ``classify`` COB step).
"""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from applications.lifecycle import loans_for_update
from applications.models import RISK_CLASS_RANK, SERVICING_STATUSES, Loan, LoanStatus, RiskClass
from applications.selectors import loan_get_for_actor
from compliance.audit import audit_record
from loanops.exceptions import ConflictError, DomainError, InputError, InvalidTransition
from loanops.money import ZERO, to_decimal, to_money
from loanops.schedule import MAX_TERM_MONTHS, due_dates
from loanops.types import RepaymentMethod
from servicing.models import Installment, Restructuring, RiskClassChange
from servicing.services.business_date import business_date_get
from servicing.services.classification import risk_class_change_record
from servicing.services.schedules import ScheduleTail, schedule_replace, schedule_tail, tail_rows

__all__ = ["restructuring_approve", "restructuring_reject", "restructuring_request"]


def manager_limit() -> Decimal:
    return to_money(str(settings.LOANOPS_RESTRUCTURE_MANAGER_LIMIT))


def _require_servicing(loan: Loan) -> None:
    if loan.status not in SERVICING_STATUSES:
        raise InvalidTransition(
            f"贷款当前状态为「{LoanStatus(loan.status).label}」，只有还款中或逾期的贷款可以展期/重组",
            code="loan_not_servicing",
            extra={"status": loan.status},
        )


def _outstanding_principal(loan: Loan) -> Decimal:
    rows = Installment.objects.filter(loan=loan, schedule__is_current=True).values_list(
        "principal_due", "principal_paid"
    )
    return sum((due - paid for due, paid in rows), ZERO)


def _shifted(tail: ScheduleTail, today: date, term: int) -> ScheduleTail:
    """The tail with its new due dates moved past ``today`` (a matured loan's next dates may be in the past)."""
    candidates = due_dates(tail.anchor, tail.kept_periods + term + MAX_TERM_MONTHS)[tail.kept_periods :]
    skip = sum(1 for day in candidates[:MAX_TERM_MONTHS] if day <= today)
    return dataclasses.replace(tail, kept_periods=tail.kept_periods + skip)


def _validate(
    *, loan: Loan, kind: str, term_months: Any, annual_rate: Any, repayment_method: str, reason: str
) -> tuple[int, Decimal | None, str]:
    fields: dict[str, list[str]] = {}
    if kind not in Restructuring.Kind.values:
        fields["kind"] = ["须为 extension（展期）或 restructuring（重组）"]
    try:
        term = int(term_months)
        if not 1 <= term <= MAX_TERM_MONTHS:
            raise ValueError
    except (TypeError, ValueError):
        term = 0
        fields["term_months"] = [f"新期限须为 1–{MAX_TERM_MONTHS} 个月"]
    rate: Decimal | None = None
    if annual_rate not in (None, ""):
        try:
            rate = to_decimal(annual_rate)
            if rate < 0 or rate >= 1:
                raise ValueError
        except (TypeError, ValueError, ArithmeticError):
            fields["annual_rate"] = ["年利率须为 0 到 1 之间的小数（如 0.085）"]
    if repayment_method and repayment_method not in RepaymentMethod.values:
        fields["repayment_method"] = ["还款方式有误"]
    if kind == Restructuring.Kind.EXTENSION and (rate is not None or repayment_method):
        fields.setdefault("kind", []).append("展期不改变利率和还款方式；如需调整请选择重组")
    if not (reason or "").strip():
        fields["reason"] = ["请填写展期/重组的理由"]
    if fields:
        raise InputError("输入有误", fields=fields)
    if rate is not None and loan.rate_cap is not None and rate > loan.rate_cap:
        raise DomainError(
            f"新年利率 {rate} 超过该贷款适用的利率上限 {loan.rate_cap}",
            code="rate_above_cap",
            fields={"annual_rate": ["超过利率上限"]},
        )
    return term, rate, repayment_method


@transaction.atomic
def restructuring_request(
    *,
    actor: Any,
    loan_id: int,
    kind: str,
    term_months: int,
    reason: str,
    annual_rate: Decimal | str | None = None,
    repayment_method: str = "",
) -> Restructuring:
    if not actor.has_perm("servicing.request_restructuring"):
        raise PermissionDenied("您没有权限申请展期/重组")
    loan_get_for_actor(actor=actor, loan_id=loan_id)  # 404 for another customer's loan
    loan = loans_for_update().select_related("product").get(pk=loan_id)
    term, rate, method = _validate(
        loan=loan,
        kind=kind,
        term_months=term_months,
        annual_rate=annual_rate,
        repayment_method=repayment_method,
        reason=reason,
    )
    _require_servicing(loan)
    if Restructuring.objects.filter(
        loan=loan, status__in=[Restructuring.Status.REQUESTED, Restructuring.Status.RISK_APPROVED]
    ).exists():
        raise ConflictError("该贷款已有待审批的展期/重组申请", code="restructuring_pending")
    today = business_date_get()
    tail = _shifted(schedule_tail(loan=loan, as_of=today), today, term)
    if kind == Restructuring.Kind.EXTENSION and term <= tail.periods:
        raise DomainError(
            f"展期后的期数须多于剩余期数（{tail.periods} 期）",
            code="bad_term",
            fields={"term_months": [f"须大于 {tail.periods}"]},
        )
    if tail.kept_periods + term > loan.product.max_term_months:
        raise DomainError(
            f"展期/重组后总期限 {tail.kept_periods + term} 个月超过产品最长期限 {loan.product.max_term_months} 个月",
            code="bad_term",
            fields={"term_months": [f"最多 {loan.product.max_term_months - tail.kept_periods} 个月"]},
        )
    outstanding = _outstanding_principal(loan)
    if outstanding <= 0:
        raise DomainError("贷款没有剩余本金，无需展期/重组", code="nothing_outstanding")
    row = Restructuring.objects.create(
        loan=loan,
        kind=kind,
        term_months=term,
        annual_rate=rate,
        repayment_method=method,
        first_due_date=tail.dates(term)[0],
        outstanding_principal=outstanding,
        needs_manager=outstanding > manager_limit(),
        reason=reason.strip(),
        requested_by=actor,
    )
    audit_record(
        actor=actor,
        action="loan.restructuring_request",
        subject=loan,
        after={"restructuring": row.status, "kind": kind, "term_months": term},
        reason=row.reason,
        data={"restructuring_id": row.pk, "annual_rate": rate, "repayment_method": method, "outstanding": outstanding},
    )
    return row


def _locked(actor: Any, restructuring_id: int) -> tuple[Loan, Restructuring]:
    row = Restructuring.objects.get(pk=restructuring_id)
    loan_get_for_actor(actor=actor, loan_id=row.loan_id)
    loan = loans_for_update().select_related("product").get(pk=row.loan_id)
    row = Restructuring.objects.select_for_update().get(pk=restructuring_id)
    return loan, row


def _check_decider(actor: Any, row: Restructuring) -> str:
    """The stage this actor decides (risk / manager), or 403 / 409."""
    if row.status == Restructuring.Status.REQUESTED:
        stage, perm = "risk", "servicing.approve_restructuring"
    elif row.status == Restructuring.Status.RISK_APPROVED:
        stage, perm = "manager", "servicing.approve_restructuring_above_limit"
    else:
        raise ConflictError("该展期/重组申请已处理", code="restructuring_decided")
    if not actor.has_perm(perm):
        raise PermissionDenied(
            "您没有权限审批该展期/重组申请" if stage == "risk" else "超过限额的展期/重组须由部门经理审批"
        )
    if actor.pk == row.requested_by_id:
        raise PermissionDenied("四眼原则：申请人不能审批自己的展期/重组申请")
    if stage == "manager" and actor.pk == row.risk_approved_by_id:
        raise PermissionDenied("四眼原则：经理审批人不能是风控审批人")
    return stage


@transaction.atomic
def restructuring_approve(*, actor: Any, restructuring_id: int, note: str = "") -> Restructuring:
    loan, row = _locked(actor, restructuring_id)
    stage = _check_decider(actor, row)
    _require_servicing(loan)
    now = timezone.now()
    if stage == "risk":
        row.risk_approved_by = actor
        row.risk_approved_at = now
        if row.needs_manager:
            row.status = Restructuring.Status.RISK_APPROVED
            row.decision_note = note
            row.save(update_fields=["status", "risk_approved_by", "risk_approved_at", "decision_note"])
            audit_record(
                actor=actor,
                action="loan.restructuring_risk_approve",
                subject=loan,
                after={"restructuring": row.status},
                reason=note,
                data={"restructuring_id": row.pk, "limit": manager_limit()},
            )
            return row
    else:
        row.manager_approved_by = actor
        row.manager_approved_at = now
    return _apply(actor=actor, loan=loan, row=row, note=note)


def _apply(*, actor: Any, loan: Loan, row: Restructuring, note: str) -> Restructuring:
    today = business_date_get()
    tail = _shifted(schedule_tail(loan=loan, as_of=today), today, row.term_months)
    if tail.kept_periods + row.term_months > loan.product.max_term_months:
        raise DomainError("展期/重组后总期限超过产品最长期限", code="bad_term")
    method = row.repayment_method or tail.method
    rate = row.annual_rate if row.annual_rate is not None else tail.annual_rate
    rows = tail_rows(
        tail,
        principal=tail.principal + tail.arrears_principal,
        periods=row.term_months,
        annual_rate=rate,
        method=method,
    )
    label = Restructuring.Kind(row.kind).label
    version = schedule_replace(
        actor=actor,
        loan=loan,
        rows=rows,
        reason=f"{label}：{row.term_months} 期（申请 #{row.pk}）",
        as_of=today,
        annual_rate=rate,
        repayment_method=method,
        roll_over_arrears=True,
    )
    months = int(settings.LOANOPS_RESTRUCTURE_OBSERVATION_MONTHS)
    loan.restructured_on = today
    loan.restructure_observation_until = due_dates(today, months + 1)[months]
    loan.save(update_fields=["restructured_on", "restructure_observation_until", "updated_at"])
    row.status = Restructuring.Status.APPROVED
    row.decided_at = timezone.now()
    row.decision_note = note
    row.schedule_version = version
    row.first_due_date = rows[0].due_date
    row.save()
    audit_record(
        actor=actor,
        action="loan.restructure",
        subject=loan,
        before={"schedule_version": version.version - 1},
        after={
            "schedule_version": version.version,
            "restructured_on": today,
            "restructure_observation_until": loan.restructure_observation_until,
        },
        reason=note or row.reason,
        data={"restructuring_id": row.pk, "kind": row.kind, "requested_by": row.requested_by_id},
    )
    if RISK_CLASS_RANK[loan.risk_class] < RISK_CLASS_RANK[RiskClass.SPECIAL_MENTION]:
        risk_class_change_record(
            loan=loan,
            to_class=RiskClass.SPECIAL_MENTION,
            source=RiskClassChange.Source.AUTO,
            actor=actor,
            reason=f"{label}后观察期内至少为关注类（至 {loan.restructure_observation_until.isoformat()}）",
            on=today,
            manual=loan.risk_class_manual,
            data={"restructuring_id": row.pk},
        )
    return row


@transaction.atomic
def restructuring_reject(*, actor: Any, restructuring_id: int, note: str) -> Restructuring:
    if not (note or "").strip():
        raise InputError("请填写原因", fields={"note": ["驳回必须填写原因"]})
    loan, row = _locked(actor, restructuring_id)
    _check_decider(actor, row)
    row.status = Restructuring.Status.REJECTED
    row.rejected_by = actor
    row.decided_at = timezone.now()
    row.decision_note = note.strip()
    row.save(update_fields=["status", "rejected_by", "decided_at", "decision_note"])
    audit_record(
        actor=actor,
        action="loan.restructuring_reject",
        subject=loan,
        after={"restructuring": row.status},
        reason=row.decision_note,
        data={"restructuring_id": row.pk},
    )
    return row
