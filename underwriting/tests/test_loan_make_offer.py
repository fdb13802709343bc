"""loan_make_offer: terms checked against the approval and the product, APR stored, legal cap enforced."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.test import override_settings
from django.utils import timezone

from applications.models import Loan, LoanStatus
from compliance.models import AuditEvent
from loanops.exceptions import DomainError, InputError, InvalidTransition
from loanops.pricing import annualised_rate
from loanops.schedule import build_schedule
from underwriting.selectors import add_months
from underwriting.services import loan_approve, loan_make_offer, offer_apr, rate_cap
from underwriting.tests.helpers import drive, make_customer_with_login, make_loan, make_product, offer_terms, snapshot

pytestmark = pytest.mark.django_db

D = Decimal


def test_make_offer_sets_terms_and_apr(approved_loan: Loan, risk: Any) -> None:
    terms = offer_terms()
    loan = loan_make_offer(actor=risk, loan_id=approved_loan.pk, reason="标准定价", **terms)

    fresh = Loan.objects.get(pk=approved_loan.pk)
    assert fresh.status == LoanStatus.OFFERED
    assert fresh.principal == D("100000.00")
    assert fresh.annual_rate == D("0.120000")
    assert fresh.term_months == 12
    assert fresh.repayment_method == "equal_installment"
    assert fresh.first_due_date == terms["first_due_date"]
    # no fee: the IRR of an equal-installment schedule is its nominal rate (to the 6th place)
    assert abs(fresh.apr - D("0.12")) <= D("0.000002")
    assert loan.apr == fresh.apr
    event = AuditEvent.objects.get(action="loan.make_offer", subject_id=str(fresh.pk))
    assert event.reason == "标准定价"
    assert event.data["apr"] == str(fresh.apr)
    assert event.data["principal"] == "100000.00"
    # private lending (the default licence): 4 × the latest approved LPR published before today
    assert event.data["rate_cap"] == "0.120000" and event.data["lpr_used"] == "0.030000"
    assert (fresh.rate_cap, fresh.lpr_used) == (D("0.120000"), D("0.030000"))
    assert event.data["product_version"] == 1 and fresh.product_id == approved_loan.product_id


def test_ops_may_make_the_offer(approved_loan: Loan, ops: Any) -> None:
    loan_make_offer(actor=ops, loan_id=approved_loan.pk, **offer_terms(principal="50000", term_months="6"))
    fresh = Loan.objects.get(pk=approved_loan.pk)
    assert (fresh.status, fresh.principal, fresh.term_months) == (LoanStatus.OFFERED, D("50000.00"), 6)


@override_settings(LOANOPS_LICENCE_TYPE="microcredit")
def test_apr_includes_the_upfront_origination_fee(ops: Any, risk: Any) -> None:
    product = make_product(origination_fee_rate=D("0.02"))
    loan = make_loan(customer=make_customer_with_login(), product=product)
    loan = drive(loan, "approved", ops=ops, risk=risk)
    terms = offer_terms(annual_rate="0.10", repayment_method="equal_principal")
    loan_make_offer(actor=risk, loan_id=loan.pk, **terms)

    fresh = Loan.objects.get(pk=loan.pk)
    rows = build_schedule(
        principal=D("100000.00"),
        annual_rate=D("0.10"),
        term_months=12,
        method="equal_principal",
        first_due_date=terms["first_due_date"],
    )
    expected = annualised_rate(
        principal_received=D("98000.00"),
        payments=[(row.due_date, row.total) for row in rows],
        start=add_months(terms["first_due_date"], -1),
    )
    assert fresh.apr == expected
    assert fresh.apr > D("0.13")  # a 2 % fee on a 12-month loan adds well over 3 points


@pytest.mark.parametrize("method", ["equal_installment", "equal_principal", "interest_only", "bullet"])
def test_apr_for_every_method(method: str) -> None:
    apr = offer_apr(
        principal=D("120000.00"),
        annual_rate=D("0.06"),
        term_months=12,
        repayment_method=method,
        first_due_date=date(2030, 1, 31),
        origination_fee_rate=D("0"),
    )
    # bullet and interest-only without compounding: IRR ≤ nominal rate; amortising ones equal it
    assert D("0.055") < apr <= D("0.0600005")


@override_settings(LOANOPS_LICENCE_TYPE="microcredit")
def test_rate_cap_refusal_changes_nothing(ops: Any, risk: Any) -> None:
    product = make_product(max_rate=D("0.30"), origination_fee_rate=D("0.03"))
    loan = drive(make_loan(customer=make_customer_with_login(), product=product), "approved", ops=ops, risk=risk)
    before = snapshot(loan)
    with pytest.raises(DomainError) as exc_info:
        loan_make_offer(actor=risk, loan_id=loan.pk, **offer_terms(annual_rate="0.23"))
    error = exc_info.value
    assert error.code == "rate_cap_exceeded"
    assert error.http_status == 422
    assert D(error.extra["apr"]) > D("0.24")
    assert error.extra["cap"] == "0.240000"
    assert snapshot(loan) == before


@override_settings(LOANOPS_LICENCE_TYPE="microcredit")
def test_rate_exactly_at_the_cap_is_allowed(ops: Any, risk: Any) -> None:
    product = make_product(max_rate=D("0.30"))
    loan = drive(make_loan(customer=make_customer_with_login(), product=product), "approved", ops=ops, risk=risk)
    loan_make_offer(actor=risk, loan_id=loan.pk, **offer_terms(annual_rate="0.24"))
    assert Loan.objects.get(pk=loan.pk).apr <= D("0.24")


@override_settings(LOANOPS_LICENCE_TYPE="consumer_finance", LOANOPS_LICENSED_RATE_CAPS={"consumer_finance": "0.10"})
def test_rate_cap_comes_from_settings(approved_loan: Loan, risk: Any) -> None:
    assert rate_cap() == D("0.100000")
    with pytest.raises(DomainError) as exc_info:
        loan_make_offer(actor=risk, loan_id=approved_loan.pk, **offer_terms(annual_rate="0.12"))
    assert exc_info.value.code == "rate_cap_exceeded"
    assert Loan.objects.get(pk=approved_loan.pk).status == LoanStatus.APPROVED


def _today() -> date:
    return timezone.localdate()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"principal": "100000.01"}, "principal"),  # above the approved (= requested) amount
        ({"principal": "9999"}, "principal"),  # below the product minimum
        ({"principal": "0"}, "principal"),
        ({"principal": "x"}, "principal"),
        ({"principal": "5000.001"}, "principal"),
        ({"principal": 50000.0}, "principal"),
        ({"annual_rate": "1.5"}, "annual_rate"),
        ({"annual_rate": "-0.01"}, "annual_rate"),
        ({"annual_rate": "0.1234567"}, "annual_rate"),
        ({"annual_rate": ""}, "annual_rate"),
        ({"term_months": 2}, "term_months"),
        ({"term_months": 37}, "term_months"),
        ({"term_months": "twelve"}, "term_months"),
        ({"term_months": 12.0}, "term_months"),
        ({"term_months": True}, "term_months"),
        ({"repayment_method": "balloon"}, "repayment_method"),
        ({"repayment_method": ""}, "repayment_method"),
        ({"first_due_date": "2025-13-01"}, "first_due_date"),
        ({"first_due_date": None}, "first_due_date"),
        ({"reason": "长" * 2001}, "reason"),
    ],
)
def test_make_offer_bad_input_changes_nothing(
    approved_loan: Loan, risk: Any, overrides: dict[str, Any], field: str
) -> None:
    before = snapshot(approved_loan)
    with pytest.raises(InputError) as exc_info:
        loan_make_offer(actor=risk, loan_id=approved_loan.pk, **offer_terms(**overrides))
    assert field in exc_info.value.fields, exc_info.value.fields
    assert snapshot(approved_loan) == before


@pytest.mark.parametrize("rate", ["0.039999", "0.200001"])
def test_rate_outside_the_product_range_is_422_and_changes_nothing(approved_loan: Loan, risk: Any, rate: str) -> None:
    """No grade yet: the product's whole range is the band."""
    before = snapshot(approved_loan)
    with pytest.raises(DomainError) as exc_info:
        loan_make_offer(actor=risk, loan_id=approved_loan.pk, **offer_terms(annual_rate=rate))
    assert (exc_info.value.code, exc_info.value.http_status) == ("rate_outside_band", 422)
    assert "annual_rate" in exc_info.value.fields
    assert snapshot(approved_loan) == before


