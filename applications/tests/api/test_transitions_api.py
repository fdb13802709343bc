"""POST /api/v1/loans/{id}/<transition>/: the intake transitions, and what every transition endpoint shares
(401 unauthenticated, 403 without the transition permission, 404 for a loan one may not see, 409 with
nothing written for an illegal transition). Endpoints are addressed by URL name only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from applications.models import Loan, LoanStageEvent, LoanStatus, SupplementRequest
from applications.services import loan_withdraw
from compliance.models import AuditEvent

pytestmark = pytest.mark.django_db
Client = Callable[[Any], APIClient]

#: a well-formed body for every transition endpoint
BODIES: dict[str, dict[str, Any]] = {
    "submit": {},
    "start-review": {},
    "request-supplement": {"items": ["income_proof"], "message": "请补充近 6 个月银行流水"},
    "withdraw": {"reason": "不需要了"},
    "approve": {"note": "收入稳定"},
    "reject": {"reason_codes": ["credit_history"], "note": "征信逾期"},
    "make-offer": {
        "principal": "50000.00",
        "annual_rate": "0.072",
        "term_months": 12,
        "repayment_method": "equal_installment",
        "first_due_date": (timezone.localdate() + timedelta(days=30)).isoformat(),
    },
    "accept-offer": {},
    "sign-contract": {"consent": True},
    "prepare-disbursement": {"bank_name": "中国工商银行", "bank_account": "6222021234567890123"},
    "disburse": {},
    "settle": {},
    "archive": {},
}
ALL = sorted(BODIES)


def url(loan: Loan | int, slug: str) -> str:
    return reverse(f"api:loan-{slug}", kwargs={"loan_id": getattr(loan, "pk", loan)})


def snapshot(loan: Loan) -> tuple[str, int, int]:
    loan.refresh_from_db()
    return loan.status, AuditEvent.objects.count(), LoanStageEvent.objects.filter(loan=loan).count()


def upload_all(client: APIClient, loan: Loan, doc_types: list[str] | None = None) -> None:
    from tests.conftest import pdf_upload

    for doc_type in loan.product.required_documents if doc_types is None else doc_types:
        response = client.post(
            reverse("api:loan-documents", kwargs={"loan_id": loan.pk}),
            {"doc_type": doc_type, "file": pdf_upload(f"{doc_type}.pdf")},
            format="multipart",
        )
        assert response.status_code == 201


# --- the intake transitions --------------------------------------------------------------------


def test_submit_start_review_and_supplement_loop(
    api_client_for: Client, customer_user: Any, ops_user: Any, loan: Loan
) -> None:
    customer, ops = api_client_for(customer_user), api_client_for(ops_user)
    upload_all(customer, loan)

    response = customer.post(url(loan, "submit"), {"reason": "材料已上传"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "submitted"
    assert response.json()["id"] == loan.pk
    assert AuditEvent.objects.filter(action="loan.submit", subject_id=str(loan.pk)).exists()

    response = ops.post(url(loan, "request-supplement"), BODIES["request-supplement"], format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "supplement_required"
    assert SupplementRequest.objects.get(loan=loan).items == ["income_proof"]

    # Resubmitting before the requested item is uploaded again is refused and writes nothing.
    before = snapshot(loan)
    response = customer.post(url(loan, "submit"), {}, format="json")
    assert response.status_code == 422
    assert response.json()["code"] == "documents_missing"
    assert response.json()["extra"]["missing"] == ["income_proof"]
    assert snapshot(loan) == before

    upload_all(customer, loan, ["income_proof"])
    assert customer.post(url(loan, "submit"), {}, format="json").json()["status"] == "submitted"
    response = ops.post(url(loan, "start-review"), {}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "risk_review"
    assert response.json()["stage"] == "review"
    assert [e.transition for e in LoanStageEvent.objects.filter(loan=loan)] == [
        "submit",
        "request_supplement",
        "submit",
        "start_review",
    ]


def test_submit_with_missing_documents_is_422_and_writes_nothing(
    api_client_for: Client, customer_user: Any, loan: Loan
) -> None:
    before = snapshot(loan)
    response = api_client_for(customer_user).post(url(loan, "submit"), {}, format="json")
    assert response.status_code == 422
    assert response.json()["code"] == "documents_missing"
    assert set(response.json()["extra"]["missing"]) == set(loan.product.required_documents)
    assert snapshot(loan) == before


def test_start_review_with_missing_documents_is_422(
    api_client_for: Client, customer_user: Any, ops_user: Any, loan: Loan
) -> None:
    # A file can be submitted and later found incomplete (e.g. the checklist grew): ops' check still holds.
    Loan.objects.filter(pk=loan.pk).update(status=LoanStatus.SUBMITTED)
    before = snapshot(loan)
    response = api_client_for(ops_user).post(url(loan, "start-review"), {}, format="json")
    assert response.status_code == 422
    assert response.json()["code"] == "documents_missing"
    assert snapshot(loan) == before


def test_customer_withdraws(api_client_for: Client, customer_user: Any, loan: Loan) -> None:
    response = api_client_for(customer_user).post(url(loan, "withdraw"), {"reason": "已从别处借到"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "withdrawn"
    assert response.json()["available_transitions"] == []
    event = AuditEvent.objects.get(action="loan.withdraw", subject_id=str(loan.pk))
    assert event.reason == "已从别处借到"


def test_withdraw_needs_a_reason(api_client_for: Client, customer_user: Any, loan: Loan) -> None:
    before = snapshot(loan)
    for body in ({}, {"reason": "  "}):
        response = api_client_for(customer_user).post(url(loan, "withdraw"), body, format="json")
        assert response.status_code == 400
        assert list(response.json()["fields"]) == ["reason"]
    assert snapshot(loan) == before


def test_request_supplement_bad_input_is_400(
    api_client_for: Client, customer_user: Any, ops_user: Any, loan: Loan
) -> None:
    api_client_for(customer_user).post(url(loan, "submit"), {}, format="json")
    before = snapshot(loan)
    client = api_client_for(ops_user)
    missing = client.post(url(loan, "request-supplement"), {}, format="json")
    assert missing.status_code == 400
    assert set(missing.json()["fields"]) == {"items", "message"}
    empty = client.post(url(loan, "request-supplement"), {"items": [], "message": "x"}, format="json")
    assert empty.status_code == 400
    assert list(empty.json()["fields"]) == ["items"]
    unknown = client.post(url(loan, "request-supplement"), {"items": ["selfie"], "message": "x"}, format="json")
    assert unknown.status_code == 400
    assert snapshot(loan) == before


def test_customer_cannot_start_review(api_client_for: Client, customer_user: Any, loan: Loan) -> None:
    before = snapshot(loan)
    assert api_client_for(customer_user).post(url(loan, "start-review"), {}, format="json").status_code == 403
    assert snapshot(loan) == before


def test_risk_cannot_submit(api_client_for: Client, risk_user: Any, loan: Loan) -> None:
    before = snapshot(loan)
    assert api_client_for(risk_user).post(url(loan, "submit"), {}, format="json").status_code == 403
    assert snapshot(loan) == before


# --- every transition endpoint -----------------------------------------------------------------


@pytest.mark.parametrize("slug", ALL)
def test_unauthenticated_is_401(slug: str, loan: Loan) -> None:
    response = APIClient().post(url(loan, slug), BODIES[slug], format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("slug", ALL)
def test_without_the_transition_permission_is_403(slug: str, api_client_for: Client, outsider: Any, loan: Loan) -> None:
    before = snapshot(loan)
    response = api_client_for(outsider).post(url(loan, slug), BODIES[slug], format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert snapshot(loan) == before


@pytest.mark.parametrize("slug", ALL)
def test_unknown_loan_is_404(slug: str, api_client_for: Client, superuser: Any) -> None:
    response = api_client_for(superuser).post(url(999999, slug), BODIES[slug], format="json")
    assert response.status_code == 404


@pytest.mark.parametrize("slug", ["submit", "withdraw", "accept-offer", "sign-contract"])
def test_other_customers_loan_is_404(slug: str, api_client_for: Client, customer_user: Any, other_loan: Loan) -> None:
    before = snapshot(other_loan)
    response = api_client_for(customer_user).post(url(other_loan, slug), BODIES[slug], format="json")
    assert response.status_code == 404
    assert snapshot(other_loan) == before


@pytest.mark.parametrize("slug", sorted(set(ALL) - {"submit", "withdraw"}))
def test_illegal_transition_on_a_draft_is_409_and_writes_nothing(
    slug: str, api_client_for: Client, superuser: Any, customer_user: Any, loan: Loan
) -> None:
    actor = customer_user if slug == "sign-contract" else superuser  # only the borrower signs
    before = snapshot(loan)
    response = api_client_for(actor).post(url(loan, slug), BODIES[slug], format="json")
    assert response.status_code == 409, response.json()
    assert response.json()["code"] == "invalid_transition"
    assert snapshot(loan) == before


@pytest.mark.parametrize("slug", ["submit", "withdraw"])
def test_transition_out_of_a_terminal_state_is_409(
    slug: str, api_client_for: Client, customer_user: Any, loan: Loan
) -> None:
    loan_withdraw(actor=customer_user, loan_id=loan.pk, reason="测试")
    before = snapshot(loan)
    assert before[0] == LoanStatus.WITHDRAWN
    response = api_client_for(customer_user).post(url(loan, slug), BODIES[slug], format="json")
    assert response.status_code == 409
    assert snapshot(loan) == before
