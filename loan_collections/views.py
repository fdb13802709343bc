"""Back-office pages of collections: the case queue (我的案件 / 全部案件) and the case page with the contact
log, promises, named contacts, consent and — for managers — assignment and escalation.

Views are thin: forms check types, the services check the rules (a contact the policy refuses comes back
as a form error, status 422, and appears in the history as refused).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views import View

from compliance.pii import mask_id_number, mask_phone
from loan_collections import services
from loan_collections.case_models import CaseStatus, CollectionCase, PromiseStatus
from loan_collections.case_selectors import (
    case_arrears,
    case_contacts,
    case_events,
    case_get_for_actor,
    case_next_action,
    case_promises,
    case_queue,
    consent_active,
    may_see_all_cases,
    named_contacts_of,
)
from loan_collections.forms import (
    AssignForm,
    CaseFilterForm,
    ConsentForm,
    ContactForm,
    EscalateForm,
    NamedContactForm,
    PromiseForm,
)
from loan_collections.policy import CONTACT_TZ, contact_policy
from loanops.exceptions import DomainError
from servicing.services.business_date import business_date_get
from underwriting.views import StaffPermissionRequiredMixin, apply_domain_error, is_htmx

VIEW = "collections.view_collectioncase"
PAGE_SIZE = 25


def get_case_or_404(request: HttpRequest, case_id: int) -> CollectionCase:
    try:
        return case_get_for_actor(actor=request.user, case_id=case_id)
    except CollectionCase.DoesNotExist as exc:
        raise Http404("案件不存在") from exc


class CaseListView(StaffPermissionRequiredMixin, View):
    """催收案件: 我的案件 for everyone who works cases, 全部案件 for managers; filters; htmx results."""

    permission_required = VIEW

    def get(self, request: HttpRequest) -> HttpResponse:
        can_see_all = may_see_all_cases(request.user)
        scope = request.GET.get("scope", "mine")
        if scope != "all" or not can_see_all:
            scope = "mine"
        form = CaseFilterForm(request.GET or None)
        data = form.cleaned_data if form.is_valid() else {}
        status = data.get("status") or "open"
        filters = {
            "status": "" if status == "any" else status,
            "level": data.get("level"),
            "bucket": data.get("bucket"),
            "priority": data.get("priority"),
            "unassigned": data.get("unassigned"),
            "q": data.get("q"),
        }
        queryset = case_queue(request.user, mine=scope == "mine", filters=filters)
        page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
        for case in page.object_list:
            case.customer_phone_masked = mask_phone(case.customer.phone)  # type: ignore[attr-defined]
        context = {
            "page_title": _("我的案件") if scope == "mine" else _("全部案件"),
            "form": form,
            "page_obj": page,
            "scope": scope,
            "can_see_all": can_see_all,
            "filtered": any(filters[key] for key in ("level", "bucket", "priority", "unassigned", "q")),
        }
        template = "collections/backoffice/partials/case_results.html" if is_htmx(request) else None
        return render(request, template or "collections/backoffice/case_list.html", context)


class CaseDetailView(StaffPermissionRequiredMixin, View):
    """The case page: loan, customer (masked), arrears itemised, next action, contacts, promises, history."""

    permission_required = VIEW

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return render_case(request, get_case_or_404(request, pk))


def render_case(
    request: HttpRequest, case: CollectionCase, *, bound: dict[str, forms.Form] | None = None, status: int = 200
) -> HttpResponse:
    user: Any = request.user
    today = business_date_get()
    promises = list(case_promises(case))
    pending = next((p for p in promises if p.status == PromiseStatus.PENDING), None)
    contacts = list(named_contacts_of(case.customer_id))
    for contact in contacts:
        contact.phone_masked = mask_phone(contact.phone)  # type: ignore[attr-defined]
    attempts = list(case_contacts(case))
    for attempt in attempts:
        attempt.number_masked = mask_phone(attempt.number)  # type: ignore[attr-defined]
        attempt.local_label = f"{attempt.attempted_at.astimezone(CONTACT_TZ):%Y-%m-%d %H:%M}"  # type: ignore[attr-defined]
    is_open = case.status == CaseStatus.OPEN
    can_manage = user.has_perm("collections.assign_collectioncase")
    staff = list(
        get_user_model()
        .objects.filter(groups__name=case.responsible_role, is_active=True, is_staff=True)
        .order_by("username")
    )
    all_forms: dict[str, forms.Form] = {
        "contact_form": ContactForm(named_contacts=contacts),
        "promise_form": PromiseForm(initial={"promised_date": today}),
        "named_contact_form": NamedContactForm(),
        "consent_form": ConsentForm(),
        "assign_form": AssignForm(staff=staff, initial={"assignee": case.assigned_to_id}),
        "escalate_form": EscalateForm(initial={"level": case.level}),
    }
    all_forms.update(bound or {})
    policy = contact_policy()
    context = {
        "page_title": _("催收案件 #%(id)s") % {"id": case.pk},
        "case": case,
        "loan": case.loan,
        "customer": case.customer,
        "customer_id_masked": mask_id_number(case.customer.id_number or case.customer.uscc),
        "customer_phone_masked": mask_phone(case.customer.phone),
        "arrears": case_arrears(case, on=today),
        "business_date": today,
        "next_action": case_next_action(case, pending=pending),
        "attempts": attempts,
        "promises": promises,
        "pending_promise": pending,
        "events": list(case_events(case)),
        "named_contacts": contacts,
        "consent": consent_active(case.customer_id),
        "policy": policy,
        "is_open": is_open,
        "can_contact": is_open and user.has_perm("collections.add_contactattempt"),
        "can_promise": is_open
        and (pending is None or "promise_form" in (bound or {}))  # a refused form shows its error
        and user.has_perm("collections.add_promisetopay"),
        "can_add_contacts": user.has_perm("collections.add_namedcontact"),
        "can_consent": user.has_perm("collections.add_contactconsent"),
        "can_manage": is_open and can_manage,
        **all_forms,
    }
    return render(request, "collections/backoffice/case_detail.html", context, status=status)


class _CaseFormView(StaffPermissionRequiredMixin, View):
    """POST one form of the case page; success → back to the case, refusal → the page with the form's errors."""

    form_name = ""
    anchor = ""

    def make_form(self, request: HttpRequest, case: CollectionCase) -> forms.Form:
        raise NotImplementedError

    def perform(self, request: HttpRequest, case: CollectionCase, data: dict[str, Any]) -> str:
        raise NotImplementedError

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        case = get_case_or_404(request, pk)
        form = self.make_form(request, case)
        if not form.is_valid():
            return render_case(request, case, bound={self.form_name: form}, status=400)
        try:
            message = self.perform(request, case, form.cleaned_data)
        except DomainError as exc:
            status = apply_domain_error_status(form, exc)
            return render_case(request, get_case_or_404(request, pk), bound={self.form_name: form}, status=status)
        messages.success(request, message)
        return redirect(reverse("backoffice:collections-case-detail", kwargs={"pk": case.pk}) + self.anchor)


