"""API of versioned products, matching, the LPR table (four eyes) and the rate cap."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from applications.models import Loan, Product
from compliance.models import AuditEvent
from loanops import roles
from tests.conftest import make_staff
from underwriting.models import LoanPrimeRate

pytestmark = pytest.mark.django_db
Client = Callable[[Any], APIClient]
Advance = Callable[[Loan, str], Loan]
PRODUCTS = reverse("api:product-list")
LPRS = reverse("api:lpr-list")

BANDED = {
    "code": "consumer-banded",
    "name": "分级定价消费贷",
    "applicant_type": "individual",
    "min_amount": "10000.00",
    "max_amount": "200000.00",
    "allowed_terms": [24, 6, 12, 12],
    "rate_bands": {"A": {"min_rate": "0.06", "max_rate": "0.08"}, "B": {"min_rate": "0.08", "max_rate": "0.11"}},
    "min_age": 22,
    "max_age": 55,
    "excluded_industries": ["K"],
}


def test_create_with_terms_and_grade_bands(api_client_for: Client, product_user: Any) -> None:
    response = api_client_for(product_user).post(PRODUCTS, BANDED, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["version"], body["is_current"], body["terms"]) == (1, True, [6, 12, 24])
    assert (body["min_term_months"], body["max_term_months"]) == (6, 24)
    assert body["grade_rate_bands"] == {
        "A": {"min_rate": "0.060000", "max_rate": "0.080000"},
        "B": {"min_rate": "0.080000", "max_rate": "0.110000"},
    }
    assert (body["min_rate"], body["max_rate"]) == ("0.060000", "0.110000")
    assert (body["min_age"], body["max_age"], body["excluded_industries"]) == (22, 55, ["K"])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"rate_bands": {"A": {"min_rate": "0.09", "max_rate": "0.08"}}}, "A 级：最高利率不能低于最低利率"),
        ({"rate_bands": {"F": {"min_rate": "0.05", "max_rate": "0.08"}}}, "未知的风险等级：F（应为 A–E）"),
        ({"rate_bands": {"A": {"min_rate": "1.5", "max_rate": "2"}}}, "A 级："),
    ],
)
def test_bad_bands_are_400_and_write_nothing(
    api_client_for: Client, product_user: Any, overrides: dict[str, Any], message: str
) -> None:
    before = (Product.objects.count(), AuditEvent.objects.count())
    response = api_client_for(product_user).post(PRODUCTS, {**BANDED, **overrides}, format="json")
    assert response.status_code == 400, response.json()
    assert message in response.json()["fields"]["rate_bands"][0]
    assert (Product.objects.count(), AuditEvent.objects.count()) == before


def test_patch_of_a_product_in_use_answers_with_the_new_version(
    api_client_for: Client, product_user: Any, product: Product, loan: Loan, advance_loan: Advance
) -> None:
    advance_loan(loan, "offered")
    offered = Loan.objects.get(pk=loan.pk)
    response = api_client_for(product_user).patch(
        reverse("api:product-detail", kwargs={"product_id": product.pk}), {"max_rate": "0.15"}, format="json"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["version"], body["code"], body["max_rate"]) == (2, product.code, "0.150000")
    assert body["id"] != product.pk
    loan.refresh_from_db()
    assert (loan.product_id, loan.annual_rate, loan.rate_cap) == (product.pk, offered.annual_rate, offered.rate_cap)
    again = api_client_for(product_user).patch(
        reverse("api:product-detail", kwargs={"product_id": product.pk}), {"max_rate": "0.16"}, format="json"
    )
    assert again.status_code == 409
    assert again.json()["code"] == "product_version_retired"
    listed = api_client_for(product_user).get(PRODUCTS).json()["results"]
    assert [(p["code"], p["version"]) for p in listed] == [(product.code, 2)]
    history = api_client_for(product_user).get(PRODUCTS, {"include_retired": "true", "code": product.code}).json()
    assert [p["version"] for p in history["results"]] == [2, 1]


def test_product_list_query_count_does_not_grow(
    api_client_for: Client, product_user: Any, django_assert_max_num_queries: Any
) -> None:
    client = api_client_for(product_user)
    for n in range(20):
        client.post(PRODUCTS, {**BANDED, "code": f"p{n:02d}"}, format="json")
    with django_assert_max_num_queries(6):
        response = client.get(PRODUCTS, {"page_size": 50})
    assert response.status_code == 200
    assert response.json()["count"] == 20


@pytest.mark.parametrize("who", ["ops_user", "risk_user", "manager_user", "service_user"])
def test_only_product_managers_create_products(
    who: str, api_client_for: Client, request: pytest.FixtureRequest
) -> None:
    response = api_client_for(request.getfixturevalue(who)).post(PRODUCTS, BANDED, format="json")
    assert response.status_code == 403
    assert not Product.objects.filter(code=BANDED["code"]).exists()


# --- matching ---------------------------------------------------------------------------------------


def test_loan_product_matches(api_client_for: Client, risk_user: Any, loan: Loan, product: Product) -> None:
    Product.objects.create(**{**_plain(BANDED), "code": "short-only", "allowed_terms": [3, 6]})
    response = api_client_for(risk_user).get(reverse("api:loan-product-matches", kwargs={"loan_id": loan.pk}))
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["grade"], body["amount"], body["term_months"]) == (None, "50000.00", 12)
    by_code = {m["code"]: m for m in body["matches"]}
    assert by_code[product.code]["eligible"] and by_code[product.code]["rank"] == 1
    assert by_code[product.code]["current"] is True
    assert by_code["short-only"]["reasons"] == ["申请期限 12 个月不在该产品的可选期限（3、6 个月）之内"]


def test_customers_cannot_see_matching(api_client_for: Client, customer_user: Any, loan: Loan) -> None:
    response = api_client_for(customer_user).get(reverse("api:loan-product-matches", kwargs={"loan_id": loan.pk}))
    assert response.status_code == 403


def test_matching_trial_for_a_customer(api_client_for: Client, ops_user: Any, customer: Any, product: Product) -> None:
    response = api_client_for(ops_user).post(
        reverse("api:product-matching"),
        {"customer": customer.pk, "grade": "C", "amount": "300000", "term_months": 12},
        format="json",
    )
    assert response.status_code == 200, response.json()
    match = response.json()["matches"][0]
    assert match["eligible"] is False
    assert match["reasons"] == ["申请金额 300,000.00 元不在产品金额范围 10,000.00–200,000.00 元之内"]


# --- LPR and the cap --------------------------------------------------------------------------------


def test_lpr_four_eyes_over_the_api(api_client_for: Client, manager_user: Any) -> None:
    second = make_staff(roles.MANAGER)
    proposer = api_client_for(manager_user)
    response = proposer.post(LPRS, {"published_on": "2025-06-20", "one_year_rate": "0.0300"}, format="json")
    assert response.status_code == 201, response.json()
    lpr_id = response.json()["id"]
    approve = reverse("api:lpr-approve", kwargs={"lpr_id": lpr_id})
    own = proposer.post(approve, {}, format="json")
    assert (own.status_code, own.json()["code"]) == (422, "four_eyes")
    assert LoanPrimeRate.objects.get(pk=lpr_id).status == "proposed"
    ok = api_client_for(second).post(approve, {"note": "已核对"}, format="json")
    assert ok.status_code == 200 and ok.json()["status"] == "approved"
    listed = proposer.get(LPRS).json()
    assert listed[0]["published_on"] == "2025-06-20" and listed[0]["decided_by_name"]


@pytest.mark.parametrize("who", ["risk_user", "ops_user", "product_user"])
def test_only_managers_propose_lprs(who: str, api_client_for: Client, request: pytest.FixtureRequest) -> None:
    response = api_client_for(request.getfixturevalue(who)).post(
        LPRS, {"published_on": "2025-06-20", "one_year_rate": "0.0300"}, format="json"
    )
    assert response.status_code == 403
    assert not LoanPrimeRate.objects.filter(published_on="2025-06-20").exists()


def test_rate_cap_for_a_date(api_client_for: Client, risk_user: Any) -> None:
    body = api_client_for(risk_user).get(reverse("api:rate-cap"), {"on": "2024-10-21"}).json()
    assert (body["cap"], body["lpr"], body["lpr_published_on"]) == ("0.134000", "0.033500", "2024-07-22")
    assert body["licence_type"] == "private_lending" and body["licence_label"] == "民间借贷"


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    """BANDED as model fields (for a direct create)."""
    values = {k: v for k, v in data.items() if k not in {"allowed_terms", "rate_bands"}}
    return {
        **values,
        "min_term_months": 3,
        "max_term_months": 6,
        "min_rate": "0.05",
        "max_rate": "0.1",
        "min_age": 18,
        "max_age": 65,
        "excluded_industries": [],
    }
