"""Read side of the applications stage: visibility, access helpers, queues and the customer timeline."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from applications.models import (
    PRE_DISBURSEMENT,
    ApplicantType,
    Customer,
    DocumentType,
    Loan,
    LoanDocument,
    LoanStatus,
    Product,
    SupplementRequest,
)
from compliance.pii import pii_hash
from loanops import roles

S = LoanStatus


def is_customer(user: Any) -> bool:
    return bool(user.is_authenticated) and not user.is_staff and hasattr(user, "customer")


def loans_visible_to(user: Any) -> QuerySet[Loan]:
    """Staff with view permission see every loan; a customer sees only their own; anyone else nothing."""
    queryset = Loan.objects.select_related("customer", "product")
    if not user.is_authenticated:
        return queryset.none()
    if user.is_staff and user.has_perm("applications.view_loan"):
        return queryset
    customer = getattr(user, "customer", None)
    if customer is not None:
        return queryset.filter(customer=customer)
    return queryset.none()


def loan_get_for_actor(*, actor: Any, loan_id: int) -> Loan:
    """The loan if this user may see it; `Loan.DoesNotExist` (→ 404) for anything else, also for others' loans."""
    return loans_visible_to(actor).get(pk=loan_id)


def customers_visible_to(user: Any) -> QuerySet[Customer]:
    queryset = Customer.objects.all()
    if user.is_authenticated and user.is_staff and user.has_perm("applications.view_customer"):
        return queryset
    customer = getattr(user, "customer", None) if user.is_authenticated else None
    if customer is not None:
        return queryset.filter(pk=customer.pk)
    return queryset.none()


def customer_get_for_actor(*, actor: Any, customer_id: int) -> Customer:
    return customers_visible_to(actor).get(pk=customer_id)


def document_get_for_actor(*, actor: Any, document_id: int) -> LoanDocument:
    return LoanDocument.objects.select_related("loan").get(pk=document_id, loan__in=loans_visible_to(actor))


def intake_business_date() -> date:
    """The business date (kept by servicing, a later stage: reached through `settings.LOANOPS_BUSINESS_DATE`,
    a dotted path, so intake does not import it)."""
    return import_string(settings.LOANOPS_BUSINESS_DATE)()


OPEN_APPLICATION_STATUSES = PRE_DISBURSEMENT


def open_applications_same_identity(customer: Customer, *, exclude_loan_id: int | None = None) -> QuerySet[Loan]:
    """Open (not yet disbursed, not ended) applications of anyone with this customer's ID number (an individual)
    or USCC (an enterprise) — the same person or company under another customer record too."""
    if customer.kind == ApplicantType.ENTERPRISE:
        if not customer.uscc:
            return Loan.objects.none()
        same = Q(customer__uscc=customer.uscc)
    else:
        if not customer.id_number:
            return Loan.objects.none()
        same = Q(customer__id_number_hash=pii_hash(customer.id_number))
    loans = Loan.objects.filter(same, status__in=OPEN_APPLICATION_STATUSES).order_by("id")
    if exclude_loan_id is not None:
        loans = loans.exclude(pk=exclude_loan_id)
    return loans


def customer_by_phone(phone: str) -> Customer | None:
    """The customer with this (normalised) phone number, found through its keyed hash."""
    return Customer.objects.select_related("user").filter(phone_hash=pii_hash(phone)).first()


def customer_contacts(customer_ids: Iterable[int]) -> dict[int, dict[str, str]]:
    """Borrower id → {"sms": phone, "email": address} (phones decrypted): the outbox relay's address lookup
    (``settings.LOANOPS_OUTBOX_CONTACT_RESOLVER``) for messages that keep no address of their own."""
    rows = Customer.objects.filter(pk__in=list(customer_ids)).only("pk", "phone", "email")
    return {row.pk: {"sms": row.phone or "", "email": row.email or ""} for row in rows}


def products_active() -> QuerySet[Product]:
    """Products on sale: the current version (not retired by a newer one) of each product marked on sale."""
    return Product.objects.filter(is_active=True, retired_at__isnull=True)


#: labels that read differently for an enterprise applicant (the ID card is the legal representative's)
ENTERPRISE_DOCUMENT_LABELS = {
    "id_front": _("法定代表人身份证人像面"),
    "id_back": _("法定代表人身份证国徽面"),
}


