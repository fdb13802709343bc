"""GET/POST /api/v1/customers/, GET/PATCH /api/v1/customers/{id}/."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from rest_framework.test import APIClient

from applications.models import Customer
from compliance.models import AuditEvent
from tests.conftest import PASSWORD, customer_data

pytestmark = pytest.mark.django_db
LIST = reverse("api:customer-list")
Client = Callable[[Any], APIClient]


def detail(customer_id: int) -> str:
    return reverse("api:customer-detail", kwargs={"customer_id": customer_id})


# --- list ------------------------------------------------------------------------------------


def test_staff_sees_every_customer_with_masked_id(
    api_client_for: Client, ops_user: Any, customer: Customer, other_customer: Customer
) -> None:
    response = api_client_for(ops_user).get(LIST)
    assert response.status_code == 200
    rows = {row["id"]: row for row in response.json()["results"]}
    assert set(rows) >= {customer.pk, other_customer.pk}
    shown = rows[customer.pk]["id_number"]
    assert shown == f"{customer.id_number[:6]}********{customer.id_number[-4:]}"
    assert customer.id_number not in response.content.decode()
    assert rows[customer.pk]["has_portal_account"] is True


def test_list_filters_by_kind_and_name(api_client_for: Client, ops_user: Any, customer: Customer) -> None:
    client = api_client_for(ops_user)
    assert [row["id"] for row in client.get(LIST, {"name": "张"}).json()["results"]] == [customer.pk]
    assert client.get(LIST, {"kind": "enterprise"}).json()["results"] == []
    assert client.get(LIST, {"kind": "nonsense"}).status_code == 400


def test_customer_sees_only_themself(
    api_client_for: Client, customer_user: Any, customer: Customer, other_customer: Customer
) -> None:
    response = api_client_for(customer_user).get(LIST)
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [customer.pk]


def test_list_needs_a_role(api_client_for: Client, outsider: Any) -> None:
    assert api_client_for(outsider).get(LIST).status_code == 403


def test_list_unauthenticated_is_401() -> None:
    assert APIClient().get(LIST).status_code == 401


# --- create ----------------------------------------------------------------------------------


def test_ops_creates_customer_with_portal_login(api_client_for: Client, ops_user: Any) -> None:
    data = customer_data(name="王五", portal_password=PASSWORD)
    response = api_client_for(ops_user).post(LIST, data, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["name"] == "王五"
    assert body["id_number"] == f"{data['id_number'][:6]}********{data['id_number'][-4:]}"
    assert "portal_password" not in body
    customer = Customer.objects.get(pk=body["id"])
    assert customer.user is not None and customer.user.username.startswith("c-")
    assert data["phone"] not in customer.user.username  # auth_user is not encrypted: no phone in clear
    assert body["phone"] == f"{data['phone'][:3]}****{data['phone'][-4:]}"
    assert AuditEvent.objects.filter(action="customer.create", subject_id=str(customer.pk)).exists()
    # The new login works on the token endpoint with the phone number.
    login = APIClient().post(reverse("api:auth-token"), {"username": data["phone"], "password": PASSWORD})
    assert login.status_code == 200


def test_bad_id_checksum_is_400_and_writes_nothing(api_client_for: Client, ops_user: Any) -> None:
    good = customer_data()["id_number"]
    bad_digit = "0" if good[-1] != "0" else "1"
    counts = (Customer.objects.count(), AuditEvent.objects.count(), get_user_model().objects.count())
    response = api_client_for(ops_user).post(
        LIST, customer_data(id_number=good[:-1] + bad_digit, portal_password=PASSWORD), format="json"
    )
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["id_number"]
    assert (Customer.objects.count(), AuditEvent.objects.count(), get_user_model().objects.count()) == counts


def test_missing_fields_are_named(api_client_for: Client, ops_user: Any) -> None:
    response = api_client_for(ops_user).post(LIST, {}, format="json")
    assert response.status_code == 400
    assert {"kind", "name", "phone", "industry"} <= set(response.json()["fields"])


def test_duplicate_phone_is_400(api_client_for: Client, ops_user: Any, customer: Customer) -> None:
    response = api_client_for(ops_user).post(LIST, customer_data(phone=customer.phone), format="json")
    assert response.status_code == 400
    assert "phone" in response.json()["fields"]


@pytest.mark.parametrize("who", ["risk_user", "customer_user"])
def test_create_needs_add_customer(api_client_for: Client, who: str, request: pytest.FixtureRequest) -> None:
    client = api_client_for(request.getfixturevalue(who))  # creating the user may create its own Customer
    count = Customer.objects.count()
    response = client.post(LIST, customer_data(), format="json")
    assert response.status_code == 403
    assert Customer.objects.count() == count


def test_create_unauthenticated_is_401() -> None:
    assert APIClient().post(LIST, customer_data(), format="json").status_code == 401


# --- detail and update -------------------------------------------------------------------------


def test_customer_reads_own_record(api_client_for: Client, customer_user: Any, customer: Customer) -> None:
    response = api_client_for(customer_user).get(detail(customer.pk))
    assert response.status_code == 200
    assert response.json()["phone"] == f"{customer.phone[:3]}****{customer.phone[-4:]}"


def test_other_customers_record_is_404(api_client_for: Client, customer_user: Any, other_customer: Customer) -> None:
    response = api_client_for(customer_user).get(detail(other_customer.pk))
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_detail_needs_a_role(api_client_for: Client, outsider: Any, customer: Customer) -> None:
    assert api_client_for(outsider).get(detail(customer.pk)).status_code == 403


def test_detail_unauthenticated_is_401(customer: Customer) -> None:
    assert APIClient().get(detail(customer.pk)).status_code == 401


def test_ops_updates_some_fields(api_client_for: Client, ops_user: Any, customer: Customer) -> None:
    response = api_client_for(ops_user).patch(
        detail(customer.pk), {"address": "上海市浦东新区世纪大道 100 号", "annual_income": "300000"}, format="json"
    )
    assert response.status_code == 200, response.json()
    customer.refresh_from_db()
    assert customer.address == "上海市浦东新区世纪大道 100 号"
    assert str(customer.annual_income) == "300000.00"
    assert customer.name == "张三"  # untouched
    assert AuditEvent.objects.filter(action="customer.update", subject_id=str(customer.pk)).exists()


def test_update_bad_phone_is_400_and_writes_nothing(api_client_for: Client, ops_user: Any, customer: Customer) -> None:
    before = customer.phone
    response = api_client_for(ops_user).patch(detail(customer.pk), {"phone": "12345"}, format="json")
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["phone"]
    customer.refresh_from_db()
    assert customer.phone == before


@pytest.mark.parametrize("who", ["customer_user", "risk_user"])
def test_update_needs_change_customer(
    api_client_for: Client, who: str, customer: Customer, request: pytest.FixtureRequest
) -> None:
    response = api_client_for(request.getfixturevalue(who)).patch(detail(customer.pk), {"name": "X"}, format="json")
    assert response.status_code == 403
    customer.refresh_from_db()
    assert customer.name == "张三"


def test_update_unknown_customer_is_404(api_client_for: Client, ops_user: Any) -> None:
    assert api_client_for(ops_user).patch(detail(999999), {"name": "X"}, format="json").status_code == 404
