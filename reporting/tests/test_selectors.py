"""reporting.selectors: stage and portfolio aggregates, Asia/Shanghai month boundaries, the monthly rows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from applications.models import Loan, LoanStatus
from reporting import selectors
from reporting.tests.conftest import add_repayment, add_schedule, shanghai

pytestmark = pytest.mark.django_db
D = Decimal


def test_month_bounds_are_beijing_midnights() -> None:
    bounds = selectors.month_bounds(date(2026, 12, 17))
    assert (bounds.first, bounds.following) == (date(2026, 12, 1), date(2027, 1, 1))
    assert bounds.start == shanghai(2026, 12, 1)
    assert bounds.end == shanghai(2027, 1, 1)
    assert bounds.start.utcoffset().total_seconds() == 8 * 3600  # type: ignore[union-attr]


def test_stage_summary_counts_and_sums_per_status_in_lifecycle_order(make_loan: Callable[..., Loan]) -> None:
    make_loan(LoanStatus.RISK_REVIEW, requested_amount=D("10000.00"))
    make_loan(LoanStatus.RISK_REVIEW, requested_amount=D("2500.50"))
    make_loan(LoanStatus.ACTIVE, requested_amount=D("9000.00"), principal=D("8000.00"))
    with CaptureQueriesContext(connection) as queries:
        rows = selectors.stage_summary()
    assert len(queries) == 1
    assert [row["status"] for row in rows] == list(LoanStatus.values)
    by_status = {row["status"]: row for row in rows}
    assert by_status["risk_review"] == {
        "status": "risk_review",
        "label": "风控审查中",
        "count": 2,
        "requested": D("12500.50"),
        "principal": D("0.00"),
    }
    assert (by_status["active"]["count"], by_status["active"]["principal"]) == (1, D("8000.00"))
    assert (by_status["draft"]["count"], by_status["draft"]["requested"]) == (0, D("0.00"))


def test_portfolio_summary_uses_current_schedules_of_loans_in_service(make_loan: Callable[..., Loan]) -> None:
    active = make_loan(LoanStatus.ACTIVE, principal=D("3000.00"))
    add_schedule(active, [("1000.00", "1000.00"), ("1000.00", "400.00"), ("1000.00", "0.00")])  # 1600 left
    add_schedule(active, [("3000.00", "0.00")], is_current=False, version=2)  # superseded: ignored
    overdue = make_loan(LoanStatus.OVERDUE, principal=D("2000.00"))
    add_schedule(overdue, [("1000.00", "0.00"), ("1000.00", "0.00")])  # 2000 left
    settled = make_loan(LoanStatus.SETTLED, principal=D("500.00"))
    add_schedule(settled, [("500.00", "0.00")])  # not in service: ignored
    with CaptureQueriesContext(connection) as queries:
        summary = selectors.portfolio_summary()
    assert len(queries) == 1  # the loans' kept balances: no pass over the installments
    assert summary == {
        "active_count": 1,
        "overdue_count": 1,
        "outstanding_principal": D("3600.00"),
        "overdue_principal": D("2000.00"),
    }


def test_portfolio_summary_of_an_empty_book() -> None:
    assert selectors.portfolio_summary() == {
        "active_count": 0,
        "overdue_count": 0,
        "outstanding_principal": D("0.00"),
        "overdue_principal": D("0.00"),
    }


def test_portfolio_summary_after_real_disbursement_and_repayment(
    loan: Loan, advance_loan: Callable[[Loan, str], Loan], ops_user: Any
) -> None:
    from servicing.selectors import schedule_current
    from servicing.services import repayment_record

    loan = advance_loan(loan, LoanStatus.ACTIVE)
    first = schedule_current(loan)[0]
    repayment_record(
        actor=ops_user, loan_id=loan.pk, amount=first.total_due, paid_on=loan.disbursed_on, channel="bank_transfer"
    )
    summary = selectors.portfolio_summary()
    assert summary["active_count"] == 1
    assert summary["outstanding_principal"] == loan.principal - first.principal_due


def test_monthly_report_rows_and_totals(make_loan: Callable[..., Loan], ops_user: Any) -> None:
    nov_late = make_loan(created_at=shanghai(2026, 11, 30, 23, 30), customer_name="周一", requested_amount=D("5000"))
    make_loan(created_at=shanghai(2026, 12, 1, 0, 10))  # 2026-11-30 16:10 UTC, but December in Beijing
    make_loan(created_at=shanghai(2026, 10, 31, 23, 59))
    disbursed = make_loan(
        LoanStatus.ACTIVE,
        created_at=shanghai(2026, 10, 8, 10),
        customer_name="吴二",
        principal=D("8000.00"),
        disbursed_on=date(2026, 11, 3),
    )
    add_repayment(disbursed, "700.50", date(2026, 11, 20), by=ops_user)
    add_repayment(disbursed, "300.00", date(2026, 11, 21), by=ops_user, reversed_=True)  # reversed: left out
    add_repayment(disbursed, "99.00", date(2026, 10, 20), by=ops_user)  # October
    settled = make_loan(
        LoanStatus.SETTLED,
        created_at=shanghai(2026, 5, 1, 10),
        customer_name="郑三",
        principal=D("1200.00"),
        disbursed_on=date(2026, 6, 1),
        settled_on=date(2026, 11, 30),
    )
    with CaptureQueriesContext(connection) as queries:
        rows = selectors.monthly_report(date(2026, 11, 1))
    assert len(queries) == 4
    assert [(r["reference"], r["customer"], r["event"], r["event_label"], r["date"], r["amount"]) for r in rows] == [
        (disbursed.reference, "吴二", "disbursed", "放款", date(2026, 11, 3), D("8000.00")),
        (disbursed.reference, "吴二", "repaid", "还款", date(2026, 11, 20), D("700.50")),
        (nov_late.reference, "周一", "originated", "申请受理", date(2026, 11, 30), D("5000.00")),
        (settled.reference, "郑三", "settled", "结清", date(2026, 11, 30), D("1200.00")),
    ]
    assert all(row["product"] == "消费贷" for row in rows)
    totals = selectors.monthly_totals(rows)
    assert [(t["event"], t["count"], t["amount"]) for t in totals] == [
        ("originated", 1, D("5000.00")),
        ("disbursed", 1, D("8000.00")),
        ("repaid", 1, D("700.50")),
        ("settled", 1, D("1200.00")),
    ]
    # the dashboard's aggregate says the same, without loading rows
    with CaptureQueriesContext(connection) as queries:
        overview = selectors.month_overview(date(2026, 11, 15))
    assert len(queries) == 2
    assert overview == totals


def test_monthly_report_of_a_quiet_month_lists_zero_totals() -> None:
    assert selectors.monthly_report(date(2030, 1, 1)) == []
    assert [(t["label"], t["count"], t["amount"]) for t in selectors.month_overview(date(2030, 1, 1))] == [
        ("申请受理", 0, D("0.00")),
        ("放款", 0, D("0.00")),
        ("还款", 0, D("0.00")),
        ("结清", 0, D("0.00")),
    ]
