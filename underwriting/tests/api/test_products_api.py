"""GET/POST /api/v1/products/, GET/PATCH /api/v1/products/{id}/."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from applications.models import Product
from compliance.models import AuditEvent

pytestmark = pytest.mark.django_db
LIST = reverse("api:product-list")
Client = Callable[[Any], APIClient]


def detail(product_id: int) -> str:
    return reverse("api:product-detail", kwargs={"product_id": product_id})


def new_product(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "code": "sme-working-capital",
        "name": "小微经营贷",
        "applicant_type": "enterprise",
        "min_amount": "50000.00",
        "max_amount": "3000000.00",
        "min_term_months": 6,
        "max_term_months": 36,
        "min_rate": "0.0450",
        "max_rate": "0.1500",
        "repayment_methods": ["equal_installment", "interest_only"],
    }
    data.update(overrides)
    return data


@pytest.fixture
def retired(db: None) -> Product:
    return Product.objects.create(
        code="retired",
        name="已停售产品",
        applicant_type="individual",
        min_amount="1000",
        max_amount="2000",
        min_term_months=3,
        max_term_months=6,
        min_rate="0.05",
        max_rate="0.06",
        is_active=False,
    )


@pytest.mark.parametrize("who", ["customer_user", "ops_user", "outsider"])
def test_any_signed_in_user_lists_products_on_sale(
    who: str, api_client_for: Client, product: Product, retired: Product, request: pytest.FixtureRequest
) -> None:
    response = api_client_for(request.getfixturevalue(who)).get(LIST)
    assert response.status_code == 200
    ids = {row["id"] for row in response.json()["results"]}
    assert product.pk in ids
    assert (retired.pk in ids) is (who == "ops_user")  # staff with view_product see the whole catalogue


def test_list_filters(api_client_for: Client, ops_user: Any, product: Product, retired: Product) -> None:
    client = api_client_for(ops_user)
    assert [row["id"] for row in client.get(LIST, {"is_active": "false"}).json()["results"]] == [retired.pk]
    assert client.get(LIST, {"applicant_type": "enterprise"}).json()["results"] == []


def test_detail(api_client_for: Client, customer_user: Any, product: Product, retired: Product) -> None:
    client = api_client_for(customer_user)
    body = client.get(detail(product.pk)).json()
    assert body["code"] == "personal-standard"
    assert body["min_amount"] == "10000.00"
    assert body["max_rate"] == "0.180000"
    assert body["required_documents"] == ["id_front", "id_back", "income_proof", "credit_auth"]
    assert client.get(detail(retired.pk)).status_code == 404
    assert client.get(detail(999999)).status_code == 404


def test_unauthenticated_is_401(product: Product) -> None:
    client = APIClient()
    assert client.get(LIST).status_code == 401
    assert client.post(LIST, new_product(), format="json").status_code == 401
    assert client.get(detail(product.pk)).status_code == 401
    assert client.patch(detail(product.pk), {"name": "x"}, format="json").status_code == 401


def test_product_manager_creates_a_product(api_client_for: Client, product_user: Any) -> None:
    response = api_client_for(product_user).post(LIST, new_product(), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["min_rate"] == "0.045000"
    assert body["is_active"] is True
    # An enterprise product without a list gets the enterprise checklist.
    assert "business_license" in body["required_documents"]
    assert AuditEvent.objects.filter(action="product.create", subject_id=str(body["id"])).exists()


def test_inconsistent_ranges_are_400_and_write_nothing(api_client_for: Client, product_user: Any) -> None:
    before = (Product.objects.count(), AuditEvent.objects.count())
    response = api_client_for(product_user).post(
        LIST, new_product(min_amount="90000", max_amount="80000", min_rate="0.2", max_rate="0.1"), format="json"
    )
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"max_amount", "max_rate"}
    assert (Product.objects.count(), AuditEvent.objects.count()) == before


def test_missing_fields_are_named(api_client_for: Client, product_user: Any) -> None:
    response = api_client_for(product_user).post(LIST, {"name": "x"}, format="json")
    assert response.status_code == 400
    assert {"code", "applicant_type", "min_amount", "max_amount"} <= set(response.json()["fields"])


def test_duplicate_code_is_400(api_client_for: Client, product_user: Any, product: Product) -> None:
    response = api_client_for(product_user).post(LIST, new_product(code=product.code), format="json")
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["code"]


@pytest.mark.parametrize("who", ["ops_user", "risk_user", "customer_user"])
def test_create_needs_add_product(who: str, api_client_for: Client, request: pytest.FixtureRequest) -> None:
    count = Product.objects.count()
    assert api_client_for(request.getfixturevalue(who)).post(LIST, new_product(), format="json").status_code == 403
    assert Product.objects.count() == count


def test_product_manager_updates_a_product(api_client_for: Client, product_user: Any, product: Product) -> None:
    response = api_client_for(product_user).patch(
        detail(product.pk), {"max_amount": "300000.00", "is_active": False}, format="json"
    )
    assert response.status_code == 200, response.json()
    product.refresh_from_db()
    assert str(product.max_amount) == "300000.00"
    assert product.is_active is False
    assert product.compound_overdue_interest is False  # untouched
    assert product.name == "个人消费贷"


def test_update_bad_input_is_400(api_client_for: Client, product_user: Any, product: Product) -> None:
    response = api_client_for(product_user).patch(detail(product.pk), {"min_term_months": 48}, format="json")
    assert response.status_code == 400
    assert "max_term_months" in response.json()["fields"]
    product.refresh_from_db()
    assert product.min_term_months == 3


@pytest.mark.parametrize("who", ["ops_user", "customer_user"])
def test_update_needs_change_product(
    who: str, api_client_for: Client, product: Product, request: pytest.FixtureRequest
) -> None:
    response = api_client_for(request.getfixturevalue(who)).patch(detail(product.pk), {"name": "改名"}, format="json")
    assert response.status_code == 403
    product.refresh_from_db()
    assert product.name == "个人消费贷"
