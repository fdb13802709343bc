"""Customers log in to the portal with their phone number and password."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest


class PhoneBackend(ModelBackend):
    def authenticate(  # type: ignore[override]
        self,
        request: HttpRequest | None,
        phone: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if not phone or not password:
            return None
        from applications.models import Customer

        customer = Customer.objects.select_related("user").filter(phone=phone.strip()).first()
        if customer is None or customer.user is None:
            # Run the hasher anyway so the response time does not reveal whether the phone exists.
            from django.contrib.auth.hashers import make_password

            make_password(password)
            return None
        user = customer.user
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
