"""Work queue, loan search, the loan file (detail), new applications, documents and downloads."""

from __future__ import annotations

import re
from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.db.models import Count, Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.generic import TemplateView

from applications import services as application_services
from applications.models import (
    SERVICING_STATUSES,
    Customer,
    DocumentType,
    Loan,
    LoanDocument,
    LoanStatus,
)
from applications.selectors import (
    customer_get_for_actor,
    document_get_for_actor,
    loan_missing_documents,
    loans_visible_to,
    products_active,
    queue_statuses_for,
    required_documents,
    supplement_rounds_per_month,
    work_queue,
)
from backoffice.forms import DocumentUploadForm, LoanCreateForm, LoanFilterForm
from backoffice.views.base import (
    StaffPermissionMixin,
    apply_domain_error,
    get_loan_or_404,
    is_htmx,
    paginate,
)
from backoffice.views.repayments import allocation_summary, balance_rows
from backoffice.views.risk import risk_context
from backoffice.views.transitions import loan_actions
from compliance.pii import mask_id_number, mask_phone, pii_hash
from loan_collections.case_selectors import cases_visible_to
from loanops.exceptions import DomainError
from loanops.money import ZERO
from underwriting.stage_clocks import attach_stage_clocks, sla_hours

S = LoanStatus

#: rows shown per status in the work queue (the header shows the full count and links to the list)
QUEUE_ROWS_PER_STATUS = 50

#: what a member of staff does next with a loan in this status (queue hints)
QUEUE_HINTS: dict[str, Any] = {
    S.SUBMITTED: _("核对材料：齐全则提交风控，否则要求补件"),
    S.RISK_REVIEW: _("风控审查：审批通过、拒绝或要求补件"),
    S.APPROVED: _("产品匹配：出具要约"),
    S.CONTRACT_SIGNED: _("合同已签：录入收款账户并发起放款"),
    S.DISBURSEMENT_PENDING: _("放款复核（四眼原则）"),
    S.ACTIVE: _("还款中：回访、还款提醒"),
    S.OVERDUE: _("逾期：催收跟进"),
    S.SETTLED: _("已结清：核对后归档"),
}

PHONE_SEARCH_RE = re.compile(r"^1\d{10}$")


def actor_display(user: Any) -> str:
    """Staff by name; a customer as 借款人 (their username is their phone number, which is personal data)."""
    if user is None:
        return str(_("系统"))
    if not user.is_staff:
        return str(_("借款人"))
    return user.get_full_name() or user.get_username()


class QueueView(StaffPermissionMixin, TemplateView):
    """待办: the loans waiting on this user's roles, grouped by status, oldest in their stage first."""

    permission_required = "applications.view_loan"
    template_name = "backoffice/queue.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        user = self.request.user
        statuses = queue_statuses_for(user)
        queue = work_queue(user)
        counts = dict(queue.order_by().values_list("status").annotate(n=Count("pk")))
        groups = []
        for status in statuses:
            loans = list(queue.filter(status=status)[:QUEUE_ROWS_PER_STATUS]) if counts.get(status) else []
            clocks = attach_stage_clocks(loans)  # time in stage vs. LOANOPS_STAGE_SLA_HOURS (no queries)
            groups.append(
                {
                    "status": status,
                    "label": S(status).label,
                    "hint": QUEUE_HINTS.get(status, ""),
                    "count": counts.get(status, 0),
                    "loans": loans,
                    "sla_hours": sla_hours(status),
                    "late": len([clock for clock in clocks if clock.is_late]),
                }
            )
        context.update(
            page_title=_("待办"),
            groups=groups,
            total=sum(counts.values()),
            rows_per_status=QUEUE_ROWS_PER_STATUS,
            supplement_kpi=supplement_rounds_per_month(months=6),
        )
        return context


