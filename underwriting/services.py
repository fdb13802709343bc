"""Write side of risk review and product matching: approve, reject, make the offer, keep the catalogue.

Every service is one transaction with keyword-only arguments. Loan services fetch the loan through
`loan_get_for_actor` (others' loans → `Loan.DoesNotExist` → 404), lock it with `loans_for_update()`, check
state and permission BEFORE validating input (so a wrong state is 409 and a missing permission 403 whatever
the input), validate every field (one `InputError` listing all of them, nothing written), then change
status only through `loan_transition`.
"""

from __future__ import annotations

import copy
import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import django_fsm as fsm
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from applications.lifecycle import loan_transition, loans_for_update
from applications.models import (
    ApplicantType,
    DocumentType,
    Industry,
    Loan,
    LoanStatus,
    Product,
    default_enterprise_documents,
    default_individual_documents,
)
from applications.selectors import loan_get_for_actor, products_active
from applications.services import FieldErrors, require_perm
from compliance.audit import audit_record
from loanops.exceptions import ConflictError, DomainError, InputError, InvalidTransition
from loanops.money import to_decimal, to_money, to_rate
from loanops.pricing import annualised_rate
from loanops.schedule import build_schedule
from loanops.types import RepaymentMethod, RiskGrade
from underwriting.industry_restrictions import industry_restriction_active, restricted_offer_approved
from underwriting.matching import (
    amount_limits,
    eligibility_reasons,
    format_terms,
    loan_risk_grade,
    product_rate_band,
    product_terms,
)
from underwriting.models import ApprovalStep, CreditReportSummary, LoanPrimeRate, RiskAssessment, RiskReview
from underwriting.rate_caps import rate_cap_for
from underwriting.risk_services import assess, authority_rule, loans_for_assessment
from underwriting.selectors import REJECT_REASONS, add_months, first_due_date_window, loan_approved_amount

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


def rate_cap(*, on: date | None = None) -> Decimal:
    """The legal cap on the annualised rate of a contract dated ``on`` (today): see `underwriting.rate_caps`."""
    return rate_cap_for(on=on or timezone.localdate()).cap


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


