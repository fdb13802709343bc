"""Product matching (产品匹配) — the read side: which products on sale fit an applicant, a grade and a request.

Every product on sale is listed, eligible or not; each reason a product does not fit is one Chinese
sentence. Eligible products are ranked: the lowest rate the product charges at this grade first, then the
tightest amount fit (the least headroom above the requested amount), then the product code.

The maximum amount a product lends to this applicant passes through ONE place, `amount_limits`: it
multiplies `Product.max_amount` by the factors that the rules in `AMOUNT_LIMIT_RULES` return (e.g. an
industry under early warning lends at most 50 %). A rule is registered by appending a callable (for an app
in a higher layer: from its `AppConfig.ready()`); it is called once per matching with every product, so a
rule reads what it needs in one query.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Final

from django.utils import timezone
from stdnum.cn import ric
from stdnum.exceptions import ValidationError as StdnumValidationError

from applications.models import ApplicantType, Customer, Industry, Loan, Product
from applications.selectors import products_active
from loanops.money import format_money, format_rate_percent, to_decimal, to_money
from loanops.types import RiskGrade
from underwriting.industry_restrictions import industry_restriction_active
from underwriting.models import RiskAssessment, RiskReview
from underwriting.selectors import loan_approved_amount

GRADES: Final = tuple(RiskGrade.values)


# --- a product's terms and bands ------------------------------------------------------------------


def product_terms(product: Product) -> list[int]:
    """The term months a borrower may choose: the product's list, or every month of its range."""
    terms = [int(term) for term in product.allowed_terms or []]
    if terms:
        return sorted(set(terms))
    return list(range(product.min_term_months, product.max_term_months + 1))


def product_rate_bands(product: Product) -> dict[str, tuple[Decimal, Decimal]]:
    """grade → (min annual rate, max annual rate) for every grade the product serves, A to E."""
    bands = product.rate_bands or {}
    if not bands:  # a product without per-grade bands serves every grade at its whole range
        return {grade: (product.min_rate, product.max_rate) for grade in GRADES}
    return {
        grade: (to_decimal(str(bands[grade]["min_rate"])), to_decimal(str(bands[grade]["max_rate"])))
        for grade in GRADES
        if grade in bands
    }


def product_rate_band(product: Product, grade: str | None) -> tuple[Decimal, Decimal] | None:
    """The band for ``grade``; None if the product does not serve it. No grade yet: the whole range."""
    if not grade:
        return (product.min_rate, product.max_rate)
    return product_rate_bands(product).get(grade)


def format_terms(terms: Sequence[int]) -> str:
    return "、".join(str(term) for term in terms)


# --- the amount limit: the one place a factor applies -------------------------------------------------


@dataclass(frozen=True)
class AmountFactor:
    """Multiply the product's maximum amount by ``factor`` (0 < factor ≤ 1), because of ``reason``."""

    factor: Decimal
    reason: str


#: rule(*, customer, products, on) -> {product pk: AmountFactor}; see the module docstring
AmountLimitRule = Callable[..., dict[int, AmountFactor]]


def industry_restriction_rule(*, customer: Customer, products: Sequence[Product], on: date) -> dict[int, AmountFactor]:
    """While the applicant's industry is restricted (industry early warning), every product lends at most its
    maximum × the restriction's factor (one query)."""
    restriction = industry_restriction_active(customer.industry)
    if restriction is None:
        return {}
    reason = (
        f"借款人所在行业（{restriction.get_industry_display()}）已被限制：可贷上限为产品最高金额 × "
        f"{restriction.factor.normalize()}"
    )
    return {product.pk: AmountFactor(restriction.factor, reason) for product in products}


AMOUNT_LIMIT_RULES: list[AmountLimitRule] = [industry_restriction_rule]


def amount_limits(*, customer: Customer, products: Sequence[Product], on: date) -> dict[int, tuple[Decimal, list[str]]]:
    """product pk → (the most it lends this applicant, why it is lower than the product's maximum)."""
    factors: dict[int, list[AmountFactor]] = {product.pk: [] for product in products}
    for rule in AMOUNT_LIMIT_RULES:
        for pk, factor in rule(customer=customer, products=products, on=on).items():
            if pk in factors:
                factors[pk].append(factor)
    limits: dict[int, tuple[Decimal, list[str]]] = {}
    for product in products:
        limit = product.max_amount
        for item in factors[product.pk]:
            limit = limit * item.factor
        limits[product.pk] = (to_money(limit), [item.reason for item in factors[product.pk]])
    return limits


# --- applicant ----------------------------------------------------------------------------------


def customer_age(customer: Customer, on: date) -> int | None:
    """Whole years of age on ``on``, from the birth date in the 居民身份证 number (None if unreadable)."""
    try:
        birth = ric.get_birth_date(ric.compact(customer.id_number or ""))
    except (StdnumValidationError, ValueError, TypeError):
        return None
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def loan_risk_grade(loan: Loan) -> str | None:
    """The loan's risk grade A–E: that of its latest risk assessment (scorecard), else of the latest risk
    review that recorded one; None before any grading."""
    assessment = RiskAssessment.objects.filter(loan=loan).order_by("-id").only("grade").first()
    if assessment is not None and assessment.grade in GRADES:
        return assessment.grade
    review = RiskReview.objects.filter(loan=loan).exclude(grade="").order_by("-created_at", "-id").only("grade").first()
    return review.grade if review and review.grade in GRADES else None


