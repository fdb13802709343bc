"""Back-office pages of the product stage: the repayment calculator (还款试算) and the product catalogue.

Views are thin: forms check types, `loanops.schedule` and `underwriting.services` check everything else,
and their `InputError.fields` land on the matching form fields (`FIELD_MAP` renames where the form shows a
rate as a percentage). Every page is staff-only; anonymous users go to the login page, others without the
page's permission get 403. The services check permissions again.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from applications.models import DocumentType, Industry, Loan, Product
from applications.selectors import loan_get_for_actor
from loanops.exceptions import DomainError
from loanops.money import to_money
from loanops.pricing import annualised_rate
from loanops.schedule import build_schedule, summarize
from loanops.types import RepaymentMethod, RiskGrade
from underwriting.forms import CalculatorForm, LprDecisionForm, LprProposeForm, ProductForm, product_initial
from underwriting.matching import (
    format_terms,
    loan_match_request,
    loan_product_matching,
    product_rate_bands,
    product_terms,
)
from underwriting.models import LoanPrimeRate
from underwriting.rate_caps import lpr_history, rate_cap_for
from underwriting.selectors import add_months, product_loan_count, product_versions
from underwriting.services import lpr_approve, lpr_propose, lpr_reject, product_create, product_update

# --- shared -------------------------------------------------------------------------------------


class StaffPermissionRequiredMixin(PermissionRequiredMixin):
    """Staff only, plus `permission_required` (empty: any staff member)."""

    request: HttpRequest
    permission_required: Any = ()

    def has_permission(self) -> bool:
        user = self.request.user
        return bool(user.is_authenticated and user.is_active and user.is_staff) and super().has_permission()


def is_htmx(request: HttpRequest) -> bool:
    """An htmx request that wants a fragment (not a boosted full-page navigation)."""
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true"


def apply_domain_error(form: forms.Form, exc: DomainError, field_map: dict[str, str]) -> None:
    """Put a refusal on the form: field messages on their (renamed) fields, the rest as non-field errors."""
    placed = False
    for name, messages_ in (exc.fields or {}).items():
        target = field_map.get(name, name)
        for message in messages_ if isinstance(messages_, list | tuple) else [messages_]:
            if target in form.fields and not form.fields[target].disabled:
                form.add_error(target, str(message))
                placed = True
            else:
                form.add_error(None, str(message))
    if not placed:
        form.add_error(None, exc.message)


def first_due_date_default(today: date | None = None) -> date:
    """One month from today (clamped to month end), the usual first due date of a new loan."""
    return add_months(today or timezone.localdate(), 1)


def schedule_preview(
    *,
    principal: Decimal,
    annual_rate: Decimal,
    term_months: int,
    method: str,
    first_due_date: date,
    origination_fee_rate: Decimal = Decimal(0),
) -> dict[str, Any]:
    """A schedule with its totals and annualised rate (IRR, PBoC 2021 No. 3), as an offer would compute it.

    The borrower is taken to receive ``principal − to_money(principal × origination_fee_rate)`` one month
    before the first due date. Raises what `build_schedule` raises (`ScheduleInputError`, `DomainError`);
    ``apr`` is None when the rate is undefined (e.g. a fee that swallows the principal).
    """
    rows = build_schedule(
        principal=principal,
        annual_rate=annual_rate,
        term_months=term_months,
        method=method,
        first_due_date=first_due_date,
    )
    received = principal - to_money(principal * origination_fee_rate)
    apr: Decimal | None
    try:
        apr = annualised_rate(
            principal_received=received,
            payments=[(row.due_date, row.total) for row in rows],
            start=add_months(first_due_date, -1),
        )
    except ValueError:
        apr = None
    return {
        "rows": rows,
        "summary": summarize(rows),
        "apr": apr,
        "principal": principal,
        "annual_rate": annual_rate,
        "principal_received": received,
        "term_months": term_months,
        "method_label": RepaymentMethod(method).label,
    }


# --- calculator ---------------------------------------------------------------------------------


class CalculatorView(StaffPermissionRequiredMixin, View):
    """还款试算: any staff member; writes nothing.

    The form posts with htmx (`hx-post`) and swaps `#calculator` with the fragment; without JavaScript it
    posts normally and gets the whole page. Errors answer 400/422 to a plain post, but 200 to htmx (which
    does not swap 4xx answers by default), so the messages reach the screen either way.
    """

    template_name = "underwriting/calculator.html"
    partial_template_name = "underwriting/partials/calculator_panel.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        form = CalculatorForm(
            initial={
                "annual_rate_percent": "4.9",
                "method": RepaymentMethod.EQUAL_INSTALLMENT,
                "first_due_date": first_due_date_default(),
            }
        )
        return self.render_panel(form)

    def post(self, request: HttpRequest) -> HttpResponse:
        form = CalculatorForm(request.POST)
        if not form.is_valid():
            return self.render_panel(form, status=400)
        try:
            preview = schedule_preview(**form.schedule_kwargs())
        except DomainError as exc:
            apply_domain_error(form, exc, CalculatorForm.FIELD_MAP)
            return self.render_panel(form, status=exc.http_status)
        return self.render_panel(form, preview=preview)

    def render_panel(
        self, form: CalculatorForm, *, preview: dict[str, Any] | None = None, status: int = 200
    ) -> HttpResponse:
        context = {"form": form, "preview": preview, "page_title": _("还款试算"), "nav_active": "calculator"}
        if is_htmx(self.request):
            return render(self.request, self.partial_template_name, context)
        return render(self.request, self.template_name, context, status=status)


# --- product catalogue --------------------------------------------------------------------------


def _method_labels(product: Product) -> list[str]:
    return [str(RepaymentMethod(m).label) for m in product.repayment_methods or [] if m in RepaymentMethod.values]


def _document_labels(product: Product) -> list[str]:
    return [str(DocumentType(d).label) for d in product.required_documents or [] if d in DocumentType.values]


def _industry_labels(product: Product) -> list[str]:
    return [str(Industry(code).label) for code in product.excluded_industries or [] if code in Industry.values]


def _band_rows(product: Product) -> list[dict[str, Any]]:
    bands = product_rate_bands(product)
    return [{"grade": grade, "band": bands.get(grade)} for grade in RiskGrade.values]


def _get_product(pk: int) -> Product:
    try:
        return Product.objects.get(pk=pk)
    except Product.DoesNotExist as exc:
        raise Http404("产品不存在") from exc


class ProductListView(StaffPermissionRequiredMixin, View):
    """贷款产品目录: the current version of every product, on sale or not (one query); `?all=1` adds the
    versions that newer ones replaced."""

    permission_required = "applications.view_product"

    def get(self, request: HttpRequest) -> HttpResponse:
        show_all = request.GET.get("all") == "1"
        products = Product.objects.order_by("-is_active", "code", "-version")
        if not show_all:
            products = products.filter(retired_at__isnull=True)
        rows = list(products)
        for product in rows:
            product.method_labels = _method_labels(product)  # type: ignore[attr-defined]
            product.terms_label = format_terms(product_terms(product))  # type: ignore[attr-defined]
            product.grades_label = "、".join(product_rate_bands(product))  # type: ignore[attr-defined]
        context = {
            "page_title": _("贷款产品"),
            "products": rows,
            "show_all": show_all,
            "can_add": request.user.has_perm("applications.add_product"),
        }
        return render(request, "underwriting/product_list.html", context)


class ProductDetailView(StaffPermissionRequiredMixin, View):
    """One product version, its rate bands and version history, with a sample schedule at its maximum
    amount, minimum rate and maximum term."""

    permission_required = "applications.view_product"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        product = _get_product(pk)
        methods = [m for m in product.repayment_methods or [] if m in RepaymentMethod.values]
        preview: dict[str, Any] | None = None
        preview_error = ""
        if methods:
            try:
                preview = schedule_preview(
                    principal=product.max_amount,
                    annual_rate=product.min_rate,
                    term_months=product.max_term_months,
                    method=methods[0],
                    first_due_date=first_due_date_default(),
                    origination_fee_rate=product.origination_fee_rate,
                )
            except DomainError as exc:
                preview_error = exc.message
        else:
            preview_error = _("该产品未设置还款方式，无法试算。")
        versions = list(product_versions(product.code))
        context = {
            "page_title": product.name,
            "product": product,
            "method_labels": _method_labels(product),
            "document_labels": _document_labels(product),
            "industry_labels": _industry_labels(product),
            "terms_label": format_terms(product_terms(product)),
            "band_rows": _band_rows(product),
            "versions": versions,
            "current_version": next((v for v in versions if v.retired_at is None), None),
            "preview": preview,
            "preview_error": preview_error,
            "can_change": request.user.has_perm("applications.change_product") and product.retired_at is None,
        }
        return render(request, "underwriting/product_detail.html", context)


class ProductFormView(StaffPermissionRequiredMixin, View):
    """Create or edit a product through the catalogue services; bad input changes nothing (400)."""

    template_name = "underwriting/product_form.html"

    def get_product(self) -> Product | None:
        return None

    def save(self, form: ProductForm) -> Product:
        raise NotImplementedError

    def render_form(self, form: ProductForm, *, status: int = 200) -> HttpResponse:
        product = form.instance
        title = _("编辑产品：%(name)s") % {"name": product.name} if product else _("新建贷款产品")
        loans_using = product_loan_count(product) if product else 0
        context = {"page_title": title, "form": form, "product": product, "loans_using": loans_using}
        return render(self.request, self.template_name, context, status=status)

    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        product = self.get_product()
        if product is None:
            return self.render_form(ProductForm(initial=product_initial()))
        return self.render_form(ProductForm(instance=product))

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        form = ProductForm(request.POST, instance=self.get_product())
        if not form.is_valid():
            return self.render_form(form, status=400)
        try:
            product = self.save(form)
        except DomainError as exc:
            apply_domain_error(form, exc, ProductForm.FIELD_MAP)
            return self.render_form(form, status=exc.http_status)
        if form.instance is not None and product.pk != form.instance.pk:
            messages.success(
                request,
                _("已生成新版本 v%(version)s；已使用旧版本的贷款保持原条款不变") % {"version": product.version},
            )
        else:
            messages.success(request, _("产品「%(name)s」已保存") % {"name": product.name})
        return redirect("backoffice:product-detail", pk=product.pk)


class ProductCreateView(ProductFormView):
    permission_required = "applications.add_product"

    def save(self, form: ProductForm) -> Product:
        return product_create(actor=self.request.user, data=form.service_data())


class ProductEditView(ProductFormView):
    permission_required = "applications.change_product"

    def get_product(self) -> Product:
        return _get_product(self.kwargs["pk"])

    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        product = self.get_product()
        if product.retired_at is not None:  # only the current version is edited
            current = product_versions(product.code).filter(retired_at__isnull=True).first()
            messages.warning(request, _("该版本已被新版本取代，请编辑当前版本。"))
            return redirect("backoffice:product-detail", pk=(current or product).pk)
        return self.render_form(ProductForm(instance=product))

    def save(self, form: ProductForm) -> Product:
        assert form.instance is not None
        return product_update(actor=self.request.user, product_id=form.instance.pk, data=form.service_data())


# --- product matching on a loan -------------------------------------------------------------------


class LoanProductMatchingView(StaffPermissionRequiredMixin, View):
    """产品匹配 for one loan: every product on sale, eligible or not and why, ranked. Writes nothing.

    Loaded into the loan page with htmx (fragment); without JavaScript the link opens it as a page.
    """

    permission_required = ("applications.view_loan", "applications.view_product")

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        try:
            loan = loan_get_for_actor(actor=request.user, loan_id=pk)
        except Loan.DoesNotExist as exc:
            raise Http404("贷款不存在") from exc
        match_request = loan_match_request(loan)
        cap_error = ""
        cap = None
        try:
            cap = rate_cap_for(on=timezone.localdate())
        except DomainError as exc:
            cap_error = exc.message
        context = {
            "page_title": _("产品匹配"),
            "loan": loan,
            "grade": match_request["grade"],
            "amount": match_request["amount"],
            "term_months": match_request["term_months"],
            "matches": loan_product_matching(loan),
            "rate_cap": cap,
            "rate_cap_error": cap_error,
        }
        if is_htmx(request):
            return render(request, "underwriting/partials/matching_panel.html", context)
        return render(request, "underwriting/loan_matching.html", context)


# --- LPR table and the rate cap -------------------------------------------------------------------


class LprListView(StaffPermissionRequiredMixin, View):
    """一年期LPR: the table behind the legal rate cap, today's cap, a proposal form and the four-eyes check."""

    permission_required = "underwriting.view_loanprimerate"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render_page(LprProposeForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm("underwriting.add_loanprimerate"):
            raise PermissionDenied
        form = LprProposeForm(request.POST)
        if not form.is_valid():
            return self.render_page(form, status=400)
        try:
            lpr_propose(actor=request.user, **form.service_data())
        except DomainError as exc:
            apply_domain_error(form, exc, LprProposeForm.FIELD_MAP)
            return self.render_page(form, status=exc.http_status)
        messages.success(request, _("已录入，等待另一位经理复核后生效"))
        return redirect("backoffice:lpr-list")

    def render_page(self, form: LprProposeForm, *, status: int = 200) -> HttpResponse:
        cap = None
        cap_error = ""
        try:
            cap = rate_cap_for(on=timezone.localdate())
        except DomainError as exc:
            cap_error = exc.message
        user = self.request.user
        context = {
            "page_title": _("一年期LPR与利率上限"),
            "rows": lpr_history(),
            "form": form,
            "rate_cap": cap,
            "rate_cap_error": cap_error,
            "can_propose": user.has_perm("underwriting.add_loanprimerate"),
            "can_decide": user.has_perm("underwriting.approve_loanprimerate"),
            "decision_form": LprDecisionForm(),
        }
        return render(self.request, "underwriting/lpr_list.html", context, status=status)


class LprDecisionView(StaffPermissionRequiredMixin, View):
    """Approve or reject a proposed LPR (a manager other than its proposer); POST only."""

    permission_required = "underwriting.approve_loanprimerate"
    decision = "approve"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        form = LprDecisionForm(request.POST)
        note = form.cleaned_data["note"] if form.is_valid() else ""
        service = lpr_approve if self.decision == "approve" else lpr_reject
        try:
            row = service(actor=request.user, lpr_id=pk, note=note)
        except LoanPrimeRate.DoesNotExist as exc:
            raise Http404("LPR记录不存在") from exc
        except DomainError as exc:
            field_messages = [str(m) for items in (exc.fields or {}).values() for m in items]
            messages.error(request, "；".join(field_messages) if field_messages else exc.message)
            return redirect("backoffice:lpr-list")
        messages.success(
            request, _("%(day)s 的LPR已%(status)s") % {"day": row.published_on, "status": row.get_status_display()}
        )
        return redirect("backoffice:lpr-list")