def offer_product(loan: Loan, product_id: int | str | None) -> Product:
    """The product version an offer is made on: the current version of the chosen product (by default the
    loan's own, whichever version it was applied for). Refused (422) when it is no longer on sale."""
    if product_id in (None, ""):
        product = products_active().filter(code=loan.product.code).first()
    else:
        errors = FieldErrors()
        pk = _parse_int(errors, "product_id", product_id, message="请选择有效的贷款产品")
        errors.raise_if_any()
        assert pk is not None
        product = Product.objects.filter(pk=pk).first()
        if product is None:
            raise InputError("请选择有效的贷款产品", fields={"product_id": ["该产品不存在"]})
        if product.retired_at is not None:
            product = Product.objects.filter(code=product.code, retired_at__isnull=True).first() or product
        if not product.is_active or product.retired_at is not None:
            product = None
    if product is None:
        raise DomainError(
            "该产品已停售，不能按此产品出具要约", code="product_not_on_sale", fields={"product_id": ["该产品已停售"]}
        )
    return product


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
    product_id: int | str | None = None,
    reason: str = "",
) -> Loan:
    """approved → offered on the current version of the loan's product (or of ``product_id``).

    Checked, nothing written when refused: the amount (≤ risk's approval, within the product's range and
    the applicant's limit), an allowed term, a method of the product (400, field errors); the product fits
    the applicant and grade, the rate lies in the product's band for the loan's risk grade, and the
    annualised rate (IRR with fees) is within the legal cap for today's contract date (422:
    ``product_not_eligible``, ``rate_outside_band``, ``rate_cap_exceeded``). The loan records the product
    version, the APR, the cap and the LPR it was derived from.
    """
    loan = _lock_loan(actor=actor, loan_id=loan_id)
    require_transition(loan, "make_offer", actor=actor)
    product = offer_product(loan, product_id)
    today = timezone.localdate()
    grade = loan_risk_grade(loan)
    errors = FieldErrors()

    # the applicant's limit: the product maximum × the factors of `matching.AMOUNT_LIMIT_RULES` (an industry
    # restriction among them)
    limit, limit_notes = amount_limits(customer=loan.customer, products=[product], on=today)[product.pk]
    restriction = industry_restriction_active(loan.customer.industry)
    amount = _parse_amount(errors, "principal", principal)
    if amount is not None:
        approved = loan_approved_amount(loan)
        if amount > approved:
            errors.add("principal", f"本金不能超过批准金额 {approved:,} 元")
        elif not (product.min_amount <= amount <= limit):
            note = f"（{'；'.join(limit_notes)}）" if limit_notes else ""
            errors.add("principal", f"本金应在产品范围 {product.min_amount:,} 至 {limit:,} 元之间{note}")

    rate = _parse_rate(errors, "annual_rate", annual_rate)

    term = _parse_int(errors, "term_months", term_months, message="期限必须是整数月数")
    terms = product_terms(product)
    if term is not None and term not in terms:
        errors.add("term_months", f"期限应为该产品的可选期限之一：{format_terms(terms)} 个月")

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

    # the applicant and grade against the product (amount and term were checked above, field by field)
    reasons = eligibility_reasons(
        product, customer=loan.customer, grade=grade, amount=amount, term_months=term, on=today, max_amount=limit
    )
    if reasons:
        raise DomainError(
            "该产品不适用于本笔贷款：" + "；".join(reasons),
            code="product_not_eligible",
            extra={"product": product.code, "version": product.version, "reasons": reasons},
        )
    band = product_rate_band(product, grade)
    assert band is not None  # a grade the product does not serve is a reason above
    if not (band[0] <= rate <= band[1]):
        scope = f"风险等级 {grade} 级" if grade else "该产品"
        message = f"年利率应在{scope}的利率区间 {band[0] * 100:.2f}% 至 {band[1] * 100:.2f}% 之间"
        raise DomainError(
            message,
            code="rate_outside_band",
            fields={"annual_rate": [message]},
            extra={"grade": grade, "min_rate": str(band[0]), "max_rate": str(band[1])},
        )

    apr = offer_apr(
        principal=amount,
        annual_rate=rate,
        term_months=term,
        repayment_method=method,
        first_due_date=due,
        origination_fee_rate=product.origination_fee_rate,
    )
    cap = rate_cap_for(on=today)
    if apr > cap.cap:
        raise DomainError(
            f"该方案的年化利率（IRR，含费用）为 {apr * 100:.2f}%，超过法定上限 {cap.cap * 100:.2f}%"
            f"（{cap.basis}），请降低利率或费用",
            code="rate_cap_exceeded",
            extra={"apr": str(apr), "cap": str(cap.cap), "lpr": str(cap.lpr) if cap.lpr is not None else None},
        )

    loan.product = product
    loan.principal = amount
    loan.annual_rate = rate
    loan.term_months = term
    loan.repayment_method = method
    loan.first_due_date = due
    loan.apr = apr
    loan.rate_cap = cap.cap
    loan.lpr_used = cap.lpr
    return loan_transition(
        loan,
        "make_offer",
        actor=actor,
        reason=clean_reason or "出具借款要约",
        extra_fields=(
            "product",
            "principal",
            "annual_rate",
            "term_months",
            "repayment_method",
            "first_due_date",
            "apr",
            "rate_cap",
            "lpr_used",
        ),
        product=product.code,
        product_version=product.version,
        grade=grade,
        principal=amount,
        annual_rate=rate,
        term_months=term,
        repayment_method=method,
        first_due_date=due,
        apr=apr,
        rate_cap=cap.cap,
        lpr_used=cap.lpr,
        lpr_published_on=cap.lpr_published_on,
        licence_type=cap.licence_type,
    )


