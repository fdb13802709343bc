"""``python manage.py bench cob --loans N``: the close of business at scale, on PostgreSQL.

Seeds N active loans of 12 monthly equal installments (COPY) into an **empty** database, with due days
spread over the month and an arrears mix: about 90 % of loans current, 10 % unpaid for 1–6 installments
(spread over M1, M2, M3 and M3+) with their penalty accrued to the business date B, and about 15 % of the
installments due on B left unpaid (they become overdue tomorrow). The current loans keep paying at that
rate through the bench's dates: 85 % of their installments due on B + 1 … B + 3 are paid (on B, by the
auto-debit file), the rest are not — so a catch-up day meets the same mix as the steady day instead of a
book where every borrower stopped paying on B. Loans in arrears pay nothing. The state is the book as COB
for B left it. Then it times — in this process, or with ``--workers N`` on N Celery workers it starts:

* the floor: one plain ``UPDATE`` of the installments that become overdue tomorrow (rolled back);
* a steady-state day: COB for B + 1;
* a catch-up day: two missed dates, B + 2 and B + 3, in one ``run_cob``;
* a rerun of B + 3 with its run records deleted, so every step really runs again: it must change and
  insert nothing.

Figure lines per step and in total; the last line is
``bench cob loans=<N> steady_s=<s> catchup_s=<s> rerun_s=<s> rerun_rows=<n> floor_s=<s>``.
"""

from __future__ import annotations

import io
import random
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.test.utils import override_settings
from django.utils import timezone

from applications.models import Customer, Loan, LoanStatus, Product
from loan_collections.batch import collections_run
from loan_collections.case_models import CollectionCase
from loan_collections.cob.bench_workers import celery_workers, cob_on_workers, workers_check
from loan_collections.cob.models import CobRun, CobRunStatus, CobStepRun
from loan_collections.cob.runner import cob_run
from loanops.money import to_money
from loanops.pricing import penalty_for_range
from loanops.schedule import build_schedule, due_dates
from servicing.cob_steps import bucket_for
from servicing.models import BusinessDate, Installment, JournalEntry, ScheduleVersion
from servicing.services.classification import classify_loans
from servicing.services.common import system_user

__all__ = ["bench_cob"]

BUSINESS_DATE = date(2026, 6, 15)
TERM = 12
CLASSES = [(Decimal(p), Decimal(r)) for p in ("6000.00", "12000.00", "30000.00", "80000.00") for r in ("0.080000", "0.120000", "0.150000")]  # fmt: skip
ARREARS_SHARE = 0.10
UNPAID_TODAY_SHARE = 0.15
RATE_CAP = Decimal("0.240000")
HORIZON = BUSINESS_DATE + timedelta(days=3)  # the last date the bench runs COB for
CUSTOMERS = 100


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, day.day)


def _template_row(table: str, pk: int) -> tuple[list[str], list[str]]:
    """Column names and the text-format COPY values of one row (so new columns are cloned as they are)."""
    buffer = io.StringIO()
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg2: COPY through copy_expert
        raw.copy_expert(f"COPY (SELECT * FROM {table} WHERE id = {int(pk)}) TO STDOUT", buffer)  # noqa: S608
        cursor.execute(f"SELECT * FROM {table} WHERE id = %s", [pk])  # noqa: S608
        names = [col.name for col in cursor.description]
    return names, buffer.getvalue().rstrip("\n").split("\t")


def _copy(table: str, names: list[str], rows: Iterator[list[str]], batch: int = 200_000) -> int:
    """COPY rows (text format) into ``table``, one COPY per ``batch`` rows."""
    count = 0
    sql = f"COPY {table} ({', '.join(names)}) FROM STDIN"
    with connection.cursor() as cursor:
        raw = cursor.cursor
        lines: list[str] = []

        def flush() -> None:
            raw.copy_expert(sql, io.StringIO("\n".join(lines) + "\n"))
            lines.clear()

        for row in rows:
            lines.append("\t".join(row))
            count += 1
            if len(lines) >= batch:
                flush()
        if lines:
            flush()
    return count


class _Clone:
    """Rows cloned from a template row with some columns overridden."""

    def __init__(self, table: str, pk: int) -> None:
        self.table = table
        self.names, self.values = _template_row(table, pk)
        self.index = {name: i for i, name in enumerate(self.names)}

    def row(self, **values: Any) -> list[str]:
        row = list(self.values)
        for name, value in values.items():
            row[self.index[name]] = (
                r"\N" if value is None else ("t" if value is True else "f" if value is False else str(value))
            )
        return row


