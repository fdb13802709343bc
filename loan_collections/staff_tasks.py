"""COB step 8 `staff_tasks`: tasks in the staff queues (我的任务), and completing them.

For business date D:
* a return visit (放款回访) for service staff on every active/overdue loan disbursed on
  D − `LOANOPS_RETURN_VISIT_DAYS` (default 7);
* a post-loan review (贷后检查) for risk staff on every active/overdue loan with principal of at least
  `LOANOPS_POST_LOAN_REVIEW_MIN_PRINCIPAL`, every `LOANOPS_POST_LOAN_REVIEW_MONTHS` (default 3) months
  after its disbursement date (month ends clamped, as the schedules do).

Each kind is one ``INSERT … SELECT … ON CONFLICT DO NOTHING`` under the unique (loan, kind, due date), so
a date run twice (or by two workers) creates each task once. Completing a task takes a note and is
audited; who may complete which kind is a permission (service: return visits, risk: reviews).
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import F, QuerySet, Value
from django.db.models.fields import CharField, DateField
from django.utils import timezone

from applications.models import SERVICING_STATUSES, Loan
from compliance.audit import audit_record
from loan_collections.post_loan import StaffTask, StaffTaskKind, StaffTaskStatus
from loanops.cob import CobStep, IdRange
from loanops.exceptions import InputError, InvalidTransition

DEFAULT_RETURN_VISIT_DAYS = 7
DEFAULT_REVIEW_MONTHS = 3
DEFAULT_REVIEW_MIN_PRINCIPAL = Decimal("300000.00")
NOTE_MAX_LENGTH = 2000

#: the permission that lets a user see and complete each kind of task
TASK_PERMISSIONS: dict[str, str] = {
    StaffTaskKind.RETURN_VISIT: "collections.complete_return_visit",
    StaffTaskKind.POST_LOAN_REVIEW: "collections.complete_post_loan_review",
}
VIEW_ALL_PERMISSION = "collections.view_stafftask"


def _add_months(day: date, months: int) -> date:
    year, month0 = divmod(day.month - 1 + months, 12)
    year += day.year
    return date(year, month0 + 1, min(day.day, calendar.monthrange(year, month0 + 1)[1]))


def review_disbursement_dates(business_date: date, *, every_months: int, max_months: int = 480) -> list[date]:
    """Disbursement dates d with d + k·every_months months == business_date for some k ≥ 1 (month ends
    clamped: 01-31 + 3 months = 04-30, so on 04-30 the loans of 01-30 and 01-31 are both due)."""
    last_of_month = calendar.monthrange(business_date.year, business_date.month)[1]
    found: list[date] = []
    for months in range(every_months, max_months + 1, every_months):
        start = _add_months(business_date.replace(day=1), -months)
        last_start = calendar.monthrange(start.year, start.month)[1]
        if business_date.day < last_of_month:
            days = [business_date.day] if business_date.day <= last_start else []
        else:  # month end: that day and every later day of a longer month clamp onto it
            days = list(range(business_date.day, last_start + 1))
        found.extend(start.replace(day=day) for day in days)
    return found


def _insert_tasks(loans: QuerySet[Loan], *, kind: str, due_date: date) -> int:
    """One INSERT … SELECT … ON CONFLICT DO NOTHING of a task per loan of `loans`; returns rows inserted."""
    select = loans.annotate(
        t_kind=Value(kind, output_field=CharField()),
        t_loan=F("pk"),
        t_due=Value(due_date, output_field=DateField()),
        t_status=Value(StaffTaskStatus.OPEN.value, output_field=CharField()),
        t_note=Value("", output_field=CharField()),
    ).values("t_kind", "t_loan", "t_due", "t_status", "t_note")
    sql, params = select.query.sql_with_params()
    table = connection.ops.quote_name(StaffTask._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in ("kind", "loan_id", "due_date", "status", "note"))
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({columns}) {sql} ON CONFLICT DO NOTHING", params)
        return max(cursor.rowcount, 0)


def _servicing_loans(id_range: IdRange) -> QuerySet[Loan]:
    loans = Loan.objects.filter(status__in=SERVICING_STATUSES).order_by()
    if id_range is not None:
        loans = loans.filter(pk__gte=id_range[0], pk__lt=id_range[1])
    return loans


@transaction.atomic
def staff_tasks_create(*, business_date: date, id_range: IdRange = None) -> int:
    """Create D's return visits and post-loan reviews (idempotent per date); returns tasks inserted."""
    visit_days = int(getattr(settings, "LOANOPS_RETURN_VISIT_DAYS", DEFAULT_RETURN_VISIT_DAYS))
    every = int(getattr(settings, "LOANOPS_POST_LOAN_REVIEW_MONTHS", DEFAULT_REVIEW_MONTHS))
    minimum = Decimal(str(getattr(settings, "LOANOPS_POST_LOAN_REVIEW_MIN_PRINCIPAL", DEFAULT_REVIEW_MIN_PRINCIPAL)))
    loans = _servicing_loans(id_range)
    inserted = _insert_tasks(
        loans.filter(disbursed_on=business_date - timedelta(days=visit_days)),
        kind=StaffTaskKind.RETURN_VISIT,
        due_date=business_date,
    )
    if every > 0:
        inserted += _insert_tasks(
            loans.filter(
                principal__gte=minimum,
                disbursed_on__in=review_disbursement_dates(business_date, every_months=every),
            ),
            kind=StaffTaskKind.POST_LOAN_REVIEW,
            due_date=business_date,
        )
    return inserted


