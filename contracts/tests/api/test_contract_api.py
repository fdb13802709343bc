"""POST /loans/{id}/accept-offer/, /sign-contract/, /prepare-disbursement/, /disburse/ (the checker), and
GET /loans/{id}/contract/ + GET /contracts/{id}/download/."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import reverse
from rest_framework.test import APIClient

from applications.models import Loan, LoanStageEvent, LoanStatus
from compliance.models import AuditEvent
from contracts.models import Contract, Disbursement

pytestmark = pytest.mark.django_db
Client = Callable[[Any], APIClient]
Advance = Callable[[Loan, str], Loan]
BANK = {"bank_name": "中国建设银行", "bank_account": "6217 0000 1234 5678 901"}


def url(loan: Loan, slug: str) -> str:
    return reverse(f"api:loan-{slug}", kwargs={"loan_id": loan.pk})


def contract_url(loan: Loan) -> str:
    return reverse("api:loan-contract", kwargs={"loan_id": loan.pk})


def snapshot(loan: Loan) -> tuple[str, int, int, int, int]:
    loan.refresh_from_db()
    return (
        loan.status,
        AuditEvent.objects.count(),
        LoanStageEvent.objects.filter(loan=loan).count(),
        Contract.objects.filter(loan=loan, status=Contract.Status.SIGNED).count(),
        Disbursement.objects.filter(loan=loan).count(),
    )


@pytest.fixture
def offered(loan: Loan, advance_loan: Advance) -> Loan:
    return advance_loan(loan, LoanStatus.OFFERED)


@pytest.fixture
def pending(loan: Loan, advance_loan: Advance) -> Loan:
    return advance_loan(loan, LoanStatus.CONTRACT_PENDING)


@pytest.fixture
def signed(loan: Loan, advance_loan: Advance) -> Loan:
    return advance_loan(loan, LoanStatus.CONTRACT_SIGNED)


# --- accept-offer and the contract document ------------------------------------------------------


def test_customer_accepts_and_downloads_the_contract(api_client_for: Client, customer_user: Any, offered: Loan) -> None:
    client = api_client_for(customer_user)
    assert client.get(contract_url(offered)).status_code == 404  # no contract before acceptance

    response = client.post(url(offered, "accept-offer"), {"reason": "接受"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "contract_pending"
    assert response.json()["available_transitions"] == ["sign-contract", "withdraw"]
    assert AuditEvent.objects.filter(action="loan.accept_offer", subject_id=str(offered.pk)).exists()

    meta = client.get(contract_url(offered))
    assert meta.status_code == 200
    body = meta.json()
    contract = Contract.objects.get(loan=offered)
    assert (body["id"], body["number"], body["version"], body["status"]) == (
        contract.pk,
        contract.number,
        1,
        "generated",
    )
    assert body["download_url"] == reverse("api:contract-download", kwargs={"contract_id": contract.pk})

    pdf = client.get(body["download_url"], HTTP_ACCEPT="application/pdf")
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert b"".join(pdf.streaming_content).startswith(b"%PDF")


def test_accept_offer_twice_is_409(api_client_for: Client, customer_user: Any, pending: Loan) -> None:
    before = snapshot(pending)
    assert api_client_for(customer_user).post(url(pending, "accept-offer"), {}, format="json").status_code == 409
    assert snapshot(pending) == before
    assert Contract.objects.filter(loan=pending).count() == 1


def test_accept_offer_needs_the_permission(api_client_for: Client, risk_user: Any, offered: Loan) -> None:
    before = snapshot(offered)
    assert api_client_for(risk_user).post(url(offered, "accept-offer"), {}, format="json").status_code == 403
    assert snapshot(offered) == before


def test_others_contract_is_404(api_client_for: Client, other_customer_user: Any, outsider: Any, pending: Loan) -> None:
    contract = Contract.objects.get(loan=pending)
    download = reverse("api:contract-download", kwargs={"contract_id": contract.pk})
    stranger = api_client_for(other_customer_user)
    assert stranger.get(contract_url(pending)).status_code == 404
    assert stranger.get(download).status_code == 404
    assert stranger.post(url(pending, "sign-contract"), {"consent": True}, format="json").status_code == 404
    assert api_client_for(outsider).get(download).status_code == 403
    assert APIClient().get(download).status_code == 401
    assert APIClient().get(contract_url(pending)).status_code == 401
    assert Contract.objects.get(pk=contract.pk).status == Contract.Status.GENERATED


# --- sign-contract -------------------------------------------------------------------------------


def test_customer_signs_and_the_request_is_recorded(api_client_for: Client, customer_user: Any, pending: Loan) -> None:
    response = api_client_for(customer_user).post(
        url(pending, "sign-contract"),
        {"consent": True},
        format="json",
        REMOTE_ADDR="203.0.113.7",
        HTTP_USER_AGENT="Mozilla/5.0 (iPhone; 测试)",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "contract_signed"
    contract = Contract.objects.get(loan=pending)
    assert contract.status == Contract.Status.SIGNED
    assert contract.signed_ip == "203.0.113.7"
    assert contract.user_agent == "Mozilla/5.0 (iPhone; 测试)"
    event = AuditEvent.objects.get(action="loan.sign_contract", subject_id=str(pending.pk))
    assert event.ip_address == "203.0.113.7"
    assert api_client_for(customer_user).get(contract_url(pending)).json()["signed_at"]


@pytest.mark.parametrize("body", [{}, {"consent": False}])
def test_sign_without_consent_is_400_and_writes_nothing(
    body: dict[str, Any], api_client_for: Client, customer_user: Any, pending: Loan
) -> None:
    before = snapshot(pending)
    response = api_client_for(customer_user).post(url(pending, "sign-contract"), body, format="json")
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["consent"]
    assert snapshot(pending) == before


def test_staff_cannot_sign_for_the_customer(api_client_for: Client, ops_user: Any, pending: Loan) -> None:
    before = snapshot(pending)
    assert (
        api_client_for(ops_user).post(url(pending, "sign-contract"), {"consent": True}, format="json").status_code
        == 403
    )
    assert snapshot(pending) == before


def test_sign_before_accepting_is_409(api_client_for: Client, customer_user: Any, offered: Loan) -> None:
    before = snapshot(offered)
    response = api_client_for(customer_user).post(url(offered, "sign-contract"), {"consent": True}, format="json")
    assert response.status_code == 409
    assert snapshot(offered) == before


# --- prepare-disbursement (maker) and disburse (checker) -------------------------------------


def test_ops_prepares_and_a_manager_disburses(
    api_client_for: Client, ops_user: Any, manager_user: Any, signed: Loan
) -> None:
    response = api_client_for(ops_user).post(url(signed, "prepare-disbursement"), BANK, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "disbursement_pending"
    order = Disbursement.objects.get(loan=signed)
    assert (order.bank_account, order.prepared_by_id) == ("6217000012345678901", ops_user.pk)
    event = AuditEvent.objects.get(action="loan.prepare_disbursement", subject_id=str(signed.pk))
    assert "6217000012345678901" not in str(event.data)  # the account is masked in the audit trail

    response = api_client_for(manager_user).post(url(signed, "disburse"), {"reason": "复核无误"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "active"
    assert response.json()["stage"] == "repaying"
    assert response.json()["disbursed_on"]
    assert AuditEvent.objects.filter(action="loan.disburse", subject_id=str(signed.pk)).exists()


def test_bad_bank_account_is_400_and_writes_nothing(api_client_for: Client, ops_user: Any, signed: Loan) -> None:
    before = snapshot(signed)
    response = api_client_for(ops_user).post(
        url(signed, "prepare-disbursement"), {**BANK, "bank_account": "12ab"}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["bank_account"]
    missing = api_client_for(ops_user).post(url(signed, "prepare-disbursement"), {}, format="json")
    assert set(missing.json()["fields"]) == {"bank_name", "bank_account"}
    assert snapshot(signed) == before


@pytest.mark.parametrize("who", ["customer_user", "risk_user", "manager_user"])
def test_prepare_needs_the_maker_permission(
    who: str, api_client_for: Client, signed: Loan, request: pytest.FixtureRequest
) -> None:
    before = snapshot(signed)
    response = api_client_for(request.getfixturevalue(who)).post(
        url(signed, "prepare-disbursement"), BANK, format="json"
    )
    assert response.status_code == 403
    assert snapshot(signed) == before


def test_prepare_before_signing_is_409(api_client_for: Client, ops_user: Any, pending: Loan) -> None:
    before = snapshot(pending)
    assert api_client_for(ops_user).post(url(pending, "prepare-disbursement"), BANK, format="json").status_code == 409
    assert snapshot(pending) == before


def test_maker_cannot_be_checker(api_client_for: Client, manager_user: Any, signed: Loan) -> None:
    """A manager who also holds the maker permission prepares; the same person may not disburse."""
    manager_user.groups.add(Group.objects.get(name="ops"))
    maker_checker = get_user_model().objects.get(pk=manager_user.pk)
    client = api_client_for(maker_checker)
    assert client.post(url(signed, "prepare-disbursement"), BANK, format="json").status_code == 200
    before = snapshot(signed)
    response = client.post(url(signed, "disburse"), {}, format="json")
    assert response.status_code == 422
    assert response.json()["code"] == "four_eyes_required"
    assert snapshot(signed) == before


@pytest.mark.parametrize("who", ["ops_user", "customer_user", "risk_user"])
def test_disburse_needs_the_checker_permission(
    who: str, api_client_for: Client, loan: Loan, advance_loan: Advance, request: pytest.FixtureRequest
) -> None:
    pending_disbursement = advance_loan(loan, LoanStatus.DISBURSEMENT_PENDING)
    before = snapshot(pending_disbursement)
    response = api_client_for(request.getfixturevalue(who)).post(
        url(pending_disbursement, "disburse"), {}, format="json"
    )
    assert response.status_code == 403
    assert snapshot(pending_disbursement) == before


def test_disburse_before_preparation_is_409(api_client_for: Client, manager_user: Any, signed: Loan) -> None:
    before = snapshot(signed)
    assert api_client_for(manager_user).post(url(signed, "disburse"), {}, format="json").status_code == 409
    assert snapshot(signed) == before