class LoanListView(StaffPermissionMixin, View):
    """贷款查询: search by reference, customer name or phone; filter by status, product and bucket."""

    permission_required = "applications.view_loan"

    def get(self, request: HttpRequest) -> HttpResponse:
        form = LoanFilterForm(request.GET)
        form.is_valid()  # every field is optional; invalid values are simply not applied
        data = form.cleaned_data
        loans = loans_visible_to(request.user).order_by("-id")
        query = (data.get("q") or "").strip()
        if query:
            condition = Q(reference__icontains=query) | Q(customer__name__icontains=query)
            digits = re.sub(r"[\s-]", "", query)
            if PHONE_SEARCH_RE.match(digits):
                condition |= Q(customer__phone_hash=pii_hash(digits))
            loans = loans.filter(condition)
        if data.get("status"):
            loans = loans.filter(status=data["status"])
        if data.get("product"):
            loans = loans.filter(product=data["product"])
        if data.get("bucket"):
            loans = loans.filter(bucket=data["bucket"])
        context = {
            "page_title": _("贷款查询"),
            "form": form,
            "page_obj": paginate(request, loans),
            "filtered": bool(query or data.get("status") or data.get("product") or data.get("bucket")),
        }
        template = "backoffice/partials/loan_results.html" if is_htmx(request) else "backoffice/loan_list.html"
        return render(request, template, context)


def _stage_timeline(loan: Loan, events: list[Any]) -> list[dict[str, Any]]:
    """The loan's stages from creation to now, each with who moved it there, why and how long it stayed."""
    items: list[dict[str, Any]] = [
        {
            "title": _("创建申请"),
            "status": S.DRAFT,
            "transition": "create",
            "actor": actor_display(loan.created_by) if loan.created_by_id else "",
            "reason": "",
            "started": loan.created_at,
        }
    ]
    for event in events:
        items.append(
            {
                "title": S(event.to_status).label,
                "status": event.to_status,
                "transition": event.transition,
                "from_label": S(event.from_status).label,
                "actor": actor_display(event.actor),
                "reason": event.reason,
                "started": event.occurred_at,
            }
        )
    now = timezone.now()
    terminal = loan.status in (S.REJECTED, S.WITHDRAWN, S.ARCHIVED, S.WRITTEN_OFF)
    for index, item in enumerate(items):
        last = index == len(items) - 1
        item["ended"] = None if last else items[index + 1]["started"]
        item["state"] = "current" if last and not terminal else "done"
        item["duration_until"] = now if last else item["ended"]
        item["is_problem"] = last and loan.status in (S.SUPPLEMENT_REQUIRED, S.OVERDUE)
        item["is_failed"] = last and loan.status in (S.REJECTED, S.WRITTEN_OFF)
    return items


def _document_checklist(loan: Loan, documents: list[LoanDocument]) -> list[dict[str, Any]]:
    by_type: dict[str, list[LoanDocument]] = defaultdict(list)
    for document in documents:
        by_type[document.doc_type].append(document)
    required = required_documents(loan)
    order = [*required, *(t for t in DocumentType.values if t not in required and t in by_type)]
    return [
        {
            "doc_type": doc_type,
            "label": DocumentType(doc_type).label,
            "required": doc_type in required,
            "documents": by_type.get(doc_type, []),
            "present": bool(by_type.get(doc_type)),
        }
        for doc_type in order
    ]


