"""POST /api/v1/loans/{id}/approve/, /reject/, /make-offer/ (risk review and the offer)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from applications.models import Loan, LoanStageEvent, LoanStatus
from compliance.models import AuditEvent
from underwriting.models import RiskReview

pytestmark = pytest.mark.django_db
Client = Callable[[Any], APIClient]
Advance = Callable[[Loan, str], Loan]


def url(loan: Loan, slug: str) -> str:
    return reverse(f"api:loan-{slug}", kwargs={"loan_id": loan.pk})


def snapshot(loan: Loan) -> tuple[str, int, int, int]:
    loan.refresh_from_db()
    return (
        loan.status,
        AuditEvent.objects.count(),
        LoanStageEvent.objects.filter(loan=loan).count(),
        RiskReview.objects.filter(loan=loan).count(),
    )


def offer(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "principal": "45000.00",
        "annual_rate": "0.0720",
        "term_months": 12,
        "repayment_method": "equal_principal",
        "first_due_date": (timezone.localdate() + timedelta(days=30)).isoformat(),
        "reason": "按批准金额出具要约",
    }
    data.update(overrides)
    return data


@pytest.fixture
def in_review(loan: Loan, advance_loan: Advance) -> Loan:
    return advance_loan(loan, LoanStatus.RISK_REVIEW)


@pytest.fixture
def approved(loan: Loan, advance_loan: Advance) -> Loan:
    return advance_loan(loan, LoanStatus.APPROVED)


# --- approve ---------------------------------------------------------------------------------


def test_risk_approves_a_lower_amount(api_client_for: Client, risk_user: Any, in_review: Loan) -> None:
    response = api_client_for(risk_user).post(
        url(in_review, "approve"), {"approved_amount": "45000.00", "note": "负债率偏高，降额批准"}, format="json"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "approved"
    assert "make-offer" in body["available_transitions"]
    review = RiskReview.objects.get(loan=in_review)
    assert (review.outcome, str(review.approved_amount)) == ("approve", "45000.00")
    event = AuditEvent.objects.get(action="loan.approve", subject_id=str(in_review.pk))
    assert event.reason == "负债率偏高，降额批准"


def test_approve_more_than_requested_is_400_and_writes_nothing(
    api_client_for: Client, risk_user: Any, in_review: Loan
) -> None:
    before = snapshot(in_review)
    response = api_client_for(risk_user).post(
        url(in_review, "approve"), {"approved_amount": "90000.00", "note": "x"}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["approved_amount"]
    assert snapshot(in_review) == before


def test_approve_needs_a_note(api_client_for: Client, risk_user: Any, in_review: Loan) -> None:
    before = snapshot(in_review)
    for body in ({}, {"note": ""}):
        response = api_client_for(risk_user).post(url(in_review, "approve"), body, format="json")
        assert response.status_code == 400
        assert list(response.json()["fields"]) == ["note"]
    assert snapshot(in_review) == before


@pytest.mark.parametrize("who", ["ops_user", "customer_user", "product_user"])
def test_approve_needs_the_risk_role(
    who: str, api_client_for: Client, in_review: Loan, request: pytest.FixtureRequest
) -> None:
    before = snapshot(in_review)
    response = api_client_for(request.getfixturevalue(who)).post(
        url(in_review, "approve"), {"note": "ok"}, format="json"
    )
    assert response.status_code == 403
    assert snapshot(in_review) == before


def test_approve_outside_risk_review_is_409(api_client_for: Client, risk_user: Any, approved: Loan) -> None:
    before = snapshot(approved)
    response = api_client_for(risk_user).post(url(approved, "approve"), {"note": "again"}, format="json")
    assert response.status_code == 409
    assert snapshot(approved) == before


# --- reject ----------------------------------------------------------------------------------


def test_risk_rejects(api_client_for: Client, risk_user: Any, in_review: Loan) -> None:
    response = api_client_for(risk_user).post(
        url(in_review, "reject"), {"reason_codes": ["debt_ratio"], "note": "DTI 62%"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "rejected"
    assert response.json()["stage"] is None
    assert RiskReview.objects.get(loan=in_review).reason_codes == ["debt_ratio"]
    assert AuditEvent.objects.filter(action="loan.reject", subject_id=str(in_review.pk)).exists()


def test_reject_bad_input_is_400(api_client_for: Client, risk_user: Any, in_review: Loan) -> None:
    before = snapshot(in_review)
    client = api_client_for(risk_user)
    missing = client.post(url(in_review, "reject"), {}, format="json")
    assert set(missing.json()["fields"]) == {"reason_codes", "note"}
    empty = client.post(url(in_review, "reject"), {"reason_codes": [], "note": "x"}, format="json")
    assert (empty.status_code, list(empty.json()["fields"])) == (400, ["reason_codes"])
    unknown = client.post(url(in_review, "reject"), {"reason_codes": ["astrology"], "note": "x"}, format="json")
    assert (unknown.status_code, list(unknown.json()["fields"])) == (400, ["reason_codes"])
    assert snapshot(in_review) == before


def test_reject_needs_the_risk_role(api_client_for: Client, ops_user: Any, in_review: Loan) -> None:
    before = snapshot(in_review)
    response = api_client_for(ops_user).post(
        url(in_review, "reject"), {"reason_codes": ["debt_ratio"], "note": "x"}, format="json"
    )
    assert response.status_code == 403
    assert snapshot(in_review) == before


def test_reject_a_draft_is_409(api_client_for: Client, risk_user: Any, loan: Loan) -> None:
    before = snapshot(loan)
    response = api_client_for(risk_user).post(
        url(loan, "reject"), {"reason_codes": ["debt_ratio"], "note": "x"}, format="json"
    )
    assert response.status_code == 409
    assert snapshot(loan) == before


# --- make-offer ------------------------------------------------------------------------------


def test_risk_makes_an_offer(api_client_for: Client, risk_user: Any, approved: Loan) -> None:
    response = api_client_for(risk_user).post(url(approved, "make-offer"), offer(), format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "offered"
    assert (body["principal"], body["annual_rate"], body["term_months"]) == ("45000.00", "0.072000", 12)
    assert body["repayment_method"] == "equal_principal"
    assert body["first_due_date"] == offer()["first_due_date"]
    assert body["apr"] is not None
    event = AuditEvent.objects.get(action="loan.make_offer", subject_id=str(approved.pk))
    assert event.reason == "按批准金额出具要约"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"principal": "500000.00"}, "principal"),
        ({"term_months": 60}, "term_months"),
        ({"repayment_method": "bullet"}, "repayment_method"),  # not offered by this product
        ({"first_due_date": "2001-01-01"}, "first_due_date"),
        ({"repayment_method": "balloon"}, "repayment_method"),  # not a method at all
        ({"first_due_date": "not-a-date"}, "first_due_date"),
    ],
)
def test_offer_bad_input_is_400_and_writes_nothing(
    overrides: dict[str, Any], field: str, api_client_for: Client, risk_user: Any, approved: Loan
) -> None:
    before = snapshot(approved)
    response = api_client_for(risk_user).post(url(approved, "make-offer"), offer(**overrides), format="json")
    assert response.status_code == 400, response.json()
    assert list(response.json()["fields"]) == [field]
    assert snapshot(approved) == before
    approved.refresh_from_db()
    assert approved.principal is None


def test_offer_rate_outside_the_band_is_422_and_writes_nothing(
    api_client_for: Client, risk_user: Any, approved: Loan
) -> None:
    before = snapshot(approved)
    response = api_client_for(risk_user).post(url(approved, "make-offer"), offer(annual_rate="0.30"), format="json")
    assert response.status_code == 422, response.json()
    assert response.json()["code"] == "rate_outside_band"
    assert list(response.json()["fields"]) == ["annual_rate"]
    assert snapshot(approved) == before


def test_offer_missing_fields_are_named(api_client_for: Client, risk_user: Any, approved: Loan) -> None:
    response = api_client_for(risk_user).post(url(approved, "make-offer"), {}, format="json")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {
        "principal",
        "annual_rate",
        "term_months",
        "repayment_method",
        "first_due_date",
    }


@pytest.mark.parametrize("who", ["customer_user", "service_user"])
def test_offer_needs_make_offer_permission(
    who: str, api_client_for: Client, approved: Loan, request: pytest.FixtureRequest
) -> None:
    before = snapshot(approved)
    response = api_client_for(request.getfixturevalue(who)).post(url(approved, "make-offer"), offer(), format="json")
    assert response.status_code == 403
    assert snapshot(approved) == before


def test_offer_before_approval_is_409(api_client_for: Client, risk_user: Any, in_review: Loan) -> None:
    before = snapshot(in_review)
    response = api_client_for(risk_user).post(url(in_review, "make-offer"), offer(), format="json")
    assert response.status_code == 409
    assert snapshot(in_review) == before
