"""Customer portal (借款人服务门户): my loans, apply, documents, offer, contract signing, schedule.

The portal checks ownership, not permissions (STYLE §7.6): every loan id goes through
`applications.selectors.loan_get_for_actor`, which raises `Loan.DoesNotExist` for anyone else's loan
(answered 404). Only customers get in: staff get 403, anonymous visitors go to the portal login.
Writes go through the stage services; their `DomainError`/`InputError` become a message on the page
with the error's HTTP status (422/400/409).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.views import View

from applications import selectors as app_selectors
from applications import services as app_services
from applications.models import PRE_DISBURSEMENT, DocumentType, Loan, LoanDocument, LoanStatus
from contracts import selectors as contract_selectors
from contracts import services as contract_services
from contracts.models import Contract
from loanops.exceptions import DomainError
from loanops.schedule import build_schedule, summarize
from portal.forms import (
    ContractSignForm,
    DocumentUploadForm,
    LoanApplyForm,
    PortalLoginForm,
    WithdrawForm,
)
from servicing import selectors as servicing_selectors
from underwriting.models import RiskReview
from underwriting.selectors import REJECT_REASONS

S = LoanStatus
DOCUMENT_STATUSES = {S.DRAFT, S.SUPPLEMENT_REQUIRED}
SUBMIT_STATUSES = {S.DRAFT, S.SUPPLEMENT_REQUIRED}
WITHDRAW_STATUSES = set(PRE_DISBURSEMENT)  # the customer may withdraw any time before disbursement
SERVICING_VIEW_STATUSES = {S.ACTIVE, S.OVERDUE, S.SETTLED, S.ARCHIVED, S.WRITTEN_OFF}


# --- access ------------------------------------------------------------------------------------


class CustomerRequiredMixin:
    """Anonymous → the portal login (with ?next=); logged-in staff or non-customers → 403."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("portal:login"))
        if not app_selectors.is_customer(user):
            raise PermissionDenied(_("借款人服务门户仅供借款人使用，工作人员请使用业务后台。"))
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]


def get_own_loan(request: HttpRequest, loan_id: int) -> Loan:
    """The only way a portal view turns a loan id into a loan: ownership-checked, 404 otherwise."""
    try:
        return app_selectors.loan_get_for_actor(actor=request.user, loan_id=loan_id)
    except Loan.DoesNotExist:
        raise Http404(_("没有找到这笔贷款")) from None


def customer_stage_label(loan: Loan) -> str:
    """The loan's status in customer words: the current portal stage, or the status for ended loans."""
    key = app_selectors.portal_stage_key(loan.status)
    for stage in app_selectors.PORTAL_STAGES:
        if stage.key == key:
            if loan.status == S.SUPPLEMENT_REQUIRED:
                return str(S.SUPPLEMENT_REQUIRED.label)
            return str(stage.label)
    return str(loan.get_status_display())


# --- login -------------------------------------------------------------------------------------


class PortalLoginView(View):
    template_name = "portal/login.html"

    def _next(self, request: HttpRequest) -> str:
        target = request.POST.get("next") or request.GET.get("next") or ""
        if target and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return target
        return ""

    def get(self, request: HttpRequest) -> HttpResponse:
        if app_selectors.is_customer(request.user):
            return redirect(self._next(request) or "portal:home")
        return render(request, self.template_name, {"form": PortalLoginForm(request), "next": self._next(request)})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = PortalLoginForm(request, data=request.POST)
        if form.is_valid():
            auth_login(request, form.get_user())
            return redirect(self._next(request) or "portal:home")
        return render(request, self.template_name, {"form": form, "next": self._next(request)}, status=200)


# --- my loans ----------------------------------------------------------------------------------


