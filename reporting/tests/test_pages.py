"""Dashboard, monthly CSV, calculator and product list: permissions, contents and bad input."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from applications.models import Customer, Loan, LoanStatus, Product
from servicing.models import Repayment

pytestmark = pytest.mark.django_db


def _user(role: str, staff: bool = True):  # type: ignore[no-untyped-def]
    user = get_user_model().objects.create_user(username=f"{role}-rep", password="x" * 12, is_staff=staff)
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def loan() -> Loan:
    product = Product.objects.create(
        code="rep",
        name="报表产品",
        applicant_type="individual",
        min_amount=Decimal("1000"),
        max_amount=Decimal("90000"),
        min_term_months=3,
        max_term_months=24,
        min_rate=Decimal("0.05"),
        max_rate=Decimal("0.2"),
    )
    customer = Customer.objects.create(kind="individual", name="赵六", phone="13600000009", industry="F")
    return Loan.objects.create(
        customer=customer,
        product=product,
        requested_amount=Decimal("8000"),
        requested_term_months=12,
        purpose="x",
        reference="LNREP000001",
        status=LoanStatus.ACTIVE,
        principal=Decimal("8000.00"),
        disbursed_on=date(2026, 11, 3),
    )


def test_dashboard_for_manager_with_bounded_queries(client, loan, django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    client.force_login(_user("manager"))
    with django_assert_max_num_queries(15):
        response = client.get("/backoffice/dashboard/")
    assert response.status_code == 200
    assert "经营看板" in response.content.decode()


@pytest.mark.parametrize("role", ["ops", "risk", "service"])
def test_dashboard_refused_without_report_permission(client, role) -> None:  # type: ignore[no-untyped-def]
    client.force_login(_user(role))
    assert client.get("/backoffice/dashboard/").status_code == 403


def test_monthly_csv_lists_the_months_events(client, loan) -> None:  # type: ignore[no-untyped-def]
    ops = _user("ops")
    Repayment.objects.create(
        loan=loan, amount=Decimal("700.50"), paid_on=date(2026, 11, 20), channel="bank_transfer", recorded_by=ops
    )
    Repayment.objects.create(
        loan=loan, amount=Decimal("99.00"), paid_on=date(2026, 10, 20), channel="bank_transfer", recorded_by=ops
    )
    client.force_login(_user("manager"))
    response = client.get("/backoffice/reports/monthly/?month=2026-11")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="loanops-monthly-2026-11.csv"'
    text = response.content.decode("utf-8-sig")
    lines = text.splitlines()
    assert lines[0] == "贷款编号,借款人,产品,事件,日期,金额"
    assert "LNREP000001,赵六,报表产品,放款,2026-11-03,8000.00" in lines
    assert "LNREP000001,赵六,报表产品,还款,2026-11-20,700.50" in lines
    assert "99.00" not in text  # October's repayment is not in November's report


def test_monthly_csv_bad_month_is_400(client) -> None:  # type: ignore[no-untyped-def]
    client.force_login(_user("manager"))
    assert client.get("/backoffice/reports/monthly/?month=2026-13").status_code == 400


def test_calculator_computes_the_published_figure(client) -> None:  # type: ignore[no-untyped-def]
    client.force_login(_user("ops"))
    response = client.post(
        "/backoffice/calculator/",
        {
            "principal": "1000000",
            "annual_rate_percent": "4.9",
            "term_months": "360",
            "method": "equal_installment",
            "first_due_date": "2026-12-23",
        },
    )
    assert response.status_code == 200
    assert "5,307.27" in response.content.decode()


def test_calculator_field_error(client) -> None:  # type: ignore[no-untyped-def]
    client.force_login(_user("ops"))
    response = client.post(
        "/backoffice/calculator/",
        {
            "principal": "1000",
            "annual_rate_percent": "4.9",
            "term_months": "999",
            "method": "equal_installment",
            "first_due_date": "2026-12-23",
        },
    )
    assert response.status_code == 400
    assert response.context["form"].errors["term_months"]


def test_calculator_refuses_customers(client) -> None:  # type: ignore[no-untyped-def]
    client.force_login(_user("customer", staff=False))
    assert client.get("/backoffice/calculator/").status_code == 403


def test_product_list_for_product_manager(client, loan) -> None:  # type: ignore[no-untyped-def]
    client.force_login(_user("product"))
    response = client.get("/backoffice/products/")
    assert response.status_code == 200
    assert "报表产品" in response.content.decode()
