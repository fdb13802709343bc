"""Schedule versioning (还款计划版本): replace the unpaid tail of a loan's schedule with new rows.

A change to a disbursed loan's schedule (partial prepayment, payoff, extension, restructuring) never
edits the current installments. It writes a **new** ``ScheduleVersion`` and marks the old one superseded
(``is_current=False``, ``superseded_at``, ``superseded_reason``); the old version and its installments stay
as they were, so every earlier figure can still be explained.

The new version consists of

* the **kept history**: a copy of every installment of the current version that is already due on
  ``as_of`` (``due_date <= as_of``) or has been touched (anything paid, interest booked, a fee or a
  penalty on it) — with the same period numbers, amounts due and paid, booked flags, penalty state,
  status and dates. The ledger does not change for them, so ``check_ledger`` (which compares the
  journal with the *current* version) stays green;
* the **new rows** (``loanops.schedule.ScheduleRow``) for the remaining balance, numbered after the
  kept periods. Their principal must add up to exactly the principal of the replaced installments
  (plus, with ``roll_over_arrears=True``, the unpaid principal of the kept installments, which is then
  taken off them and re-amortised). Their interest is not booked yet: like any installment's, it is
  booked when it falls due (or when a repayment pays it).

Kept history must be a prefix of the schedule, and a kept installment that is not yet due must be fully
paid (a partly prepaid future installment cannot be cut in two): otherwise 422
``installment_partly_paid``.

``schedule_replace`` is a building block for other services (``prepayment_record``, ``loan_payoff``,
extensions and restructurings in other apps): it checks the loan's state but **not** a permission —
the calling service checks its own (e.g. ``servicing.add_prepayment``) before calling it. It runs in
the caller's transaction (``atomic`` nests) and locks the loan and its installments itself (loan, then
installments — the same order as every other writer).

Typical use (an extension by three months, in the caller's service)::

    tail = schedule_tail(loan=loan, as_of=today)
    rows = tail_rows(tail, principal=tail.principal, periods=tail.periods + 3,
                     annual_rate=loan.annual_rate, method=tail.method)
    schedule_replace(actor=actor, loan=loan, rows=rows, reason="展期 3 个月")
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from applications.lifecycle import loans_for_update
from applications.models import SERVICING_STATUSES, Loan, LoanStatus
from compliance.audit import audit_record
from loanops.exceptions import DomainError, InvalidTransition
from loanops.money import ZERO
from loanops.schedule import RepaymentMethod, ScheduleRow, build_schedule, due_dates
from servicing.models import Installment, InstallmentStatus, ScheduleVersion
from servicing.services.business_date import business_date_get
from servicing.services.common import installment_status, installments_for_update, principal_outstanding_refresh

__all__ = [
    "ScheduleTail",
    "copy_installment",
    "schedule_replace",
    "schedule_tail",
    "split_installments",
    "tail_from",
    "tail_rows",
    "version_write",
]

_COPIED_FIELDS = (
    "period",
    "due_date",
    "principal_due",
    "interest_due",
    "fee_due",
    "penalty_due",
    "principal_paid",
    "interest_paid",
    "fee_paid",
    "penalty_paid",
    "remaining_after",
    "interest_booked",
    "penalty_accrued",
    "penalty_accrued_to",
    "status",
    "overdue_since",
    "paid_on",
)


def _touched(item: Installment) -> bool:
    return bool(
        item.interest_booked
        or item.principal_paid
        or item.interest_paid
        or item.fee_paid
        or item.penalty_paid
        or item.fee_due
        or item.penalty_due
        or item.penalty_accrued
    )


def split_installments(
    installments: Sequence[Installment], *, as_of: date
) -> tuple[list[Installment], list[Installment]]:
    """``(kept, tail)`` of a current schedule (see the module docstring); raises 422 when it cannot be split.

    ``kept`` holds the installments due on ``as_of`` or touched; ``tail`` the untouched future ones.
    """
    ordered = sorted(installments, key=lambda item: item.period)
    keep_flags = [item.due_date <= as_of or _touched(item) for item in ordered]
    kept_count = 0
    for flag in keep_flags:
        if not flag:
            break
        kept_count += 1
    if any(keep_flags[kept_count:]):
        raise DomainError("还款计划中存在跳跃的已还期次，不能重新生成还款计划", code="schedule_not_contiguous")
    kept, tail = ordered[:kept_count], ordered[kept_count:]
    for item in kept:
        if item.due_date > as_of and item.outstanding > 0:
            raise DomainError(
                f"第{item.period}期尚未到期但已部分还款，请先还清该期后再调整还款计划",
                code="installment_partly_paid",
                extra={"period": item.period},
            )
    return kept, tail


@dataclass(frozen=True, slots=True)
class ScheduleTail:
    """The part of a loan's current schedule that a new version may replace."""

    version: int
    method: str
    annual_rate: Decimal
    anchor: date  # the loan's first due date: later due dates keep its day of month
    kept_periods: int  # installments kept as history (their periods are 1..kept_periods)
    periods: int  # installments in the tail
    principal: Decimal  # principal of the tail (all of it is unpaid)
    arrears_principal: Decimal  # unpaid principal of the kept installments
    last_kept_due_date: date | None
    due_dates: tuple[date, ...]  # due dates of the tail's installments
    installment_amount: Decimal | None  # principal + interest of the tail's first installment

    def dates(self, periods: int) -> list[date]:
        """Due dates of ``periods`` installments continuing after the kept ones (day of month kept)."""
        return due_dates(self.anchor, self.kept_periods + periods)[self.kept_periods :]


