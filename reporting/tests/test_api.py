"""GET /api/v1/reports/monthly/?month=YYYY-MM&format=csv"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from rest_framework.test import APIClient

from applications.models import Loan, LoanStatus
from loanops import roles
from tests.conftest import make_staff

pytestmark = pytest.mark.django_db
URL = "/api/v1/reports/monthly/"


def test_manager_downloads_the_csv(
    api_client_for: Callable[[Any], APIClient], manager_user: Any, make_loan: Callable[..., Loan]
) -> None:
    make_loan(
        LoanStatus.ACTIVE,
        customer_name="吴二",
        reference="LN0003",
        principal=Decimal("8000.00"),
        disbursed_on=date(2026, 11, 3),
    )
    response = api_client_for(manager_user).get(URL, {"month": "2026-11", "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="loanops-monthly-2026-11.csv"'
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[0] == "贷款编号,借款人,产品,事件,日期,金额"
    assert lines[1] == "LN0003,吴二,消费贷,放款,2026-11-03,8000.00"


def test_format_defaults_to_csv_and_accept_header_does_not_matter(
    api_client_for: Callable[[Any], APIClient], manager_user: Any
) -> None:
    response = api_client_for(manager_user).get(URL, {"month": "2026-11"}, HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    assert response.content.startswith(b"\xef\xbb\xbf")


@pytest.mark.parametrize("role", [roles.OPS, roles.RISK, roles.PRODUCT, roles.SERVICE, None])
def test_other_staff_get_403(api_client_for: Callable[[Any], APIClient], role: str | None) -> None:
    response = api_client_for(make_staff(role)).get(URL, {"month": "2026-11", "format": "csv"})
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_customers_get_403(api_client_for: Callable[[Any], APIClient], customer_user: Any) -> None:
    assert api_client_for(customer_user).get(URL, {"month": "2026-11"}).status_code == 403


def test_anonymous_gets_401() -> None:
    assert APIClient().get(URL, {"month": "2026-11"}).status_code == 401


@pytest.mark.parametrize("fmt", ["pdf", "xlsx", "json", "PDF"])
def test_other_formats_are_400_on_the_format_field(
    api_client_for: Callable[[Any], APIClient], manager_user: Any, fmt: str
) -> None:
    response = api_client_for(manager_user).get(URL, {"month": "2026-11", "format": fmt})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["fields"] == {"format": ["暂只支持 csv（pdf、xlsx 在月报功能中提供）"]}


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "November", ""])
def test_bad_month_is_400_on_the_month_field(
    api_client_for: Callable[[Any], APIClient], manager_user: Any, month: str
) -> None:
    response = api_client_for(manager_user).get(URL, {"month": month, "format": "csv"})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["fields"]) == ["month"]


def test_missing_month_is_400(api_client_for: Callable[[Any], APIClient], manager_user: Any) -> None:
    response = api_client_for(manager_user).get(URL, {"format": "csv"})
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["month"]


def test_schema_documents_the_endpoint(client: Any) -> None:
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v1/reports/monthly/"]["get"]
    names = {parameter["name"] for parameter in operation["parameters"]}
    assert {"month", "format"} <= names
    assert "text/csv" in operation["responses"]["200"]["content"]
