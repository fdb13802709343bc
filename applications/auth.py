"""Customers log in to the portal (and get API tokens) with their phone number and password.

Their Django username is random (the phone must not sit in clear in auth_user); the phone is found through
its keyed hash. `authenticate(phone=…)` (portal form) and `authenticate(username=<phone>)` (the token
endpoint, after ModelBackend found no such username) both land here.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from compliance.identity import PHONE_RE


class PhoneBackend(ModelBackend):
    def authenticate(  # type: ignore[override]
        self,
        request: HttpRequest | None,
        phone: str | None = None,
        password: str | None = None,
        username: str | None = None,
        **kwargs: Any,
    ) -> Any:
        candidate = (phone or username or "").strip().replace(" ", "").replace("-", "")
        if phone is None and not PHONE_RE.match(candidate):
            return None  # a staff username: ModelBackend's business
        if not candidate or not password:
            return None
        from applications.selectors import customer_by_phone

        customer = customer_by_phone(candidate)
        if customer is None or customer.user is None:
            # Run the hasher anyway so the response time does not reveal whether the phone exists.
            from django.contrib.auth.hashers import make_password

            make_password(password)
            return None
        user = customer.user
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