class LoanListView(CustomerRequiredMixin, View):
    """我的贷款: one card per application or loan, newest first. A fixed number of queries."""

    def get(self, request: HttpRequest) -> HttpResponse:
        loans = list(
            app_selectors.loans_visible_to(request.user)
            .prefetch_related(Prefetch("documents", queryset=LoanDocument.objects.only("id", "loan_id", "doc_type")))
            .order_by("-created_at", "-id")
        )
        cards = []
        for loan in loans:
            missing: list[str] = []
            if loan.status == S.DRAFT:
                present = {doc.doc_type for doc in loan.documents.all()}
                missing = app_selectors.loan_missing_documents(loan, present=present)
            cards.append(
                {
                    "loan": loan,
                    "stage_label": customer_stage_label(loan),
                    "next_step": app_selectors.NEXT_STEP.get(S(loan.status), ""),
                    "missing_count": len(missing),
                    "amount": loan.principal if loan.principal is not None else loan.requested_amount,
                    "term": loan.term_months or loan.requested_term_months,
                    "ended": app_selectors.portal_stage_key(loan.status) is None,
                    "needs_action": loan.status
                    in {S.DRAFT, S.SUPPLEMENT_REQUIRED, S.OFFERED, S.CONTRACT_PENDING, S.OVERDUE},
                }
            )
        return render(request, "portal/home.html", {"cards": cards, "page_title": _("我的贷款")})


class LoanApplyView(CustomerRequiredMixin, View):
    """申请贷款: an active product for my applicant type → applications.services.loan_create."""

    def _products(self, request: HttpRequest) -> Any:
        customer = request.user.customer  # type: ignore[union-attr]
        return app_selectors.products_active().filter(applicant_type=customer.kind).order_by("name")

    def _render(self, request: HttpRequest, form: LoanApplyForm, status: int = 200) -> HttpResponse:
        return render(
            request,
            "portal/apply.html",
            {"form": form, "products": form.fields["product"].queryset, "page_title": _("申请贷款")},  # type: ignore[attr-defined]
            status=status,
        )

    def get(self, request: HttpRequest) -> HttpResponse:
        initial = {}
        product_id = request.GET.get("product")
        if product_id and product_id.isdigit():
            initial["product"] = int(product_id)
        return self._render(request, LoanApplyForm(products=self._products(request), initial=initial))

    def post(self, request: HttpRequest) -> HttpResponse:
        form = LoanApplyForm(request.POST, products=self._products(request))
        if not form.is_valid():
            return self._render(request, form, status=400)
        data = form.cleaned_data
        try:
            loan = app_services.loan_create(
                actor=request.user,
                customer_id=request.user.customer.pk,  # type: ignore[union-attr]
                product_id=data["product"].pk,
                requested_amount=data["requested_amount"],
                requested_term_months=data["requested_term_months"],
                purpose=data["purpose"],
                repayment_source=data.get("repayment_source") or "",
            )
        except DomainError as exc:
            form.add_service_errors(exc)
            messages.error(request, exc.message)
            return self._render(request, form, status=exc.http_status)
        messages.success(request, _("申请 %(ref)s 已创建。请上传所需材料，然后提交申请。") % {"ref": loan.reference})
        return redirect("portal:loan-detail", loan_id=loan.pk)


# --- one loan ----------------------------------------------------------------------------------


def _stage_rows(loan: Loan, now: datetime) -> list[dict[str, Any]]:
    """The six stages with the time spent in each; an ended loan (rejected, withdrawn, written off) shows
    the stages it went through, then a final item saying how it ended."""
    ended_early = app_selectors.portal_stage_key(loan.status) is None
    rows = []
    for stage in app_selectors.portal_progress(loan):
        started, ended = stage["started"], stage["ended"]
        state = stage["state"]
        if ended_early:
            if not started:
                continue  # an ended loan shows the stages it went through, then how it ended
            state = "done"
            ended = ended or loan.status_changed_at
        duration = ""
        if started and state in ("done", "current") and stage["key"] != "settled" and (state == "current" or ended):
            duration = timesince(started, ended or now, depth=2)
        rows.append({**stage, "state": state, "ended": ended, "duration": duration, "failed": False})
    if ended_early:
        rows.append(
            {
                "key": "ended",
                "label": loan.get_status_display(),
                "state": "current",
                "started": loan.status_changed_at,
                "ended": None,
                "duration": "",
                "failed": True,
            }
        )
    return rows


