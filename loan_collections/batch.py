"""COB step 5 (催收): evaluate promises to pay, close, open, escalate and assign collection cases.

``collections_run(business_date=D, id_range=(lo, hi))`` works on the loans ``lo <= id < hi`` (all loans
for ``None``) in one transaction, in this order:

1. **promises** — pending promises whose loan's unreversed repayments paid from ``made_on`` up to
   ``promised_date`` reach the amount become *kept*; pending promises whose date is before D without that
   become *broken*, and the broken promise escalates its open case one level (a case already at the top
   is flagged as priority instead);
2. **closure** — open cases close with outcome *written_off* (loan written off), *settled* (loan settled
   or archived) or *cured* (loan in servicing with DPD 0: the arrears are paid);
3. **opening** — a case for every servicing loan with DPD ≥ 1 and no open case (one open case per loan,
   a partial unique index), at the level its bucket calls for;
4. **escalation by bucket** — an open case below the level of its loan's bucket moves up to it (never
   down); when the responsible role changes the case is unassigned, so that
5. **assignment by load** — unassigned open cases go to active staff of the responsible role, fewest open
   cases first (most urgent cases first: priority, then DPD), ties by user id.

Every change writes a ``CaseEvent`` (history of level, role, assignee, outcome) and an audit row. The
work is a few queries per stage and chunk (no query per case), and each stage only touches rows whose
state calls for it, so running D twice changes nothing the second time. Works on SQLite and PostgreSQL.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, DecimalField, Exists, F, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from applications.models import SERVICING_STATUSES, Loan, LoanStatus
from compliance.audit import AuditEntry, audit_record_many
from loan_collections.case_models import (
    LEVEL_RANK,
    CaseEvent,
    CaseEventKind,
    CaseOutcome,
    CaseStatus,
    CollectionCase,
    PromiseStatus,
    PromiseToPay,
)
from loan_collections.policy import level_for_bucket, levels_below, levels_config, next_level, role_for_level
from loanops.cob import IdRange
from loanops.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS, ZERO
from servicing.models import Repayment
from servicing.services.common import system_user

__all__ = ["collections_run", "promise_paid_amount"]

#: ids per ``pk IN (...)`` statement (well below SQLite's and PostgreSQL's parameter limits)
CHUNK = 1000
_TOLERANCE = Decimal("0.005")  # below a cent: absorbs SQLite's float arithmetic in SUM()


def _money() -> DecimalField:
    return DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES)


def _chunks(ids: Sequence[int], size: int = CHUNK) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _in_range(queryset: QuerySet[Any], id_range: IdRange, field: str = "loan_id") -> QuerySet[Any]:
    if id_range is None:
        return queryset
    low, high = id_range
    return queryset.filter(**{f"{field}__gte": low, f"{field}__lt": high})


def promise_paid_amount(business_date: date | None = None) -> Coalesce:
    """For a PromiseToPay row: the loan's unreversed repayments paid from ``made_on`` to ``promised_date``."""
    repayments = Repayment.objects.filter(
        loan_id=OuterRef("loan_id"),
        reversed_at__isnull=True,
        paid_on__gte=OuterRef("made_on"),
        paid_on__lte=OuterRef("promised_date"),
    )
    if business_date is not None:
        repayments = repayments.filter(paid_on__lte=business_date)
    total = repayments.order_by().values("loan_id").annotate(total=Sum("amount")).values("total")[:1]
    return Coalesce(Subquery(total, output_field=_money()), Value(ZERO, output_field=_money()))


