"""POST /api/v1/auth/token/ — staff and customers (phone number as username) get a token."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from applications.models import Customer
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db
URL = reverse("api:auth-token")


def test_staff_gets_a_token_that_authenticates(ops_user: Any) -> None:
    response = APIClient().post(URL, {"username": ops_user.username, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.json()
    token = response.json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get(reverse("api:loan-list")).status_code == 200
    # Asking again gives the same token.
    again = APIClient().post(URL, {"username": ops_user.username, "password": PASSWORD}, format="json")
    assert again.json()["token"] == token


def test_customer_logs_in_with_phone_number(customer: Customer) -> None:
    response = APIClient().post(URL, {"username": customer.phone, "password": PASSWORD}, format="json")
    assert response.status_code == 200
    assert response.json()["token"]


def test_wrong_password_is_400_without_a_token(ops_user: Any) -> None:
    response = APIClient().post(URL, {"username": ops_user.username, "password": "wrong"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_credentials"
    assert "non_field_errors" in body["fields"]
    assert "token" not in body


def test_inactive_user_cannot_get_a_token(ops_user: Any) -> None:
    ops_user.is_active = False
    ops_user.save(update_fields=["is_active"])
    response = APIClient().post(URL, {"username": ops_user.username, "password": PASSWORD}, format="json")
    assert response.status_code == 400


def test_missing_fields_are_named() -> None:
    response = APIClient().post(URL, {}, format="json")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"username", "password"}


def test_unauthenticated_api_call_is_401_with_www_authenticate() -> None:
    response = APIClient().get(reverse("api:loan-list"))
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json()["code"] == "not_authenticated"


def test_bad_token_is_401() -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = client.get(reverse("api:loan-list"))
    assert response.status_code == 401