STAFF_TASKS_STEP = CobStep(name="staff_tasks", label="回访与贷后检查任务", func=staff_tasks_create)


# --- the queue ------------------------------------------------------------------------------------


def task_kinds_for(user: Any) -> list[str]:
    """The kinds of task this user works on (sees in 我的任务 and may complete)."""
    return [kind for kind, perm in TASK_PERMISSIONS.items() if user.has_perm(perm)]


def can_see_tasks(user: Any) -> bool:
    return bool(task_kinds_for(user)) or user.has_perm(VIEW_ALL_PERMISSION)


def staff_task_queue(user: Any, *, status: str = StaffTaskStatus.OPEN) -> QuerySet[StaffTask]:
    """Tasks in this user's queue (their kinds; every kind for a viewer such as a manager), oldest first."""
    queryset = StaffTask.objects.filter(status=status).select_related(
        "loan", "loan__customer", "loan__product", "completed_by"
    )
    if not user.has_perm(VIEW_ALL_PERMISSION):
        queryset = queryset.filter(kind__in=task_kinds_for(user))
    order = ("due_date", "id") if status == StaffTaskStatus.OPEN else ("-completed_at", "-id")
    return queryset.order_by(*order)


@transaction.atomic
def staff_task_complete(*, actor: Any, task_id: int, note: str) -> StaffTask:
    """Close an open task with the actor's note (perm by kind); audited. A done task is refused (409)."""
    task = StaffTask.objects.select_for_update().get(pk=task_id)
    permission = TASK_PERMISSIONS[task.kind]
    if not actor.has_perm(permission):
        raise PermissionDenied("您没有权限处理该任务")
    if task.status != StaffTaskStatus.OPEN:
        raise InvalidTransition("该任务已完成，不能重复处理", extra={"status": task.status})
    clean = str(note or "").strip()
    if not clean:
        raise InputError("请填写处理记录", fields={"note": ["请填写处理记录"]})
    if len(clean) > NOTE_MAX_LENGTH:
        raise InputError(f"处理记录最多 {NOTE_MAX_LENGTH} 个字", fields={"note": [f"最多 {NOTE_MAX_LENGTH} 个字"]})
    task.status = StaffTaskStatus.DONE
    task.note = clean
    task.completed_by = actor
    task.completed_at = timezone.now()
    task.save(update_fields=["status", "note", "completed_by", "completed_at"])
    audit_record(
        actor=actor,
        action=f"staff_task.{task.kind}.complete",
        subject=task,
        before={"status": StaffTaskStatus.OPEN.value},
        after={"status": task.status},
        reason=clean,
        data={"loan_id": task.loan_id, "due_date": task.due_date},
    )
    return task
