"""COB steps 1–3 called directly: due / overdue / DPD, capped penalty (SQL = penalty_for_range), buckets."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from applications.models import Loan, LoanStageEvent, LoanStatus
from compliance.audit import audit_verify_chain
from compliance.models import AuditEvent
from loanops.money import to_money
from loanops.pricing import penalty_for_range
from servicing.cob_steps import bucket_for, step_bucket, step_due, step_penalty
from servicing.models import Installment, InstallmentStatus, JournalEntry, JournalLine
from servicing.selectors import ledger_check, loan_balances, schedule_current
from servicing.services import loan_disburse, repayment_record
from servicing.services.batch import penalties_accrue
from servicing.tests.conftest import set_business_date

pytestmark = pytest.mark.django_db
D = Decimal
on_pg = pytest.mark.skipif(connection.vendor != "postgresql", reason="the SQL penalty variant needs PostgreSQL")


def cob_day(day: date, id_range: Any = None) -> int:
    return sum(step(business_date=day, id_range=id_range) for step in (step_due, step_penalty, step_bucket))


def test_due_step_books_interest_marks_overdue_and_sets_dpd(active_loan: Loan) -> None:
    assert step_due(business_date=date(2025, 2, 14), id_range=None) == 0
    # due on 15 Feb: interest booked, status due, not overdue yet, DPD 0
    assert step_due(business_date=date(2025, 2, 15), id_range=None) == 2  # 1 booked + 1 became due
    first = schedule_current(active_loan)[0]
    assert (first.status, first.interest_booked, first.overdue_since) == (InstallmentStatus.DUE, True, None)
    assert loan_balances(active_loan)["interest_receivable"] == D("120.00")
    active_loan.refresh_from_db()
    assert active_loan.days_past_due == 0
    # next day unpaid: overdue since 16 Feb, 1 day past due; the same date again changes nothing
    assert step_due(business_date=date(2025, 2, 16), id_range=None) == 2  # 1 overdue + 1 DPD
    assert step_due(business_date=date(2025, 2, 16), id_range=None) == 0
    first.refresh_from_db()
    assert (first.status, first.overdue_since) == (InstallmentStatus.OVERDUE, date(2025, 2, 16))
    step_due(business_date=date(2025, 3, 20), id_range=None)
    active_loan.refresh_from_db()
    assert active_loan.days_past_due == 33  # 20 Mar − 15 Feb; period 2 (15 Mar) overdue too
    assert JournalEntry.objects.filter(loan=active_loan, kind="accrual").count() == 2


def test_days_past_due_carry_their_date_and_a_rerun_of_that_date_leaves_the_loans_alone(
    active_loan: Loan, ops: Any
) -> None:
    step_due(business_date=date(2025, 2, 15), id_range=None)
    assert step_due(business_date=date(2025, 2, 17), id_range=None) == 2  # overdue + DPD 2
    active_loan.refresh_from_db()
    assert (active_loan.days_past_due, active_loan.days_past_due_on) == (2, date(2025, 2, 17))

    def row_version() -> Any:
        if connection.vendor != "postgresql":
            return None
        with connection.cursor() as cursor:  # xmin: rewritten; xmax: locked (FOR UPDATE) or rewritten
            cursor.execute("SELECT xmin::text, xmax::text FROM applications_loan WHERE id = %s", [active_loan.pk])
            return cursor.fetchone()

    before = row_version()
    with transaction.atomic():  # the rerun of the 17th: nothing to lock, nothing to write
        assert step_due(business_date=date(2025, 2, 17), id_range=None) == 0
        assert row_version() == before
    # paid in full on the 17th, after its close of business: the 17th keeps its figure, the 18th sees it
    set_business_date(date(2025, 2, 17))
    owed = schedule_current(active_loan)[0].outstanding
    repayment_record(actor=ops, loan_id=active_loan.pk, amount=owed, paid_on=date(2025, 2, 17), channel="counter")
    assert step_due(business_date=date(2025, 2, 17), id_range=None) == 0
    active_loan.refresh_from_db()
    assert active_loan.days_past_due == 2
    assert step_due(business_date=date(2025, 2, 18), id_range=None) == 1
    active_loan.refresh_from_db()
    assert (active_loan.days_past_due, active_loan.days_past_due_on) == (0, date(2025, 2, 18))


def test_due_step_respects_the_id_range(loan_factory: Any, manager: Any, business_date: date) -> None:
    loans = [loan_disburse(actor=manager, loan_id=loan_factory().pk) for _ in range(2)]
    step_due(business_date=date(2025, 2, 15), id_range=(loans[1].pk, loans[1].pk + 1))
    statuses = [schedule_current(loan)[0].status for loan in loans]
    assert statuses == [InstallmentStatus.PENDING, InstallmentStatus.DUE]


def test_paying_cures_dpd_and_the_bucket_step_moves_the_loan_back(active_loan: Loan, ops: Any) -> None:
    cob_day(date(2025, 2, 15))
    cob_day(date(2025, 2, 16))
    active_loan.refresh_from_db()
    assert (active_loan.status, active_loan.bucket, active_loan.days_past_due) == (LoanStatus.OVERDUE, "M1", 1)
    set_business_date(date(2025, 2, 16))
    owed = schedule_current(active_loan)[0].outstanding
    repayment_record(actor=ops, loan_id=active_loan.pk, amount=owed, paid_on=date(2025, 2, 16), channel="counter")
    cob_day(date(2025, 2, 17))
    active_loan.refresh_from_db()
    assert (active_loan.status, active_loan.bucket, active_loan.days_past_due) == (LoanStatus.ACTIVE, "M0", 0)
    events = list(
        LoanStageEvent.objects.filter(loan=active_loan).order_by("id").values_list("transition", "actor__username")
    )
    assert events[-2:] == [("mark_overdue", "system"), ("cure", "system")]
    actions = list(
        AuditEvent.objects.filter(subject_type="applications.loan", subject_id=str(active_loan.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert [a for a in actions if a.startswith("loan.")][-2:] == ["loan.mark_overdue", "loan.cure"]
    assert audit_verify_chain() == []


@pytest.mark.parametrize(
    ("dpd", "bucket"), [(0, "M0"), (1, "M1"), (30, "M1"), (31, "M2"), (60, "M2"), (61, "M3"), (90, "M3"), (91, "M3+")]
)
def test_bucket_bounds(loan_factory: Any, manager: Any, business_date: date, dpd: int, bucket: str) -> None:
    loan = loan_disburse(actor=manager, loan_id=loan_factory().pk)
    Loan.objects.filter(pk=loan.pk).update(days_past_due=dpd)
    step_bucket(business_date=date(2025, 6, 1), id_range=None)
    loan.refresh_from_db()
    assert (loan.bucket, bucket_for(dpd)) == (bucket, bucket)
    assert loan.status == (LoanStatus.OVERDUE if dpd else LoanStatus.ACTIVE)
    assert step_bucket(business_date=date(2025, 6, 1), id_range=None) == 0  # idempotent


def test_bucket_bounds_are_a_setting(active_loan: Loan, settings: Any) -> None:
    settings.LOANOPS_COB_BUCKETS = [("M0", 0), ("M1", 7)]
    settings.LOANOPS_COB_BUCKET_OVER = "M2"
    Loan.objects.filter(pk=active_loan.pk).update(days_past_due=8)
    step_bucket(business_date=date(2025, 6, 1), id_range=None)
    active_loan.refresh_from_db()
    assert active_loan.bucket == "M2"


# --- penalty: the legal cap and the agreement of the SQL with penalty_for_range -------------------


def test_penalty_is_capped_at_the_loans_legal_cap(loan_factory: Any, manager: Any, business_date: date) -> None:
    # 20 % × 1.5 = 30 % a year on overdue principal would exceed the 24 % cap of this contract
    loan = loan_disburse(actor=manager, loan_id=loan_factory(rate="0.200000").pk)
    Loan.objects.filter(pk=loan.pk).update(rate_cap=D("0.240000"))
    cob_day(date(2025, 2, 15))
    cob_day(date(2025, 2, 25))  # 10 days overdue at once (a missed stretch)
    first = schedule_current(loan)[0]
    overdue_principal = first.principal_due
    assert first.penalty_accrued == (overdue_principal * D("0.24") / 360 * 10).quantize(D("1e-10"))
    assert first.penalty_due == to_money(overdue_principal * D("0.24") / 360 * 10)
    uncapped = penalty_for_range(
        overdue_principal=overdue_principal,
        overdue_interest=D(0),
        annual_rate=D("0.2"),
        surcharge=D("0.5"),
        compound=False,
        start=date(2025, 2, 15),
        end=date(2025, 2, 25),
    )
    assert first.penalty_accrued < uncapped


def test_without_its_own_cap_a_loan_uses_the_cap_setting(
    loan_factory: Any, manager: Any, business_date: date, settings: Any
) -> None:
    settings.LOANOPS_RATE_CAP = "0.15"
    loan = loan_disburse(actor=manager, loan_id=loan_factory().pk)  # 12 % × 1.5 = 18 % > 15 %
    cob_day(date(2025, 2, 15))
    cob_day(date(2025, 2, 16))
    first = schedule_current(loan)[0]
    assert first.penalty_accrued == (first.principal_due * D("0.15") / 360).quantize(D("1e-10"))


amounts = st.decimals(min_value=D("0"), max_value=D("500000"), places=2)
rates = st.decimals(min_value=D("0"), max_value=D("0.36"), places=6)


@given(
    principal=amounts,
    interest=amounts,
    rate=rates,
    surcharge=st.decimals(min_value=D("0"), max_value=D("1"), places=6),
    cap=rates,
    compound=st.booleans(),
    days=st.integers(min_value=0, max_value=400),
)
# a cap equal to the penalty rate: once differed from the uncapped figure in the 34th digit
@example(
    principal=D("6377.90"), interest=D("0.00"), rate=D("0.000176"), surcharge=D("0"), cap=D("0.000176"),
    compound=False, days=218,
)  # fmt: skip
def test_capped_penalty_never_costs_more_than_the_cap_a_year(
    principal: Decimal, interest: Decimal, rate: Decimal, surcharge: Decimal, cap: Decimal, compound: bool, days: int
) -> None:
    start = date(2025, 1, 1)
    args = {
        "overdue_principal": principal,
        "overdue_interest": interest,
        "annual_rate": rate,
        "surcharge": surcharge,
        "compound": compound,
        "start": start,
        "end": start + timedelta(days=days),
    }
    capped = penalty_for_range(**args, cap=cap)
    uncapped = penalty_for_range(**args)
    assert 0 <= capped <= uncapped
    assert capped <= principal * cap * days / 360 + D("1e-20")
    if uncapped <= principal * cap * days / 360:
        assert capped == uncapped


@on_pg
@pytest.mark.django_db(transaction=False)
@hsettings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rate=st.sampled_from(["0.060000", "0.120000", "0.180000", "0.240000"]),
    cap=st.sampled_from([None, "0.120000", "0.240000", "0.360000"]),
    compound=st.booleans(),
    late_days=st.lists(st.integers(min_value=1, max_value=120), min_size=1, max_size=3),
    partial=st.sampled_from(["0", "200.00", "1000.00"]),
)
def test_overdue_scenarios_sql_agrees_with_penalty_for_range_and_stays_under_the_cap(
    loan_factory: Any, manager: Any, ops: Any, rate: str, cap: str | None, compound: bool, late_days: list[int],
    partial: str,
) -> None:  # fmt: skip
    """Hypothesis over overdue scenarios: day by day on PostgreSQL, the SQL step posts exactly what the
    Python reference posts (penalty_for_range per installment and day), and the penalty charged for every
    overdue day never exceeds the overdue principal × cap / 360 (+ a cent of rounding per posting)."""
    with transaction.atomic():
        set_business_date(date(2025, 1, 15))
        loan = loan_disburse(actor=manager, loan_id=loan_factory(rate=rate).pk)
        Loan.objects.filter(pk=loan.pk).update(rate_cap=D(cap) if cap else None)
        loan.product.compound_overdue_interest = compound
        loan.product.save(update_fields=["compound_overdue_interest"])
        day = date(2025, 2, 15)
        cob_day(day)
        limit = D(cap) if cap else D("0.24")
        for n, gap in enumerate(late_days):
            if partial != "0" and n == 1:
                set_business_date(day)
                repayment_record(actor=ops, loan_id=loan.pk, amount=partial, paid_on=day, channel="counter")
            before = {i.pk: i for i in schedule_current(loan)}
            target = day + timedelta(days=gap)
            step_due(business_date=target, id_range=None)
            # the Python reference on the same state, rolled back
            with transaction.atomic():
                penalties_accrue(business_date=target, variant="python")
                expected = {i.pk: (i.penalty_accrued, i.penalty_due) for i in schedule_current(loan)}
                transaction.set_rollback(True)
            penalties_accrue(business_date=target, variant="sql")
            for item in schedule_current(loan):
                assert (item.penalty_accrued, item.penalty_due) == expected[item.pk]
                old = before[item.pk]
                if old.due_date < target and old.status != InstallmentStatus.PAID:
                    start = old.penalty_accrued_to or old.due_date
                    days = (target - start).days
                    overdue = old.principal_due - old.principal_paid
                    assert item.penalty_accrued - old.penalty_accrued <= overdue * limit * days / 360 + D("1e-10")
            day = target
        assert ledger_check() == []
        total_lines = JournalLine.objects.filter(
            entry__loan=loan, entry__kind="penalty", account="penalty_receivable"
        ).count()
        assert total_lines == JournalEntry.objects.filter(loan=loan, kind="penalty").count()
        transaction.set_rollback(True)


def test_penalty_step_is_idempotent_and_posts_once_per_loan_and_date(active_loan: Loan) -> None:
    cob_day(date(2025, 2, 15))
    step_due(business_date=date(2025, 2, 16), id_range=None)
    assert step_penalty(business_date=date(2025, 2, 16), id_range=None) == 2  # 1 installment + 1 entry
    assert step_penalty(business_date=date(2025, 2, 16), id_range=None) == 0
    entry = JournalEntry.objects.get(loan=active_loan, kind="penalty")
    assert entry.source_key == f"penalty:{active_loan.pk}:2025-02-16"
    assert Installment.objects.get(loan=active_loan, period=1).penalty_due == D("0.47")