@pytest.mark.parametrize(
    "first_due",
    [
        lambda today: today,
        lambda today: today - timedelta(days=1),
        lambda today: add_months(today, 2) + timedelta(days=1),
        lambda today: add_months(today, 6),
    ],
)
def test_first_due_date_window(approved_loan: Loan, risk: Any, first_due: Any) -> None:
    before = snapshot(approved_loan)
    with pytest.raises(InputError) as exc_info:
        loan_make_offer(actor=risk, loan_id=approved_loan.pk, **offer_terms(first_due_date=first_due(_today())))
    assert "first_due_date" in exc_info.value.fields
    assert snapshot(approved_loan) == before


@pytest.mark.parametrize("first_due", [lambda today: today + timedelta(days=1), lambda today: add_months(today, 2)])
def test_first_due_date_window_edges_are_allowed(approved_loan: Loan, risk: Any, first_due: Any) -> None:
    due = first_due(_today())
    loan_make_offer(actor=risk, loan_id=approved_loan.pk, **offer_terms(first_due_date=due.isoformat()))
    assert Loan.objects.get(pk=approved_loan.pk).first_due_date == due


def test_method_must_be_offered_by_the_product(ops: Any, risk: Any) -> None:
    product = make_product(repayment_methods=["equal_principal"])
    loan = drive(make_loan(customer=make_customer_with_login(), product=product), "approved", ops=ops, risk=risk)
    with pytest.raises(InputError) as exc_info:
        loan_make_offer(actor=risk, loan_id=loan.pk, **offer_terms(repayment_method="equal_installment"))
    assert "等额本金" in exc_info.value.fields["repayment_method"][0]


