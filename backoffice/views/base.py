"""Shared pieces of the back-office views: access control, error translation, htmx."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.paginator import Page, Paginator
from django.http import Http404, HttpRequest

from applications.models import Loan
from applications.selectors import loan_get_for_actor
from loanops.exceptions import DomainError

PAGE_SIZE = 25


class StaffPermissionMixin(PermissionRequiredMixin):
    """Every back-office page: staff only, plus the page's own permission.

    Anonymous users are redirected to the login page; a logged-in user who is not staff or lacks the
    permission gets 403 (Django's `PermissionRequiredMixin` behaviour). The services check again.
    """

    request: HttpRequest

    def has_permission(self) -> bool:
        user = self.request.user
        return bool(user.is_authenticated and user.is_active and user.is_staff) and super().has_permission()


def is_htmx(request: HttpRequest) -> bool:
    """An htmx request that wants a fragment (not a boosted full-page navigation)."""
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true"


def get_loan_or_404(request: HttpRequest, loan_id: int) -> Loan:
    try:
        return loan_get_for_actor(actor=request.user, loan_id=loan_id)
    except Loan.DoesNotExist as exc:
        raise Http404("贷款不存在") from exc


def paginate(request: HttpRequest, queryset: Any, per_page: int = PAGE_SIZE) -> Page:
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


def apply_domain_error(form: forms.Form, exc: DomainError, *, field_map: dict[str, str] | None = None) -> int:
    """Put a service's refusal onto the form and return the HTTP status to re-render with.

    The message becomes a non-field error; field messages (`InputError.fields`) land on the matching form
    field (renamed through `field_map` when the service and the form name a field differently), or are
    added as non-field errors when the form has no such field.
    """
    field_map = field_map or {}
    form.add_error(None, exc.message)
    for name, messages in (exc.fields or {}).items():
        target = field_map.get(name, name)
        for message in messages if isinstance(messages, list | tuple) else [messages]:
            if target in form.fields:
                form.add_error(target, str(message))
            elif name in ("__all__", "non_field_errors"):
                form.add_error(None, str(message))
            else:
                form.add_error(None, f"{name}：{message}")
    return exc.http_status
