"""One loan from intake to archive, only through the HTTP API, each step by the role that owns it
(DESIGN.md §2 and §7). After every transition the loan must have left its audit event ("loan.<verb>") and
a timeline entry."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from compliance.models import AuditEvent
from loanops import roles
from tests.conftest import PASSWORD, customer_data, make_staff, pdf_upload

pytestmark = pytest.mark.django_db


def login(username: str) -> APIClient:
    """A client authenticated with the token the API hands out for these credentials."""
    response = APIClient().post(reverse("api:auth-token"), {"username": username, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.json()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    return client


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, (response.status_code, response.content[:2000])
    return response.json()


class Journey:
    """Posts transitions for one loan and checks what each one left behind."""

    def __init__(self, loan_id: int) -> None:
        self.loan_id = loan_id
        self.transitions: list[str] = []

    def url(self, name: str) -> str:
        return reverse(name, kwargs={"loan_id": self.loan_id})

    def transition(self, client: APIClient, slug: str, body: dict[str, Any], expect: str, **extra: Any) -> Any:
        detail = ok(client.post(self.url(f"api:loan-{slug}"), body, format="json", **extra))
        assert detail["status"] == expect
        self.expect_recorded(client, slug.replace("-", "_"), expect)
        return detail

    def expect_recorded(self, client: APIClient, verb: str, status: str) -> None:
        assert AuditEvent.objects.filter(
            action=f"loan.{verb}", subject_type="applications.loan", subject_id=str(self.loan_id)
        ).exists(), f"no audit event loan.{verb}"
        self.transitions.append(verb)
        timeline = ok(client.get(self.url("api:loan-timeline")))
        assert [entry["transition"] for entry in timeline] == self.transitions
        assert timeline[-1]["to_status"] == status
        assert timeline[-1]["actor_name"]


def test_one_loan_from_application_to_archive() -> None:
    ops_user, risk_user = make_staff(roles.OPS), make_staff(roles.RISK)
    manager_user, product_user = make_staff(roles.MANAGER), make_staff(roles.PRODUCT)
    ops, risk, manager = login(ops_user.username), login(risk_user.username), login(manager_user.username)
    product_manager = login(product_user.username)

    # The product manager puts a product in the catalogue.
    product = ok(
        product_manager.post(
            reverse("api:product-list"),
            {
                "code": "e2e-personal",
                "name": "个人消费贷（三个月）",
                "applicant_type": "individual",
                "min_amount": "1000.00",
                "max_amount": "50000.00",
                "min_term_months": 3,
                "max_term_months": 12,
                "min_rate": "0.0400",
                "max_rate": "0.1500",
                "repayment_methods": ["equal_installment"],
            },
            format="json",
        ),
        201,
    )

    # Ops registers the borrower with a portal login; the borrower signs in with their phone number.
    data = customer_data(name="赵六", portal_password=PASSWORD)
    customer_record = ok(ops.post(reverse("api:customer-list"), data, format="json"), 201)
    customer = login(data["phone"])

    # The customer applies, uploads every required document and submits.
    detail = ok(
        customer.post(
            reverse("api:loan-list"),
            {
                "product": product["id"],
                "requested_amount": "12000.00",
                "requested_term_months": 3,
                "purpose": "购买家电",
                "repayment_source": "工资收入",
            },
            format="json",
        ),
        201,
    )
    assert detail["customer"] == customer_record["id"]
    journey = Journey(detail["id"])
    for doc_type in detail["missing_documents"]:
        ok(
            customer.post(
                journey.url("api:loan-documents"),
                {"doc_type": doc_type, "file": pdf_upload(f"{doc_type}.pdf")},
                format="multipart",
            ),
            201,
        )
    assert ok(customer.get(journey.url("api:loan-detail")))["missing_documents"] == []
    journey.transition(customer, "submit", {"reason": "材料已齐"}, "submitted")

    # Ops checks completeness; risk approves and makes the offer.
    journey.transition(ops, "start-review", {}, "risk_review")
    journey.transition(risk, "approve", {"approved_amount": "12000.00", "note": "收入稳定，负债低"}, "approved")
    business_date = date.fromisoformat(ok(ops.get(reverse("api:business-date")))["date"])
    first_due = business_date + timedelta(days=30)
    offered = journey.transition(
        risk,
        "make-offer",
        {
            "principal": "12000.00",
            "annual_rate": "0.0600",
            "term_months": 3,
            "repayment_method": "equal_installment",
            "first_due_date": first_due.isoformat(),
        },
        "offered",
    )
    assert offered["apr"] is not None

    # The customer accepts, reads the contract and signs it.
    journey.transition(customer, "accept-offer", {}, "contract_pending")
    contract = ok(customer.get(journey.url("api:loan-contract")))
    pdf = customer.get(contract["download_url"])
    assert pdf.status_code == 200 and b"".join(pdf.streaming_content).startswith(b"%PDF")
    journey.transition(
        customer,
        "sign-contract",
        {"consent": True},
        "contract_signed",
        REMOTE_ADDR="198.51.100.20",
        HTTP_USER_AGENT="e2e",
    )
    assert ok(customer.get(journey.url("api:loan-contract")))["status"] == "signed"

    # Ops prepares the disbursement (maker); a manager confirms it (checker).
    journey.transition(
        ops,
        "prepare-disbursement",
        {"bank_name": "招商银行", "bank_account": "6225880112345678"},
        "disbursement_pending",
    )
    active = journey.transition(manager, "disburse", {"reason": "复核无误"}, "active")
    assert active["stage"] == "repaying"

    # Ops records each installment on its due date (the manager moves the business date) until it settles.
    schedule = ok(ops.get(journey.url("api:loan-schedule")))
    rows = schedule["rows"]
    assert len(rows) == 3
    assert sum(Decimal(row["principal"]) for row in rows) == Decimal("12000.00")
    for row in rows:
        ok(manager.put(reverse("api:business-date"), {"date": row["due_date"]}, format="json"))
        body = {
            "amount": row["total"],
            "paid_on": row["due_date"],
            "channel": "bank_transfer",
            "reference": f"P{row['period']}",
        }
        key = f"e2e-{journey.loan_id}-{row['period']}"
        repayment = ok(ops.post(journey.url("api:loan-repayments"), body, format="json", HTTP_IDEMPOTENCY_KEY=key), 201)
        replay = ops.post(journey.url("api:loan-repayments"), body, format="json", HTTP_IDEMPOTENCY_KEY=key)
        assert replay.status_code == 201
        assert replay.json()["id"] == repayment["id"]  # the same key never posts twice
        assert (
            AuditEvent.objects.filter(action="repayment.record", subject_id=str(journey.loan_id)).count()
            == row["period"]
        )
    settled = ok(ops.get(journey.url("api:loan-detail")))
    assert settled["status"] == "settled"
    assert settled["stage"] == "settled"
    journey.expect_recorded(ops, "settle", "settled")
    assert all(row["outstanding"] == "0.00" for row in ok(ops.get(journey.url("api:loan-schedule")))["rows"])

    # Ops archives the settled loan.
    archived = journey.transition(ops, "archive", {"reason": "结清归档"}, "archived")
    assert archived["available_transitions"] == []
    assert journey.transitions == [
        "submit",
        "start_review",
        "approve",
        "make_offer",
        "accept_offer",
        "sign_contract",
        "prepare_disbursement",
        "disburse",
        "settle",
        "archive",
    ]
    # The customer sees the whole history of their own loan.
    assert len(ok(customer.get(journey.url("api:loan-timeline")))) == 10
