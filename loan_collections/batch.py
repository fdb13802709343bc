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

Every change writes a ``CaseEvent`` (history of level, role, assignee, outcome). Escalations, broken
promises and closures also write an audit row each; openings and assignments (the bulk of a first run) are
counted in one summary audit row per date and chunk (``collection_cob.run``). The
work is a few queries per stage and chunk (no query per case), and each stage only touches rows whose
state calls for it, so running D twice changes nothing the second time. Works on SQLite and PostgreSQL.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Case, Count, DecimalField, F, OuterRef, Q, QuerySet, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

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
from loanops.sql import id_batches, insert_rows
from servicing.models import Repayment
from servicing.services.common import system_user

__all__ = ["collections_run", "promise_paid_amount"]

#: the columns of a CaseEvent row (the events are built as unsaved instances, written in multi-row INSERTs)
_EVENT_COLUMNS = (
    "case_id", "kind", "business_date", "from_level", "to_level", "role", "assigned_to_id", "outcome", "reason",
    "actor_id", "created_at",
)  # fmt: skip
_TOLERANCE = Decimal("0.005")  # below a cent: absorbs SQLite's float arithmetic in SUM()


def _money() -> DecimalField:
    return DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES)


def _in_range(queryset: QuerySet[Any], id_range: IdRange, field: str = "loan_id") -> QuerySet[Any]:
    if id_range is None:
        return queryset
    low, high = id_range
    return queryset.filter(**{f"{field}__gte": low, f"{field}__lt": high})


def _case_sql(column: str, mapping: dict[str, str], default: str) -> tuple[str, list[str]]:
    """``CASE column WHEN k THEN v … ELSE default END`` with its parameters."""
    whens = " ".join("WHEN %s THEN %s" for _ in mapping)
    return f"CASE {column} {whens} ELSE %s END", [*(x for pair in mapping.items() for x in pair), default]