def _seed(n: int, rng: random.Random, write: Callable[[str], object]) -> dict[str, int]:
    started = time.perf_counter()
    actor = system_user()
    product = Product.objects.create(
        code="bench-cob", name="COB 基准产品", applicant_type="individual", min_amount=Decimal("1000.00"),
        max_amount=Decimal("1000000.00"), min_term_months=1, max_term_months=360, min_rate=Decimal("0"),
        max_rate=Decimal("0.240000"),
    )  # fmt: skip
    customers = [
        Customer.objects.create(kind="individual", name=f"基准借款人{i}", phone=f"199{i:08d}", industry="C").pk
        for i in range(CUSTOMERS)
    ]
    t_loan = Loan.objects.create(
        customer_id=customers[0], product=product, requested_amount=Decimal("6000.00"), requested_term_months=TERM,
        purpose="经营周转", principal=Decimal("6000.00"), annual_rate=Decimal("0.080000"), term_months=TERM,
        repayment_method="equal_installment", first_due_date=BUSINESS_DATE, rate_cap=RATE_CAP,
        status=LoanStatus.ACTIVE, disbursed_on=BUSINESS_DATE, prepared_by=actor, created_by=actor,
    )  # fmt: skip
    t_sched = ScheduleVersion.objects.create(
        loan=t_loan, version=1, principal=Decimal("6000.00"), annual_rate=Decimal("0.080000"), term_months=TERM,
        repayment_method="equal_installment", first_due_date=BUSINESS_DATE, reason="bench", created_by=actor,
    )  # fmt: skip
    t_inst = Installment.objects.create(
        schedule=t_sched, loan=t_loan, period=1, due_date=BUSINESS_DATE, principal_due=Decimal("1.00"),
        interest_due=Decimal("1.00"), remaining_after=Decimal("0.00"),
    )  # fmt: skip
    loans, scheds, insts = _Clone(Loan._meta.db_table, t_loan.pk), _Clone(ScheduleVersion._meta.db_table, t_sched.pk), _Clone(Installment._meta.db_table, t_inst.pk)  # fmt: skip
    base_id = t_loan.pk
    Installment.objects.filter(pk=t_inst.pk).delete()
    ScheduleVersion.objects.filter(pk=t_sched.pk).delete()
    Loan.objects.filter(pk=t_loan.pk).delete()

    amounts = {c: build_schedule(principal=c[0], annual_rate=c[1], term_months=TERM, method="equal_installment", first_due_date=date(2026, 1, 1)) for c in CLASSES}  # fmt: skip
    plan: list[
        tuple[int, tuple[Decimal, Decimal], date, int]
    ] = []  # loan id, class, first due, first unpaid period (0 = none)
    unpaid_today = 0
    for k in range(n):
        loan_id = base_id + k
        cls = CLASSES[k % len(CLASSES)]
        day = rng.randint(1, 28)
        last = date(BUSINESS_DATE.year, BUSINESS_DATE.month, day)
        if day > BUSINESS_DATE.day:
            last = _add_months(last, -1)
        if rng.random() < ARREARS_SHARE:
            unpaid = rng.choices([1, 2, 3, 4, 5, 6], weights=[40, 25, 15, 8, 7, 5])[0]
            past = rng.randint(unpaid, 11)
            first_unpaid = past - unpaid + 1
        else:
            past = rng.randint(0, 11)
            first_unpaid = 0
            if past and last == BUSINESS_DATE and rng.random() < UNPAID_TODAY_SHARE:
                first_unpaid = past  # due today, not paid today: overdue tomorrow
                unpaid_today += 1
        first_due = _add_months(last, -(past - 1)) if past else _add_months(last, 1)
        plan.append((loan_id, cls, first_due, first_unpaid))

    now = timezone.now().isoformat()

    def loan_rows() -> Iterator[list[str]]:
        for loan_id, cls, first_due, first_unpaid in plan:
            dues = due_dates(first_due, TERM)
            dpd = (BUSINESS_DATE - dues[first_unpaid - 1]).days if first_unpaid else 0
            yield loans.row(
                id=loan_id, reference=None, customer_id=customers[loan_id % CUSTOMERS], principal=cls[0],
                requested_amount=cls[0], annual_rate=cls[1], first_due_date=first_due,
                disbursed_on=_add_months(first_due, -1), days_past_due=dpd, bucket=bucket_for(dpd),
                status=LoanStatus.OVERDUE if dpd else LoanStatus.ACTIVE, created_at=now, updated_at=now,
                status_changed_at=now,
            )  # fmt: skip

    def sched_rows() -> Iterator[list[str]]:
        for loan_id, cls, first_due, _ in plan:
            yield scheds.row(id=loan_id, loan_id=loan_id, principal=cls[0], annual_rate=cls[1], first_due_date=first_due, created_at=now)  # fmt: skip

    pays = random.Random(rng.random())

    def inst_rows() -> Iterator[list[str]]:
        next_id = 1
        for loan_id, cls, first_due, first_unpaid in plan:
            dues = due_dates(first_due, TERM)
            for row, due in zip(amounts[cls], dues, strict=True):
                past_due = due <= BUSINESS_DATE
                unpaid = past_due and first_unpaid and row.period >= first_unpaid
                paid_ahead = not first_unpaid and BUSINESS_DATE < due <= HORIZON and pays.random() >= UNPAID_TODAY_SHARE
                values: dict[str, Any] = {
                    "id": next_id, "schedule_id": loan_id, "loan_id": loan_id, "period": row.period, "due_date": due,
                    "principal_due": row.principal, "interest_due": row.interest, "remaining_after": row.remaining,
                    "interest_booked": past_due, "status": "pending",
                }  # fmt: skip
                if past_due and not unpaid:
                    values.update(status="paid", principal_paid=row.principal, interest_paid=row.interest, paid_on=due)
                elif paid_ahead:
                    values.update(
                        status="paid", principal_paid=row.principal, interest_paid=row.interest,
                        paid_on=BUSINESS_DATE, interest_booked=True,
                    )  # fmt: skip
                elif unpaid:
                    values["status"] = "overdue" if due < BUSINESS_DATE else "due"
                    if due < BUSINESS_DATE:
                        exact = penalty_for_range(
                            overdue_principal=row.principal, overdue_interest=Decimal(0), annual_rate=cls[1],
                            surcharge=Decimal("0.5"), compound=False, start=due, end=BUSINESS_DATE, cap=RATE_CAP,
                        )  # fmt: skip
                        values.update(
                            overdue_since=due + timedelta(days=1), penalty_accrued=exact,
                            penalty_due=to_money(exact), penalty_accrued_to=BUSINESS_DATE,
                        )  # fmt: skip
                yield insts.row(**values)
                next_id += 1

    counts = {
        "loans": _copy(loans.table, loans.names, loan_rows()),
        "schedules": _copy(scheds.table, scheds.names, sched_rows()),
        "installments": _copy(insts.table, insts.names, inst_rows()),
        "unpaid_today": unpaid_today,
    }
    with connection.cursor() as cursor:
        for model in (Loan, ScheduleVersion, Installment):
            table = model._meta.db_table
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")  # noqa: S608
        # each loan's kept balance (Loan.principal_outstanding), as the servicing services would have kept it
        cursor.execute(
            f"UPDATE {Loan._meta.db_table} l SET principal_outstanding = s.total FROM (SELECT loan_id, "  # noqa: S608
            f"SUM(principal_due - principal_paid) AS total FROM {Installment._meta.db_table} GROUP BY loan_id) s "
            "WHERE l.id = s.loan_id"
        )
        for model in (Loan, ScheduleVersion, Installment, Customer):
            cursor.execute(f"ANALYZE {model._meta.db_table}")
    BusinessDate.objects.update_or_create(pk=1, defaults={"date": BUSINESS_DATE})
    # The book as COB for B left it: classes and collection cases as its classify and collections steps set them.
    classify_loans(business_date=BUSINESS_DATE)
    collections_run(business_date=BUSINESS_DATE)
    CobRun.objects.create(business_date=BUSINESS_DATE, status=CobRunStatus.COMPLETED, finished_at=timezone.now())
    # What autovacuum would have done by the next night (VACUUM cannot run in a transaction: tests get ANALYZE).
    command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
    with connection.cursor() as cursor:
        for model in (Loan, ScheduleVersion, Installment, Customer, CollectionCase):
            cursor.execute(f"{command} {model._meta.db_table}")
    write(
        f"bench cob seed loans={counts['loans']} installments={counts['installments']} "
        f"newly_overdue_tomorrow={unpaid_today} seconds={time.perf_counter() - started:.1f}"
    )
    return counts


