"""还款试算 /backoffice/calculator/: any staff member, full page or htmx fragment, field errors."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from applications.models import Customer

pytestmark = pytest.mark.django_db
URL = "/backoffice/calculator/"
MORTGAGE = {
    "principal": "1000000",
    "annual_rate_percent": "4.9",
    "term_months": "360",
    "method": "equal_installment",
    "first_due_date": "2026-12-23",
}


@pytest.mark.parametrize("role", ["ops", "risk", "manager", "product_manager", "service_user"])
def test_every_staff_role_may_open_it(client: Client, role: str, request: pytest.FixtureRequest) -> None:
    client.force_login(request.getfixturevalue(role))
    response = client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "年利率（%）" in html
    assert "4.9 表示年利率 4.9%（即 0.049）" in html
    assert 'hx-post="/backoffice/calculator/"' in html


def test_customers_get_403(client: Client, customer: Customer) -> None:
    client.force_login(customer.user)
    assert client.get(URL).status_code == 403
    assert client.post(URL, MORTGAGE).status_code == 403


def test_anonymous_is_sent_to_login(client: Client) -> None:
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_happy_path_renders_schedule_summary_and_apr(client: Client, ops: Any) -> None:
    client.force_login(ops)
    response = client.post(URL, MORTGAGE)
    assert response.status_code == 200
    preview = response.context["preview"]
    assert len(preview["rows"]) == 360
    assert str(preview["rows"][0].total) == "5307.27"  # the published 4.9 % / 30-year figure
    assert preview["summary"]["total_principal"] == 1000000
    assert str(preview["apr"]) == "0.049000"  # no fees: the IRR is the contract rate
    html = response.content.decode()
    assert "5,307.27" in html
    assert "4.90%" in html
    assert "2056-11-23" in html  # the 360th due date
    assert "<html" in html  # a plain post gets the whole page


def test_htmx_post_gets_only_the_fragment(client: Client, ops: Any) -> None:
    client.force_login(ops)
    response = client.post(URL, MORTGAGE, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="calculator"')
    assert "<html" not in html
    assert "5,307.27" in html


def test_schedule_field_error_lands_on_the_field(client: Client, ops: Any) -> None:
    client.force_login(ops)
    response = client.post(URL, {**MORTGAGE, "term_months": "999"})
    assert response.status_code == 400
    assert response.context["form"].errors["term_months"] == ["期限必须在 1 到 360 个月之间。"]
    assert response.context["preview"] is None


def test_htmx_error_is_200_so_htmx_swaps_it_in(client: Client, ops: Any) -> None:
    client.force_login(ops)
    response = client.post(URL, {**MORTGAGE, "principal": "0"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response.context["form"].errors["principal"] == ["本金必须大于 0。"]
    assert "本金必须大于 0。" in response.content.decode()


def test_rate_is_a_percentage(client: Client, ops: Any) -> None:
    client.force_login(ops)
    response = client.post(URL, {**MORTGAGE, "annual_rate_percent": "490"})
    assert response.status_code == 400
    assert "0 到 100" in response.context["form"].errors["annual_rate_percent"][0]


def test_infeasible_schedule_is_a_message(client: Client, ops: Any) -> None:
    client.force_login(ops)
    response = client.post(URL, {**MORTGAGE, "principal": "0.05", "annual_rate_percent": "0", "term_months": "10"})
    assert response.status_code == 422
    errors = response.context["form"].non_field_errors()
    assert errors and "还清" in errors[0]