def test_principal_is_capped_by_the_approved_amount(review_loan: Loan, risk: Any) -> None:
    loan_approve(actor=risk, loan_id=review_loan.pk, approved_amount="60000", note="降额")
    with pytest.raises(InputError) as exc_info:
        loan_make_offer(actor=risk, loan_id=review_loan.pk, **offer_terms(principal="60000.01"))
    assert "principal" in exc_info.value.fields
    loan_make_offer(actor=risk, loan_id=review_loan.pk, **offer_terms(principal="60000"))
    assert Loan.objects.get(pk=review_loan.pk).principal == D("60000.00")


def test_make_offer_wrong_state(review_loan: Loan, risk: Any) -> None:
    before = snapshot(review_loan)
    with pytest.raises(InvalidTransition):
        loan_make_offer(actor=risk, loan_id=review_loan.pk, **offer_terms())
    assert snapshot(review_loan) == before


@pytest.mark.parametrize("role_fixture", ["manager", "service_user", "product_manager"])
def test_make_offer_without_permission(request: pytest.FixtureRequest, approved_loan: Loan, role_fixture: str) -> None:
    before = snapshot(approved_loan)
    with pytest.raises(PermissionDenied):
        loan_make_offer(actor=request.getfixturevalue(role_fixture), loan_id=approved_loan.pk, **offer_terms())
    assert snapshot(approved_loan) == before


def test_borrower_cannot_make_their_own_offer(approved_loan: Loan) -> None:
    with pytest.raises(PermissionDenied):
        loan_make_offer(actor=approved_loan.customer.user, loan_id=approved_loan.pk, **offer_terms())
