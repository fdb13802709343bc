"""Borrowers: search, register (individual or enterprise, optional portal account), and their loans."""

from __future__ import annotations

import re
from typing import Any

from django.contrib import messages
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views import View

from applications import services as application_services
from applications.models import Customer
from applications.selectors import customer_get_for_actor, customers_visible_to
from backoffice.forms import CustomerFilterForm, CustomerForm
from backoffice.views.base import (
    StaffPermissionMixin,
    apply_domain_error,
    is_htmx,
    paginate,
)
from compliance.pii import mask_id_number, mask_phone, pii_hash
from compliance.services import pii_reveal
from loanops.exceptions import DomainError

PHONE_RE = re.compile(r"^1\d{10}$")


class CustomerListView(StaffPermissionMixin, View):
    permission_required = "applications.view_customer"

    def get(self, request: HttpRequest) -> HttpResponse:
        form = CustomerFilterForm(request.GET)
        form.is_valid()
        data = form.cleaned_data
        customers = customers_visible_to(request.user).annotate(loan_count=Count("loans")).order_by("-id")
        query = (data.get("q") or "").strip()
        if query:
            compact = re.sub(r"[\s-]", "", query).upper()
            condition = Q(name__icontains=query)
            if PHONE_RE.match(compact):
                condition |= Q(phone_hash=pii_hash(compact))
            if len(compact) == 18:
                condition |= Q(id_number_hash=pii_hash(compact)) | Q(uscc=compact)
            customers = customers.filter(condition)
        if data.get("kind"):
            customers = customers.filter(kind=data["kind"])
        page = paginate(request, customers)
        for customer in page.object_list:
            customer.id_masked = mask_id_number(customer.id_number)  # type: ignore[attr-defined]
            customer.phone_masked = mask_phone(customer.phone)  # type: ignore[attr-defined]
        context = {"page_title": _("客户"), "form": form, "page_obj": page, "filtered": bool(query or data.get("kind"))}
        template = "backoffice/partials/customer_results.html" if is_htmx(request) else "backoffice/customer_list.html"
        return render(request, template, context)


class CustomerCreateView(StaffPermissionMixin, View):
    permission_required = "applications.add_customer"
    template_name = "backoffice/customer_form.html"

    def render_form(self, form: CustomerForm, status: int = 200) -> HttpResponse:
        return render(self.request, self.template_name, {"page_title": _("登记借款人"), "form": form}, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render_form(CustomerForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = CustomerForm(request.POST)
        if not form.is_valid():
            return self.render_form(form, status=400)
        try:
            customer = application_services.customer_create(
                actor=request.user,
                data=form.service_data(),
                portal_password=form.cleaned_data["portal_password"] or None,
            )
        except DomainError as exc:
            return self.render_form(form, status=apply_domain_error(form, exc))
        messages.success(request, _("借款人「%(name)s」已登记") % {"name": customer.name})
        return redirect("backoffice:customer-detail", pk=customer.pk)


class CustomerDetailView(StaffPermissionMixin, View):
    permission_required = "applications.view_customer"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        try:
            customer = customer_get_for_actor(actor=request.user, customer_id=pk)
        except Customer.DoesNotExist as exc:
            raise Http404("借款人不存在") from exc
        context: dict[str, Any] = {
            "page_title": customer.name,
            "customer": customer,
            "id_masked": mask_id_number(customer.id_number),
            "phone_masked": mask_phone(customer.phone),
            "loans": list(customer.loans.select_related("product").order_by("-id")),
            "can_create_loan": request.user.has_perm("applications.add_loan"),
            "can_view_pii": request.user.has_perm("compliance.view_pii"),
        }
        return render(request, "backoffice/customer_detail.html", context)


class CustomerRevealView(StaffPermissionMixin, View):
    """「显示完整号码」(htmx POST): the clear ID number or phone, for `compliance.view_pii`; audited."""

    permission_required = "compliance.view_pii"

    def post(self, request: HttpRequest, pk: int, field: str) -> HttpResponse:
        if field not in REVEALABLE_FIELDS:
            raise Http404("未知字段")
        try:
            customer = customer_get_for_actor(actor=request.user, customer_id=pk)
        except Customer.DoesNotExist as exc:
            raise Http404("借款人不存在") from exc
        value = pii_reveal(
            actor=request.user, subject=customer, field=field, ip_address=request.META.get("REMOTE_ADDR")
        )
        return render(request, "backoffice/partials/pii_value.html", {"value": value})


REVEALABLE_FIELDS = ("id_number", "phone")