def _supplement_context(loan: Loan, documents: list[LoanDocument]) -> dict[str, Any] | None:
    """The latest open supplement round, for display: its items and whether each is supplied yet."""
    request_row = app_selectors.supplement_open(loan)
    if request_row is None:
        return None
    supplied = app_selectors.supplement_items_supplied(request_row, documents)
    items = [item for item in request_row.items if item in DocumentType.values]
    return {
        "request": request_row,
        "message": request_row.message,
        "labels": "、".join(str(DocumentType(item).label) for item in items),
        "items": [
            {"doc_type": item, "label": DocumentType(item).label, "supplied": item in supplied} for item in items
        ],
    }


def _reject_text(loan: Loan) -> str:
    review = RiskReview.objects.filter(loan=loan, outcome=RiskReview.Outcome.REJECT).order_by("-id").first()
    codes = [code for code in (review.reason_codes if review else []) if code in REJECT_REASONS]
    if codes:
        return REJECT_REASONS[codes[0]][1]
    return str(app_selectors.NEXT_STEP[S.REJECTED])


def _offer_context(loan: Loan) -> dict[str, Any]:
    context: dict[str, Any] = {"offer_rows": [], "offer_summary": None, "offer_error": ""}
    principal, annual_rate, term = loan.principal, loan.annual_rate, loan.term_months
    method, first_due_date = loan.repayment_method, loan.first_due_date
    if principal is None or annual_rate is None or term is None or not method or first_due_date is None:
        context["offer_error"] = _("借款方案尚未生成完整，请稍后刷新页面。")
        return context
    try:
        rows = build_schedule(
            principal=principal,
            annual_rate=annual_rate,
            term_months=term,
            method=method,
            first_due_date=first_due_date,
        )
    except DomainError:
        context["offer_error"] = _("还款计划暂时无法生成，请联系客服。")
        return context
    context["offer_rows"] = rows
    context["offer_summary"] = summarize(rows)
    return context


def loan_detail_context(request: HttpRequest, loan: Loan, **overrides: Any) -> dict[str, Any]:
    now = timezone.now()
    status = S(loan.status)
    documents = list(loan.documents.order_by("doc_type", "-id"))
    context: dict[str, Any] = {
        "loan": loan,
        "page_title": _("贷款详情"),
        "stage_label": customer_stage_label(loan),
        "stages": _stage_rows(loan, now),
        "next_step": app_selectors.NEXT_STEP.get(status, ""),
        "can_submit": status in SUBMIT_STATUSES,
        "can_withdraw": status in WITHDRAW_STATUSES,
        "show_documents": status in DOCUMENT_STATUSES,
        "withdraw_form": overrides.pop("withdraw_form", None) or WithdrawForm(),
        "is_problem": status in {S.SUPPLEMENT_REQUIRED, S.OVERDUE},
        # the agreed terms, once the offer was accepted (the offer card shows them while `offered`)
        "show_terms": loan.principal is not None
        and status not in {S.OFFERED, S.CONTRACT_PENDING, S.REJECTED, S.WITHDRAWN},
    }
    if status in DOCUMENT_STATUSES:
        supplement = _supplement_context(loan, documents) if status == S.SUPPLEMENT_REQUIRED else None
        outstanding = app_selectors.loan_outstanding_items(
            loan, documents=documents, supplement=supplement["request"] if supplement else None
        )
        bound_forms: dict[str, DocumentUploadForm] = overrides.pop("upload_forms", {})
        latest: dict[str, LoanDocument] = {}
        for doc in documents:
            latest.setdefault(doc.doc_type, doc)
        supplement_items = supplement["items"] if supplement else []
        supplement_types = {item["doc_type"] for item in supplement_items}
        pending_supplement = {item["doc_type"] for item in supplement_items if not item["supplied"]}
        checklist = []
        for doc_type in app_selectors.required_documents(loan):
            checklist.append(
                {
                    "doc_type": doc_type,
                    "label": app_selectors.document_label(doc_type, loan.customer.kind),
                    "missing": doc_type not in latest,
                    # asked for again in the open supplement round: uploaded in the supplement card
                    "resupply": doc_type in supplement_types,
                    "resupply_pending": doc_type in pending_supplement,
                    "document": latest.get(doc_type),
                    "form": bound_forms.get(doc_type) or DocumentUploadForm(doc_type=doc_type),
                }
            )
        if supplement:
            for item in supplement["items"]:
                item["form"] = bound_forms.get(item["doc_type"]) or DocumentUploadForm(doc_type=item["doc_type"])
                item["document"] = latest.get(item["doc_type"]) if item["supplied"] else None
        context.update(
            {
                "supplement": supplement,
                "checklist": checklist,
                "outstanding": outstanding,
                "outstanding_labels": "、".join(str(DocumentType(item).label) for item in outstanding),
                "documents": documents,
            }
        )
    if status == S.OFFERED:
        context.update(_offer_context(loan))
    if status == S.CONTRACT_PENDING:
        context["contract"] = contract_selectors.contract_current(loan)
        context["sign_form"] = overrides.pop("sign_form", None) or ContractSignForm()
    elif status in {S.CONTRACT_SIGNED, S.DISBURSEMENT_PENDING, *SERVICING_VIEW_STATUSES}:
        context["contract"] = contract_selectors.contract_current(loan)
    context["show_servicing"] = status in SERVICING_VIEW_STATUSES
    if status in SERVICING_VIEW_STATUSES:
        installments = list(servicing_selectors.schedule_current(loan))
        context["installments"] = installments
        context["schedule_version"] = servicing_selectors.schedule_version_current_or_none(loan)
        context["repayments"] = list(loan.repayments.order_by("-paid_on", "-id"))
        context["paid_periods"] = sum(1 for row in installments if row.status == "paid")
    if status == S.REJECTED:
        context["reject_text"] = _reject_text(loan)
    context.update(overrides)
    return context


