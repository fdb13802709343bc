"""Write side of risk review and product matching: approve, reject, make the offer, keep the catalogue.

Every service is one transaction with keyword-only arguments. Loan services fetch the loan through
`loan_get_for_actor` (others' loans → `Loan.DoesNotExist` → 404), lock it with `loans_for_update()`, check
state and permission BEFORE validating input (so a wrong state is 409 and a missing permission 403 whatever
the input), validate every field (one `InputError` listing all of them, nothing written), then change
status only through `loan_transition`.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import django_fsm as fsm
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction

from applications.lifecycle import loan_transition, loans_for_update
from applications.models import (
    ApplicantType,
    DocumentType,
    Loan,
    LoanStatus,
    Product,
    default_enterprise_documents,
    default_individual_documents,
)
from applications.selectors import loan_get_for_actor
from applications.services import FieldErrors, require_perm
from compliance.audit import audit_record
from loanops.exceptions import DomainError, InputError, InvalidTransition
from loanops.money import to_decimal, to_money, to_rate
from loanops.pricing import annualised_rate
from loanops.schedule import build_schedule
from loanops.types import RepaymentMethod
from underwriting.industry_restrictions import (
    industry_restriction_active,
    restricted_max_amount,
    restricted_offer_approved,
)
from underwriting.models import ApprovalStep, CreditReportSummary, RiskAssessment, RiskReview
from underwriting.risk_services import assess, authority_rule, loans_for_assessment
from underwriting.selectors import REJECT_REASONS, add_months, first_due_date_window, loan_approved_amount

DEFAULT_RATE_CAP: Final = Decimal("0.24")
MAX_TERM_MONTHS: Final = 360
NOTE_MAX_LENGTH: Final = 2000


# --- shared guards ------------------------------------------------------------------------------


def require_transition(loan: Loan, name: str, *, actor: Any) -> None:
    """Refuse early, before any input is validated, exactly as `loan_transition` would refuse later.

    Conditions are not checked here (a condition such as `offer_terms_set` depends on the input);
    `loan_transition` checks them when it runs.
    """
    method = getattr(loan, name)
    if not fsm.can_proceed(method, check_conditions=False):
        raise InvalidTransition(
            f"贷款当前状态为「{LoanStatus(loan.status).label}」，不能执行该操作（{name}）",
            extra={"status": loan.status, "transition": name},
        )
    # fsm.has_transition_perm() would also check the conditions; ask the transition's permission alone.
    meta = method._django_fsm
    if not meta.has_transition_perm(loan, meta.field.get_state(loan), actor):
        raise PermissionDenied(f"您没有权限对该贷款执行此操作（{name}）")


def _lock_loan(*, actor: Any, loan_id: int) -> Loan:
    loan_get_for_actor(actor=actor, loan_id=loan_id)  # Loan.DoesNotExist (404) for loans not visible
    return loans_for_update().select_related("product", "customer").get(pk=loan_id)


def _clean_text(errors: FieldErrors, field: str, value: Any, *, label: str, required: bool = True) -> str:
    text = str(value or "").strip()
    if required and not text:
        errors.add(field, f"请填写{label}")
    elif len(text) > NOTE_MAX_LENGTH:
        errors.add(field, f"{label}最多 {NOTE_MAX_LENGTH} 个字")
    return text


def _parse_decimal(errors: FieldErrors, field: str, value: Any, *, message: str) -> Decimal | None:
    if isinstance(value, float | bool) or value is None or value == "":
        errors.add(field, message)
        return None
    try:
        return to_decimal(value)
    except (TypeError, ValueError, InvalidOperation):
        errors.add(field, message)
        return None


def _parse_amount(errors: FieldErrors, field: str, value: Any) -> Decimal | None:
    amount = _parse_decimal(errors, field, value, message="请输入有效的金额")
    if amount is None:
        return None
    if amount <= 0:
        errors.add(field, "金额必须大于 0")
        return None
    if to_money(amount) != amount:
        errors.add(field, "金额最多保留两位小数")
        return None
    return to_money(amount)


def _parse_rate(errors: FieldErrors, field: str, value: Any) -> Decimal | None:
    rate = _parse_decimal(errors, field, value, message="请输入有效的利率（年化小数，如 0.0435）")
    if rate is None:
        return None
    if not (0 <= rate <= 1):
        errors.add(field, "利率应在 0 到 1 之间（年化小数，如 0.0435 表示 4.35%）")
        return None
    if to_rate(rate) != rate:
        errors.add(field, "利率最多保留六位小数")
        return None
    return to_rate(rate)


def _parse_int(errors: FieldErrors, field: str, value: Any, *, message: str) -> int | None:
    if isinstance(value, bool | float):
        errors.add(field, message)
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,6}\s*", value):
        return int(value)
    errors.add(field, message)
    return None


def _parse_date(errors: FieldErrors, field: str, value: Any) -> date | None:
    if isinstance(value, date) and not hasattr(value, "hour"):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    errors.add(field, "请输入有效的日期（YYYY-MM-DD）")
    return None


# --- risk decision ------------------------------------------------------------------------------


@transaction.atomic
def loan_approve(
    *,
    actor: Any,
    loan_id: int,
    approved_amount: Decimal | str | None,
    note: str,
    conditions: str = "",
) -> RiskReview | ApprovalStep:
    """Approve a loan in `risk_review` on its current risk assessment, within the approval authority matrix.

    `approved_amount` defaults to the requested amount; it may be lower, never higher, and must stay within the
    product's amount range. Refused (422) when a knock-out rule hit, when the grade may never be approved, or
    when the credit report changed after the assessment. When the matrix asks for two levels, the first call
    records the level-1 approval (the loan stays in risk review, an `ApprovalStep` is returned); the second,
    by a different person holding `underwriting.approve_second_level`, performs the `approve` transition
    (the same person twice → 403). Returns the `RiskReview` once the loan is approved.
    """
    loan = _lock_loan(actor=actor, loan_id=loan_id)
    require_transition(loan, "approve", actor=actor)
    errors = FieldErrors()
    product = loan.product
    amount: Decimal | None
    if approved_amount is None or (isinstance(approved_amount, str) and not approved_amount.strip()):
        amount = loan.requested_amount
    else:
        amount = _parse_amount(errors, "approved_amount", approved_amount)
    if amount is not None:
        if amount > loan.requested_amount:
            errors.add("approved_amount", f"批准金额不能超过申请金额 {loan.requested_amount:,} 元")
        elif not (product.min_amount <= amount <= product.max_amount):
            errors.add(
                "approved_amount", f"批准金额应在产品范围 {product.min_amount:,} 至 {product.max_amount:,} 元之间"
            )
    clean_note = _clean_text(errors, "note", note, label="审查意见")
    clean_conditions = _clean_text(errors, "conditions", conditions, label="放款条件", required=False)
    errors.raise_if_any()
    assert amount is not None

    assessment = RiskAssessment.objects.filter(loan=loan).order_by("-id").first()
    if assessment is None:  # e.g. the loan entered review while no scorecard was active
        loaded = loans_for_assessment(Loan.objects.all()).get(pk=loan.pk)
        assessment = assess(loaded, actor=actor, trigger=RiskAssessment.Trigger.MANUAL)
    report = CreditReportSummary.objects.filter(loan=loan).only("updated_at").first()
    if report is not None and report.updated_at > assessment.created_at:
        raise DomainError(
            "征信摘要在最近一次评估之后有修改，请先重新运行评估", code="assessment_stale",
            extra={"assessment_id": assessment.pk},
        )  # fmt: skip
    if assessment.knocked_out:
        hits = [r for r in assessment.rule_results if r["hit"] and r["kind"] == "knockout"]
        raise DomainError(
            "命中拒绝规则，不能审批通过：" + "；".join(r["message"] for r in hits),
            code="knockout",
            extra={"reason_codes": [r["code"] for r in hits], "assessment_id": assessment.pk},
        )
    rule = authority_rule(grade=assessment.grade, amount=amount)
    if rule is None or rule.levels == 0:
        raise DomainError(
            f"风险等级 {assessment.grade} 级、金额 {amount:,} 元不在任何审批权限之内，不能审批通过",
            code="outside_authority",
            extra={"grade": assessment.grade, "amount": str(amount)},
        )
    levels = rule.levels
    steps = list(ApprovalStep.objects.filter(assessment=assessment).order_by("level"))
    if levels == 2 and not steps:
        step = ApprovalStep.objects.create(
            loan=loan, assessment=assessment, level=1, levels_required=2, approved_amount=amount,
            conditions=clean_conditions, note=clean_note, approver=actor,
        )  # fmt: skip
        audit_record(
            actor=actor,
            action="loan.approve_level_1",
            subject=loan,
            reason=clean_note,
            data={"approved_amount": amount, "grade": assessment.grade, "assessment_id": assessment.pk,
                  "conditions": clean_conditions, "levels_required": 2},
        )  # fmt: skip
        return step
    if levels == 2:
        first = steps[0]
        if first.approver_id == actor.pk:
            raise PermissionDenied("四眼原则：第二级审批须由另一位有权限的同事完成，不能与第一级审批人相同")
        if not actor.has_perm("underwriting.approve_second_level"):
            raise PermissionDenied("该笔贷款须由部门经理进行第二级审批，您没有第二级审批权限")
        if amount > first.approved_amount:
            raise InputError(
                "第二级批准金额不能超过第一级批准金额",
                fields={"approved_amount": [f"不能超过第一级批准金额 {first.approved_amount:,} 元"]},
            )
        clean_conditions = clean_conditions or first.conditions
    ApprovalStep.objects.create(
        loan=loan, assessment=assessment, level=levels, levels_required=levels, approved_amount=amount,
        conditions=clean_conditions, note=clean_note, approver=actor,
    )  # fmt: skip
    loan_transition(
        loan,
        "approve",
        actor=actor,
        reason=clean_note,
        approved_amount=amount,
        conditions=clean_conditions,
        grade=assessment.grade,
        score=assessment.score,
        levels=levels,
    )
    return RiskReview.objects.create(
        loan=loan,
        outcome=RiskReview.Outcome.APPROVE,
        approved_amount=amount,
        note=clean_note,
        score=assessment.score,
        grade=assessment.grade,
        reviewer=actor,
    )


@transaction.atomic
def loan_reject(*, actor: Any, loan_id: int, reason_codes: list[str], note: str) -> RiskReview:
    """risk_review → rejected, with at least one code from `REJECT_REASONS` and a note for the file."""
    loan = _lock_loan(actor=actor, loan_id=loan_id)
    require_transition(loan, "reject", actor=actor)
    errors = FieldErrors()
    codes: list[str] = []
    if isinstance(reason_codes, list | tuple):
        codes = list(dict.fromkeys(str(code) for code in reason_codes))
    if not codes:
        errors.add("reason_codes", "请至少选择一项拒绝原因")
    unknown = [code for code in codes if code not in REJECT_REASONS]
    if unknown:
        errors.add("reason_codes", f"未知的拒绝原因代码：{', '.join(unknown)}")
    clean_note = _clean_text(errors, "note", note, label="审查意见")
    errors.raise_if_any()
    loan_transition(loan, "reject", actor=actor, reason=clean_note, reason_codes=codes)
    assessment = RiskAssessment.objects.filter(loan=loan).order_by("-id").only("score", "grade").first()
    return RiskReview.objects.create(
        loan=loan,
        outcome=RiskReview.Outcome.REJECT,
        reason_codes=codes,
        note=clean_note,
        score=assessment.score if assessment else None,
        grade=assessment.grade if assessment else "",
        reviewer=actor,
    )


# --- the offer ----------------------------------------------------------------------------------


def rate_cap() -> Decimal:
    """The legal cap on the annualised rate. For now a setting; a later issue derives it from the LPR."""
    return to_decimal(getattr(settings, "LOANOPS_RATE_CAP", DEFAULT_RATE_CAP))


def offer_apr(
    *,
    principal: Decimal,
    annual_rate: Decimal,
    term_months: int,
    repayment_method: str,
    first_due_date: date,
    origination_fee_rate: Decimal,
) -> Decimal:
    """The annualised rate (IRR, PBoC 2021 No. 3) of an offer, with the origination fee deducted up front.

    The borrower receives ``principal − to_money(principal × origination_fee_rate)``; the schedule's
    payments are placed at months 1…n counted from one month before the first due date, i.e. the rate of a
    regular first period. Raises ``DomainError("schedule_infeasible")`` if no schedule can be built.
    """
    rows = build_schedule(
        principal=principal,
        annual_rate=annual_rate,
        term_months=term_months,
        method=repayment_method,
        first_due_date=first_due_date,
    )
    fee = to_money(principal * origination_fee_rate)
    if fee >= principal:
        raise DomainError("服务费不能大于或等于本金", code="fee_exceeds_principal")
    return annualised_rate(
        principal_received=principal - fee,
        payments=[(row.due_date, row.total) for row in rows],
        start=add_months(first_due_date, -1),
    )


@transaction.atomic
def loan_make_offer(
    *,
    actor: Any,
    loan_id: int,
    principal: Decimal | str,
    annual_rate: Decimal | str,
    term_months: int | str,
    repayment_method: str,
    first_due_date: date | str,
    reason: str = "",
) -> Loan:
    """approved → offered: check the terms against the approval and the product, compute and store the
    annualised rate (APR), and refuse (422 ``rate_cap_exceeded``) an offer above the legal cap."""
    loan = _lock_loan(actor=actor, loan_id=loan_id)
    require_transition(loan, "make_offer", actor=actor)
    product = loan.product
    errors = FieldErrors()

    restriction = industry_restriction_active(loan.customer.industry)
    amount = _parse_amount(errors, "principal", principal)
    if amount is not None:
        approved = loan_approved_amount(loan)
        limit = restricted_max_amount(product.max_amount, restriction)
        if amount > approved:
            errors.add("principal", f"本金不能超过批准金额 {approved:,} 元")
        elif not (product.min_amount <= amount <= product.max_amount):
            errors.add("principal", f"本金应在产品范围 {product.min_amount:,} 至 {product.max_amount:,} 元之间")
        elif restriction is not None and amount > limit:
            errors.add(
                "principal",
                f"借款人所在行业（{restriction.get_industry_display()}）已被限制，本金不能超过 {limit:,} 元"
                f"（产品最高金额 × {restriction.factor.normalize()}）",
            )

    rate = _parse_rate(errors, "annual_rate", annual_rate)
    if rate is not None and not (product.min_rate <= rate <= product.max_rate):
        errors.add(
            "annual_rate",
            f"年利率应在产品范围 {product.min_rate * 100:.2f}% 至 {product.max_rate * 100:.2f}% 之间",
        )

    term = _parse_int(errors, "term_months", term_months, message="期限必须是整数月数")
    if term is not None and not (product.min_term_months <= term <= product.max_term_months):
        errors.add("term_months", f"期限应在 {product.min_term_months} 至 {product.max_term_months} 个月之间")

    method = str(repayment_method or "")
    allowed = list(product.repayment_methods or [])
    if method not in RepaymentMethod.values:
        errors.add("repayment_method", "不支持的还款方式")
    elif method not in allowed:
        labels = "、".join(str(RepaymentMethod(m).label) for m in allowed if m in RepaymentMethod.values)
        errors.add("repayment_method", f"该产品仅支持：{labels}")

    due = _parse_date(errors, "first_due_date", first_due_date)
    if due is not None:
        earliest, latest = first_due_date_window()
        if not (earliest <= due <= latest):
            errors.add("first_due_date", f"首期还款日应在 {earliest:%Y-%m-%d} 至 {latest:%Y-%m-%d} 之间")

    clean_reason = _clean_text(errors, "reason", reason, label="说明", required=False)
    errors.raise_if_any()
    assert amount is not None and rate is not None and term is not None and due is not None
    if restriction is not None and not restricted_offer_approved(loan):
        raise DomainError(
            f"借款人所在行业（{restriction.get_industry_display()}）已被限制，出具要约前需部门经理审批",
            code="manager_approval_required",
            extra={"industry": restriction.industry, "restriction_id": restriction.pk},
        )

    apr = offer_apr(
        principal=amount,
        annual_rate=rate,
        term_months=term,
        repayment_method=method,
        first_due_date=due,
        origination_fee_rate=product.origination_fee_rate,
    )
    cap = rate_cap()
    if apr > cap:
        raise DomainError(
            f"该方案的年化利率（IRR）为 {apr * 100:.2f}%，超过法定上限 {cap * 100:.2f}%，请降低利率或费用",
            code="rate_cap_exceeded",
            extra={"apr": str(apr), "cap": str(cap)},
        )

    loan.principal = amount
    loan.annual_rate = rate
    loan.term_months = term
    loan.repayment_method = method
    loan.first_due_date = due
    loan.apr = apr
    return loan_transition(
        loan,
        "make_offer",
        actor=actor,
        reason=clean_reason or "出具借款要约",
        extra_fields=("principal", "annual_rate", "term_months", "repayment_method", "first_due_date", "apr"),
        principal=amount,
        annual_rate=rate,
        term_months=term,
        repayment_method=method,
        first_due_date=due,
        apr=apr,
        rate_cap=cap,
    )


# --- product catalogue --------------------------------------------------------------------------

PRODUCT_FIELDS: Final = (
    "code",
    "name",
    "applicant_type",
    "min_amount",
    "max_amount",
    "min_term_months",
    "max_term_months",
    "min_rate",
    "max_rate",
    "repayment_methods",
    "required_documents",
    "penalty_surcharge",
    "compound_overdue_interest",
    "prepayment_fee_rate",
    "origination_fee_rate",
    "is_active",
)
_PRODUCT_DEFAULTS: Final[dict[str, Any]] = {
    "repayment_methods": [RepaymentMethod.EQUAL_INSTALLMENT.value, RepaymentMethod.EQUAL_PRINCIPAL.value],
    "penalty_surcharge": Decimal("0.5"),
    "compound_overdue_interest": False,
    "prepayment_fee_rate": Decimal("0"),
    "origination_fee_rate": Decimal("0"),
    "is_active": True,
}
_CODE_RE: Final = re.compile(r"^[-a-zA-Z0-9_]{1,40}$")


def _choice_list(errors: FieldErrors, field: str, value: Any, *, allowed: list[str], label: str) -> list[str]:
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        errors.add(field, f"{label}必须是列表")
        return []
    items = list(dict.fromkeys(value))
    unknown = [item for item in items if item not in allowed]
    if unknown:
        errors.add(field, f"未知的{label}：{', '.join(unknown)}")
    return items


def _bool(errors: FieldErrors, field: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "True", "1", 1):
        return True
    if value in ("false", "False", "0", 0):
        return False
    errors.add(field, "请填写是或否")
    return False


def _check_range(errors: FieldErrors, clean: dict[str, Any], low: str, high: str, message: str) -> None:
    """Report ``high`` when both ends are valid and ``low > high``."""
    if clean[low] is not None and clean[high] is not None and clean[low] > clean[high]:
        errors.add(high, message)


def validate_product_data(data: dict[str, Any], *, instance: Product | None = None) -> dict[str, Any]:
    """Normalise and check every product field; raises one InputError listing every bad field."""
    errors = FieldErrors()
    if instance is not None:
        merged: dict[str, Any] = {field: getattr(instance, field) for field in PRODUCT_FIELDS}
    else:
        merged = {"required_documents": None, **_PRODUCT_DEFAULTS}
    merged.update({key: value for key, value in data.items() if key in PRODUCT_FIELDS})
    clean: dict[str, Any] = {}

    code = str(merged.get("code") or "").strip()
    if not _CODE_RE.match(code):
        errors.add("code", "产品代码只能包含字母、数字、连字符和下划线，最长 40 个字符")
    else:
        clash = Product.objects.filter(code=code)
        if instance is not None:
            clash = clash.exclude(pk=instance.pk)
        if clash.exists():
            errors.add("code", "该产品代码已存在")
    clean["code"] = code
    name = str(merged.get("name") or "").strip()
    if not name:
        errors.add("name", "请填写产品名称")
    elif len(name) > 80:
        errors.add("name", "产品名称最多 80 个字")
    clean["name"] = name
    applicant_type = merged.get("applicant_type")
    if applicant_type not in ApplicantType.values:
        errors.add("applicant_type", "适用借款人必须是 individual（个人）或 enterprise（企业）")
    clean["applicant_type"] = applicant_type

    for field in ("min_amount", "max_amount"):
        clean[field] = _parse_amount(errors, field, merged.get(field))
    _check_range(errors, clean, "min_amount", "max_amount", "最高金额不能低于最低金额")

    for field in ("min_term_months", "max_term_months"):
        term = _parse_int(errors, field, merged.get(field), message="期限必须是整数月数")
        if term is not None and not (1 <= term <= MAX_TERM_MONTHS):
            errors.add(field, f"期限应在 1 至 {MAX_TERM_MONTHS} 个月之间")
            term = None
        clean[field] = term
    _check_range(errors, clean, "min_term_months", "max_term_months", "最长期限不能短于最短期限")

    for field in ("min_rate", "max_rate", "penalty_surcharge", "prepayment_fee_rate", "origination_fee_rate"):
        clean[field] = _parse_rate(errors, field, merged.get(field))
    _check_range(errors, clean, "min_rate", "max_rate", "最高利率不能低于最低利率")

    methods = _choice_list(
        errors, "repayment_methods", merged.get("repayment_methods"), allowed=RepaymentMethod.values, label="还款方式"
    )
    if not methods and "repayment_methods" not in errors.fields:
        errors.add("repayment_methods", "请至少选择一种还款方式")
    clean["repayment_methods"] = methods

    documents = merged.get("required_documents")
    if documents is None:  # a new product without a list gets the standard checklist for its applicants
        is_enterprise = applicant_type == ApplicantType.ENTERPRISE
        documents = default_enterprise_documents() if is_enterprise else default_individual_documents()
        documents = [str(doc) for doc in documents]
    clean["required_documents"] = _choice_list(
        errors, "required_documents", documents, allowed=DocumentType.values, label="材料类型"
    )
    clean["compound_overdue_interest"] = _bool(
        errors, "compound_overdue_interest", merged.get("compound_overdue_interest")
    )
    clean["is_active"] = _bool(errors, "is_active", merged.get("is_active"))
    errors.raise_if_any()
    return clean


def _save_product(product: Product, **kwargs: Any) -> None:
    try:
        with transaction.atomic():
            product.save(**kwargs)
    except IntegrityError as exc:  # a concurrent create with the same code
        raise InputError("该产品代码已存在", fields={"code": ["该产品代码已存在"]}) from exc


def _product_snapshot(product: Product) -> dict[str, Any]:
    return {field: getattr(product, field) for field in PRODUCT_FIELDS}


@transaction.atomic
def product_create(*, actor: Any, data: dict[str, Any]) -> Product:
    require_perm(actor, "applications.add_product")
    clean = validate_product_data(data)
    product = Product(**clean)
    _save_product(product)
    audit_record(actor=actor, action="product.create", subject=product, after=_product_snapshot(product))
    return product


@transaction.atomic
def product_update(*, actor: Any, product_id: int, data: dict[str, Any]) -> Product:
    require_perm(actor, "applications.change_product")
    product = Product.objects.select_for_update().get(pk=product_id)
    clean = validate_product_data(data, instance=product)
    before = _product_snapshot(product)
    changed = [field for field in PRODUCT_FIELDS if before[field] != clean[field]]
    if not changed:
        return product
    for field in changed:
        setattr(product, field, clean[field])
    _save_product(product, update_fields=[*changed, "updated_at"])
    audit_record(
        actor=actor,
        action="product.update",
        subject=product,
        before={field: before[field] for field in changed},
        after={field: clean[field] for field in changed},
    )
    return product