# --- product catalogue --------------------------------------------------------------------------

PRODUCT_FIELDS: Final = (
    "code",
    "name",
    "applicant_type",
    "min_amount",
    "max_amount",
    "allowed_terms",
    "min_term_months",
    "max_term_months",
    "rate_bands",
    "min_rate",
    "max_rate",
    "repayment_methods",
    "required_documents",
    "penalty_surcharge",
    "compound_overdue_interest",
    "prepayment_fee_rate",
    "origination_fee_rate",
    "min_age",
    "max_age",
    "excluded_industries",
    "is_active",
)
_PRODUCT_DEFAULTS: Final[dict[str, Any]] = {
    "repayment_methods": [RepaymentMethod.EQUAL_INSTALLMENT.value, RepaymentMethod.EQUAL_PRINCIPAL.value],
    "allowed_terms": [],
    "rate_bands": {},
    "penalty_surcharge": Decimal("0.5"),
    "compound_overdue_interest": False,
    "prepayment_fee_rate": Decimal("0"),
    "origination_fee_rate": Decimal("0"),
    "min_age": 18,
    "max_age": 65,
    "excluded_industries": [],
    "is_active": True,
}
_CODE_RE: Final = re.compile(r"^[-a-zA-Z0-9_]{1,40}$")
#: nobody under 18 borrows on their own (民法典 art. 18); nobody is older than this
ADULT_AGE: Final = 18
MAX_AGE: Final = 100


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


def _clean_terms(errors: FieldErrors, value: Any) -> list[int]:
    """The allowed term months: a non-empty list of whole months 1…360, returned ascending, no repeats."""
    if not isinstance(value, list | tuple) or not value:
        errors.add("allowed_terms", "请至少填写一个可选期限（月）")
        return []
    terms: list[int] = []
    for item in value:
        term = _parse_int(errors, "allowed_terms", item, message=f"期限「{item}」不是整数月数")
        if term is None:
            return []
        if not (1 <= term <= MAX_TERM_MONTHS):
            errors.add("allowed_terms", f"期限 {term} 个月应在 1 至 {MAX_TERM_MONTHS} 个月之间")
            return []
        terms.append(term)
    return sorted(set(terms))


def _clean_bands(errors: FieldErrors, value: Any) -> dict[str, dict[str, str]]:
    """Rate bands per grade: ``{"A": {"min_rate": ..., "max_rate": ...}, ...}``, at least one grade, each
    rate 0–1 with at most 6 decimals and min ≤ max. Stored as strings with 6 decimals."""
    if not isinstance(value, dict) or not value:
        errors.add("rate_bands", "请至少为一个风险等级设置利率区间")
        return {}
    unknown = [str(grade) for grade in value if grade not in RiskGrade.values]
    if unknown:
        errors.add("rate_bands", f"未知的风险等级：{', '.join(unknown)}（应为 A–E）")
        return {}
    bands: dict[str, dict[str, str]] = {}
    for grade in RiskGrade.values:  # A → E
        if grade not in value:
            continue
        band = value[grade]
        if not isinstance(band, dict):
            errors.add("rate_bands", f"{grade} 级的利率区间应包含 min_rate 与 max_rate")
            continue
        local = FieldErrors()
        low = _parse_rate(local, "min_rate", band.get("min_rate"))
        high = _parse_rate(local, "max_rate", band.get("max_rate"))
        for messages in local.fields.values():
            for message in messages:
                errors.add("rate_bands", f"{grade} 级：{message}")
        if low is None or high is None:
            continue
        if low > high:
            errors.add("rate_bands", f"{grade} 级：最高利率不能低于最低利率")
            continue
        bands[grade] = {"min_rate": str(low), "max_rate": str(high)}
    return bands


