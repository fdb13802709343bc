"""loan_approve and loan_reject: happy paths, every bad input, wrong state, permissions, nothing written."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied

from applications.models import Customer, Loan, LoanStatus
from compliance.models import AuditEvent
from loanops.exceptions import InputError, InvalidTransition
from underwriting.models import RiskReview
from underwriting.selectors import REJECT_REASONS, loan_reviews
from underwriting.services import loan_approve, loan_reject
from underwriting.tests.helpers import snapshot

pytestmark = pytest.mark.django_db


# --- approve ------------------------------------------------------------------------------------


def test_approve_defaults_to_requested_amount_and_audits(review_loan: Loan, risk: Any) -> None:
    review = loan_approve(actor=risk, loan_id=review_loan.pk, approved_amount=None, note="  征信良好，收入稳定 ")

    review_loan.refresh_from_db()
    assert review_loan.status == LoanStatus.APPROVED
    assert review.outcome == RiskReview.Outcome.APPROVE
    assert review.approved_amount == Decimal("100000.00")
    assert review.note == "征信良好，收入稳定"
    assert review.reviewer == risk
    assert review.reason_codes == []
    event = AuditEvent.objects.filter(action="loan.approve", subject_id=str(review_loan.pk)).get()
    assert event.after == {"status": "approved"}
    assert event.data["approved_amount"] == "100000.00"
    assert event.data["levels"] == 1 and event.data["grade"] in ("A", "B", "C")
    assert event.reason == "征信良好，收入稳定"
    assert list(loan_reviews(review_loan)) == [review]


@pytest.mark.parametrize("amount", ["80000", Decimal("80000.00"), "80000.00"])
def test_approve_a_lower_amount(review_loan: Loan, risk: Any, amount: Any) -> None:
    review = loan_approve(actor=risk, loan_id=review_loan.pk, approved_amount=amount, note="降额批准")
    assert review.approved_amount == Decimal("80000.00")


def test_manager_may_approve(review_loan: Loan, manager: Any) -> None:
    loan_approve(actor=manager, loan_id=review_loan.pk, approved_amount="100000", note="超权限审批")
    assert Loan.objects.get(pk=review_loan.pk).status == LoanStatus.APPROVED


@pytest.mark.parametrize(
    ("amount", "note", "field"),
    [
        ("100000.01", "ok", "approved_amount"),  # above requested
        ("150000", "ok", "approved_amount"),
        ("9999.99", "ok", "approved_amount"),  # below the product minimum
        ("0", "ok", "approved_amount"),
        ("-1", "ok", "approved_amount"),
        ("abc", "ok", "approved_amount"),
        ("50000.123", "ok", "approved_amount"),
        ("NaN", "ok", "approved_amount"),
        (1.5, "ok", "approved_amount"),  # floats are refused
        (None, "", "note"),
        (None, "   ", "note"),
        (None, "长" * 2001, "note"),
    ],
)
def test_approve_bad_input_changes_nothing(review_loan: Loan, risk: Any, amount: Any, note: str, field: str) -> None:
    before = snapshot(review_loan)
    with pytest.raises(InputError) as exc_info:
        loan_approve(actor=risk, loan_id=review_loan.pk, approved_amount=amount, note=note)
    assert field in exc_info.value.fields
    assert exc_info.value.http_status == 400
    assert snapshot(review_loan) == before


def test_approve_reports_every_bad_field_at_once(review_loan: Loan, risk: Any) -> None:
    with pytest.raises(InputError) as exc_info:
        loan_approve(actor=risk, loan_id=review_loan.pk, approved_amount="x", note="")
    assert set(exc_info.value.fields) == {"approved_amount", "note"}


def test_approve_in_wrong_state_is_invalid_transition(draft_loan: Loan, risk: Any) -> None:
    before = snapshot(draft_loan)
    with pytest.raises(InvalidTransition) as exc_info:
        # bad input too: the state is reported first (409), not the field
        loan_approve(actor=risk, loan_id=draft_loan.pk, approved_amount="x", note="")
    assert exc_info.value.http_status == 409
    assert snapshot(draft_loan) == before


def test_approve_twice_is_invalid_transition(approved_loan: Loan, risk: Any) -> None:
    with pytest.raises(InvalidTransition):
        loan_approve(actor=risk, loan_id=approved_loan.pk, approved_amount=None, note="again")
    assert RiskReview.objects.filter(loan=approved_loan).count() == 1


@pytest.mark.parametrize("role_fixture", ["ops", "product_manager", "service_user"])
def test_approve_without_permission(request: pytest.FixtureRequest, review_loan: Loan, role_fixture: str) -> None:
    actor = request.getfixturevalue(role_fixture)
    before = snapshot(review_loan)
    with pytest.raises(PermissionDenied):
        loan_approve(actor=actor, loan_id=review_loan.pk, approved_amount=None, note="x")
    assert snapshot(review_loan) == before


def test_borrower_cannot_approve_own_loan(review_loan: Loan) -> None:
    with pytest.raises(PermissionDenied):
        loan_approve(actor=review_loan.customer.user, loan_id=review_loan.pk, approved_amount=None, note="x")


def test_other_customer_gets_not_found(review_loan: Loan, other_customer: Customer) -> None:
    before = snapshot(review_loan)
    with pytest.raises(Loan.DoesNotExist):
        loan_approve(actor=other_customer.user, loan_id=review_loan.pk, approved_amount=None, note="x")
    assert snapshot(review_loan) == before


# --- reject -------------------------------------------------------------------------------------


def test_reject_records_codes_and_audits(review_loan: Loan, risk: Any) -> None:
    review = loan_reject(
        actor=risk, loan_id=review_loan.pk, reason_codes=["debt_ratio", "credit_history", "debt_ratio"], note="DTI 68%"
    )
    review_loan.refresh_from_db()
    assert review_loan.status == LoanStatus.REJECTED
    assert review.outcome == RiskReview.Outcome.REJECT
    assert review.reason_codes == ["debt_ratio", "credit_history"]
    assert review.approved_amount is None
    event = AuditEvent.objects.get(action="loan.reject", subject_id=str(review_loan.pk))
    assert event.data == {"reason_codes": ["debt_ratio", "credit_history"]}
    assert event.reason == "DTI 68%"


@pytest.mark.parametrize(
    ("codes", "note", "field"),
    [
        ([], "x", "reason_codes"),
        (["no_such_code"], "x", "reason_codes"),
        (["debt_ratio", "nope"], "x", "reason_codes"),
        ("debt_ratio", "x", "reason_codes"),  # not a list
        (None, "x", "reason_codes"),
        (["debt_ratio"], "", "note"),
    ],
)
def test_reject_bad_input_changes_nothing(review_loan: Loan, risk: Any, codes: Any, note: str, field: str) -> None:
    before = snapshot(review_loan)
    with pytest.raises(InputError) as exc_info:
        loan_reject(actor=risk, loan_id=review_loan.pk, reason_codes=codes, note=note)
    assert field in exc_info.value.fields
    assert snapshot(review_loan) == before


def test_reject_wrong_state(approved_loan: Loan, risk: Any) -> None:
    before = snapshot(approved_loan)
    with pytest.raises(InvalidTransition):
        loan_reject(actor=risk, loan_id=approved_loan.pk, reason_codes=["other"], note="x")
    assert snapshot(approved_loan) == before


def test_reject_without_permission(review_loan: Loan, ops: Any) -> None:
    before = snapshot(review_loan)
    with pytest.raises(PermissionDenied):
        loan_reject(actor=ops, loan_id=review_loan.pk, reason_codes=["other"], note="x")
    assert snapshot(review_loan) == before


def test_every_reject_reason_has_staff_and_polite_customer_text() -> None:
    assert "other" in REJECT_REASONS
    for code, (staff, customer) in REJECT_REASONS.items():
        assert code.isidentifier() and code == code.lower()
        assert staff and customer
        assert customer != staff
        # the customer text never names the rule: none of the staff wording leaks into it
        assert customer.startswith("很遗憾")
        for word in ("征信", "负债", "欺诈", "伪造", "行业", "收入"):
            assert word not in customer