class LoanDetailView(StaffPermissionMixin, View):
    """The whole loan file on one page, with buttons for exactly the transitions available to this user."""

    permission_required = "applications.view_loan"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        from contracts.selectors import contract_current, disbursement_for
        from notifications.selectors import loan_messages
        from servicing.selectors import schedule_current
        from underwriting.selectors import REJECT_REASONS, loan_reviews

        user = request.user
        try:
            loan = loans_visible_to(user).select_related("created_by", "prepared_by").get(pk=pk)
        except Loan.DoesNotExist as exc:
            raise Http404("贷款不存在") from exc
        customer = loan.customer
        documents = list(loan.documents.select_related("uploaded_by").order_by("doc_type", "-id"))
        present = {document.doc_type for document in documents}
        supplements = list(loan.supplement_requests.select_related("requested_by").order_by("-round"))
        for request_row in supplements:
            request_row.item_labels = [  # type: ignore[attr-defined]
                DocumentType(item).label if item in DocumentType.values else item for item in request_row.items
            ]
        reviews = list(loan_reviews(loan))
        for review in reviews:
            review.reason_texts = [  # type: ignore[attr-defined]
                REJECT_REASONS[code][0] if code in REJECT_REASONS else code for code in review.reason_codes or []
            ]
        events = list(loan.stage_events.select_related("actor").order_by("id"))
        disbursement = disbursement_for(loan)
        checker = disbursement.confirmed_by if disbursement and disbursement.confirmed_by_id else None
        checker = checker or next((e.actor for e in reversed(events) if e.transition == "disburse"), None)
        schedule = list(schedule_current(loan))
        repayments = list(
            loan.repayments.select_related("recorded_by").prefetch_related("allocations").order_by("-paid_on", "-id")
        )
        for repayment in repayments:
            repayment.allocation_summary = allocation_summary(repayment)  # type: ignore[attr-defined]
        context = {
            "page_title": loan.reference or str(loan),
            "loan": loan,
            "customer": customer,
            "customer_id_masked": mask_id_number(customer.id_number),
            "customer_phone_masked": mask_phone(customer.phone),
            "actions": loan_actions(loan, user),
            "checklist": _document_checklist(loan, documents),
            "missing_documents": [DocumentType(t).label for t in loan_missing_documents(loan, present=present)],
            "supplements": supplements,
            "reviews": reviews,
            "contract": contract_current(loan),
            "disbursement": disbursement,
            "maker": loan.prepared_by,
            "maker_name": actor_display(loan.prepared_by) if loan.prepared_by_id else "",
            "checker_name": actor_display(checker) if checker else "",
            "schedule": schedule,
            "schedule_totals": _schedule_totals(schedule),
            "balances": balance_rows(loan) if loan.disbursed_on else [],
            **risk_context(loan, user),  # risk_class_label (正常/关注/…), class history, write-off, restructurings
            "repayments": repayments,
            "timeline": _stage_timeline(loan, events),
            "can_upload": user.has_perm("applications.add_loandocument")
            and loan.status in application_services.UPLOAD_STATUSES,
            "can_repay": user.has_perm("servicing.add_repayment") and loan.status in SERVICING_STATUSES,
            "collection_cases": list(cases_visible_to(user).filter(loan=loan).order_by("-id")[:5])
            if loan.disbursed_on
            else [],
            "notifications": loan_messages(loan.pk),
        }
        return render(request, "backoffice/loan_detail.html", context)


def _schedule_totals(schedule: list[Any]) -> dict[str, Decimal] | None:
    if not schedule:
        return None
    return {
        "principal": sum((row.principal_due for row in schedule), ZERO),
        "interest": sum((row.interest_due for row in schedule), ZERO),
        "total": sum((row.total_due for row in schedule), ZERO),
        "paid": sum((row.total_paid for row in schedule), ZERO),
    }