def validate_product_data(data: dict[str, Any], *, instance: Product | None = None) -> dict[str, Any]:
    """Normalise and check every product field; raises one InputError listing every bad field.

    Terms: ``allowed_terms`` (a list of months) sets ``min_term_months``/``max_term_months`` to its ends;
    giving only ``min_term_months``/``max_term_months`` means every month of that range. Rates likewise:
    ``rate_bands`` (per grade) sets ``min_rate``/``max_rate`` to the span of its bands; giving only
    ``min_rate``/``max_rate`` means every grade at that range.
    """
    errors = FieldErrors()
    if instance is not None:
        merged: dict[str, Any] = {field: copy.deepcopy(getattr(instance, field)) for field in PRODUCT_FIELDS}
    else:
        merged = {"required_documents": None, **copy.deepcopy(_PRODUCT_DEFAULTS)}
    given = {key: value for key, value in data.items() if key in PRODUCT_FIELDS}
    if "allowed_terms" not in given and ({"min_term_months", "max_term_months"} & given.keys()):
        given["allowed_terms"] = []  # an explicit range replaces a list of terms
    if "rate_bands" not in given and ({"min_rate", "max_rate"} & given.keys()):
        given["rate_bands"] = {}  # an explicit overall range replaces the bands
    merged.update(given)
    clean: dict[str, Any] = {}

    code = str(merged.get("code") or "").strip()
    if not _CODE_RE.match(code):
        errors.add("code", "产品代码只能包含字母、数字、连字符和下划线，最长 40 个字符")
    elif instance is None and Product.objects.filter(code=code).exists():
        errors.add("code", "该产品代码已存在")
    elif instance is not None and code != instance.code:
        errors.add("code", "产品代码创建后不可修改")
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

    if merged.get("allowed_terms"):
        terms = _clean_terms(errors, merged["allowed_terms"])
        clean["allowed_terms"] = terms
        clean["min_term_months"] = terms[0] if terms else None
        clean["max_term_months"] = terms[-1] if terms else None
    else:
        clean["allowed_terms"] = []
        for field in ("min_term_months", "max_term_months"):
            term = _parse_int(errors, field, merged.get(field), message="期限必须是整数月数")
            if term is not None and not (1 <= term <= MAX_TERM_MONTHS):
                errors.add(field, f"期限应在 1 至 {MAX_TERM_MONTHS} 个月之间")
                term = None
            clean[field] = term
        _check_range(errors, clean, "min_term_months", "max_term_months", "最长期限不能短于最短期限")

    if merged.get("rate_bands"):
        bands = _clean_bands(errors, merged["rate_bands"])
        clean["rate_bands"] = bands
        clean["min_rate"] = min((to_rate(b["min_rate"]) for b in bands.values()), default=None)
        clean["max_rate"] = max((to_rate(b["max_rate"]) for b in bands.values()), default=None)
    else:
        clean["rate_bands"] = {}
        for field in ("min_rate", "max_rate"):
            clean[field] = _parse_rate(errors, field, merged.get(field))
        _check_range(errors, clean, "min_rate", "max_rate", "最高利率不能低于最低利率")
    for field in ("penalty_surcharge", "prepayment_fee_rate", "origination_fee_rate"):
        clean[field] = _parse_rate(errors, field, merged.get(field))

    for field in ("min_age", "max_age"):
        age = _parse_int(errors, field, merged.get(field), message="年龄必须是整数周岁")
        if age is not None and not (ADULT_AGE <= age <= MAX_AGE):
            errors.add(field, f"年龄应在 {ADULT_AGE} 至 {MAX_AGE} 周岁之间（未满 18 周岁不能独立借款）")
            age = None
        clean[field] = age
    _check_range(errors, clean, "min_age", "max_age", "最高年龄不能低于最低年龄")
    clean["excluded_industries"] = _choice_list(
        errors, "excluded_industries", merged.get("excluded_industries"), allowed=Industry.values, label="行业"
    )

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
    except IntegrityError as exc:  # a concurrent create with the same code, or a concurrent new version
        raise ConflictError(
            "该产品刚被他人修改或创建，请刷新后重试", fields={"code": ["该产品代码已存在或刚被修改"]}
        ) from exc