def document_label(doc_type: str, applicant_type: str) -> str:
    if applicant_type == ApplicantType.ENTERPRISE and doc_type in ENTERPRISE_DOCUMENT_LABELS:
        return str(ENTERPRISE_DOCUMENT_LABELS[doc_type])
    return str(DocumentType(doc_type).label)


def supplement_rounds_per_month(*, months: int = 6, today: date | None = None) -> list[dict[str, Any]]:
    """KPI: supplement rounds requested per calendar month (and how many applications they concerned),
    the last `months` months up to `today`, oldest first, months without a round included. One query.
    Calendar months of the wall clock: `requested_at` is a real timestamp, not a business date."""
    today = today or timezone.localdate()
    first = date(today.year, today.month, 1)
    for _step in range(months - 1):
        first = date(first.year - 1, 12, 1) if first.month == 1 else date(first.year, first.month - 1, 1)
    start = timezone.make_aware(datetime.combine(first, time.min))
    rows = (
        SupplementRequest.objects.filter(requested_at__gte=start)
        .annotate(month=TruncMonth("requested_at"))
        .values("month")
        .annotate(rounds=Count("id"), applications=Count("loan", distinct=True))
        .order_by("month")
    )
    found = {(row["month"].year, row["month"].month): row for row in rows}
    result = []
    year, month = first.year, first.month
    for _step in range(months):
        row = found.get((year, month))
        result.append(
            {
                "month": f"{year:04d}-{month:02d}",
                "rounds": row["rounds"] if row else 0,
                "applications": row["applications"] if row else 0,
            }
        )
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return result


def required_documents(loan: Loan) -> list[str]:
    return list(loan.product.required_documents or [])


def loan_missing_documents(loan: Loan, *, present: set[str] | None = None) -> list[str]:
    """Required document types with no upload yet, in checklist order."""
    if present is None:
        present = set(loan.documents.values_list("doc_type", flat=True))
    return [doc for doc in required_documents(loan) if doc not in present]


def supplement_open(loan: Loan) -> SupplementRequest | None:
    """The latest unresolved supplement round of this loan, if any."""
    return SupplementRequest.objects.filter(loan=loan, resolved_at__isnull=True).order_by("-round").first()


def supplement_items_supplied(request_row: SupplementRequest, documents: list[LoanDocument]) -> set[str]:
    """Items of a supplement round count as supplied once a document of that type is uploaded after the request."""
    return {doc.doc_type for doc in documents if doc.uploaded_at >= request_row.requested_at}


def loan_outstanding_items(
    loan: Loan, *, documents: list[LoanDocument] | None = None, supplement: SupplementRequest | None = None
) -> list[str]:
    """What must still be uploaded before (re)submitting: missing required documents and, in a supplement
    round, every requested item not uploaded since the request. Checklist order, no duplicates."""
    if documents is None:
        documents = list(loan.documents.all())
    outstanding = loan_missing_documents(loan, present={doc.doc_type for doc in documents})
    if supplement is None and loan.status == LoanStatus.SUPPLEMENT_REQUIRED:
        supplement = supplement_open(loan)
    if supplement is not None:
        supplied = supplement_items_supplied(supplement, documents)
        outstanding += [item for item in supplement.items if item not in supplied and item not in outstanding]
    return outstanding


# --- work queues -----------------------------------------------------------------------------

#: which statuses are "waiting on me" for each role
ROLE_QUEUES: dict[str, list[str]] = {
    roles.OPS: [S.SUBMITTED, S.CONTRACT_SIGNED, S.SETTLED],
    roles.RISK: [S.RISK_REVIEW, S.APPROVED],
    roles.MANAGER: [S.DISBURSEMENT_PENDING, S.OVERDUE],
    roles.PRODUCT: [S.APPROVED],
    roles.SERVICE: [S.ACTIVE, S.OVERDUE],
}


def queue_statuses_for(user: Any) -> list[str]:
    names = set(user.groups.values_list("name", flat=True))
    statuses: list[str] = []
    for role, role_statuses in ROLE_QUEUES.items():
        if role in names or (user.is_superuser and role == roles.MANAGER):
            statuses.extend(s for s in role_statuses if s not in statuses)
    return statuses