class LoanCreateView(StaffPermissionMixin, View):
    """A new application (draft) for a customer, opened by ops."""

    permission_required = "applications.add_loan"
    template_name = "backoffice/loan_form.html"

    def get_customer(self, pk: int) -> Customer:
        try:
            return customer_get_for_actor(actor=self.request.user, customer_id=pk)
        except Customer.DoesNotExist as exc:
            raise Http404("借款人不存在") from exc

    def get_form(self, customer: Customer, data: Any = None) -> LoanCreateForm:
        products = products_active().filter(applicant_type=customer.kind).order_by("code")
        return LoanCreateForm(data, products=products)

    def render_form(self, customer: Customer, form: LoanCreateForm, status: int = 200) -> HttpResponse:
        context = {"page_title": _("新建贷款申请"), "customer": customer, "form": form}
        return render(self.request, self.template_name, context, status=status)

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        customer = self.get_customer(pk)
        return self.render_form(customer, self.get_form(customer))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        customer = self.get_customer(pk)
        form = self.get_form(customer, request.POST)
        if not form.is_valid():
            return self.render_form(customer, form, status=400)
        data = form.cleaned_data
        try:
            loan = application_services.loan_create(
                actor=request.user,
                customer_id=customer.pk,
                product_id=data["product"].pk,
                requested_amount=data["requested_amount"],
                requested_term_months=data["requested_term_months"],
                purpose=data["purpose"],
                repayment_source=data["repayment_source"],
            )
        except DomainError as exc:
            return self.render_form(customer, form, status=apply_domain_error(form, exc))
        messages.success(request, _("申请 %(ref)s 已创建（草稿）。请上传所需材料后提交。") % {"ref": loan.reference})
        return redirect("backoffice:loan-detail", pk=loan.pk)


class LoanDocumentUploadView(StaffPermissionMixin, View):
    permission_required = "applications.add_loandocument"
    template_name = "backoffice/document_upload.html"

    def render_form(self, loan: Loan, form: DocumentUploadForm, status: int = 200) -> HttpResponse:
        context = {
            "page_title": _("上传申请材料"),
            "loan": loan,
            "form": form,
            "missing_documents": [DocumentType(t).label for t in loan_missing_documents(loan)],
        }
        return render(self.request, self.template_name, context, status=status)

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        loan = get_loan_or_404(request, pk)
        doc_type = request.GET.get("doc_type")
        initial = {"doc_type": doc_type} if doc_type in DocumentType.values else {}
        return self.render_form(loan, DocumentUploadForm(initial=initial))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        loan = get_loan_or_404(request, pk)
        form = DocumentUploadForm(request.POST, request.FILES)
        if not form.is_valid():
            return self.render_form(loan, form, status=400)
        try:
            document = application_services.document_upload(
                actor=request.user,
                loan_id=loan.pk,
                doc_type=form.cleaned_data["doc_type"],
                upload=form.cleaned_data["file"],
            )
        except DomainError as exc:
            return self.render_form(loan, form, status=apply_domain_error(form, exc))
        messages.success(request, _("已上传：%(doc)s") % {"doc": document.get_doc_type_display()})
        return redirect("backoffice:loan-detail", pk=loan.pk)


class DocumentDownloadView(StaffPermissionMixin, View):
    permission_required = "applications.view_loandocument"

    def get(self, request: HttpRequest, pk: int) -> FileResponse:
        try:
            document = document_get_for_actor(actor=request.user, document_id=pk)
        except LoanDocument.DoesNotExist as exc:
            raise Http404("材料不存在") from exc
        try:
            handle = document.file.open("rb")
        except FileNotFoundError as exc:
            raise Http404("文件不存在") from exc
        return FileResponse(
            handle,
            as_attachment=request.GET.get("inline") != "1",
            filename=document.original_name or f"document{document.extension}",
            content_type=document.content_type,
        )


class ContractDownloadView(StaffPermissionMixin, View):
    permission_required = "applications.view_loan"

    def get(self, request: HttpRequest, pk: int) -> FileResponse:
        from contracts.models import Contract
        from contracts.selectors import contract_get_for_actor

        try:
            contract = contract_get_for_actor(actor=request.user, contract_id=pk)
        except Contract.DoesNotExist as exc:
            raise Http404("合同不存在") from exc
        try:
            handle = contract.file.open("rb")
        except (FileNotFoundError, ValueError) as exc:
            raise Http404("合同文件不存在") from exc
        return FileResponse(
            handle, as_attachment=True, filename=f"{contract.number}.pdf", content_type="application/pdf"
        )