def apply_domain_error_status(form: forms.Form, exc: DomainError) -> int:
    apply_domain_error(form, exc, {"named_contact_id": "named_contact", "assignee_id": "assignee"})
    return exc.http_status


class ContactLogView(_CaseFormView):
    permission_required = "collections.add_contactattempt"
    form_name, anchor = "contact_form", "#contacts"

    def make_form(self, request: HttpRequest, case: CollectionCase) -> forms.Form:
        return ContactForm(request.POST, named_contacts=list(named_contacts_of(case.customer_id)))

    def perform(self, request: HttpRequest, case: CollectionCase, data: dict[str, Any]) -> str:
        services.contact_attempt_log(
            actor=request.user,
            case_id=case.pk,
            channel=data["channel"],
            party=data["party"],
            named_contact_id=data["named_contact"],
            number=data["number"],
            outcome=data["outcome"],
            note=data["note"],
            next_action=data["next_action"],
            next_action_on=data["next_action_on"],
        )
        return str(_("已登记联系记录"))


class PromiseCreateView(_CaseFormView):
    permission_required = "collections.add_promisetopay"
    form_name, anchor = "promise_form", "#promises"

    def make_form(self, request: HttpRequest, case: CollectionCase) -> forms.Form:
        return PromiseForm(request.POST)

    def perform(self, request: HttpRequest, case: CollectionCase, data: dict[str, Any]) -> str:
        promise = services.promise_create(
            actor=request.user,
            case_id=case.pk,
            amount=data["amount"],
            promised_date=data["promised_date"],
            note=data["note"],
        )
        return str(_("已登记承诺还款：%(date)s 前还款 %(amount)s 元")) % {
            "date": promise.promised_date.isoformat(),
            "amount": promise.amount,
        }


class NamedContactCreateView(_CaseFormView):
    permission_required = "collections.add_namedcontact"
    form_name, anchor = "named_contact_form", "#named-contacts"

    def make_form(self, request: HttpRequest, case: CollectionCase) -> forms.Form:
        return NamedContactForm(request.POST)

    def perform(self, request: HttpRequest, case: CollectionCase, data: dict[str, Any]) -> str:
        services.named_contact_add(actor=request.user, customer_id=case.customer_id, **data)
        return str(_("已登记指定联系人"))


class ConsentView(_CaseFormView):
    permission_required = "collections.add_contactconsent"
    form_name, anchor = "consent_form", "#named-contacts"

    def make_form(self, request: HttpRequest, case: CollectionCase) -> forms.Form:
        return ConsentForm(request.POST)

    def perform(self, request: HttpRequest, case: CollectionCase, data: dict[str, Any]) -> str:
        if data["granted"]:
            services.contact_consent_grant(actor=request.user, customer_id=case.customer_id, note=data["note"])
            return str(_("已登记借款人同意夜间联系"))
        services.contact_consent_revoke(actor=request.user, customer_id=case.customer_id, note=data["note"])
        return str(_("已撤回夜间联系同意"))


class CaseAssignView(_CaseFormView):
    permission_required = "collections.assign_collectioncase"
    form_name, anchor = "assign_form", "#history"

    def make_form(self, request: HttpRequest, case: CollectionCase) -> forms.Form:
        staff = get_user_model().objects.filter(groups__name=case.responsible_role, is_active=True, is_staff=True)
        return AssignForm(request.POST, staff=list(staff))

    def perform(self, request: HttpRequest, case: CollectionCase, data: dict[str, Any]) -> str:
        services.case_assign(actor=request.user, case_id=case.pk, assignee_id=data["assignee"], reason=data["reason"])
        return str(_("已分案"))


class CaseEscalateView(_CaseFormView):
    permission_required = "collections.assign_collectioncase"
    form_name, anchor = "escalate_form", "#history"

    def make_form(self, request: HttpRequest, case: CollectionCase) -> forms.Form:
        return EscalateForm(request.POST)

    def perform(self, request: HttpRequest, case: CollectionCase, data: dict[str, Any]) -> str:
        services.case_escalate(actor=request.user, case_id=case.pk, level=data["level"], reason=data["reason"])
        return str(_("已调整催收阶段"))