def tail_from(loan: Loan, version: ScheduleVersion, installments: Sequence[Installment], as_of: date) -> ScheduleTail:
    kept, tail = split_installments(installments, as_of=as_of)
    return ScheduleTail(
        version=version.version,
        method=version.repayment_method,
        annual_rate=version.annual_rate,
        anchor=loan.first_due_date or (installments[0].due_date if installments else as_of),
        kept_periods=len(kept),
        periods=len(tail),
        principal=sum((item.principal_due for item in tail), ZERO),
        arrears_principal=sum((item.principal_due - item.principal_paid for item in kept), ZERO),
        last_kept_due_date=kept[-1].due_date if kept else None,
        due_dates=tuple(item.due_date for item in tail),
        installment_amount=(tail[0].principal_due + tail[0].interest_due) if tail else None,
    )


def schedule_tail(*, loan: Loan, as_of: date | None = None) -> ScheduleTail:
    """What a new schedule version for ``loan`` would replace on ``as_of`` (default: the business date)."""
    as_of = as_of or business_date_get()
    version = ScheduleVersion.objects.get(loan=loan, is_current=True)
    installments = list(Installment.objects.filter(schedule=version).order_by("period"))
    return tail_from(loan, version, installments, as_of)


def tail_rows(
    tail: ScheduleTail, *, principal: Decimal, periods: int, annual_rate: Decimal, method: str
) -> list[ScheduleRow]:
    """Schedule rows for ``principal`` over ``periods`` installments continuing the loan's due dates.

    Built by ``loanops.schedule.build_schedule`` (same conventions, same 422 ``schedule_infeasible``),
    then given the loan's own due dates (day of month of the first due date, clamped). A bullet tail
    is one row on the last of those dates, interest over ``periods`` months.
    """
    dates = tail.dates(periods)
    rows = build_schedule(
        principal=principal, annual_rate=annual_rate, term_months=periods, method=method, first_due_date=dates[0]
    )
    if method == RepaymentMethod.BULLET:
        return [rows[0]._replace(due_date=dates[-1])]
    return [row._replace(due_date=day) for row, day in zip(rows, dates, strict=True)]


def copy_installment(item: Installment) -> Installment:
    """An unsaved copy of ``item`` (amounts, paid amounts, booked flags, penalty state, status, dates)."""
    return Installment(**{name: getattr(item, name) for name in _COPIED_FIELDS})


def version_write(
    *,
    actor: Any,
    loan: Loan,
    old: ScheduleVersion,
    items: Sequence[Installment],
    reason: str,
    principal: Decimal,
    term_months: int,
    first_due_date: date,
    annual_rate: Decimal | None = None,
    repayment_method: str | None = None,
) -> ScheduleVersion:
    """Supersede ``old`` and write the new current version with the unsaved ``items``.

    Low level: the caller holds the loan lock, has checked ``items`` (periods unique, amounts
    non-negative) and posts whatever the ledger needs so that it agrees with the new version.
    """
    now = timezone.now()
    ScheduleVersion.objects.filter(pk=old.pk).update(
        is_current=False, superseded_at=now, superseded_reason=reason[:200]
    )
    # Its unpaid installments are no longer receivable: the status says so, so that the daily batch finds
    # the receivable installments by status alone (status due/overdue/pending ⇒ current version).
    Installment.objects.filter(schedule_id=old.pk).exclude(status=InstallmentStatus.PAID).update(
        status=InstallmentStatus.REPLACED
    )
    version = ScheduleVersion.objects.create(
        loan=loan,
        version=old.version + 1,
        is_current=True,
        principal=principal,
        annual_rate=annual_rate if annual_rate is not None else old.annual_rate,
        term_months=term_months,
        repayment_method=repayment_method or old.repayment_method,
        first_due_date=first_due_date,
        reason=reason[:200],
        created_by=actor,
    )
    for item in items:
        item.schedule = version
        item.loan = loan
    Installment.objects.bulk_create(items)
    principal_outstanding_refresh(loan.pk)
    return version