def _floor(day: date) -> float:
    """One plain UPDATE of the installments that become overdue on ``day``, rolled back."""
    sql = (
        f"UPDATE {Installment._meta.db_table} SET status = 'overdue', overdue_since = due_date + 1 "  # noqa: S608
        "WHERE status = 'due' AND due_date < %s"
    )
    with transaction.atomic():
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(sql, [day])
        elapsed = time.perf_counter() - started
        transaction.set_rollback(True)
    return elapsed


def _timed_cob(label: str, until: date, write: Callable[[str], object], workers: int) -> tuple[float, int]:
    started = time.perf_counter()
    runs = cob_on_workers(until=until) if workers else cob_run(actor=system_user(), until=until)
    elapsed = time.perf_counter() - started
    if not runs or any(run.status != CobRunStatus.COMPLETED for run in runs):
        raise RuntimeError(f"COB {label} did not complete: {[(r.business_date, r.status, r.error) for r in runs]}")
    records = CobStepRun.objects.filter(run__in=runs)
    rows = 0
    for step in dict.fromkeys(records.order_by("position").values_list("step", flat=True)):
        mine = list(records.filter(step=step))
        seconds = sum(r.duration_s for r in mine)
        step_rows = sum(r.rows for r in mine)
        rows += step_rows
        line = f"bench cob {label} step={step} s={seconds:.3f} rows={step_rows}"
        if workers:  # s= is the chunks' time summed over the workers; wall_s= first start to last finish, per date
            wall = 0.0
            for run in runs:
                begun = [r.started_at for r in mine if r.run_id == run.pk and r.started_at]
                ended = [r.completed_at for r in mine if r.run_id == run.pk and r.completed_at]
                if begun and ended:
                    wall += (max(ended) - min(begun)).total_seconds()
            line += f" wall_s={wall:.3f}"
        write(line)
    dates = ",".join(run.business_date.isoformat() for run in runs)
    write(f"bench cob {label} dates={dates} total_s={elapsed:.3f} rows={rows}")
    return elapsed, rows


