"""The dashboard and the monthly CSV download: who may see them, what they show, bounded queries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from applications.models import Loan, LoanStatus
from loanops import roles
from reporting import selectors
from reporting.tests.conftest import add_repayment, add_schedule, shanghai
from tests.conftest import make_staff

pytestmark = pytest.mark.django_db
D = Decimal
DASHBOARD = "/backoffice/dashboard/"
MONTHLY = "/backoffice/reports/monthly/"


# --- access -------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [DASHBOARD, f"{MONTHLY}?month=2026-11"])
def test_manager_may_open(client: Client, manager_user: Any, url: str) -> None:
    client.force_login(manager_user)
    assert client.get(url).status_code == 200


@pytest.mark.parametrize("url", [DASHBOARD, f"{MONTHLY}?month=2026-11"])
@pytest.mark.parametrize("role", [roles.OPS, roles.RISK, roles.PRODUCT, roles.SERVICE, None])
def test_roles_without_view_reports_get_403(client: Client, url: str, role: str | None) -> None:
    client.force_login(make_staff(role))
    assert client.get(url).status_code == 403


@pytest.mark.parametrize("url", [DASHBOARD, f"{MONTHLY}?month=2026-11"])
def test_customers_get_403(client: Client, customer_login: Any, url: str) -> None:
    client.force_login(customer_login)
    assert client.get(url).status_code == 403


@pytest.mark.parametrize("url", [DASHBOARD, f"{MONTHLY}?month=2026-11"])
def test_anonymous_is_sent_to_login(client: Client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


# --- dashboard ----------------------------------------------------------------------------------


def _seed_book(make_loan: Callable[..., Loan], n: int) -> None:
    """`n` loans in each of a few stages, the serviced ones with schedules and repayments."""
    by = make_staff(roles.OPS)
    for _ in range(n):
        make_loan(LoanStatus.SUBMITTED)
        make_loan(LoanStatus.RISK_REVIEW, requested_amount=D("20000.00"))
        make_loan(LoanStatus.DISBURSEMENT_PENDING, principal=D("15000.00"))
        active = make_loan(LoanStatus.ACTIVE, principal=D("3000.00"), disbursed_on=date(2026, 11, 2))
        add_schedule(active, [("1000.00", "1000.00"), ("1000.00", "0.00"), ("1000.00", "0.00")])
        add_repayment(active, "1010.00", date(2026, 11, 25), by=by)
        overdue = make_loan(LoanStatus.OVERDUE, principal=D("2000.00"))
        add_schedule(overdue, [("1000.00", "0.00"), ("1000.00", "0.00")])


def test_dashboard_shows_tiles_and_stage_table(
    client: Client, manager_user: Any, make_loan: Callable[..., Loan]
) -> None:
    _seed_book(make_loan, 2)
    make_loan(LoanStatus.CONTRACT_SIGNED, principal=D("1000.00"))
    client.force_login(manager_user)
    response = client.get(DASHBOARD)
    assert response.status_code == 200
    context = response.context
    assert context["applications_this_month"] == 11  # every loan above was created today
    assert context["in_review"] == 2
    assert context["awaiting_disbursement"] == 3  # 1 signed + 2 waiting for the checker
    assert context["awaiting_checker"] == 2
    assert context["loans_in_service"] == 4
    assert context["portfolio"]["overdue_count"] == 2
    assert context["portfolio"]["outstanding_principal"] == D("8000.00")  # 2 × 2000 active + 2 × 2000 overdue
    html = response.content.decode()
    assert "经营看板" in html
    assert '<span class="badge status-risk_review">风控审查中</span>' in html
    assert '<span class="badge status-overdue">逾期</span>' in html
    assert "8,000.00" in html
    assert f'href="{MONTHLY}?month={selectors.report_today():%Y-%m}"' in html  # this month's download
    assert 'type="month"' in html


def test_dashboard_queries_do_not_grow_with_the_book(
    client: Client, manager_user: Any, make_loan: Callable[..., Loan], django_assert_max_num_queries: Any
) -> None:
    client.force_login(manager_user)
    _seed_book(make_loan, 1)
    with CaptureQueriesContext(connection) as small:
        client.get(DASHBOARD)
    _seed_book(make_loan, 20)
    with django_assert_max_num_queries(len(small)):
        response = client.get(DASHBOARD)
    assert response.status_code == 200
    with django_assert_max_num_queries(12):  # session, user, permissions + 5 aggregates
        client.get(DASHBOARD)
    with django_assert_max_num_queries(14):  # another month: 2 more aggregates
        client.get(f"{DASHBOARD}?month=2026-01")


def test_dashboard_month_picker_shows_that_months_figures(
    client: Client, manager_user: Any, make_loan: Callable[..., Loan]
) -> None:
    loan = make_loan(LoanStatus.ACTIVE, principal=D("8000.00"), disbursed_on=date(2026, 11, 3))
    add_repayment(loan, "700.50", date(2026, 11, 20), by=manager_user)
    client.force_login(manager_user)
    response = client.get(f"{DASHBOARD}?month=2026-11")
    assert response.status_code == 200
    overview = {row["event"]: (row["count"], row["amount"]) for row in response.context["overview"]}
    assert overview["disbursed"] == (1, D("8000.00"))
    assert overview["repaid"] == (1, D("700.50"))
    assert f'href="{MONTHLY}?month=2026-11"' in response.content.decode()


def test_dashboard_bad_month_is_400_with_the_message(client: Client, manager_user: Any) -> None:
    client.force_login(manager_user)
    response = client.get(f"{DASHBOARD}?month=November")
    assert response.status_code == 400
    assert "月份格式应为 YYYY-MM" in response.content.decode()


# --- monthly CSV --------------------------------------------------------------------------------


def test_monthly_csv_contents_for_a_known_month(
    client: Client, manager_user: Any, ops_user: Any, make_loan: Callable[..., Loan]
) -> None:
    make_loan(
        created_at=shanghai(2026, 11, 30, 23, 30), customer_name="周一", reference="LN0001", requested_amount=D("5000")
    )
    make_loan(created_at=shanghai(2026, 12, 1, 0, 10), reference="LN0002")  # December in Beijing
    active = make_loan(
        LoanStatus.ACTIVE,
        created_at=shanghai(2026, 10, 8, 10),
        customer_name="吴二",
        reference="LN0003",
        principal=D("8000.00"),
        disbursed_on=date(2026, 11, 3),
    )
    add_repayment(active, "700.50", date(2026, 11, 20), by=ops_user)
    add_repayment(active, "300.00", date(2026, 11, 21), by=ops_user, reversed_=True)
    add_repayment(active, "99.00", date(2026, 10, 20), by=ops_user)
    make_loan(
        LoanStatus.SETTLED,
        created_at=shanghai(2026, 5, 1, 10),
        customer_name="=HYPERLINK(1)",  # a formula in a name must not run in Excel
        reference="LN0004",
        principal=D("1200.00"),
        settled_on=date(2026, 11, 30),
    )
    client.force_login(manager_user)
    response = client.get(f"{MONTHLY}?month=2026-11")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="loanops-monthly-2026-11.csv"'
    assert response.content.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM for Excel
    assert response.content.decode("utf-8-sig").splitlines() == [
        "贷款编号,借款人,产品,事件,日期,金额",
        "LN0003,吴二,消费贷,放款,2026-11-03,8000.00",
        "LN0003,吴二,消费贷,还款,2026-11-20,700.50",
        "LN0001,周一,消费贷,申请受理,2026-11-30,5000.00",
        "LN0004,'=HYPERLINK(1),消费贷,结清,2026-11-30,1200.00",
        "",
        "合计,,,事件,笔数,金额",
        ",,,申请受理,1,5000.00",
        ",,,放款,1,8000.00",
        ",,,还款,1,700.50",
        ",,,结清,1,1200.00",
    ]


def test_monthly_csv_without_month_is_this_month(client: Client, manager_user: Any) -> None:
    client.force_login(manager_user)
    response = client.get(MONTHLY)
    assert response.status_code == 200
    month = selectors.report_today()
    assert response["Content-Disposition"] == f'attachment; filename="loanops-monthly-{month:%Y-%m}.csv"'


@pytest.mark.parametrize("month", ["2026-13", "2026-00", "2026-1", "26-11", "2026/11", "abc", "0999-01"])
def test_monthly_csv_bad_month_is_400_with_a_clear_message(client: Client, manager_user: Any, month: str) -> None:
    client.force_login(manager_user)
    response = client.get(MONTHLY, {"month": month})
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "has-error" in html
    assert "月份" in html
    assert response.context["month_error"]
