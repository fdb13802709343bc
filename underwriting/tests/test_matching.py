"""Product matching: every product on sale, eligible or not and why (one Chinese sentence each), ranked."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from applications.models import ApplicantType, Customer, Loan, Product
from underwriting import matching
from underwriting.matching import (
    AmountFactor,
    customer_age,
    loan_product_matching,
    loan_risk_grade,
    product_matching,
    product_rate_band,
    product_terms,
)
from underwriting.models import RiskAssessment, RiskReview
from underwriting.services import loan_approve
from underwriting.tests.helpers import make_customer, make_product

pytestmark = pytest.mark.django_db
D = Decimal
ON = date(2026, 6, 1)
BANDS = {
    "A": {"min_rate": "0.060000", "max_rate": "0.090000"},
    "B": {"min_rate": "0.080000", "max_rate": "0.110000"},
    "C": {"min_rate": "0.100000", "max_rate": "0.120000"},
}


@pytest.fixture
def applicant(db: None) -> Customer:
    return make_customer(id_number="110105199003070025", industry="I")  # 36 on ON


def match(customer: Customer, *, grade: str | None = "B", amount: str = "100000", term: int = 12) -> dict[str, Any]:
    return {
        m.product.code: m
        for m in product_matching(customer=customer, grade=grade, amount=D(amount), term_months=term, on=ON)
    }


def fitting(**overrides: Any) -> Product:
    values: dict[str, Any] = {
        "allowed_terms": [6, 12, 24],
        "rate_bands": BANDS,
        "min_rate": D("0.06"),
        "max_rate": D("0.12"),
    }
    values.update(overrides)
    return make_product(**values)


# --- every reason ---------------------------------------------------------------------------------


def test_an_eligible_product_has_no_reasons(applicant: Customer) -> None:
    product = fitting(code="fits")
    result = match(applicant)["fits"]
    assert (result.eligible, result.reasons, result.rank) == (True, [], 1)
    assert result.rate_band == (D("0.080000"), D("0.110000"))  # the band of grade B
    assert result.max_amount == product.max_amount


@pytest.mark.parametrize(
    ("overrides", "request_", "reason"),
    [
        ({"applicant_type": ApplicantType.ENTERPRISE}, {}, "该产品仅适用于企业借款人"),
        ({"min_age": 40}, {}, "借款人年龄 36 岁不在该产品的准入年龄 40–65 岁之内"),
        ({"max_age": 35}, {}, "借款人年龄 36 岁不在该产品的准入年龄 18–35 岁之内"),
        (
            {"excluded_industries": ["K", "I"]},
            {},
            "借款人所属行业「I 信息传输、软件和信息技术服务业」为该产品的禁入行业",
        ),
        ({}, {"amount": "600000"}, "申请金额 600,000.00 元不在产品金额范围 10,000.00–500,000.00 元之内"),
        ({}, {"amount": "9999.99"}, "申请金额 9,999.99 元不在产品金额范围 10,000.00–500,000.00 元之内"),
        ({}, {"term": 18}, "申请期限 18 个月不在该产品的可选期限（6、12、24 个月）之内"),
        ({}, {"grade": "E"}, "风险等级 E 级不在该产品的服务范围（A、B、C 级）之内"),
    ],
)
def test_each_reason_is_one_chinese_sentence(
    applicant: Customer, overrides: dict[str, Any], request_: dict[str, Any], reason: str
) -> None:
    fitting(code="p", **overrides)
    result = match(applicant, **request_)["p"]
    assert (result.eligible, result.reasons, result.rank) == (False, [reason], None)


def test_an_unreadable_id_number_is_a_reason(db: None) -> None:
    fitting(code="p")
    customer = make_customer(id_number="")
    assert match(customer)["p"].reasons == ["无法从身份证号码确定借款人年龄"]


def test_enterprises_are_not_age_checked(db: None) -> None:
    fitting(code="sme", applicant_type=ApplicantType.ENTERPRISE)
    company = make_customer(kind=ApplicantType.ENTERPRISE, id_number="", uscc="91110000100000000X")
    assert match(company)["sme"].eligible


def test_several_reasons_are_all_listed(applicant: Customer) -> None:
    fitting(code="p", excluded_industries=["I"])
    reasons = match(applicant, grade="D", term=36)["p"].reasons
    assert len(reasons) == 3
    assert [r[:4] for r in reasons] == ["借款人所", "申请期限", "风险等级"]


def test_a_product_without_grade_bands_serves_every_grade_at_its_range(applicant: Customer) -> None:
    product = make_product(code="legacy")
    assert product_terms(product) == list(range(3, 37))
    result = match(applicant, grade="E")["legacy"]
    assert result.eligible and result.rate_band == (product.min_rate, product.max_rate)


def test_without_a_grade_the_band_is_the_products_whole_range(applicant: Customer) -> None:
    product = fitting(code="p")
    result = match(applicant, grade=None)["p"]
    assert result.eligible and result.rate_band == (product.min_rate, product.max_rate)
    assert product_rate_band(product, "E") is None


def test_only_current_versions_on_sale_are_listed(applicant: Customer) -> None:
    fitting(code="off", is_active=False)
    fitting(code="old", retired_at=timezone.now())
    fitting(code="old", version=2)
    result = match(applicant)
    assert "off" not in result
    assert result["old"].product.version == 2


# --- ranking ----------------------------------------------------------------------------------------


def test_ranking_lowest_rate_for_the_grade_then_tightest_amount_fit(applicant: Customer) -> None:
    cheap_for_b = {**BANDS, "B": {"min_rate": "0.070000", "max_rate": "0.110000"}}
    fitting(code="z-cheap", rate_bands=cheap_for_b)
    fitting(code="y-wide", max_amount=D("900000"))
    fitting(code="x-tight", max_amount=D("150000"))
    fitting(code="w-no", excluded_industries=["I"])
    ordered = [
        m.product.code
        for m in product_matching(customer=applicant, grade="B", amount=D("100000"), term_months=12, on=ON)
    ]
    assert ordered == ["z-cheap", "x-tight", "y-wide", "w-no"]
    ranks = {
        m.product.code: m.rank
        for m in product_matching(customer=applicant, grade="B", amount=D("100000"), term_months=12, on=ON)
    }
    assert ranks == {"z-cheap": 1, "x-tight": 2, "y-wide": 3, "w-no": None}


def test_the_rate_ranking_uses_the_applicants_grade(applicant: Customer) -> None:
    fitting(
        code="a-best-for-a",
        rate_bands={"A": {"min_rate": "0.05", "max_rate": "0.06"}, "C": {"min_rate": "0.15", "max_rate": "0.16"}},
    )
    fitting(code="b-best-for-c")
    assert (
        next(
            m.product.code
            for m in product_matching(customer=applicant, grade="A", amount=D("100000"), term_months=12, on=ON)
        )
        == "a-best-for-a"
    )
    assert (
        next(
            m.product.code
            for m in product_matching(customer=applicant, grade="C", amount=D("100000"), term_months=12, on=ON)
        )
        == "b-best-for-c"
    )


# --- the amount-limit factor (one place, extensible) ------------------------------------------------------


@pytest.fixture
def halve_for_it(applicant: Customer) -> Iterator[None]:
    def rule(*, customer: Customer, products: Any, on: date) -> dict[int, AmountFactor]:
        if customer.industry != "I":
            return {}
        return {p.pk: AmountFactor(D("0.5"), "所属行业处于预警期，额度减半") for p in products}

    matching.AMOUNT_LIMIT_RULES.append(rule)
    yield
    matching.AMOUNT_LIMIT_RULES.remove(rule)


def test_an_amount_limit_rule_lowers_the_maximum(applicant: Customer, halve_for_it: None) -> None:
    fitting(code="p", max_amount=D("300000"))
    fits = match(applicant, amount="150000")["p"]
    assert (fits.eligible, fits.max_amount, fits.limit_notes) == (
        True,
        D("150000.00"),
        ["所属行业处于预警期，额度减半"],
    )
    over = match(applicant, amount="150000.01")["p"]
    assert over.reasons == [
        "申请金额 150,000.01 元超出该借款人在本产品的可贷上限 150,000.00 元（产品范围 10,000.00–300,000.00 元）"
    ]


# --- for a loan -----------------------------------------------------------------------------------


def test_loan_matching_uses_the_approved_amount_and_the_reviews_grade(review_loan: Loan, risk: Any) -> None:
    fitting(code="small", max_amount=D("80000"))
    assert loan_risk_grade(review_loan) == RiskAssessment.objects.filter(loan=review_loan).latest("id").grade
    before = {m.product.code: m for m in loan_product_matching(review_loan, on=ON)}
    assert not before["small"].eligible  # 100 000 requested
    assert before[review_loan.product.code].current
    loan_approve(actor=risk, loan_id=review_loan.pk, approved_amount="70000", note="降额")
    RiskAssessment.objects.filter(loan=review_loan).update(grade="E")
    assert loan_risk_grade(review_loan) == "E"
    after = {m.product.code: m for m in loan_product_matching(review_loan, on=ON)}
    assert after["small"].reasons == ["风险等级 E 级不在该产品的服务范围（A、B、C 级）之内"]
    assert after[review_loan.product.code].eligible  # no bands: every grade


def test_the_latest_risk_assessment_grade_comes_first(review_loan: Loan) -> None:
    assessment = RiskAssessment.objects.filter(loan=review_loan).latest("id")
    RiskAssessment.objects.filter(pk=assessment.pk).update(grade="D")
    RiskReview.objects.create(loan=review_loan, outcome="reject", note="x", grade="A", reviewer=assessment.run_by)
    assert loan_risk_grade(review_loan) == "D"


def test_without_an_assessment_the_reviews_grade_or_none(draft_loan: Loan, risk: Any) -> None:
    assert loan_risk_grade(draft_loan) is None
    RiskReview.objects.create(loan=draft_loan, outcome="reject", note="x", grade="B", reviewer=risk)
    assert loan_risk_grade(draft_loan) == "B"


def test_matching_reads_the_products_in_one_query_whatever_their_number(
    applicant: Customer, django_assert_num_queries: Any
) -> None:
    for n in range(12):
        fitting(code=f"qm-{n:02d}")
    with django_assert_num_queries(2):  # the products, the industry restriction
        result = product_matching(customer=applicant, grade="B", amount=D("100000"), term_months=12, on=ON)
    assert len(result) == 12


def test_an_industry_restriction_lowers_the_limit_through_the_rule(applicant: Customer) -> None:
    from underwriting.industry_restrictions import IndustryRestriction

    fitting(code="p", max_amount=D("200000"))
    IndustryRestriction.objects.create(
        industry="I", factor=D("0.5"), overdue_rate=D("0.08"), threshold=D("0.05"), imposed_on=ON
    )
    result = match(applicant, amount="100000.01")["p"]
    assert result.max_amount == D("100000.00") and not result.eligible
    assert "已被限制" in result.limit_notes[0]


def test_customer_age_counts_whole_years(db: None) -> None:
    customer = make_customer(id_number="110105199003070025")
    assert customer_age(customer, date(2026, 3, 6)) == 35
    assert customer_age(customer, date(2026, 3, 7)) == 36