def render_loan_detail(request: HttpRequest, loan: Loan, *, status: int = 200, **overrides: Any) -> HttpResponse:
    return render(request, "portal/loan_detail.html", loan_detail_context(request, loan, **overrides), status=status)


class LoanDetailView(CustomerRequiredMixin, View):
    def get(self, request: HttpRequest, loan_id: int) -> HttpResponse:
        return render_loan_detail(request, get_own_loan(request, loan_id))


class LoanActionView(CustomerRequiredMixin, View):
    """A POST on one of my loans: run `perform`, then back to the loan page (PRG), or show the refusal."""

    success_message = ""

    def perform(self, request: HttpRequest, loan: Loan) -> HttpResponse | None:
        raise NotImplementedError

    def post(self, request: HttpRequest, loan_id: int) -> HttpResponse:
        loan = get_own_loan(request, loan_id)
        try:
            response = self.perform(request, loan)
        except Loan.DoesNotExist:
            raise Http404(_("没有找到这笔贷款")) from None
        except DomainError as exc:
            return self.refused(request, loan_id, exc)
        if response is not None:
            return response
        if self.success_message:
            messages.success(request, self.success_message)
        return redirect("portal:loan-detail", loan_id=loan.pk)

    def refused(self, request: HttpRequest, loan_id: int, exc: DomainError, **overrides: Any) -> HttpResponse:
        messages.error(request, exc.message)
        return render_loan_detail(request, get_own_loan(request, loan_id), status=exc.http_status, **overrides)


class DocumentUploadView(LoanActionView):
    def post(self, request: HttpRequest, loan_id: int, doc_type: str = "") -> HttpResponse:  # type: ignore[override]
        if doc_type not in DocumentType.values:
            raise Http404(_("未知的材料类型"))
        self.doc_type = doc_type
        return super().post(request, loan_id)

    def perform(self, request: HttpRequest, loan: Loan) -> HttpResponse | None:
        form = DocumentUploadForm(request.POST, request.FILES, doc_type=self.doc_type)
        if not form.is_valid():
            messages.error(
                request,
                _("上传失败：%(errors)s") % {"errors": " ".join(str(error) for error in form.errors.get("file", []))},
            )
            return render_loan_detail(request, loan, status=400, upload_forms={self.doc_type: form})
        try:
            app_services.document_upload(
                actor=request.user, loan_id=loan.pk, doc_type=self.doc_type, upload=form.cleaned_data["file"]
            )
        except DomainError as exc:
            form.add_service_errors(exc)
            return self.refused(request, loan.pk, exc, upload_forms={self.doc_type: form})
        messages.success(request, _("「%(label)s」已上传。") % {"label": DocumentType(self.doc_type).label})
        return None


