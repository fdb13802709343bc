"""Close-of-business steps 1–3 (servicing): ``due``, ``penalty``, ``bucket`` (see ``loanops.cob``).

COB for business date D evaluates everything as of the start of D (the previous business day is
closed): an installment due on D becomes due, one due before D and still unpaid is overdue, and its days
past due are D − due date (an installment due on 15 March and unpaid is 1 day past due on 16 March).

1. ``due`` — interest of installments due on or before D booked, their status ``due``; unpaid ones due
   before D ``overdue``; ``Loan.days_past_due`` per loan.
2. ``penalty`` — penalty and compound interest for the day(s) up to D, capped at the loan's legal rate
   cap, posted to the ledger (``servicing.services.batch.penalties_accrue``).
3. ``bucket`` — ``Loan.bucket`` from DPD (M0 / M1 1–30 / M2 31–60 / M3 61–90 / M3+ > 90; bounds in
   ``settings.LOANOPS_COB_BUCKETS``), and loans move active ⇄ overdue through the state machine
   (``applications.lifecycle.loan_transition_many``: ``mark_overdue`` when DPD > 0, ``cure`` when it is 0
   again), with stage and audit events written in bulk.

Each step is one chunk of loan ids in one transaction (the runner's), a handful of SQL statements, and
idempotent for a date.
"""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.db import transaction
from django.db.models import Case, Q, Value, When

from applications.lifecycle import loan_transition_many, loans_for_update
from applications.models import SERVICING_STATUSES, Loan, LoanStatus
from loanops.cob import CobStep, IdRange
from loanops.sql import id_batches
from servicing.services.batch import (
    days_past_due_update,
    due_step_lock,
    installments_fall_due,
    installments_mark_overdue,
    penalties_accrue,
)
from servicing.services.common import system_user

__all__ = ["BUCKET", "DUE", "PENALTY", "bucket_case", "step_bucket", "step_due", "step_penalty"]


def _range_q(id_range: IdRange, field: str = "pk") -> Q:
    if id_range is None:
        return Q()
    return Q(**{f"{field}__gte": id_range[0], f"{field}__lt": id_range[1]})


@transaction.atomic
def step_due(*, business_date: date, id_range: IdRange) -> int:
    """Step 1: fall due, become overdue, days past due. Returns rows changed."""
    if not due_step_lock(business_date=business_date, id_range=id_range):
        return 0
    booked = installments_fall_due(business_date=business_date, id_range=id_range, actor=system_user(), locked=True)
    overdue = installments_mark_overdue(business_date=business_date, id_range=id_range, locked=True)
    dpd = days_past_due_update(business_date=business_date, id_range=id_range, locked=True)
    return booked["interest_booked"] + booked["became_due"] + overdue + dpd


@transaction.atomic
def step_penalty(*, business_date: date, id_range: IdRange) -> int:
    """Step 2: penalty and compound interest accrued for D, capped, posted. Returns installments + entries."""
    result = penalties_accrue(business_date=business_date, id_range=id_range, actor=system_user())
    return result["installments"] + result["entries"]


def bucket_case() -> Case:
    """``Loan.bucket`` as a SQL expression of ``days_past_due`` (bounds from settings)."""
    whens = [When(days_past_due__lte=bound, then=Value(name)) for name, bound in settings.LOANOPS_COB_BUCKETS]
    return Case(*whens, default=Value(settings.LOANOPS_COB_BUCKET_OVER))


def bucket_for(days_past_due: int) -> str:
    """The same rule in Python (tests, pages)."""
    for name, bound in settings.LOANOPS_COB_BUCKETS:
        if days_past_due <= bound:
            return str(name)
    return str(settings.LOANOPS_COB_BUCKET_OVER)


@transaction.atomic
def step_bucket(*, business_date: date, id_range: IdRange) -> int:
    """Step 3: bucket by DPD; active → overdue at DPD > 0, overdue → active at DPD 0. Returns rows changed."""
    case = bucket_case()
    # Only the loans with something to change are locked — not every loan in arrears every day. Nothing
    # online changes days_past_due (only step 1 does), and the locked read below returns each row as
    # committed, so a loan whose status moved meanwhile (settled, written off) is judged on its new status.
    needs = (
        ~Q(bucket=case)
        | Q(status=LoanStatus.ACTIVE, days_past_due__gt=0)
        | Q(status=LoanStatus.OVERDUE, days_past_due=0)
    )
    locked = list(
        loans_for_update().filter(_range_q(id_range), needs, status__in=SERVICING_STATUSES)
        .annotate(new_bucket=case)
        .values_list("pk", "status", "days_past_due", "bucket", "new_bucket")
    )  # fmt: skip
    if not locked:
        return 0
    # One pass over the chunk's loans (the locked read above); the rebucketing writes only the loans it found.
    rebucket = [pk for pk, _status, _dpd, bucket, new_bucket in locked if bucket != new_bucket]
    rebucketed = sum(Loan.objects.filter(pk__in=ids).update(bucket=case) for ids in id_batches(rebucket))
    actor = system_user()
    to_mark = [pk for pk, status, dpd, *_ in locked if status == LoanStatus.ACTIVE and dpd > 0]
    to_cure = [pk for pk, status, dpd, *_ in locked if status == LoanStatus.OVERDUE and dpd == 0]
    day = business_date.isoformat()
    marked = loan_transition_many(
        to_mark, "mark_overdue", actor=actor, reason=f"日终批处理 {day}：逾期", business_date=day
    )
    cured = loan_transition_many(
        to_cure, "cure", actor=actor, reason=f"日终批处理 {day}：逾期已结清", business_date=day
    )
    return rebucketed + len(marked) + len(cured)


DUE = CobStep(name="due", label="到期与逾期", func=step_due)
PENALTY = CobStep(name="penalty", label="罚息与复利计提", func=step_penalty)
BUCKET = CobStep(name="bucket", label="账龄与逾期状态", func=step_bucket)