def _range_sql(column: str, id_range: IdRange) -> tuple[str, list[int]]:
    if id_range is None:
        return "", []
    return f"AND {column} >= %s AND {column} < %s", [id_range[0], id_range[1]]


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
        self.counts: dict[str, int] = defaultdict(int)
        self.audit: list[AuditEntry] = []
        self.touched = 0

    def open_cases(self) -> QuerySet[CollectionCase]:
        return _in_range(CollectionCase.objects.filter(status=CaseStatus.OPEN), self.id_range)

    def event(self, case_id: int, kind: str, *, audit_data: dict[str, Any] | None = None, **fields: Any) -> None:
        self.events.append(
            CaseEvent(
                case_id=case_id, kind=kind, business_date=self.business_date, actor=self.actor,
                created_at=timezone.now(), **fields,
            )
        )  # fmt: skip
        self.counts[kind] += 1
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

    def summarise(self) -> None:
        """One audit row for the run of this date and chunk (what it did, counted by kind)."""
        if not any(self.counts.values()):
            return
        low, high = self.id_range or ("", "")
        self.audit.append(
            AuditEntry(
                action="collection_cob.run",
                subject_type="collections.cobstep",
                subject_id=f"{self.business_date.isoformat()}:{low}-{high}",
                actor=self.actor,
                data={"business_date": self.business_date.isoformat(), "rows": self.touched, **self.counts},
            )
        )

    def flush(self) -> None:
        if self.events:
            insert_rows(
                CaseEvent,
                _EVENT_COLUMNS,
                ([getattr(event, name) for name in _EVENT_COLUMNS] for event in self.events),
                batch_size=2000,
            )
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
        for ids in id_batches(kept_ids):
            PromiseToPay.objects.filter(pk__in=ids).update(
                status=PromiseStatus.KEPT, paid_amount=promise_paid_amount(day), evaluated_on=day
            )
        broken = list(
            pending.filter(promised_date__lt=day)
            .exclude(pk__in=kept_ids)
            .values_list("pk", "case_id", "amount", "promised_date")
        )
        broken_ids = [row[0] for row in broken]
        for ids in id_batches(broken_ids):
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
        for ids in id_batches(flagged):
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
        for ids in id_batches(case_ids):
            CollectionCase.objects.filter(pk__in=ids).update(**values)

    # --- 2. closure -------------------------------------------------------------------------

    def close_cases(self) -> None:
        outcomes = (
            (CaseOutcome.WRITTEN_OFF, Q(loan__status=LoanStatus.WRITTEN_OFF)),
            (CaseOutcome.SETTLED, Q(loan__status__in=[LoanStatus.SETTLED, LoanStatus.ARCHIVED])),
            (CaseOutcome.CURED, Q(loan__status__in=SERVICING_STATUSES, loan__days_past_due=0)),
        )
        # one query for the three outcomes (the first condition that holds wins, as listed)
        outcome_of = Case(*(When(condition, then=Value(str(outcome))) for outcome, condition in outcomes), default=None)
        found = list(
            self.open_cases()
            .annotate(closing=outcome_of)
            .filter(closing__isnull=False)
            .order_by("pk")
            .values_list("pk", "level", "responsible_role", "closing")
        )
        for outcome, _condition in outcomes:
            rows = [(pk, level, role) for pk, level, role, closing in found if closing == outcome]
            for pk, level, role in rows:
                self.event(pk, CaseEventKind.CLOSED, from_level=level, role=role, outcome=outcome,
                           audit_data={"outcome": outcome})  # fmt: skip
            for ids in id_batches([row[0] for row in rows]):
                CollectionCase.objects.filter(pk__in=ids, status=CaseStatus.OPEN).update(
                    status=CaseStatus.CLOSED, outcome=outcome, closed_on=self.business_date
                )
            self.touched += len(rows)

    # --- 3. opening -------------------------------------------------------------------------

    def open_new_cases(self) -> None:
        """One INSERT … SELECT for the cases and one for their "opened" events (no Python row per case)."""
        buckets = {bucket: level_for_bucket(bucket) for bucket in levels_config()["buckets"]}
        default = level_for_bucket("M0")
        level_sql, level_params = _case_sql("l.bucket", buckets, default)
        role_sql, role_params = _case_sql(
            "l.bucket", {b: role_for_level(level) for b, level in buckets.items()}, role_for_level(default)
        )
        range_sql, range_params = _range_sql("l.id", self.id_range)
        case_range_sql, case_range_params = _range_sql("c.loan_id", self.id_range)
        ops = connection.ops
        today, now = ops.adapt_datefield_value(self.business_date), ops.adapt_datetimefield_value(timezone.now())
        cases, loans, events = CollectionCase._meta.db_table, Loan._meta.db_table, CaseEvent._meta.db_table
        statuses = [str(status) for status in SERVICING_STATUSES]
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {cases} (loan_id, customer_id, status, level, responsible_role, priority, "  # noqa: S608
                "priority_reason, opened_on, opened_dpd, outcome, next_action, created_at, updated_at) "
                f"SELECT l.id, l.customer_id, %s, {level_sql}, {role_sql}, %s, '', %s, l.days_past_due, '', '', %s, %s "
                f"FROM {loans} l WHERE l.status IN ({', '.join(['%s'] * len(statuses))}) "
                f"AND l.days_past_due >= 1 {range_sql} "
                # the chunk's range on the cases too: the planner then reads only the chunk's open cases
                f"AND NOT EXISTS (SELECT 1 FROM {cases} c WHERE c.loan_id = l.id AND c.status = %s {case_range_sql})",
                [CaseStatus.OPEN.value, *level_params, *role_params, False, today, now, now, *statuses,
                 *range_params, CaseStatus.OPEN.value, *case_range_params],
            )  # fmt: skip
            opened = cursor.rowcount
            if opened:
                range_sql, range_params = _range_sql("c.loan_id", self.id_range)
                cursor.execute(
                    f"INSERT INTO {events} (case_id, kind, business_date, from_level, to_level, role, "  # noqa: S608
                    "outcome, reason, actor_id, created_at) "
                    "SELECT c.id, %s, %s, '', c.level, c.responsible_role, '', "
                    "'逾期 ' || CAST(c.opened_dpd AS TEXT) || ' 天（' || l.bucket || '）', %s, %s "
                    f"FROM {cases} c JOIN {loans} l ON l.id = c.loan_id "
                    f"WHERE c.status = %s AND c.opened_on = %s {range_sql} "
                    f"AND NOT EXISTS (SELECT 1 FROM {events} e WHERE e.case_id = c.id AND e.kind = %s)",
                    [CaseEventKind.OPENED.value, today, self.actor.pk, now, CaseStatus.OPEN.value, today,
                     *range_params, CaseEventKind.OPENED.value],
                )  # fmt: skip
        self.counts[CaseEventKind.OPENED] += opened
        self.touched += opened

    # --- 4. escalation by bucket ------------------------------------------------------------

    def escalate_by_bucket(self) -> None:
        targets: dict[str, list[str]] = defaultdict(list)  # level → buckets calling for it
        for bucket in levels_config()["buckets"]:
            targets[level_for_bucket(bucket)].append(bucket)
        ordered = [(t, b) for t, b in sorted(targets.items(), key=lambda item: LEVEL_RANK[item[0]]) if levels_below(t)]
        if not ordered:
            return
        # one query for every target level: the open cases whose loan's bucket calls for a higher level
        calls_for = Q()
        for target, buckets in ordered:
            calls_for |= Q(loan__bucket__in=buckets, level__in=levels_below(target))
        found = list(
            self.open_cases()
            .filter(calls_for)
            .order_by("pk")
            .values_list("pk", "level", "responsible_role", "assigned_to_id", "loan__bucket")
        )
        for target, buckets in ordered:
            below = levels_below(target)
            rows = [row for row in found if row[4] in buckets and row[1] in below]
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
            staff_of_role = get_user_model().objects.filter(groups__name=role, is_active=True, is_staff=True)
            if not staff_of_role.exists():
                continue  # its cases stay unassigned (managers see them in the queue): no need to list them daily
            unassigned = list(
                self.open_cases()
                .filter(responsible_role=role, assigned_to__isnull=True)
                .order_by("-priority", "-loan__days_past_due", "pk")
                .values_list("pk", flat=True)
            )
            if not unassigned:
                continue
            staff = list(
                staff_of_role.annotate(
                    load=Count("collection_cases", filter=Q(collection_cases__status=CaseStatus.OPEN))
                )
                .order_by("pk")
                .values_list("pk", "load")
            )
            assignments = balance_by_load([(load, pk) for pk, load in staff], unassigned)
            for user_id, case_ids in assignments.items():
                for ids in id_batches(case_ids):
                    CollectionCase.objects.filter(pk__in=ids, assigned_to__isnull=True).update(
                        assigned_to_id=user_id, assigned_on=self.business_date
                    )
            self.touched += len(unassigned)
            self.counts[CaseEventKind.ASSIGNED] += len(unassigned)
        self._assignment_events()

    def _assignment_events(self) -> None:
        """The "assigned" events of this run: cases assigned on this date with no event for that assignee yet."""
        cases, events = CollectionCase._meta.db_table, CaseEvent._meta.db_table
        range_sql, range_params = _range_sql("c.loan_id", self.id_range)
        ops = connection.ops
        today, now = ops.adapt_datefield_value(self.business_date), ops.adapt_datetimefield_value(timezone.now())
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {events} (case_id, kind, business_date, from_level, to_level, role, "  # noqa: S608
                "assigned_to_id, outcome, reason, actor_id, created_at) "
                "SELECT c.id, %s, %s, '', c.level, c.responsible_role, c.assigned_to_id, '', %s, %s, %s "
                f"FROM {cases} c WHERE c.status = %s AND c.assigned_on = %s AND c.assigned_to_id IS NOT NULL "
                f"{range_sql} AND NOT EXISTS (SELECT 1 FROM {events} e WHERE e.case_id = c.id AND e.kind = %s "
                "AND e.business_date = %s AND e.assigned_to_id = c.assigned_to_id)",
                [CaseEventKind.ASSIGNED.value, today, "按在办案件量分案", self.actor.pk, now, CaseStatus.OPEN.value,
                 today, *range_params, CaseEventKind.ASSIGNED.value, today],
            )  # fmt: skip


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
        run.summarise()
        run.flush()
        return run.touched