class _Run:
    """One run of the step for one date and chunk: collects history rows and audit rows as it goes."""

    def __init__(self, *, business_date: date, id_range: IdRange) -> None:
        self.business_date = business_date
        self.id_range = id_range
        self.actor = system_user()
        self.events: list[CaseEvent] = []
        self.audit: list[AuditEntry] = []
        self.touched = 0

    def open_cases(self) -> QuerySet[CollectionCase]:
        return _in_range(CollectionCase.objects.filter(status=CaseStatus.OPEN), self.id_range)

    def event(self, case_id: int, kind: str, *, audit_data: dict[str, Any] | None = None, **fields: Any) -> None:
        self.events.append(
            CaseEvent(case_id=case_id, kind=kind, business_date=self.business_date, actor=self.actor, **fields)
        )
        if audit_data is not None:
            self.audit.append(
                AuditEntry(
                    action=f"collection_case.{kind}",
                    subject_type="collections.collectioncase",
                    subject_id=str(case_id),
                    actor=self.actor,
                    data={"business_date": self.business_date.isoformat(), **audit_data},
                )
            )

    def flush(self) -> None:
        if self.events:
            CaseEvent.objects.bulk_create(self.events, batch_size=2000)
        if self.audit:
            audit_record_many(self.audit)
        self.events, self.audit = [], []

    # --- 1. promises ------------------------------------------------------------------------

    def evaluate_promises(self) -> None:
        day = self.business_date
        paid = promise_paid_amount(day)
        pending = _in_range(PromiseToPay.objects.filter(status=PromiseStatus.PENDING), self.id_range)
        kept = pending.annotate(paid=paid).filter(paid__gte=F("amount") - Value(_TOLERANCE, output_field=_money()))
        kept_ids = list(kept.values_list("pk", flat=True))
        for ids in _chunks(kept_ids):
            PromiseToPay.objects.filter(pk__in=ids).update(
                status=PromiseStatus.KEPT, paid_amount=promise_paid_amount(day), evaluated_on=day
            )
        broken = list(
            pending.filter(promised_date__lt=day)
            .exclude(pk__in=kept_ids)
            .values_list("pk", "case_id", "amount", "promised_date")
        )
        broken_ids = [row[0] for row in broken]
        for ids in _chunks(broken_ids):
            PromiseToPay.objects.filter(pk__in=ids).update(
                status=PromiseStatus.BROKEN, paid_amount=promise_paid_amount(day), evaluated_on=day
            )
        self.touched += len(kept_ids) + len(broken_ids)
        if broken:
            self._escalate_for_broken_promises({row[1]: row for row in broken})

    def _escalate_for_broken_promises(self, by_case: dict[int, tuple[Any, ...]]) -> None:
        rows = list(
            CollectionCase.objects.filter(pk__in=list(by_case), status=CaseStatus.OPEN).values_list(
                "pk", "level", "responsible_role", "assigned_to_id"
            )
        )
        moves: dict[tuple[str, str], list[int]] = defaultdict(list)  # (from level, role) → case ids
        flagged: list[int] = []
        for pk, level, role, assignee in rows:
            promise_id, _case, amount, promised = by_case[pk]
            reason = f"承诺还款未兑现（{promised.isoformat()} 前还 {amount}）"
            target = next_level(level)
            if target is None:
                flagged.append(pk)
                self.event(pk, CaseEventKind.PROMISE_BROKEN, from_level=level, to_level=level, role=role,
                           reason=reason, audit_data={"promise_id": promise_id, "priority": True})  # fmt: skip
                continue
            moves[(level, role)].append(pk)
            new_role = role_for_level(target)
            self.event(pk, CaseEventKind.PROMISE_BROKEN, from_level=level, to_level=target, role=new_role,
                       assigned_to_id=assignee if new_role == role else None, reason=reason,
                       audit_data={"promise_id": promise_id, "from_level": level, "to_level": target})  # fmt: skip
        for ids in _chunks(flagged):
            CollectionCase.objects.filter(pk__in=ids).update(priority=True, priority_reason="承诺还款未兑现")
        for (level, role), case_ids in moves.items():
            target = next_level(level)
            assert target is not None
            self._move(case_ids, target=target, old_role=role)
        self.touched += len(rows)

    def _move(self, case_ids: Sequence[int], *, target: str, old_role: str) -> None:
        """Set the level of these cases; unassign them when the responsible role changes."""
        new_role = role_for_level(target)
        values: dict[str, Any] = {"level": target, "responsible_role": new_role}
        if new_role != old_role:
            values.update(assigned_to=None, assigned_on=None)
        for ids in _chunks(case_ids):
            CollectionCase.objects.filter(pk__in=ids).update(**values)

    # --- 2. closure -------------------------------------------------------------------------

    def close_cases(self) -> None:
        outcomes = (
            (CaseOutcome.WRITTEN_OFF, Q(loan__status=LoanStatus.WRITTEN_OFF)),
            (CaseOutcome.SETTLED, Q(loan__status__in=[LoanStatus.SETTLED, LoanStatus.ARCHIVED])),
            (CaseOutcome.CURED, Q(loan__status__in=SERVICING_STATUSES, loan__days_past_due=0)),
        )
        for outcome, condition in outcomes:
            rows = list(self.open_cases().filter(condition).values_list("pk", "level", "responsible_role"))
            for pk, level, role in rows:
                self.event(pk, CaseEventKind.CLOSED, from_level=level, role=role, outcome=outcome,
                           audit_data={"outcome": outcome})  # fmt: skip
            for ids in _chunks([row[0] for row in rows]):
                CollectionCase.objects.filter(pk__in=ids, status=CaseStatus.OPEN).update(
                    status=CaseStatus.CLOSED, outcome=outcome, closed_on=self.business_date
                )
            self.touched += len(rows)

    # --- 3. opening -------------------------------------------------------------------------

    def open_new_cases(self) -> None:
        has_open_case = CollectionCase.objects.filter(loan_id=OuterRef("pk"), status=CaseStatus.OPEN)
        loans = _in_range(
            Loan.objects.filter(status__in=SERVICING_STATUSES, days_past_due__gte=1), self.id_range, field="pk"
        ).filter(~Exists(has_open_case))
        rows = list(loans.order_by("pk").values_list("pk", "customer_id", "bucket", "days_past_due"))
        cases = []
        for loan_id, customer_id, bucket, dpd in rows:
            level = level_for_bucket(bucket)
            cases.append(
                CollectionCase(
                    loan_id=loan_id,
                    customer_id=customer_id,
                    level=level,
                    responsible_role=role_for_level(level),
                    opened_on=self.business_date,
                    opened_dpd=dpd,
                )
            )
        created = CollectionCase.objects.bulk_create(cases, batch_size=2000)
        for case, (_loan_id, _customer, bucket, dpd) in zip(created, rows, strict=True):
            self.event(case.pk, CaseEventKind.OPENED, to_level=case.level, role=case.responsible_role,
                       reason=f"逾期 {dpd} 天（{bucket}）",
                       audit_data={"loan_id": case.loan_id, "level": case.level, "dpd": dpd})  # fmt: skip
        self.touched += len(created)

    # --- 4. escalation by bucket ------------------------------------------------------------

    def escalate_by_bucket(self) -> None:
        targets: dict[str, list[str]] = defaultdict(list)  # level → buckets calling for it
        for bucket in levels_config()["buckets"]:
            targets[level_for_bucket(bucket)].append(bucket)
        for target, buckets in sorted(targets.items(), key=lambda item: LEVEL_RANK[item[0]]):
            below = levels_below(target)
            if not below:
                continue
            rows = list(
                self.open_cases()
                .filter(loan__bucket__in=buckets, level__in=below)
                .values_list("pk", "level", "responsible_role", "assigned_to_id", "loan__bucket")
            )
            new_role = role_for_level(target)
            by_role: dict[str, list[int]] = defaultdict(list)
            for pk, level, role, assignee, bucket in rows:
                by_role[role].append(pk)
                self.event(pk, CaseEventKind.ESCALATED, from_level=level, to_level=target, role=new_role,
                           assigned_to_id=assignee if new_role == role else None, reason=f"账龄 {bucket}",
                           audit_data={"from_level": level, "to_level": target, "bucket": bucket})  # fmt: skip
            for role, ids in by_role.items():
                self._move(ids, target=target, old_role=role)
            self.touched += len(rows)

    # --- 5. assignment by load --------------------------------------------------------------

    def assign_by_load(self) -> None:
        roles = sorted(set(levels_config()["roles"].values()))
        for role in roles:
            unassigned = list(
                self.open_cases()
                .filter(responsible_role=role, assigned_to__isnull=True)
                .order_by("-priority", "-loan__days_past_due", "pk")
                .values_list("pk", "level")
            )
            if not unassigned:
                continue
            staff = list(
                get_user_model()
                .objects.filter(groups__name=role, is_active=True, is_staff=True)
                .annotate(load=Count("collection_cases", filter=Q(collection_cases__status=CaseStatus.OPEN)))
                .order_by("pk")
                .values_list("pk", "load")
            )
            if not staff:
                continue  # stays unassigned: managers see it in the queue
            assignments = balance_by_load([(load, pk) for pk, load in staff], [pk for pk, _level in unassigned])
            levels = dict(unassigned)
            for user_id, case_ids in assignments.items():
                for ids in _chunks(case_ids):
                    CollectionCase.objects.filter(pk__in=ids, assigned_to__isnull=True).update(
                        assigned_to_id=user_id, assigned_on=self.business_date
                    )
                for pk in case_ids:
                    self.event(pk, CaseEventKind.ASSIGNED, to_level=levels[pk], role=role, assigned_to_id=user_id,
                               reason="按在办案件量分案")  # fmt: skip
            self.touched += len(unassigned)


def balance_by_load(staff: Iterable[tuple[int, int]], case_ids: Sequence[int]) -> dict[int, list[int]]:
    """Give each case, in order, to the member of staff with the fewest open cases (ties: lowest user id).

    ``staff`` is ``(current load, user id)`` pairs. A heap: O(cases × log staff), no database access.
    """
    heap = list(staff)
    heapq.heapify(heap)
    result: dict[int, list[int]] = defaultdict(list)
    for case_id in case_ids:
        load, user_id = heapq.heappop(heap)
        result[user_id].append(case_id)
        heapq.heappush(heap, (load + 1, user_id))
    return dict(result)


def collections_run(*, business_date: date, id_range: IdRange = None) -> int:
    """COB step 5 for one date and loan-id chunk; returns the rows changed or inserted (see module doc)."""
    with transaction.atomic():
        run = _Run(business_date=business_date, id_range=id_range)
        run.evaluate_promises()
        run.close_cases()
        run.open_new_cases()
        run.escalate_by_bucket()
        run.flush()  # history of the level changes first, so the assignment events follow them
        run.assign_by_load()
        run.flush()
        return run.touched
