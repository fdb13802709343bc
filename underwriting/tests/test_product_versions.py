"""Versioned products: a version a loan uses is never changed; an edit writes the next version. And the offer
checked against the current version, its band for the loan's grade and the legal cap."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.test import override_settings

from applications.models import Loan, LoanStatus, Product
from compliance.models import AuditEvent
from loanops.exceptions import ConflictError, DomainError, InputError
from underwriting.models import RiskAssessment
from underwriting.services import loan_make_offer, product_copy, product_update
from underwriting.tests.helpers import drive, make_customer_with_login, make_loan, make_product, offer_terms, snapshot

pytestmark = pytest.mark.django_db
D = Decimal
BANDS = {
    "A": {"min_rate": "0.050000", "max_rate": "0.080000"},
    "C": {"min_rate": "0.090000", "max_rate": "0.120000"},
}


def offered_loan(product: Product, ops: Any, risk: Any, **offer: Any) -> Loan:
    loan = make_loan(customer=make_customer_with_login(), product=product)
    return drive(loan, "offered", ops=ops, risk=risk, offer=offer_terms(**offer))


def terms(loan: Loan) -> tuple[Any, ...]:
    fresh = Loan.objects.select_related("product").get(pk=loan.pk)
    p = fresh.product
    return (
        fresh.product_id,
        p.version,
        fresh.principal,
        fresh.annual_rate,
        fresh.term_months,
        fresh.apr,
        fresh.rate_cap,
        fresh.lpr_used,
        p.max_rate,
        p.origination_fee_rate,
        p.penalty_surcharge,
    )


# --- versioning -----------------------------------------------------------------------------------


def test_editing_a_product_never_changes_a_loan_already_offered(
    product: Product, ops: Any, risk: Any, product_manager: Any
) -> None:
    loan = offered_loan(product, ops, risk)
    before = terms(loan)
    successor = product_update(
        actor=product_manager,
        product_id=product.pk,
        data={"max_rate": "0.15", "origination_fee_rate": "0.01", "penalty_surcharge": "0.3", "name": "新名称"},
    )
    assert (successor.code, successor.version) == (product.code, 2)
    assert successor.pk != product.pk
    assert terms(loan) == before  # same version row, same terms, same cap
    old = Product.objects.get(pk=product.pk)
    assert old.retired_at is not None and old.name == "个人消费贷（测试）" and old.max_rate == D("0.200000")
    assert (successor.max_rate, successor.origination_fee_rate, successor.name) == (
        D("0.150000"),
        D("0.010000"),
        "新名称",
    )
    assert successor.retired_at is None
    event = AuditEvent.objects.get(action="product.version", subject_id=str(successor.pk))
    assert event.data == {"previous_id": product.pk, "previous_version": 1, "version": 2}
    assert set(event.after) == {"max_rate", "origination_fee_rate", "penalty_surcharge", "name"}


def test_a_new_version_copies_every_concrete_field(product: Product, ops: Any, risk: Any, product_manager: Any) -> None:
    offered_loan(product, ops, risk)
    Product.objects.filter(pk=product.pk).update(
        excluded_industries=["K"],
        allowed_terms=[6, 12],
        min_term_months=6,
        max_term_months=12,
        min_age=21,
        allocation_order=["penalty", "fee", "interest", "principal"],  # a field another stage added
    )
    product.refresh_from_db()
    successor = product_update(actor=product_manager, product_id=product.pk, data={"name": "改名"})
    skip = {"id", "version", "name", "created_at", "updated_at", "retired_at"}
    for field in Product._meta.concrete_fields:
        if field.name not in skip:
            assert getattr(successor, field.attname) == getattr(product, field.attname), field.name


def test_product_copy_is_generic_over_the_models_fields(product: Product) -> None:
    copy = product_copy(product)
    names = {f.name for f in Product._meta.concrete_fields} - {"id", "created_at", "updated_at", "retired_at"}
    assert {name: getattr(copy, name) for name in names} == {name: getattr(product, name) for name in names}
    assert copy.pk is None


def test_an_unused_product_is_changed_in_place(product: Product, product_manager: Any) -> None:
    updated = product_update(actor=product_manager, product_id=product.pk, data={"name": "改名"})
    assert (updated.pk, updated.version, updated.name) == (product.pk, 1, "改名")
    assert Product.objects.filter(code=product.code).count() == 1


def test_a_retired_version_cannot_be_edited(product: Product, ops: Any, risk: Any, product_manager: Any) -> None:
    offered_loan(product, ops, risk)
    successor = product_update(actor=product_manager, product_id=product.pk, data={"name": "v2"})
    count = Product.objects.count()
    with pytest.raises(ConflictError) as exc_info:
        product_update(actor=product_manager, product_id=product.pk, data={"name": "v3"})
    assert (exc_info.value.code, exc_info.value.http_status) == ("product_version_retired", 409)
    assert exc_info.value.extra["current_id"] == successor.pk
    assert Product.objects.count() == count


def test_each_edit_of_a_used_version_adds_one(product: Product, ops: Any, risk: Any, product_manager: Any) -> None:
    offered_loan(product, ops, risk)
    v2 = product_update(actor=product_manager, product_id=product.pk, data={"name": "v2"})
    offered_loan(v2, ops, risk)
    v3 = product_update(actor=product_manager, product_id=v2.pk, data={"name": "v3"})
    versions = [(p.version, p.retired_at is None) for p in Product.objects.filter(code=product.code)]
    assert versions == [(3, True), (2, False), (1, False)]
    assert v3.version == 3


@pytest.mark.parametrize("role", ["ops", "risk", "manager", "service_user"])
def test_only_product_managers_change_products(product: Product, role: str, request: pytest.FixtureRequest) -> None:
    with pytest.raises(PermissionDenied):
        product_update(actor=request.getfixturevalue(role), product_id=product.pk, data={"name": "x"})
    assert Product.objects.get(pk=product.pk).name == "个人消费贷（测试）"


# --- the offer on the current version ---------------------------------------------------------------


def test_an_offer_is_made_on_the_current_version(product: Product, ops: Any, risk: Any, product_manager: Any) -> None:
    loan = make_loan(customer=make_customer_with_login(), product=product)
    loan = drive(loan, "approved", ops=ops, risk=risk)
    offered_loan(product, ops, risk)  # v1 is in use
    v2 = product_update(actor=product_manager, product_id=product.pk, data={"max_rate": "0.10"})
    with pytest.raises(DomainError) as exc_info:  # v2's range, not v1's
        loan_make_offer(actor=risk, loan_id=loan.pk, **offer_terms(annual_rate="0.11"))
    assert exc_info.value.code == "rate_outside_band"
    loan_make_offer(actor=risk, loan_id=loan.pk, **offer_terms(annual_rate="0.10"))
    assert Loan.objects.get(pk=loan.pk).product_id == v2.pk


def test_the_offer_takes_the_band_of_the_loans_grade(ops: Any, risk: Any) -> None:
    product = make_product(rate_bands=BANDS, min_rate=D("0.05"), max_rate=D("0.12"))
    loan = drive(make_loan(customer=make_customer_with_login(), product=product), "approved", ops=ops, risk=risk)
    RiskAssessment.objects.filter(loan=loan).update(grade="C")
    before = snapshot(loan)
    with pytest.raises(DomainError) as exc_info:
        loan_make_offer(actor=risk, loan_id=loan.pk, **offer_terms(annual_rate="0.07"))  # fine for A, not C
    assert (exc_info.value.code, exc_info.value.http_status) == ("rate_outside_band", 422)
    assert "风险等级 C 级" in exc_info.value.fields["annual_rate"][0]
    assert snapshot(loan) == before
    loan_make_offer(actor=risk, loan_id=loan.pk, **offer_terms(annual_rate="0.095"))
    assert Loan.objects.get(pk=loan.pk).status == LoanStatus.OFFERED


def test_a_grade_the_product_does_not_serve_is_refused(ops: Any, risk: Any) -> None:
    product = make_product(rate_bands=BANDS, min_rate=D("0.05"), max_rate=D("0.12"))
    loan = drive(make_loan(customer=make_customer_with_login(), product=product), "approved", ops=ops, risk=risk)
    RiskAssessment.objects.filter(loan=loan).update(grade="E")
    before = snapshot(loan)
    with pytest.raises(DomainError) as exc_info:
        loan_make_offer(actor=risk, loan_id=loan.pk, **offer_terms(annual_rate="0.10"))
    assert exc_info.value.code == "product_not_eligible"
    assert exc_info.value.extra["reasons"] == ["风险等级 E 级不在该产品的服务范围（A、C 级）之内"]
    assert snapshot(loan) == before


def test_the_offer_refuses_an_excluded_industry(ops: Any, risk: Any) -> None:
    product = make_product(excluded_industries=["I"])
    loan = drive(make_loan(customer=make_customer_with_login(), product=product), "approved", ops=ops, risk=risk)
    with pytest.raises(DomainError) as exc_info:
        loan_make_offer(actor=risk, loan_id=loan.pk, **offer_terms())
    assert exc_info.value.code == "product_not_eligible"
    assert "禁入行业" in exc_info.value.message


def test_the_term_must_be_one_of_the_allowed_terms(ops: Any, risk: Any) -> None:
    product = make_product(allowed_terms=[6, 12, 24], min_term_months=6, max_term_months=24)
    loan = drive(make_loan(customer=make_customer_with_login(), product=product), "approved", ops=ops, risk=risk)
    before = snapshot(loan)
    with pytest.raises(InputError) as exc_info:
        loan_make_offer(actor=risk, loan_id=loan.pk, **offer_terms(term_months=18))
    assert exc_info.value.fields["term_months"] == ["期限应为该产品的可选期限之一：6、12、24 个月"]
    assert snapshot(loan) == before


def test_the_offer_may_choose_another_eligible_product(draft_loan: Loan, ops: Any, risk: Any) -> None:
    other = make_product(code="other", name="另一个产品")
    loan = drive(draft_loan, "approved", ops=ops, risk=risk)
    loan_make_offer(actor=risk, loan_id=loan.pk, product_id=other.pk, **offer_terms())
    event = AuditEvent.objects.get(action="loan.make_offer", subject_id=str(loan.pk))
    assert (Loan.objects.get(pk=loan.pk).product_id, event.data["product"]) == (other.pk, "other")


def test_an_offer_on_a_product_off_sale_is_refused(approved_loan: Loan, risk: Any) -> None:
    Product.objects.filter(pk=approved_loan.product_id).update(is_active=False)
    before = snapshot(approved_loan)
    with pytest.raises(DomainError) as exc_info:
        loan_make_offer(actor=risk, loan_id=approved_loan.pk, **offer_terms())
    assert exc_info.value.code == "product_not_on_sale"
    assert snapshot(approved_loan) == before


def test_private_lending_cap_refuses_above_four_times_lpr(ops: Any, risk: Any) -> None:
    product = make_product(max_rate=D("0.30"))
    loan = drive(make_loan(customer=make_customer_with_login(), product=product), "approved", ops=ops, risk=risk)
    before = snapshot(loan)
    with pytest.raises(DomainError) as exc_info:
        loan_make_offer(actor=risk, loan_id=loan.pk, **offer_terms(annual_rate="0.125"))
    assert exc_info.value.code == "rate_cap_exceeded"
    assert (exc_info.value.extra["cap"], exc_info.value.extra["lpr"]) == ("0.120000", "0.030000")
    assert "LPR 3.00% × 4" in exc_info.value.message
    assert snapshot(loan) == before


@override_settings(LOANOPS_LICENCE_TYPE="microcredit")
def test_a_licensed_lender_records_its_cap_and_no_lpr(ops: Any, risk: Any) -> None:
    product = make_product(max_rate=D("0.30"))
    loan = drive(make_loan(customer=make_customer_with_login(), product=product), "approved", ops=ops, risk=risk)
    loan_make_offer(actor=risk, loan_id=loan.pk, **offer_terms(annual_rate="0.18"))
    fresh = Loan.objects.get(pk=loan.pk)
    assert (fresh.rate_cap, fresh.lpr_used) == (D("0.240000"), None)
