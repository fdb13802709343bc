"""The blacklist (kept by risk and the department manager): list, add, deactivate, CSV import."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views import View

from backoffice.forms import BlacklistDeactivateForm, BlacklistEntryForm, BlacklistFilterForm, BlacklistImportForm
from backoffice.views.base import StaffPermissionMixin, apply_domain_error, is_htmx, paginate
from compliance import services as compliance_services
from compliance.blacklist import blacklist_entries
from compliance.models import BlacklistEntry
from compliance.pii import mask_id_number, mask_phone
from loanops.exceptions import DomainError

MAX_CSV_BYTES = 5 * 1024 * 1024


class BlacklistListView(StaffPermissionMixin, View):
    permission_required = "compliance.view_blacklistentry"

    def get(self, request: HttpRequest) -> HttpResponse:
        form = BlacklistFilterForm(request.GET)
        form.is_valid()
        data = form.cleaned_data
        status = data.get("status") or "active"
        active = {"active": True, "inactive": False}.get(status)
        page = paginate(request, blacklist_entries(query=data.get("q") or "", active=active))
        for entry in page.object_list:
            entry.id_masked = mask_id_number(entry.id_number)  # type: ignore[attr-defined]
            entry.phone_masked = mask_phone(entry.phone)  # type: ignore[attr-defined]
        context = {
            "page_title": _("黑名单"),
            "form": form,
            "page_obj": page,
            "deactivate_form": BlacklistDeactivateForm(),
            "filtered": bool(data.get("q")) or status != "active",
        }
        template = (
            "backoffice/partials/blacklist_results.html" if is_htmx(request) else "backoffice/blacklist_list.html"
        )
        return render(request, template, context)


class BlacklistCreateView(StaffPermissionMixin, View):
    permission_required = "compliance.add_blacklistentry"
    template_name = "backoffice/blacklist_form.html"

    def render_form(self, form: BlacklistEntryForm, status: int = 200) -> HttpResponse:
        return render(self.request, self.template_name, {"page_title": _("列入黑名单"), "form": form}, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render_form(BlacklistEntryForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = BlacklistEntryForm(request.POST)
        if not form.is_valid():
            return self.render_form(form, status=400)
        try:
            compliance_services.blacklist_add(actor=request.user, **form.cleaned_data)
        except DomainError as exc:
            return self.render_form(form, status=apply_domain_error(form, exc))
        messages.success(request, _("已列入黑名单"))
        return redirect("backoffice:blacklist-list")


class BlacklistDeactivateView(StaffPermissionMixin, View):
    permission_required = "compliance.change_blacklistentry"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not BlacklistEntry.objects.filter(pk=pk).exists():
            raise Http404("黑名单记录不存在")
        form = BlacklistDeactivateForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("请填写解除原因"))
            return redirect("backoffice:blacklist-list")
        try:
            compliance_services.blacklist_deactivate(
                actor=request.user, entry_id=pk, reason=form.cleaned_data["reason"]
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("黑名单记录已解除"))
        return redirect("backoffice:blacklist-list")


class BlacklistImportView(StaffPermissionMixin, View):
    permission_required = "compliance.add_blacklistentry"
    template_name = "backoffice/blacklist_import.html"

    def render_form(self, form: BlacklistImportForm, status: int = 200, **extra: Any) -> HttpResponse:
        context = {"page_title": _("导入黑名单"), "form": form, **extra}
        return render(self.request, self.template_name, context, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render_form(BlacklistImportForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = BlacklistImportForm(request.POST, request.FILES)
        if not form.is_valid():
            return self.render_form(form, status=400)
        upload = form.cleaned_data["file"]
        if upload.size > MAX_CSV_BYTES:
            form.add_error("file", _("文件过大：最大 5 MB"))
            return self.render_form(form, status=400)
        try:
            result = compliance_services.blacklist_import_csv(
                actor=request.user, content=upload.read(), default_source=form.cleaned_data["default_source"]
            )
        except DomainError as exc:
            row_errors = exc.fields.get("file", []) if exc.fields else []
            form.add_error(None, exc.message)
            return self.render_form(form, status=exc.http_status, row_errors=row_errors)
        messages.success(
            request,
            _("已导入 %(created)d 条，跳过已在名单中的 %(skipped)d 条")
            % {"created": result.created, "skipped": result.skipped},
        )
        return redirect("backoffice:blacklist-list")


class BlacklistRevealView(StaffPermissionMixin, View):
    """「显示完整号码」on a blacklist entry (htmx POST), for `compliance.view_pii`; audited."""

    permission_required = "compliance.view_pii"

    def post(self, request: HttpRequest, pk: int, field: str) -> HttpResponse:
        entry = BlacklistEntry.objects.filter(pk=pk).first()
        if (
            entry is None
            or field not in ("id_number", "phone")
            or not request.user.has_perm("compliance.view_blacklistentry")
        ):
            raise Http404("黑名单记录不存在")
        value = compliance_services.pii_reveal(
            actor=request.user, subject=entry, field=field, ip_address=request.META.get("REMOTE_ADDR")
        )
        return render(request, "backoffice/partials/pii_value.html", {"value": value})
