"""Write side of intake: customers, applications, documents, submission and the supplement loop.

Every service is one transaction, takes keyword-only arguments and checks its own permission.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from applications.lifecycle import loan_transition, loans_for_update
from applications.models import (
    ApplicantType,
    Customer,
    DocumentType,
    Industry,
    Loan,
    LoanDocument,
    LoanStatus,
    Product,
    SupplementRequest,
)
from applications.selectors import (
    customer_get_for_actor,
    intake_business_date,
    is_customer,
    loan_get_for_actor,
    loan_missing_documents,
    loan_outstanding_items,
    open_applications_same_identity,
)
from compliance.audit import audit_record
from compliance.blacklist import blacklist_match
from compliance.identity import IdentityError, age_on, clean_id_number, clean_phone, clean_uscc, id_birth_date
from compliance.pii import pii_hash
from loanops import roles
from loanops.exceptions import DomainError, InputError
from loanops.money import to_money
from notifications.models import Channel
from notifications.services import Message, outbox_write

UPLOAD_STATUSES = {
    LoanStatus.DRAFT,
    LoanStatus.SUBMITTED,
    LoanStatus.SUPPLEMENT_REQUIRED,
    LoanStatus.RISK_REVIEW,
}


def require_perm(actor: Any, perm: str) -> None:
    if not actor.has_perm(perm):
        raise PermissionDenied(f"您没有权限执行此操作（{perm}）")


class FieldErrors:
    """Collects field-level messages and raises one InputError (HTTP 400) with all of them."""

    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.fields.setdefault(field, []).append(message)

    def raise_if_any(self, message: str = "输入有误，请检查标注的字段") -> None:
        if self.fields:
            raise InputError(message, fields=self.fields)


def portal_username() -> str:
    return f"c-{secrets.token_hex(10)}"


def _decimal(errors: FieldErrors, field: str, value: Any) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        errors.add(field, "请输入有效的金额")
        return None
    if not number.is_finite():
        errors.add(field, "请输入有效的金额")
        return None
    return number


# --- customers ------------------------------------------------------------------------------

CUSTOMER_FIELDS = (
    "kind",
    "name",
    "id_number",
    "uscc",
    "legal_representative",
    "phone",
    "email",
    "address",
    "industry",
    "annual_income",
    "employer",
    "years_in_business",
    "registered_capital",
)


def _non_negative_money(errors: FieldErrors, merged: dict[str, Any], field: str, *, required: bool, label: str) -> None:
    amount = _decimal(errors, field, merged.get(field) or "0")
    if amount is None:
        return
    if amount < 0:
        errors.add(field, f"{label}不能为负数")
    elif required and amount <= 0:
        errors.add(field, f"请填写{label}")
    else:
        merged[field] = to_money(amount)


def validate_customer_data(data: dict[str, Any], *, instance: Customer | None = None) -> dict[str, Any]:
    """Normalise and validate customer fields; raises InputError with every problem at once.

    Individual: name, ID number (checksum and birth date), mainland mobile. Enterprise in addition: USCC
    (check character), legal representative, registered capital and annual revenue (> 0), years in
    business; the ID number is then the legal representative's (optional, checked when given).
    """
    errors = FieldErrors()
    merged = {field: getattr(instance, field) for field in CUSTOMER_FIELDS} if instance else {}
    merged.update({key: value for key, value in data.items() if key in CUSTOMER_FIELDS})
    kind = merged.get("kind")
    enterprise = kind == ApplicantType.ENTERPRISE
    if kind not in ApplicantType.values:
        errors.add("kind", "借款人类型必须是 individual（个人）或 enterprise（企业）")
    name = str(merged.get("name") or "").strip()
    if not name:
        errors.add("name", "请填写姓名或企业名称")
    merged["name"] = name
    id_number = str(merged.get("id_number") or "").strip().upper()
    merged["id_number"] = id_number
    if kind == ApplicantType.INDIVIDUAL and not id_number:
        errors.add("id_number", "请填写身份证号")
    elif id_number:
        try:
            merged["id_number"] = clean_id_number(id_number)
        except IdentityError as exc:
            errors.add("id_number", exc.message)
    code = str(merged.get("uscc") or "").strip().upper()
    merged["uscc"] = code
    if enterprise:
        if not code:
            errors.add("uscc", "请填写统一社会信用代码")
        else:
            try:
                merged["uscc"] = clean_uscc(code)
            except IdentityError as exc:
                errors.add("uscc", exc.message)
        if not str(merged.get("legal_representative") or "").strip():
            errors.add("legal_representative", "请填写法定代表人")
    try:
        merged["phone"] = clean_phone(merged.get("phone"))
    except IdentityError as exc:
        errors.add("phone", exc.message)
        merged["phone"] = str(merged.get("phone") or "")
    if merged.get("industry") not in Industry.values:
        errors.add("industry", "请选择国民经济行业门类（A–T）")
    _non_negative_money(
        errors, merged, "annual_income", required=enterprise, label="年营业收入" if enterprise else "年收入"
    )
    _non_negative_money(errors, merged, "registered_capital", required=enterprise, label="注册资本")
    try:
        years = int(merged.get("years_in_business") or 0)
        if years < 0 or years > 100:
            raise ValueError
        merged["years_in_business"] = years
    except (TypeError, ValueError):
        errors.add("years_in_business", "年限应为 0–100 的整数")
    for field in ("email", "address", "employer", "legal_representative"):
        merged[field] = str(merged.get(field) or "").strip()
    if "phone" not in errors.fields:
        clash = Customer.objects.filter(phone_hash=pii_hash(merged["phone"]))
        if instance is not None:
            clash = clash.exclude(pk=instance.pk)
        if clash.exists():
            errors.add("phone", "该手机号已登记为其他借款人")
    errors.raise_if_any()
    return merged


@transaction.atomic
def customer_create(*, actor: Any, data: dict[str, Any], portal_password: str | None = None) -> Customer:
    require_perm(actor, "applications.add_customer")
    clean = validate_customer_data(data)
    customer = Customer(**clean)
    if portal_password:
        # Customers log in with their phone (applications.auth.PhoneBackend); the username must not repeat
        # the phone in clear (auth_user is not encrypted), so it is random.
        user = get_user_model().objects.create_user(
            username=portal_username(), password=portal_password, first_name=clean["name"][:150]
        )
        user.groups.add(Group.objects.get(name=roles.CUSTOMER))
        customer.user = user
    try:
        with transaction.atomic():
            customer.save()
    except IntegrityError as exc:
        raise InputError("该手机号已登记为其他借款人", fields={"phone": ["该手机号已登记为其他借款人"]}) from exc
    audit_record(actor=actor, action="customer.create", subject=customer, after={"kind": customer.kind})
    return customer


@transaction.atomic
def customer_update(*, actor: Any, customer_id: int, data: dict[str, Any]) -> Customer:
    require_perm(actor, "applications.change_customer")
    customer = Customer.objects.select_for_update().get(pk=customer_id)
    clean = validate_customer_data(data, instance=customer)
    changed = [field for field in CUSTOMER_FIELDS if getattr(customer, field) != clean[field]]
    for field in changed:
        setattr(customer, field, clean[field])
    if changed:
        customer.save(update_fields=[*changed, "updated_at"])
        audit_record(actor=actor, action="customer.update", subject=customer, data={"fields": changed})
    return customer


# --- applications ---------------------------------------------------------------------------


def _check_request_against_product(
    errors: FieldErrors, *, product: Product, customer: Customer, amount: Decimal | None, term: Any
) -> int | None:
    if not product.is_active:
        errors.add("product", "该产品已停售")
    if customer.kind != product.applicant_type:
        errors.add("product", f"该产品仅适用于{product.get_applicant_type_display()}借款人")
    if amount is not None:
        if amount <= 0 or amount != to_money(amount):
            errors.add("requested_amount", "金额必须大于 0，最多两位小数")
        elif not (product.min_amount <= amount <= product.max_amount):
            errors.add("requested_amount", f"申请金额应在 {product.min_amount:,} 至 {product.max_amount:,} 元之间")
    try:
        term_months = int(term)
    except (TypeError, ValueError):
        errors.add("requested_term_months", "请填写期限（月）")
        return None
    if not (product.min_term_months <= term_months <= product.max_term_months):
        errors.add(
            "requested_term_months",
            f"期限应在 {product.min_term_months} 至 {product.max_term_months} 个月之间",
        )
    return term_months


BLACKLISTED_CUSTOMER_MESSAGE = "很抱歉，您的申请暂时无法受理。如有疑问，请联系客服。"


def stop_if_blacklisted(*, actor: Any, customer: Customer, attempt: str, loan: Loan | None = None) -> None:
    """Refuse (422 `blacklisted`) an applicant on the active blacklist, and audit the refusal.

    The audit row is committed on its own (the refusal changes nothing else), so call this before the
    write's transaction. The customer gets a non-revealing message; staff see the entry's source and reason.
    """
    entry = blacklist_match(id_number=customer.id_number, uscc=customer.uscc, phone=customer.phone)
    if entry is None:
        return
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="intake.blacklisted",
            subject=customer,
            reason=entry.reason,
            data={
                "attempt": attempt,
                "blacklist_entry": entry.pk,
                "source": entry.source,
                "loan_id": loan.pk if loan is not None else None,
            },
        )
    if is_customer(actor):
        raise DomainError(BLACKLISTED_CUSTOMER_MESSAGE, code="blacklisted")
    raise DomainError(
        f"该借款人在黑名单中，不能受理（{entry.get_source_display()}：{entry.reason}）",
        code="blacklisted",
        extra={"blacklist_entry": entry.pk, "source": entry.source, "reason": entry.reason},
    )


def loan_create(
    *,
    actor: Any,
    customer_id: int,
    product_id: int,
    requested_amount: Any,
    requested_term_months: Any,
    purpose: str,
    repayment_source: str = "",
) -> Loan:
    """Open an application in `draft`. Ops may open one for any customer; a customer only for themself.

    A blacklisted applicant is refused (422 `blacklisted`, audited) before anything is written."""
    if is_customer(actor):
        customer = customer_get_for_actor(actor=actor, customer_id=customer_id)
    else:
        require_perm(actor, "applications.add_loan")
        customer = Customer.objects.get(pk=customer_id)
    stop_if_blacklisted(actor=actor, customer=customer, attempt="loan_create")
    return _loan_create(
        actor=actor,
        customer=customer,
        product_id=product_id,
        requested_amount=requested_amount,
        requested_term_months=requested_term_months,
        purpose=purpose,
        repayment_source=repayment_source,
    )


@transaction.atomic
def _loan_create(
    *,
    actor: Any,
    customer: Customer,
    product_id: int,
    requested_amount: Any,
    requested_term_months: Any,
    purpose: str,
    repayment_source: str,
) -> Loan:
    errors = FieldErrors()
    product = Product.objects.filter(pk=product_id).first()
    if product is None:
        errors.add("product", "请选择有效的贷款产品")
    amount = _decimal(errors, "requested_amount", requested_amount)
    term = None
    if product is not None:
        term = _check_request_against_product(
            errors, product=product, customer=customer, amount=amount, term=requested_term_months
        )
        _check_applicant_age(errors, product=product, customer=customer, on=intake_business_date())
    purpose = (purpose or "").strip()
    if not purpose:
        errors.add("purpose", "请说明借款用途")
    repayment_source = (repayment_source or "").strip()
    if not repayment_source:
        errors.add("repayment_source", "请说明还款来源（例如：工资收入、经营收入）")
    errors.raise_if_any()
    assert product is not None and amount is not None and term is not None
    Customer.objects.select_for_update().filter(pk=customer.pk).first()  # one application at a time per borrower
    flags = _duplicate_flags(actor=actor, customer=customer)
    loan = Loan.objects.create(
        customer=customer,
        product=product,
        requested_amount=to_money(amount),
        requested_term_months=term,
        purpose=purpose,
        repayment_source=repayment_source,
        intake_flags=flags,
        created_by=actor,
    )
    loan.reference = f"LN{timezone.localdate():%Y%m%d}{loan.pk:06d}"
    loan.save(update_fields=["reference"])
    audit_record(
        actor=actor,
        action="loan.create",
        subject=loan,
        after={"status": loan.status, "requested_amount": loan.requested_amount, "product": product.code},
        data={"intake_flags": [flag["code"] for flag in flags]} if flags else None,
    )
    return loan


def _check_applicant_age(errors: FieldErrors, *, product: Product, customer: Customer, on: date) -> None:
    """An individual's age on the business date, from the birth date in the ID number, within the product's range."""
    if customer.kind != ApplicantType.INDIVIDUAL or not customer.id_number:
        return
    try:
        birth = id_birth_date(customer.id_number)
    except (IdentityError, ValueError):
        errors.add("id_number", "身份证号中的出生日期无效")
        return
    age = age_on(birth, on)
    if not (product.min_age <= age <= product.max_age):
        errors.add(
            "product",
            f"该产品要求申请人年龄在 {product.min_age}–{product.max_age} 周岁之间（申请人现年 {age} 周岁）",
        )


DUPLICATE_REFUSED_CUSTOMER_MESSAGE = "您已有一笔进行中的贷款申请，请先完成或撤回后再申请。"


def _duplicate_flags(*, actor: Any, customer: Customer) -> list[dict[str, Any]]:
    """A second open application for the same ID number (or USCC): refused (422 `duplicate_application`) or,
    with LOANOPS_DUPLICATE_APPLICATION = "flag", returned as a flag recorded on the new loan for staff."""
    others = [ref or "" for ref in open_applications_same_identity(customer).values_list("reference", flat=True)]
    if not others:
        return []
    mode = settings.LOANOPS_DUPLICATE_APPLICATION
    if mode != "flag":
        if is_customer(actor):
            raise DomainError(DUPLICATE_REFUSED_CUSTOMER_MESSAGE, code="duplicate_application")
        raise DomainError(
            f"同一证件号已有进行中的申请：{'、'.join(others)}。请先完成或撤回后再新建。",
            code="duplicate_application",
            extra={"loans": others},
        )
    return [
        {
            "code": "duplicate_application",
            "message": f"同一证件号另有进行中的申请：{'、'.join(others)}",
            "loans": others,
        }
    ]


_SIGNATURES = {
    "application/pdf": (b"%PDF-",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
}


def sniff_content_type(head: bytes) -> str | None:
    for content_type, prefixes in _SIGNATURES.items():
        if any(head.startswith(prefix) for prefix in prefixes):
            return content_type
    return None


@transaction.atomic
def document_upload(*, actor: Any, loan_id: int, doc_type: str, upload: UploadedFile) -> LoanDocument:
    """Store one document. Its type is decided by its bytes (PDF, JPEG, PNG), not by its name."""
    from django.conf import settings

    loan = loan_get_for_actor(actor=actor, loan_id=loan_id)
    if not is_customer(actor):
        require_perm(actor, "applications.add_loandocument")
    loan = loans_for_update().get(pk=loan.pk)
    errors = FieldErrors()
    if doc_type not in DocumentType.values:
        errors.add("doc_type", "未知的材料类型")
    max_bytes = settings.LOANOPS_MAX_UPLOAD_BYTES
    if upload.size is None or upload.size == 0:
        errors.add("file", "文件为空")
    elif upload.size > max_bytes:
        errors.add("file", f"文件过大：最大 {max_bytes // (1024 * 1024)} MB")
    content = b""
    content_type = None
    if "file" not in errors.fields:
        content = upload.read()
        content_type = sniff_content_type(content[:16])
        if content_type is None:
            errors.add("file", "只接受 PDF、JPG 或 PNG 文件")
    errors.raise_if_any()
    if loan.status not in UPLOAD_STATUSES:
        raise DomainError(f"贷款处于「{loan.get_status_display()}」阶段，不能再上传申请材料", code="upload_closed")
    assert content_type is not None
    digest = hashlib.sha256(content).hexdigest()
    document = LoanDocument(
        loan=loan,
        doc_type=doc_type,
        original_name=(upload.name or "upload")[-200:],
        content_type=content_type,
        extension=settings.LOANOPS_UPLOAD_TYPES[content_type],
        size=len(content),
        sha256=digest,
        uploaded_by=actor,
    )
    document.file.save(f"{digest[:16]}{document.extension}", ContentFile(content), save=False)
    document.save()
    audit_record(
        actor=actor,
        action="loan.document_upload",
        subject=loan,
        data={"document_id": document.pk, "doc_type": doc_type, "sha256": digest, "size": document.size},
    )
    return document


def loan_submit(*, actor: Any, loan_id: int, reason: str = "") -> Loan:
    """Hand in the application (again). A blacklisted applicant is refused (422 `blacklisted`, audited)."""
    visible = loan_get_for_actor(actor=actor, loan_id=loan_id)
    if visible.status in (LoanStatus.DRAFT, LoanStatus.SUPPLEMENT_REQUIRED):
        stop_if_blacklisted(actor=actor, customer=visible.customer, attempt="loan_submit", loan=visible)
    return _loan_submit(actor=actor, loan_id=loan_id, reason=reason)


@transaction.atomic
def _loan_submit(*, actor: Any, loan_id: int, reason: str) -> Loan:
    loan = loans_for_update().get(pk=loan_id)
    was_supplement = loan.status == LoanStatus.SUPPLEMENT_REQUIRED
    if loan.status in (LoanStatus.DRAFT, LoanStatus.SUPPLEMENT_REQUIRED):
        if not loan.repayment_source.strip():
            message = "请说明还款来源后再提交"
            raise InputError(message, fields={"repayment_source": [message]})
        outstanding = loan_outstanding_items(loan)
        if outstanding:
            labels = "、".join(str(DocumentType(item).label) for item in outstanding)
            raise DomainError(
                f"请先上传以下材料再提交：{labels}", code="documents_missing", extra={"missing": outstanding}
            )
    loan_transition(loan, "submit", actor=actor, reason=reason)
    if was_supplement:
        SupplementRequest.objects.filter(loan=loan, resolved_at__isnull=True).update(resolved_at=timezone.now())
    return loan


@transaction.atomic
def loan_request_supplement(*, actor: Any, loan_id: int, items: list[str], message: str) -> SupplementRequest:
    loan_get_for_actor(actor=actor, loan_id=loan_id)
    loan = loans_for_update().get(pk=loan_id)
    errors = FieldErrors()
    items = list(dict.fromkeys(items or []))
    if not items:
        errors.add("items", "请至少选择一项需补充的材料")
    unknown = [item for item in items if item not in DocumentType.values]
    if unknown:
        errors.add("items", f"未知的材料类型：{', '.join(unknown)}")
    if not (message or "").strip():
        errors.add("message", "请说明需要补充的原因")
    errors.raise_if_any()
    # The round is written first, so the stage notification (composed inside the transition) can name the
    # items and the reason; a refused transition rolls it back with everything else.
    request_row = SupplementRequest.objects.create(
        loan=loan, round=loan.supplement_rounds + 1, items=items, message=message.strip(), requested_by=actor
    )
    loan_transition(
        loan,
        "request_supplement",
        actor=actor,
        reason=message,
        extra_fields=("supplement_rounds",),
        items=items,
    )
    assert loan.supplement_rounds == request_row.round
    return request_row


@transaction.atomic
def loan_start_review(*, actor: Any, loan_id: int, reason: str = "") -> Loan:
    """Completeness check passed: send to risk review. Refused (422) while required documents are missing."""
    loan_get_for_actor(actor=actor, loan_id=loan_id)
    loan = loans_for_update().get(pk=loan_id)
    if loan.status == LoanStatus.SUBMITTED:
        missing = loan_missing_documents(loan)
        if missing:
            labels = "、".join(str(DocumentType(item).label) for item in missing)
            raise DomainError(f"材料不完整，缺少：{labels}", code="documents_missing", extra={"missing": missing})
    loan_transition(loan, "start_review", actor=actor, reason=reason or "材料齐全，提交风控审查")
    for hook in settings.LOANOPS_REVIEW_START_HOOKS:  # e.g. the risk assessment (underwriting), same transaction
        import_string(hook)(loan=loan, actor=actor)
    return loan


@transaction.atomic
def loan_withdraw(*, actor: Any, loan_id: int, reason: str) -> Loan:
    loan_get_for_actor(actor=actor, loan_id=loan_id)
    loan = loans_for_update().get(pk=loan_id)
    if not (reason or "").strip():
        raise InputError("请填写撤回原因", fields={"reason": ["请填写撤回原因"]})
    return loan_transition(loan, "withdraw", actor=actor, reason=reason)


def supplement_notice_text(loan: Loan) -> str:
    """Which items the open supplement round asks for, and why (the notification text)."""
    from applications.selectors import document_label, supplement_open

    request_row = supplement_open(loan)
    if request_row is None:
        return ""
    items = [document_label(item, loan.customer.kind) for item in request_row.items if item in DocumentType.values]
    lines = "\n".join(f"  · {item}" for item in items)
    return f"\n第 {request_row.round} 次补充材料，需要补充：\n{lines}\n原因：{request_row.message}\n"


def loan_stage_notify(*, loan: Loan, event_id: int) -> bool:
    """Tell the customer about a stage change by e-mail: written to the outbox in the transition's own
    transaction (delivered after the commit by the relay; console backend in the embedded default)."""
    from applications.selectors import NEXT_STEP

    email = loan.customer.email
    if not email:
        return False
    status = LoanStatus(loan.status)
    label = status.label
    detail = supplement_notice_text(loan) if status == LoanStatus.SUPPLEMENT_REQUIRED else ""
    outbox_write(
        Message(
            channel=Channel.EMAIL,
            kind="loan.stage",
            dedupe_key=f"stage:{event_id}:email",
            recipient=email,
            subject=f"【LoanOps】您的贷款 {loan.reference} 进度更新：{label}",
            body=f"{loan.customer.name}，您好：\n\n您的贷款申请 {loan.reference} 当前状态：{label}。\n"
            f"{NEXT_STEP.get(status, '')}\n{detail}\n请登录借款人服务门户查看详情。",
            loan_id=loan.pk,
            context={"status": status.value},
        )
    )
    return True