@transaction.atomic
def schedule_replace(
    *,
    actor: Any,
    loan: Loan,
    rows: Sequence[ScheduleRow],
    reason: str,
    as_of: date | None = None,
    annual_rate: Decimal | None = None,
    repayment_method: str | None = None,
    roll_over_arrears: bool = False,
    prepaid_principal: Decimal = ZERO,
) -> ScheduleVersion:
    """Write a new current schedule version for ``loan``: kept history + ``rows``; supersede the old one.

    * ``rows``: the new installments for the remaining balance (see :func:`tail_rows`); their periods
      and ``total`` are ignored (renumbered after the kept history), due dates must increase and fall
      after ``as_of`` and after the last kept due date; principal must add up to the tail's principal
      (plus the kept arrears principal with ``roll_over_arrears``, less ``prepaid_principal``: principal
      the caller is repaying in the same transaction, crediting principal_receivable itself) — 422
      ``schedule_principal_mismatch``.
    * The version's ``principal``/``term_months``/``first_due_date`` describe the new rows (what they
      re-amortise); ``annual_rate`` and ``repayment_method`` default to the old version's.

    Refuses with 409 ``loan_not_servicing`` unless the loan is active or overdue; writes an audit event
    ``schedule.replace``. Returns the new version.
    """
    reason = str(reason or "").strip()
    if not reason:
        raise DomainError("请填写调整还款计划的原因", code="reason_required", fields={"reason": ["必填"]})
    locked = loans_for_update().get(pk=loan.pk)
    if locked.status not in SERVICING_STATUSES:
        raise InvalidTransition(
            f"贷款当前状态为「{LoanStatus(locked.status).label}」，不能调整还款计划",
            code="loan_not_servicing",
            extra={"status": locked.status},
        )
    as_of = as_of or business_date_get()
    old = ScheduleVersion.objects.select_for_update().get(loan=locked, is_current=True)
    installments = installments_for_update(locked)
    kept, tail = split_installments(installments, as_of=as_of)

    copies = [copy_installment(item) for item in kept]
    expected = sum((item.principal_due for item in tail), ZERO) - prepaid_principal
    if roll_over_arrears:
        for copy in copies:
            expected += copy.principal_due - copy.principal_paid
            copy.principal_due = copy.principal_paid
    for copy in copies:
        copy.status = installment_status(copy, today=as_of)
        if copy.outstanding > 0:
            copy.paid_on = None
    got = sum((row.principal for row in rows), ZERO)
    if got != expected:
        raise DomainError(
            f"新还款计划本金合计 {got} 与应还本金 {expected} 不一致",
            code="schedule_principal_mismatch",
            extra={"expected": expected, "got": got},
        )
    previous = max([as_of] + [copy.due_date for copy in copies])
    for row in rows:
        if row.due_date <= previous:
            raise DomainError(
                f"新还款计划的还款日 {row.due_date} 必须晚于 {previous}",
                code="schedule_dates_invalid",
                extra={"due_date": row.due_date},
            )
        if min(row.principal, row.interest, row.remaining) < 0:
            raise DomainError("还款计划不能含有负数金额", code="schedule_negative_amount")
        previous = row.due_date

    start = len(copies)
    new_rows = [
        Installment(
            period=start + index,
            due_date=row.due_date,
            principal_due=row.principal,
            interest_due=row.interest,
            remaining_after=row.remaining,
        )
        for index, row in enumerate(rows, start=1)
    ]
    version = version_write(
        actor=actor,
        loan=locked,
        old=old,
        items=copies + new_rows,
        reason=reason,
        principal=got,
        term_months=len(rows),
        first_due_date=rows[0].due_date if rows else old.first_due_date,
        annual_rate=annual_rate,
        repayment_method=repayment_method,
    )
    audit_record(
        actor=actor,
        action="schedule.replace",
        subject=locked,
        before={"version": old.version, "installments": len(installments), "tail_principal": expected},
        after={"version": version.version, "kept": len(copies), "new_rows": len(rows), "principal": got},
        reason=reason,
    )
    loan.refresh_from_db(fields=["status"])
    return version