def _product_snapshot(product: Product) -> dict[str, Any]:
    return {field: getattr(product, field) for field in PRODUCT_FIELDS}


def product_in_use(product: Product) -> bool:
    """A product version that a loan points to is never changed again (only retired)."""
    return Loan.objects.filter(product=product).exists()


def product_copy(product: Product) -> Product:
    """An unsaved copy of every concrete field of ``product`` (fields added later come along), except its
    identity and timestamps. JSON values are deep-copied."""
    skip = {"id", "created_at", "updated_at", "retired_at"}
    copy_ = Product()
    for model_field in Product._meta.concrete_fields:
        if model_field.primary_key or model_field.name in skip:
            continue
        setattr(copy_, model_field.attname, copy.deepcopy(getattr(product, model_field.attname)))
    return copy_


@transaction.atomic
def product_create(*, actor: Any, data: dict[str, Any]) -> Product:
    require_perm(actor, "applications.add_product")
    clean = validate_product_data(data)
    product = Product(**clean, version=1)
    _save_product(product)
    audit_record(actor=actor, action="product.create", subject=product, after=_product_snapshot(product))
    return product


@transaction.atomic
def product_update(*, actor: Any, product_id: int, data: dict[str, Any]) -> Product:
    """Change a product; returns its current version.

    A version no loan points to is changed in place. A version in use is never changed: its changes go to
    a new row (same code, ``version`` + 1, every other field copied) and the old row is retired, so every
    loan keeps the product terms it was offered. Editing a retired version is refused (409).
    """
    require_perm(actor, "applications.change_product")
    product = Product.objects.select_for_update().get(pk=product_id)
    if product.retired_at is not None:
        current = Product.objects.filter(code=product.code, retired_at__isnull=True).first()
        raise ConflictError(
            f"该版本（v{product.version}）已被新版本取代，请修改当前版本"
            + (f"（v{current.version}）" if current else ""),
            code="product_version_retired",
            extra={"current_id": current.pk if current else None},
        )
    clean = validate_product_data(data, instance=product)
    before = _product_snapshot(product)
    changed = [field for field in PRODUCT_FIELDS if before[field] != clean[field]]
    if not changed:
        return product
    diff_before = {field: before[field] for field in changed}
    diff_after = {field: clean[field] for field in changed}
    if not product_in_use(product):
        for field in changed:
            setattr(product, field, clean[field])
        _save_product(product, update_fields=[*changed, "updated_at"])
        audit_record(actor=actor, action="product.update", subject=product, before=diff_before, after=diff_after)
        return product

    successor = product_copy(product)
    for field in changed:
        setattr(successor, field, clean[field])
    latest = Product.objects.filter(code=product.code).order_by("-version").values_list("version", flat=True)
    successor.version = (latest.first() or product.version) + 1
    product.retired_at = timezone.now()
    product.save(update_fields=["retired_at", "updated_at"])  # first: one current version per code
    _save_product(successor)
    audit_record(actor=actor, action="product.retire", subject=product, data={"successor_id": successor.pk})
    audit_record(
        actor=actor,
        action="product.version",
        subject=successor,
        data={"previous_id": product.pk, "previous_version": product.version, "version": successor.version},
        before=diff_before,
        after=diff_after,
    )
    return successor


# --- LPR table (four eyes) ------------------------------------------------------------------------

#: a one-year LPR above this is surely a typing error (the highest since 2019 was 4.25 %)
LPR_MAX: Final = Decimal("0.20")