class LoanSubmitView(LoanActionView):
    def perform(self, request: HttpRequest, loan: Loan) -> HttpResponse | None:
        # Completeness (required documents, supplement items) is enforced by the service.
        app_services.loan_submit(actor=request.user, loan_id=loan.pk, reason=_("借款人在门户提交申请"))
        messages.success(request, _("申请已提交，我们会尽快审核。"))
        return None


class LoanWithdrawView(LoanActionView):
    def perform(self, request: HttpRequest, loan: Loan) -> HttpResponse | None:
        form = WithdrawForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("请填写撤回原因。"))
            return render_loan_detail(request, loan, status=400, withdraw_form=form)
        try:
            app_services.loan_withdraw(actor=request.user, loan_id=loan.pk, reason=form.cleaned_data["reason"])
        except DomainError as exc:
            form.add_service_errors(exc)
            return self.refused(request, loan.pk, exc, withdraw_form=form)
        messages.success(request, _("申请已撤回。"))
        return None


class OfferAcceptView(LoanActionView):
    def perform(self, request: HttpRequest, loan: Loan) -> HttpResponse | None:
        contract_services.loan_accept_offer(actor=request.user, loan_id=loan.pk, reason=_("借款人在门户接受方案"))
        messages.success(request, _("您已接受借款方案，请阅读借款合同并完成签署。"))
        return None


class ContractSignView(LoanActionView):
    def perform(self, request: HttpRequest, loan: Loan) -> HttpResponse | None:
        form = ContractSignForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("请先勾选同意《借款合同》全部条款，才能签署。"))
            return render_loan_detail(request, loan, status=400, sign_form=form)
        try:
            contract_services.contract_sign(
                actor=request.user,
                loan_id=loan.pk,
                consent=True,
                ip_address=request.META.get("REMOTE_ADDR"),
                user_agent=request.META.get("HTTP_USER_AGENT", "")[:512],
            )
        except DomainError as exc:
            form.add_service_errors(exc)
            return self.refused(request, loan.pk, exc, sign_form=form)
        messages.success(request, _("合同已签署，我们正在安排放款。"))
        return None


class ContractDownloadView(CustomerRequiredMixin, View):
    def get(self, request: HttpRequest, contract_id: int) -> FileResponse:
        try:
            contract = contract_selectors.contract_get_for_actor(actor=request.user, contract_id=contract_id)
        except (Contract.DoesNotExist, Loan.DoesNotExist):
            raise Http404(_("没有找到这份合同")) from None
        if not contract.file:
            raise Http404(_("合同文件尚未生成"))
        try:
            handle = contract.file.open("rb")
        except FileNotFoundError:
            raise Http404(_("合同文件尚未生成")) from None
        return FileResponse(
            handle, content_type="application/pdf", as_attachment=False, filename=f"{contract.number}.pdf"
        )


class SettlementCertificateDownloadView(CustomerRequiredMixin, View):
    """The customer's own settlement certificate (结清证明); anyone else's, or none yet, is 404."""

    def get(self, request: HttpRequest, loan_id: int) -> FileResponse:
        from servicing.models import SettlementCertificate

        try:
            certificate = servicing_selectors.settlement_certificate_get_for_actor(actor=request.user, loan_id=loan_id)
            handle = certificate.file.open("rb")
        except (SettlementCertificate.DoesNotExist, FileNotFoundError, ValueError):
            raise Http404(_("没有找到结清证明")) from None
        return FileResponse(
            handle, content_type="application/pdf", as_attachment=False, filename=f"{certificate.number}.pdf"
        )