def bench_cob(
    *,
    loans: int = 10_000,
    seconds: float = 0.0,
    phase: str = "all",
    workers: int = 0,
    write: Callable[[str], object] = print,
) -> float:
    """Seed ``loans`` loans, time the floor, a steady day, a catch-up and a rerun; return steady seconds.

    ``phase`` ``"seed"`` only seeds (e.g. into a template database that is copied for each timing run);
    ``"run"`` only times, on a database a ``"seed"`` phase left (or a copy of it). ``workers`` 0 runs COB
    in this process; N > 0 starts N Celery workers on ``CELERY_BROKER_URL`` and times COB on them
    (:mod:`loan_collections.cob.bench_workers`).
    """
    if connection.vendor != "postgresql":
        raise RuntimeError("bench cob needs PostgreSQL (COPY); set DATABASE_URL")
    if phase not in ("all", "seed", "run"):
        raise ValueError("--phase is all, seed or run")
    if workers < 0:
        raise ValueError("--workers must not be negative")
    if workers:
        workers_check(workers)
    seeded = Loan.objects.filter(product__code="bench-cob").count()
    if phase == "run":
        if not seeded or CobRun.objects.exclude(business_date=BUSINESS_DATE).exists():
            raise RuntimeError("bench cob --phase run needs a database that --phase seed left (or a copy of it)")
        loans = seeded
    elif Loan.objects.exists() or CobRun.objects.exists():
        raise RuntimeError("bench cob seeds its own book: run it against an empty database")
    if loans < 1:
        raise ValueError("--loans must be positive")
    rng = random.Random(20260615)
    with override_settings(LOANOPS_OUTBOX_KICK_ON_COMMIT=False):  # delivery is the relay's work, not COB's
        if phase != "run":
            _seed(loans, rng, write)
        if phase == "seed":
            return 0.0
        if not workers:
            return _bench(loans=loans, write=write, workers=0)
        with celery_workers(workers) as names:
            write(f"bench cob workers={workers} names={','.join(names)}")
            return _bench(loans=loans, write=write, workers=workers)


def _bench(*, loans: int, write: Callable[[str], object], workers: int) -> float:
    tomorrow = BUSINESS_DATE + timedelta(days=1)
    floor_s = _floor(tomorrow)
    write(f"bench cob floor plain_update_s={floor_s:.3f}")
    steady_s, _ = _timed_cob("steady", tomorrow, write, workers)
    catchup_s, _ = _timed_cob("catchup", tomorrow + timedelta(days=2), write, workers)
    again = tomorrow + timedelta(days=2)
    CobStepRun.objects.filter(business_date=again).delete()
    CobRun.objects.filter(business_date=again).delete()
    entries = JournalEntry.objects.count()
    rerun_s, rerun_rows = _timed_cob("rerun", again, write, workers)
    rerun_rows += JournalEntry.objects.count() - entries
    write(
        f"bench cob loans={loans} steady_s={steady_s:.2f} catchup_s={catchup_s:.2f} rerun_s={rerun_s:.2f} "
        f"rerun_rows={rerun_rows} floor_s={floor_s:.2f}"
    )
    return steady_s