# --- eligibility --------------------------------------------------------------------------------


@dataclass
class ProductMatch:
    product: Product
    eligible: bool
    reasons: list[str]
    rate_band: tuple[Decimal, Decimal] | None
    max_amount: Decimal
    limit_notes: list[str] = field(default_factory=list)
    rank: int | None = None
    current: bool = False

    @property
    def rate_min(self) -> Decimal | None:
        return self.rate_band[0] if self.rate_band else None

    @property
    def rate_max(self) -> Decimal | None:
        return self.rate_band[1] if self.rate_band else None


def eligibility_reasons(
    product: Product,
    *,
    customer: Customer,
    grade: str | None,
    amount: Decimal,
    term_months: int,
    on: date,
    max_amount: Decimal | None = None,
) -> list[str]:
    """Why ``product`` does not fit (one sentence each); empty when it fits. ``max_amount`` defaults to the
    product's own maximum (pass the applicant's limit from `amount_limits`)."""
    reasons: list[str] = []
    if product.applicant_type != customer.kind:
        reasons.append(f"该产品仅适用于{ApplicantType(product.applicant_type).label}借款人")
    if customer.kind == ApplicantType.INDIVIDUAL:
        age = customer_age(customer, on)
        if age is None:
            reasons.append("无法从身份证号码确定借款人年龄")
        elif not (product.min_age <= age <= product.max_age):
            reasons.append(f"借款人年龄 {age} 岁不在该产品的准入年龄 {product.min_age}–{product.max_age} 岁之内")
    if customer.industry in (product.excluded_industries or []):
        label = Industry(customer.industry).label if customer.industry in Industry.values else customer.industry
        reasons.append(f"借款人所属行业「{label}」为该产品的禁入行业")
    limit = product.max_amount if max_amount is None else max_amount
    if not (product.min_amount <= amount <= limit):
        if limit < product.max_amount:
            reasons.append(
                f"申请金额 {format_money(amount)} 元超出该借款人在本产品的可贷上限 {format_money(limit)} 元"
                f"（产品范围 {format_money(product.min_amount)}–{format_money(product.max_amount)} 元）"
            )
        else:
            reasons.append(
                f"申请金额 {format_money(amount)} 元不在产品金额范围 "
                f"{format_money(product.min_amount)}–{format_money(limit)} 元之内"
            )
    terms = product_terms(product)
    if term_months not in terms:
        reasons.append(f"申请期限 {term_months} 个月不在该产品的可选期限（{format_terms(terms)} 个月）之内")
    if grade and product_rate_band(product, grade) is None:
        served = "、".join(product_rate_bands(product)) or "无"
        reasons.append(f"风险等级 {grade} 级不在该产品的服务范围（{served} 级）之内")
    return reasons


def product_matching(
    *,
    customer: Customer,
    grade: str | None,
    amount: Decimal,
    term_months: int,
    on: date | None = None,
    current_code: str | None = None,
    products: Sequence[Product] | None = None,
) -> list[ProductMatch]:
    """Every product on sale against this applicant, grade and request: eligible ones ranked first
    (``rank`` 1, 2, …), then the others by code, each with its reasons. One query for the products."""
    on = on or timezone.localdate()
    catalogue = list(products if products is not None else products_active().order_by("code"))
    limits = amount_limits(customer=customer, products=catalogue, on=on)
    matches: list[ProductMatch] = []
    for product in catalogue:
        limit, notes = limits[product.pk]
        reasons = eligibility_reasons(
            product, customer=customer, grade=grade, amount=amount, term_months=term_months, on=on, max_amount=limit
        )
        matches.append(
            ProductMatch(
                product=product,
                eligible=not reasons,
                reasons=reasons,
                rate_band=product_rate_band(product, grade),
                max_amount=limit,
                limit_notes=notes,
                current=current_code is not None and product.code == current_code,
            )
        )
    eligible = sorted(
        (m for m in matches if m.eligible),
        key=lambda m: (m.rate_band[0] if m.rate_band else Decimal(1), m.max_amount - amount, m.product.code),
    )
    for rank, match in enumerate(eligible, start=1):
        match.rank = rank
    others = sorted((m for m in matches if not m.eligible), key=lambda m: m.product.code)
    return [*eligible, *others]


def loan_match_request(loan: Loan) -> dict[str, Any]:
    """What a loan is matched with: its grade, the amount (risk's approval caps the request) and term."""
    return {
        "customer": loan.customer,
        "grade": loan_risk_grade(loan),
        "amount": min(loan.requested_amount, loan_approved_amount(loan)),
        "term_months": loan.requested_term_months,
    }


def loan_product_matching(loan: Loan, *, on: date | None = None) -> list[ProductMatch]:
    """`product_matching` for a loan; ``current`` marks its own product (any version of it)."""
    return product_matching(**loan_match_request(loan), on=on, current_code=loan.product.code)


def describe_band(band: tuple[Decimal, Decimal] | None) -> str:
    if band is None:
        return "—"
    return f"{format_rate_percent(band[0])} – {format_rate_percent(band[1])}"
