"""Read side of risk review and product matching: decisions, reject reasons, offer defaults, matching."""

from __future__ import annotations

import calendar
from datetime import date
from decimal import Decimal
from typing import Any, Final

from django.db.models import QuerySet
from django.utils import timezone

from applications.models import Loan, Product
from applications.selectors import products_active
from underwriting.industry_restrictions import industry_restriction_active, restricted_max_amount
from underwriting.models import RiskReview

#: code → (staff text, customer text). The customer text is polite and never reveals the rule that failed
#: (so the rule cannot be gamed); staff see the exact reason. Codes are stored in RiskReview.reason_codes
#: and are never renamed.
REJECT_REASONS: Final[dict[str, tuple[str, str]]] = {
    "credit_history": (
        "征信记录不良：存在当前逾期或近两年内连续逾期",
        "很遗憾，经综合评估，您本次的借款申请暂未通过。",
    ),
    "debt_ratio": (
        "负债收入比过高：现有月供加本笔月供超过月收入的 55%",
        "很遗憾，经综合评估，您本次的借款申请暂未通过。",
    ),
    "income_insufficient": (
        "收入不足以覆盖还款：收入低于产品准入标准",
        "很遗憾，经综合评估，您本次的借款申请暂未通过。",
    ),
    "income_unverified": (
        "收入或流水无法核实",
        "很遗憾，根据您提供的材料，我们暂时无法完成评估，本次申请未通过。",
    ),
    "documents_inconsistent": (
        "申请材料信息不一致或疑似伪造",
        "很遗憾，根据您提供的材料，我们暂时无法完成评估，本次申请未通过。",
    ),
    "fraud_suspected": (
        "疑似欺诈：命中反欺诈名单或设备、联系人异常",
        "很遗憾，经综合评估，您本次的借款申请暂未通过。",
    ),
    "industry_restricted": (
        "所属行业属于限制或禁止准入行业",
        "很遗憾，您的申请暂不符合本产品的准入要求。",
    ),
    "purpose_not_allowed": (
        "借款用途不合规（如购房、投资证券或用途不明）",
        "很遗憾，您的申请暂不符合本产品的准入要求。",
    ),
    "business_unstable": (
        "经营或工作年限不足、经营状况不稳定",
        "很遗憾，经综合评估，您本次的借款申请暂未通过。",
    ),
    "age_ineligible": (
        "借款人年龄不在产品准入范围内",
        "很遗憾，您的申请暂不符合本产品的准入要求。",
    ),
    "score_insufficient": (
        "综合评分或风险等级未达审批标准",
        "很遗憾，经综合评估，您本次的借款申请暂未通过。",
    ),
    "other": (
        "其他原因（见审查意见）",
        "很遗憾，经综合评估，您本次的借款申请暂未通过。",
    ),
}


def reject_reason_staff_text(code: str) -> str:
    return REJECT_REASONS[code][0]


def reject_reason_customer_text(code: str) -> str:
    return REJECT_REASONS[code][1]


def loan_reviews(loan: Loan) -> QuerySet[RiskReview]:
    """The risk decisions on a loan, newest first."""
    return RiskReview.objects.filter(loan=loan).select_related("reviewer").order_by("-created_at", "-id")


def loan_latest_approval(loan: Loan) -> RiskReview | None:
    return loan_reviews(loan).filter(outcome=RiskReview.Outcome.APPROVE).first()


def loan_approved_amount(loan: Loan) -> Decimal:
    """The amount risk approved (the latest approval); the requested amount if there is none yet."""
    review = loan_latest_approval(loan)
    if review is None or review.approved_amount is None:
        return loan.requested_amount
    return review.approved_amount


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, clamped to the end of a shorter month (01-31 + 1 → 02-28/29)."""
    year, month0 = divmod(day.month - 1 + months, 12)
    year += day.year
    last_day = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(day.day, last_day))


#: the first due date of an offer must fall after today and at most this many months ahead
FIRST_DUE_MAX_MONTHS: Final = 2


def first_due_date_window(today: date | None = None) -> tuple[date, date]:
    """(earliest, latest) allowed first due date for an offer made today (both inclusive)."""
    today = today or timezone.localdate()
    return date.fromordinal(today.toordinal() + 1), add_months(today, FIRST_DUE_MAX_MONTHS)


def offer_defaults(loan: Loan) -> dict[str, Any]:
    """Suggested offer terms: what was asked for, within what risk approved, on the current version of the
    loan's product (its maximum lowered by an industry restriction), at the lowest rate of its band for the
    loan's risk grade."""
    from underwriting.matching import loan_risk_grade, product_rate_band  # matching imports this module

    product = products_active().filter(code=loan.product.code).first() or loan.product
    restriction = industry_restriction_active(loan.customer.industry)
    limit = restricted_max_amount(product.max_amount, restriction)
    principal = min(loan.requested_amount, loan_approved_amount(loan), limit)
    methods = list(product.repayment_methods or [])
    band = product_rate_band(product, loan_risk_grade(loan))
    return {
        "product": product,
        "principal": principal,
        "annual_rate": band[0] if band else product.min_rate,
        "term_months": loan.requested_term_months,
        "repayment_method": methods[0] if methods else None,
        "first_due_date": add_months(timezone.localdate(), 1),
    }


def product_versions(code: str) -> QuerySet[Product]:
    """Every version of a product, newest first."""
    return Product.objects.filter(code=code).order_by("-version")


def product_loan_count(product: Product) -> int:
    """How many loans point to this product version (a version in use is never changed, only replaced)."""
    return Loan.objects.filter(product=product).count()