@transaction.atomic
def lpr_propose(*, actor: Any, published_on: date | str, one_year_rate: Decimal | str, note: str = "") -> LoanPrimeRate:
    """A manager enters a newly published one-year LPR; it counts only once another manager approves it."""
    require_perm(actor, "underwriting.add_loanprimerate")
    errors = FieldErrors()
    day = _parse_date(errors, "published_on", published_on)
    if day is not None and day > timezone.localdate():
        errors.add("published_on", "公布日期不能晚于今天")
    rate = _parse_rate(errors, "one_year_rate", one_year_rate)
    if rate is not None and not (Decimal(0) < rate <= LPR_MAX):
        errors.add("one_year_rate", "一年期LPR应大于 0 且不超过 20%（年化小数，如 0.0300 表示 3.00%）")
    clean_note = _clean_text(errors, "note", note, label="说明", required=False)
    if day is not None:
        taken = LoanPrimeRate.objects.filter(
            published_on=day, status__in=[LoanPrimeRate.Status.APPROVED, LoanPrimeRate.Status.PROPOSED]
        ).first()
        if taken is not None:
            errors.add("published_on", f"{day:%Y-%m-%d} 已有{taken.get_status_display()}的LPR记录")
    errors.raise_if_any()
    assert day is not None and rate is not None
    try:
        with transaction.atomic():
            row = LoanPrimeRate.objects.create(published_on=day, one_year_rate=rate, note=clean_note, proposed_by=actor)
    except IntegrityError as exc:
        raise ConflictError(
            "该日期的LPR刚被他人录入，请刷新后查看", fields={"published_on": ["该日期已有记录"]}
        ) from exc
    audit_record(actor=actor, action="lpr.propose", subject=row, after={"published_on": day, "one_year_rate": rate})
    return row


def _lock_proposal(*, actor: Any, lpr_id: int) -> LoanPrimeRate:
    require_perm(actor, "underwriting.approve_loanprimerate")
    row = LoanPrimeRate.objects.select_for_update().get(pk=lpr_id)
    if row.status != LoanPrimeRate.Status.PROPOSED:
        raise InvalidTransition(f"该LPR记录当前为「{row.get_status_display()}」，不能再复核", code="lpr_not_proposed")
    if row.proposed_by_id is not None and row.proposed_by_id == actor.pk:
        raise DomainError("四眼原则：录入人不能复核自己录入的LPR，请由另一位经理复核", code="four_eyes")
    return row


@transaction.atomic
def lpr_approve(*, actor: Any, lpr_id: int, note: str = "") -> LoanPrimeRate:
    """A second manager (never the proposer) approves a proposed LPR; from now on it counts for the cap."""
    row = _lock_proposal(actor=actor, lpr_id=lpr_id)
    errors = FieldErrors()
    clean_note = _clean_text(errors, "note", note, label="复核意见", required=False)
    errors.raise_if_any()
    row.status = LoanPrimeRate.Status.APPROVED
    row.decided_by = actor
    row.decided_at = timezone.now()
    row.decision_note = clean_note
    row.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    audit_record(
        actor=actor,
        action="lpr.approve",
        subject=row,
        before={"status": LoanPrimeRate.Status.PROPOSED},
        after={"status": row.status, "published_on": row.published_on, "one_year_rate": row.one_year_rate},
    )
    return row


@transaction.atomic
def lpr_reject(*, actor: Any, lpr_id: int, note: str) -> LoanPrimeRate:
    """A second manager sends a proposed LPR back (e.g. a typing error); the proposer may enter it again."""
    row = _lock_proposal(actor=actor, lpr_id=lpr_id)
    errors = FieldErrors()
    clean_note = _clean_text(errors, "note", note, label="驳回理由")
    errors.raise_if_any()
    row.status = LoanPrimeRate.Status.REJECTED
    row.decided_by = actor
    row.decided_at = timezone.now()
    row.decision_note = clean_note
    row.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    audit_record(
        actor=actor,
        action="lpr.reject",
        subject=row,
        before={"status": "proposed"},
        after={"status": row.status},
        reason=clean_note,
    )
    return row