def work_queue(user: Any) -> QuerySet[Loan]:
    """Loans waiting on this user's roles, oldest in their stage first."""
    statuses = queue_statuses_for(user)
    queryset = loans_visible_to(user).filter(status__in=statuses)
    if S.DISBURSEMENT_PENDING in statuses:
        # A checker cannot confirm their own disbursement: do not show it as waiting on them.
        queryset = queryset.exclude(Q(status=S.DISBURSEMENT_PENDING) & Q(prepared_by=user))
    return queryset.order_by("status_changed_at", "pk")


# --- the customer's view of the stages ----------------------------------------------------------


@dataclass(frozen=True)
class PortalStage:
    key: str
    label: Any


PORTAL_STAGES = [
    PortalStage("accepted", _("已受理")),
    PortalStage("review", _("审核中")),
    PortalStage("signing", _("待签约")),
    PortalStage("disbursing", _("放款中")),
    PortalStage("repaying", _("还款中")),
    PortalStage("settled", _("已结清")),
]

_STATUS_TO_STAGE = {
    S.DRAFT: "accepted",
    S.SUBMITTED: "accepted",
    S.SUPPLEMENT_REQUIRED: "accepted",
    S.RISK_REVIEW: "review",
    S.APPROVED: "review",
    S.OFFERED: "signing",
    S.CONTRACT_PENDING: "signing",
    S.CONTRACT_SIGNED: "disbursing",
    S.DISBURSEMENT_PENDING: "disbursing",
    S.ACTIVE: "repaying",
    S.OVERDUE: "repaying",
    S.SETTLED: "settled",
    S.ARCHIVED: "settled",
}

NEXT_STEP = {
    S.DRAFT: _("请上传所需材料并提交申请。"),
    S.SUBMITTED: _("我们正在核对您的材料，通常在 1 个工作日内完成。"),
    S.SUPPLEMENT_REQUIRED: _("需要您补充材料：请按下方清单上传后重新提交。"),
    S.RISK_REVIEW: _("风控审查中，无需您操作。"),
    S.APPROVED: _("审批已通过，我们正在为您匹配产品方案。"),
    S.OFFERED: _("请查看借款方案（金额、利率、还款计划），确认后接受。"),
    S.CONTRACT_PENDING: _("请阅读借款合同并完成电子签名。"),
    S.CONTRACT_SIGNED: _("合同已签署，我们正在安排放款。"),
    S.DISBURSEMENT_PENDING: _("放款复核中，完成后款项将转入您的账户。"),
    S.ACTIVE: _("请按还款计划按时还款。"),
    S.OVERDUE: _("您有逾期款项，请尽快还款以免产生更多罚息。"),
    S.SETTLED: _("贷款已结清，感谢您的信任。"),
    S.ARCHIVED: _("贷款已结清并归档。"),
    S.REJECTED: _("很遗憾，本次申请未能通过综合评估。您可在 3 个月后重新申请。"),
    S.WITHDRAWN: _("申请已撤回。"),
    S.WRITTEN_OFF: _("请联系客服处理您的欠款。"),
}


def portal_stage_key(status: str) -> str | None:
    return _STATUS_TO_STAGE.get(LoanStatus(status))


def portal_progress(loan: Loan) -> list[dict[str, Any]]:
    """The six customer stages with done/current/todo and the time spent in each (from stage events)."""
    current = portal_stage_key(loan.status)
    keys = [stage.key for stage in PORTAL_STAGES]
    current_index = keys.index(current) if current else -1
    entered: dict[str, Any] = {}
    for event in loan.stage_events.all():
        key = portal_stage_key(event.to_status)
        if key and key not in entered:
            entered[key] = event.occurred_at
    if "accepted" not in entered:
        entered["accepted"] = loan.created_at
    result = []
    for index, stage in enumerate(PORTAL_STAGES):
        state = "done" if index < current_index else "current" if index == current_index else "todo"
        if current == "settled" and stage.key == "settled":
            state = "done"
        started = entered.get(stage.key)
        ended = entered.get(keys[index + 1]) if index + 1 < len(keys) else None
        result.append({"key": stage.key, "label": stage.label, "state": state, "started": started, "ended": ended})
    return result
