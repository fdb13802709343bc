"""Set-based daily work for the close of business (COB) of a business date D (``servicing.cob_steps``).

Every function here works on a range of loan ids ``[lo, hi)`` (``id_range``; ``None`` = the whole book)
with a few SQL statements for the whole range — never a query or a ``save()`` per loan or installment —
and is idempotent for a date: running D again finds nothing left to do and changes nothing.

Locking: each function first row-locks the loans it is about to touch, in primary-key order
(``SELECT … ORDER BY id FOR UPDATE``), then updates their installments. A repayment locks its loan and
then that loan's installments in the same order, so a repayment and the batch never deadlock and a
repayment lands either before the batch's work on that loan (the batch sees it) or after it (it sees the
batch's result) — never half-way, so penalty is never accrued twice or on money already paid. On
PostgreSQL the COB runner bounds every wait with ``lock_timeout`` and retries the chunk.

The SQL is written once for PostgreSQL and SQLite; where the dialects differ (date arithmetic) the two
spellings sit side by side. The penalty accrual is one PostgreSQL statement; SQLite has no exact decimal
arithmetic, so there the same formula runs in Python (:func:`loanops.pricing.penalty_for_range`) over the
candidate rows — that variant is also the reference the PostgreSQL statement is tested against.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from applications.models import Loan, LoanStatus, Product
from loanops.cob import IdRange
from loanops.money import ZERO, to_money
from loanops.pricing import penalty_for_range
from servicing.models import (
    Account,
    EntryKind,
    Installment,
    InstallmentStatus,
    JournalEntry,
    JournalLine,
    ScheduleVersion,
)
from servicing.services.ledger import EntrySpec, Posting, journal_post_many

__all__ = [
    "days_past_due_update",
    "due_step_lock",
    "installments_fall_due",
    "installments_mark_overdue",
    "legal_rate_cap",
    "penalties_accrue",
]

L = Loan._meta.db_table
P = Product._meta.db_table
INST = Installment._meta.db_table
SCHED = ScheduleVersion._meta.db_table
ENTRY = JournalEntry._meta.db_table
LINE = JournalLine._meta.db_table
SERVICING_SQL = f"('{LoanStatus.ACTIVE.value}', '{LoanStatus.OVERDUE.value}')"
UNPAID_SQL = f"('{InstallmentStatus.DUE.value}', '{InstallmentStatus.OVERDUE.value}')"
_NO_LIMIT = 2**62


def _bounds(id_range: IdRange) -> tuple[int, int]:
    return (0, _NO_LIMIT) if id_range is None else (int(id_range[0]), int(id_range[1]))


def _pg() -> bool:
    return connection.vendor == "postgresql"


def _actor_id(actor: Any) -> int | None:
    return getattr(actor, "pk", None) if actor is not None else None


def legal_rate_cap() -> Decimal:
    """The cap setting used for a loan without its own ``rate_cap`` (loans offered before it was stored)."""
    from django.conf import settings

    return Decimal(str(getattr(settings, "LOANOPS_RATE_CAP", "0.24")))


def _lock_loans(candidates_sql: str, params: dict[str, Any]) -> int:
    """Row-lock (PostgreSQL) the servicing loans whose ids ``candidates_sql`` selects, in id order.

    SQLite has no row locks: its write transactions are serialised as a whole (``BEGIN IMMEDIATE``).
    Returns how many loans matched.
    """
    lock = " FOR UPDATE" if _pg() else ""
    sql = (
        f"SELECT l.id FROM {L} l WHERE l.status IN {SERVICING_SQL} AND l.id >= %(lo)s AND l.id < %(hi)s "  # noqa: S608
        f"AND l.id IN ({candidates_sql}) ORDER BY l.id{lock}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return len(cursor.fetchall())


def _execute(sql: str, params: dict[str, Any]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return max(cursor.rowcount, 0)


# --- step 1: installments fall due, become overdue; days past due ---------------------------------

# Open: not yet due or not yet booked, and not of a superseded version — the predicate of the partial index
# installment_open_idx, spelled as it is there so that the planner uses it. No join to the schedule
# versions: a superseded version's unpaid installments have status "replaced" (version_write), so status
# alone says an installment is receivable.
OPEN_SQL = f"(i.status = 'pending' OR NOT i.interest_booked) AND NOT (i.status = '{InstallmentStatus.REPLACED.value}')"
_OPEN = (
    f"FROM {INST} i JOIN {L} l ON l.id = i.loan_id AND l.status IN {SERVICING_SQL} AND l.id >= %(lo)s AND l.id < %(hi)s "
    "WHERE i.due_date BETWEEN %(since)s AND %(d)s AND i.loan_id >= %(lo)s AND i.loan_id < %(hi)s "
)


@transaction.atomic
def installments_fall_due(
    *, business_date: date, id_range: IdRange = None, actor: Any = None, locked: bool = False
) -> dict[str, int]:
    """Installments due on or before D become receivable: idempotent for a date.

    * books the scheduled interest of every such installment not booked yet (Dr interest_receivable /
      Cr interest_income, one entry per installment, ``source_key="interest:<id>"`` — unique, and
      ``ON CONFLICT DO NOTHING``, so an installment's interest is booked exactly once even if a
      repayment booked it first);
    * moves their status from ``pending`` to ``due``.

    ``locked=True``: the caller holds the locks of :func:`due_step_lock` (a superset of this function's).
    """
    lo, hi = _bounds(id_range)
    params: dict[str, Any] = {"d": business_date, "lo": lo, "hi": hi, "actor": _actor_id(actor), "now": timezone.now()}
    # The oldest open installment of the current schedules (from the partial index): bounding the due
    # dates below lets the planner see that only the day's increment qualifies, not half the book.
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT i.due_date FROM {INST} i WHERE {OPEN_SQL} "  # noqa: S608
            "AND i.loan_id >= %(lo)s AND i.loan_id < %(hi)s ORDER BY i.due_date LIMIT 1",
            params,
        )
        row = cursor.fetchone()
        params["since"] = row[0] if row else None
    if params["since"] is None or params["since"] > business_date:
        return {"interest_booked": 0, "became_due": 0}
    candidates = (
        f"SELECT i.loan_id FROM {INST} i WHERE i.due_date BETWEEN %(since)s AND %(d)s "  # noqa: S608
        f"AND {OPEN_SQL} AND i.loan_id >= %(lo)s AND i.loan_id < %(hi)s"
    )
    if not locked and not _lock_loans(candidates, params):
        return {"interest_booked": 0, "became_due": 0}
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {ENTRY}")  # noqa: S608
        params["mark"] = cursor.fetchone()[0]
    unbooked = _OPEN + f"AND {OPEN_SQL} AND NOT i.interest_booked AND i.interest_due > 0"
    booked = _execute(
        f"INSERT INTO {ENTRY} (loan_id, kind, business_date, memo, source_key, created_by_id, created_at) "
        f"SELECT i.loan_id, '{EntryKind.ACCRUAL.value}', %(d)s, '第' || i.period || '期利息到期入账', "
        f"'interest:' || i.id, %(actor)s, %(now)s {unbooked} ORDER BY i.id "
        "ON CONFLICT (source_key) DO NOTHING",
        params,
    )
    if booked:
        joined = (
            f"FROM {INST} i JOIN {ENTRY} e ON e.source_key = 'interest:' || i.id "
            "WHERE e.id > %(mark)s AND i.loan_id >= %(lo)s AND i.loan_id < %(hi)s AND NOT i.interest_booked "
            f"AND i.due_date BETWEEN %(since)s AND %(d)s AND {OPEN_SQL}"
        )
        _execute(
            f"INSERT INTO {LINE} (entry_id, loan_id, account, debit, credit) "
            f"SELECT e.id, e.loan_id, '{Account.INTEREST_RECEIVABLE.value}', i.interest_due, 0 {joined} "
            f"UNION ALL SELECT e.id, e.loan_id, '{Account.INTEREST_INCOME.value}', 0, i.interest_due {joined}",
            params,
        )
    touched = _execute(
        f"UPDATE {INST} SET interest_booked = TRUE, "  # noqa: S608
        "status = CASE WHEN status = 'pending' THEN 'due' ELSE status END "
        f"WHERE id IN (SELECT i.id {_OPEN} AND {OPEN_SQL})",
        params,
    )
    return {"interest_booked": booked, "became_due": touched}


@transaction.atomic
def installments_mark_overdue(*, business_date: date, id_range: IdRange = None, locked: bool = False) -> int:
    """Installments due before D and still unpaid (status ``due``) become ``overdue`` (since due date + 1).

    ``locked=True``: the caller holds the locks of :func:`due_step_lock`.
    """
    lo, hi = _bounds(id_range)
    params: dict[str, Any] = {"d": business_date, "lo": lo, "hi": hi}
    candidates = (
        f"SELECT i.loan_id FROM {INST} i WHERE i.status = 'due' AND i.due_date < %(d)s "  # noqa: S608
        "AND i.loan_id >= %(lo)s AND i.loan_id < %(hi)s"
    )
    if not locked and not _lock_loans(candidates, params):
        return 0
    since = "due_date + 1" if _pg() else "date(due_date, '+1 day')"
    return _execute(
        f"UPDATE {INST} SET status = 'overdue', overdue_since = {since} "  # noqa: S608
        f"WHERE id IN (SELECT i.id FROM {INST} i JOIN {L} l ON l.id = i.loan_id AND l.status IN {SERVICING_SQL} AND l.id >= %(lo)s AND l.id < %(hi)s "
        "WHERE i.status = 'due' AND i.due_date < %(d)s AND i.loan_id >= %(lo)s AND i.loan_id < %(hi)s)",
        params,
    )


def _dpd_rows(dpd: str) -> str:
    """A FROM item ``x (loan_id, dpd)``: each loan's days past due as of D, for the loans that may show some.

    The loans with an unpaid installment past due (status due/overdue: of the current version), with
    D − the oldest due date, and — an anti-join against them — the loans still showing days past due that
    have none any more, with 0. The CTE sits inside the FROM item, not in front of an UPDATE: SQLite
    reports no rowcount for ``WITH … UPDATE``.
    """
    return (
        f"(WITH agg AS MATERIALIZED (SELECT i.loan_id, {dpd} AS dpd "  # noqa: S608
        f"FROM {INST} i WHERE i.status IN {UNPAID_SQL} AND i.due_date < %(d)s "
        "AND i.loan_id >= %(lo)s AND i.loan_id < %(hi)s GROUP BY i.loan_id) "
        "SELECT loan_id, dpd FROM agg UNION ALL "
        f"SELECT c.id, 0 FROM {L} c WHERE c.days_past_due > 0 AND c.id >= %(lo)s AND c.id < %(hi)s "
        "AND NOT EXISTS (SELECT 1 FROM agg WHERE agg.loan_id = c.id)) x"
    )


# The loans whose days past due may change on D — an unpaid installment past due, or still showing some —
# and are not computed for D yet (Loan.days_past_due_on): a rerun of D neither locks nor rewrites the loans
# in arrears again. One pass over the chunk's loans, the unpaid installments as a hashed set.
_DPD_NOT_YET = "(l.days_past_due_on IS NULL OR l.days_past_due_on < %(d)s)"
_DPD_CANDIDATES = (
    f"SELECT l.id FROM {L} l WHERE {_DPD_NOT_YET} AND l.id >= %(lo)s AND l.id < %(hi)s AND (l.days_past_due > 0 "  # noqa: S608
    f"OR l.id IN (SELECT i.loan_id FROM {INST} i WHERE i.status IN {UNPAID_SQL} AND i.due_date < %(d)s "
    "AND i.loan_id >= %(lo)s AND i.loan_id < %(hi)s))"
)


@transaction.atomic
def due_step_lock(*, business_date: date, id_range: IdRange = None) -> int:
    """Lock, in one statement, every loan step 1 may write for D: returns how many.

    The union of the three functions' lock sets — loans with an installment to book or to make due
    (the open-installment index up to D), and loans whose days past due are not computed for D yet with
    an unpaid installment past due (the unpaid index: those to mark overdue among them) or still showing
    days past due — so the step scans each index once instead of once per function. The step writes the
    days past due and their date in the same transaction as the overdue marks, so a rerun of D locks
    nothing.
    """
    lo, hi = _bounds(id_range)
    params: dict[str, Any] = {"d": business_date, "lo": lo, "hi": hi}
    candidates = (
        f"SELECT i.loan_id FROM {INST} i WHERE {OPEN_SQL} AND i.due_date <= %(d)s "  # noqa: S608
        "AND i.loan_id >= %(lo)s AND i.loan_id < %(hi)s UNION " + _DPD_CANDIDATES
    )
    return _lock_loans(candidates, params)


@transaction.atomic
def days_past_due_update(*, business_date: date, id_range: IdRange = None, locked: bool = False) -> int:
    """``Loan.days_past_due`` = D − the due date of the oldest unpaid installment past due (0 if none).

    One statement writes only the loans whose figure changed: the loans in arrears (their DPD grows by one
    a day) and the loans that were in arrears and are not any more (set to 0: the loans showing DPD that
    are missing from the per-loan minimum, an anti-join against it). It stamps ``days_past_due_on = D``
    and skips loans already stamped with D, so a rerun of D leaves them alone (D's figure is the book as
    D's close of business saw it; a repayment made since counts from the next date). ``locked=True``: the
    caller holds the locks of :func:`due_step_lock`.
    """
    lo, hi = _bounds(id_range)
    params: dict[str, Any] = {"d": business_date, "lo": lo, "hi": hi}
    if not locked and not _lock_loans(_DPD_CANDIDATES, params):
        return 0
    dpd = "%(d)s::date - MIN(i.due_date)" if _pg() else "CAST(julianday(%(d)s) - julianday(MIN(i.due_date)) AS INTEGER)"
    return _execute(
        f"UPDATE {L} SET days_past_due = x.dpd, days_past_due_on = %(d)s FROM {_dpd_rows(dpd)} "  # noqa: S608
        f"WHERE {L}.id = x.loan_id AND {L}.status IN {SERVICING_SQL} AND {L}.days_past_due <> x.dpd "
        f"AND ({L}.days_past_due_on IS NULL OR {L}.days_past_due_on < %(d)s) "
        f"AND {L}.id >= %(lo)s AND {L}.id < %(hi)s",
        params,
    )


# --- step 2: penalty and compound interest ---------------------------------------------------------

_PENALTY_WHERE = (
    f"i.status IN {UNPAID_SQL} AND i.due_date < %(d)s AND i.loan_id >= %(lo)s AND i.loan_id < %(hi)s "
    "AND (i.penalty_accrued_to IS NULL OR i.penalty_accrued_to < %(d)s) "
    "AND (i.principal_paid < i.principal_due OR (p.compound_overdue_interest AND i.interest_paid < i.interest_due))"
)
_PENALTY_LOCK_WHERE = (
    f"i.status IN {UNPAID_SQL} AND i.due_date < %(d)s AND i.loan_id >= %(lo)s AND i.loan_id < %(hi)s "
    "AND (i.penalty_accrued_to IS NULL OR i.penalty_accrued_to < %(d)s) "
    "AND (i.principal_paid < i.principal_due OR i.interest_paid < i.interest_due)"
)
_PENALTY_FROM = (
    f"FROM {INST} i JOIN {SCHED} s ON s.id = i.schedule_id AND s.is_current AND s.loan_id >= %(lo)s AND s.loan_id < %(hi)s "
    f"JOIN {L} l ON l.id = i.loan_id AND l.status IN {SERVICING_SQL} AND l.id >= %(lo)s AND l.id < %(hi)s JOIN {P} p ON p.id = l.product_id "
)

# One statement: compute each candidate's penalty for [accrued_to or due_date, D), add it to the exact
# accumulator, move penalty_due to its rounded value, and post the per-loan increase (entry + 2 lines).
# Same formula as loanops.pricing.penalty_for_range(cap=…): min(base × rate × (1 + surcharge),
# overdue principal × cap) × days / 360, base = overdue principal (+ overdue interest when compounding).
_PENALTY_PG = f"""
WITH cand AS (
    SELECT i.id, i.loan_id, i.penalty_due AS old_due,
           LEAST(
               ((i.principal_due - i.principal_paid)
                + CASE WHEN p.compound_overdue_interest THEN i.interest_due - i.interest_paid ELSE 0 END)
               * s.annual_rate * (1 + p.penalty_surcharge),
               (i.principal_due - i.principal_paid) * COALESCE(l.rate_cap, %(cap)s)
           ) * (%(d)s::date - COALESCE(i.penalty_accrued_to, i.due_date)) / 360 AS exact
    {_PENALTY_FROM} WHERE {_PENALTY_WHERE}
),
upd AS (
    UPDATE {INST} AS t
       SET penalty_accrued = t.penalty_accrued + c.exact,
           penalty_due = ROUND(t.penalty_accrued + c.exact, 2),
           penalty_accrued_to = %(d)s
      FROM cand c WHERE t.id = c.id
    RETURNING t.loan_id, t.penalty_due - c.old_due AS delta
),
agg AS (SELECT loan_id, SUM(delta) AS amount FROM upd GROUP BY loan_id),
ent AS (
    INSERT INTO {ENTRY} (loan_id, kind, business_date, memo, source_key, created_by_id, created_at)
    SELECT loan_id, '{EntryKind.PENALTY.value}', %(d)s, %(memo)s, 'penalty:' || loan_id || ':' || %(d_iso)s,
           %(actor)s, %(now)s
      FROM agg WHERE amount > 0 ORDER BY loan_id
    RETURNING id, loan_id
),
lines AS (
    INSERT INTO {LINE} (entry_id, loan_id, account, debit, credit)
    SELECT ent.id, ent.loan_id, '{Account.PENALTY_RECEIVABLE.value}', agg.amount, 0
      FROM ent JOIN agg ON agg.loan_id = ent.loan_id
    UNION ALL
    SELECT ent.id, ent.loan_id, '{Account.PENALTY_INCOME.value}', 0, agg.amount
      FROM ent JOIN agg ON agg.loan_id = ent.loan_id
)
SELECT (SELECT COUNT(*) FROM upd), (SELECT COUNT(*) FROM ent)
"""  # noqa: S608


@transaction.atomic
def penalties_accrue(
    *, business_date: date, id_range: IdRange = None, actor: Any = None, variant: str | None = None
) -> dict[str, int]:
    """Accrue penalty interest (罚息) and compound interest (复利) up to D on overdue installments.

    For each unpaid installment of the current schedule due before D: the penalty for the days
    ``[penalty_accrued_to or due_date, D)`` = :func:`loanops.pricing.penalty_for_range` on the amounts
    outstanding when the batch runs, at the schedule's rate × (1 + product surcharge) / 360 a day,
    compound on overdue interest when the product says so, and **capped** so the overdue charge never
    costs more than the legal cap a year (``Loan.rate_cap``, the cap that applied on the contract date;
    :func:`legal_rate_cap` for a loan without one). The exact amount accumulates in
    ``penalty_accrued``; ``penalty_due`` moves to ``to_money(penalty_accrued)`` and the difference is
    posted per loan and date (Dr penalty_receivable / Cr penalty_income,
    ``source_key="penalty:<loan>:<D>"``). ``penalty_accrued_to = D`` makes a second run a no-op.

    ``variant`` ``"sql"`` (PostgreSQL's one-statement path, the default there) or ``"python"`` (the
    default on SQLite and the reference implementation).
    """
    lo, hi = _bounds(id_range)
    now = timezone.now()
    params: dict[str, Any] = {
        "d": business_date,
        "d_iso": business_date.isoformat(),
        "lo": lo,
        "hi": hi,
        "cap": legal_rate_cap(),
        "actor": _actor_id(actor),
        "now": now,
        "memo": f"罚息计提至 {business_date.isoformat()}",
    }
    # The loans to lock: a superset of the statement's (its installment conditions without the joins to the
    # current schedule, loan and product, so one scan of the chunk's unpaid-installment index); locking an
    # extra loan is harmless, and _lock_loans keeps only servicing loans.
    candidates = f"SELECT i.loan_id FROM {INST} i WHERE {_PENALTY_LOCK_WHERE}"  # noqa: S608
    if not _lock_loans(candidates, params):
        return {"installments": 0, "entries": 0}
    chosen = variant or ("sql" if _pg() else "python")
    if chosen == "sql":
        if not _pg():
            raise ValueError("the SQL penalty variant needs PostgreSQL")
        with connection.cursor() as cursor:
            cursor.execute(_PENALTY_PG, params)
            installments, entries = cursor.fetchone()
        return {"installments": int(installments), "entries": int(entries)}
    return _penalties_python(business_date=business_date, lo=lo, hi=hi, cap=params["cap"], actor=actor)


def _penalties_python(*, business_date: date, lo: int, hi: int, cap: Decimal, actor: Any) -> dict[str, int]:
    rows = list(
        Installment.objects.filter(
            schedule__is_current=True,
            status__in=[InstallmentStatus.DUE, InstallmentStatus.OVERDUE],
            due_date__lt=business_date,
            loan_id__gte=lo,
            loan_id__lt=hi,
            loan__status__in=[LoanStatus.ACTIVE, LoanStatus.OVERDUE],
        )
        .filter(Q(penalty_accrued_to__isnull=True) | Q(penalty_accrued_to__lt=business_date))
        .filter(
            Q(principal_paid__lt=F("principal_due"))
            | Q(loan__product__compound_overdue_interest=True, interest_paid__lt=F("interest_due"))
        )
        .order_by("pk")
        .values_list(
            "pk",
            "loan_id",
            "principal_due",
            "principal_paid",
            "interest_due",
            "interest_paid",
            "penalty_accrued",
            "penalty_due",
            "penalty_accrued_to",
            "due_date",
            "schedule__annual_rate",
            "loan__product__penalty_surcharge",
            "loan__product__compound_overdue_interest",
            "loan__rate_cap",
        )
    )
    updates: list[tuple[Any, ...]] = []
    per_loan: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for (pk, loan_id, p_due, p_paid, i_due, i_paid, accrued, pen_due, accrued_to, due, rate, surcharge, compound,
         loan_cap) in rows:  # fmt: skip
        exact = penalty_for_range(
            overdue_principal=p_due - p_paid,
            overdue_interest=i_due - i_paid,
            annual_rate=rate,
            surcharge=surcharge,
            compound=compound,
            start=accrued_to or due,
            end=business_date,
            cap=loan_cap if loan_cap is not None else cap,
        )
        total = accrued + exact
        new_due = to_money(total)
        per_loan[loan_id] += new_due - pen_due
        updates.append((str(total), str(new_due), business_date.isoformat(), pk))
    if updates:
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {INST} SET penalty_accrued = %s, penalty_due = %s, penalty_accrued_to = %s WHERE id = %s",  # noqa: S608
                updates,
            )
    specs = [
        EntrySpec(
            loan_id=loan_id,
            kind=EntryKind.PENALTY,
            business_date=business_date,
            postings=[
                Posting(Account.PENALTY_RECEIVABLE, debit=amount),
                Posting(Account.PENALTY_INCOME, credit=amount),
            ],
            memo=f"罚息计提至 {business_date.isoformat()}",
            source_key=f"penalty:{loan_id}:{business_date.isoformat()}",
        )
        for loan_id, amount in sorted(per_loan.items())
        if amount > 0
    ]
    if specs:
        journal_post_many(specs, actor=actor)
    return {"installments": len(updates), "entries": len(specs)}
