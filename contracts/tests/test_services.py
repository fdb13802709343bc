"""Contract services: accept the offer (PDF), e-sign, prepare the disbursement — and every refusal."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage

from applications.models import Customer, Loan, LoanStatus
from compliance.models import AuditEvent
from contracts.models import Contract, Disbursement
from contracts.selectors import (
    CONSENT_TEXT,
    contract_current,
    contract_get_for_actor,
    disbursement_for,
)
from contracts.services import contract_sign, loan_accept_offer, loan_prepare_disbursement
from contracts.tests.helpers import snapshot
from loanops.exceptions import DomainError, InputError, InvalidTransition

pytestmark = pytest.mark.django_db


def sign(loan: Loan, **overrides: Any) -> Contract:
    kwargs: dict[str, Any] = {
        "actor": loan.customer.user,
        "loan_id": loan.pk,
        "consent": True,
        "ip_address": "203.0.113.7",
        "user_agent": "Mozilla/5.0 (iPhone)",
    }
    kwargs.update(overrides)
    return contract_sign(**kwargs)


# --- accept the offer ---------------------------------------------------------------------------


def test_accept_offer_generates_contract_v1(offered_loan: Loan) -> None:
    contract = loan_accept_offer(actor=offered_loan.customer.user, loan_id=offered_loan.pk, reason="同意")

    offered_loan.refresh_from_db()
    assert offered_loan.status == LoanStatus.CONTRACT_PENDING
    assert contract.version == 1
    assert contract.number == f"HT{offered_loan.reference}-1"
    assert contract.status == Contract.Status.GENERATED
    assert contract.file.name.startswith(f"loans/{offered_loan.pk}/contracts/")
    assert contract.file.name.endswith(".pdf")
    with default_storage.open(contract.file.name, "rb") as handle:
        stored = handle.read()
    assert stored.startswith(b"%PDF-")
    assert hashlib.sha256(stored).hexdigest() == contract.sha256
    assert contract_current(offered_loan) == contract
    event = AuditEvent.objects.get(action="loan.accept_offer", subject_id=str(offered_loan.pk))
    assert event.reason == "同意"
    assert event.data == {"contract_number": contract.number, "contract_version": 1, "contract_sha256": contract.sha256}


def test_ops_may_accept_on_the_borrowers_behalf(offered_loan: Loan, ops: Any) -> None:
    loan_accept_offer(actor=ops, loan_id=offered_loan.pk)
    assert Loan.objects.get(pk=offered_loan.pk).status == LoanStatus.CONTRACT_PENDING


def test_accept_offer_supersedes_an_older_contract(offered_loan: Loan) -> None:
    old = Contract.objects.create(loan=offered_loan, version=1, number=f"HT{offered_loan.reference}-1", sha256="0" * 64)
    contract = loan_accept_offer(actor=offered_loan.customer.user, loan_id=offered_loan.pk)
    old.refresh_from_db()
    assert old.status == Contract.Status.SUPERSEDED
    assert (contract.version, contract.number) == (2, f"HT{offered_loan.reference}-2")
    assert contract_current(offered_loan) == contract


def test_accept_offer_wrong_state(approved_loan: Loan, ops: Any) -> None:
    before = snapshot(approved_loan)
    with pytest.raises(InvalidTransition):
        loan_accept_offer(actor=ops, loan_id=approved_loan.pk)
    assert snapshot(approved_loan) == before
    assert not Contract.objects.exists()


def test_accept_offer_other_customer_not_found(offered_loan: Loan, other_customer: Customer) -> None:
    before = snapshot(offered_loan)
    with pytest.raises(Loan.DoesNotExist):
        loan_accept_offer(actor=other_customer.user, loan_id=offered_loan.pk)
    assert snapshot(offered_loan) == before


@pytest.mark.parametrize("role_fixture", ["risk", "manager", "service_user"])
def test_accept_offer_without_permission(request: pytest.FixtureRequest, offered_loan: Loan, role_fixture: str) -> None:
    before = snapshot(offered_loan)
    with pytest.raises(PermissionDenied):
        loan_accept_offer(actor=request.getfixturevalue(role_fixture), loan_id=offered_loan.pk)
    assert snapshot(offered_loan) == before


# --- sign ---------------------------------------------------------------------------------------


def test_borrower_signs(pending_loan: Loan) -> None:
    contract = sign(pending_loan)

    pending_loan.refresh_from_db()
    assert pending_loan.status == LoanStatus.CONTRACT_SIGNED
    contract.refresh_from_db()
    assert contract.status == Contract.Status.SIGNED
    assert contract.signed_by == pending_loan.customer.user
    assert contract.signed_at is not None
    assert contract.signed_ip == "203.0.113.7"
    assert contract.user_agent == "Mozilla/5.0 (iPhone)"
    assert contract.consent_text == CONSENT_TEXT == "我已阅读并同意《借款合同》全部条款，确认以电子签名方式签署"
    event = AuditEvent.objects.get(action="loan.sign_contract", subject_id=str(pending_loan.pk))
    assert event.data["contract_sha256"] == contract.sha256
    assert event.data["contract_number"] == contract.number
    assert event.data["consent_text"] == CONSENT_TEXT
    assert event.ip_address == "203.0.113.7"
    assert event.actor_id == pending_loan.customer.user.pk


def test_sign_without_ip_and_long_user_agent(pending_loan: Loan) -> None:
    contract = sign(pending_loan, ip_address=None, user_agent="x" * 600)
    assert contract.signed_ip is None
    assert len(contract.user_agent) == 512


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"consent": False}, "consent"),
        ({"consent": None}, "consent"),
        ({"consent": "yes"}, "consent"),  # only a real True counts as consent
        ({"ip_address": "999.1.1.1"}, "ip_address"),
    ],
)
def test_sign_bad_input_changes_nothing(pending_loan: Loan, overrides: dict[str, Any], field: str) -> None:
    before = snapshot(pending_loan)
    with pytest.raises(InputError) as exc_info:
        sign(pending_loan, **overrides)
    assert field in exc_info.value.fields
    assert snapshot(pending_loan) == before


def test_other_customer_cannot_sign(pending_loan: Loan, other_customer: Customer) -> None:
    before = snapshot(pending_loan)
    with pytest.raises(Loan.DoesNotExist):
        sign(pending_loan, actor=other_customer.user)
    assert snapshot(pending_loan) == before


@pytest.mark.parametrize("role_fixture", ["ops", "manager"])
def test_staff_cannot_sign_for_the_borrower(
    request: pytest.FixtureRequest, pending_loan: Loan, role_fixture: str
) -> None:
    before = snapshot(pending_loan)
    with pytest.raises(PermissionDenied):
        sign(pending_loan, actor=request.getfixturevalue(role_fixture))
    assert snapshot(pending_loan) == before


def test_superuser_cannot_sign_for_the_borrower(pending_loan: Loan) -> None:
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.create_superuser(username="root", password="x" * 12)
    with pytest.raises(PermissionDenied):
        sign(pending_loan, actor=admin)
    assert Loan.objects.get(pk=pending_loan.pk).status == LoanStatus.CONTRACT_PENDING


def test_sign_wrong_state(offered_loan: Loan) -> None:
    before = snapshot(offered_loan)
    with pytest.raises(InvalidTransition):
        sign(offered_loan, consent=False)  # the state is reported before the input
    assert snapshot(offered_loan) == before


def test_sign_twice_is_invalid_transition(signed_loan: Loan) -> None:
    with pytest.raises(InvalidTransition):
        sign(signed_loan)


def test_tampered_contract_is_refused(pending_loan: Loan) -> None:
    contract = contract_current(pending_loan)
    assert contract is not None
    with open(contract.file.path, "ab") as handle:
        handle.write(b"% appended\n")
    before = snapshot(pending_loan)
    with pytest.raises(DomainError) as exc_info:
        sign(pending_loan)
    assert exc_info.value.code == "contract_tampered"
    assert exc_info.value.http_status == 422
    assert snapshot(pending_loan) == before


def test_missing_contract_file_is_refused_as_tampered(pending_loan: Loan) -> None:
    contract = contract_current(pending_loan)
    assert contract is not None
    default_storage.delete(contract.file.name)
    before = snapshot(pending_loan)
    with pytest.raises(DomainError) as exc_info:
        sign(pending_loan)
    assert exc_info.value.code == "contract_tampered"
    assert snapshot(pending_loan) == before


# --- prepare the disbursement (maker) ---------------------------------------------------------------


def test_ops_prepares_the_disbursement(signed_loan: Loan, ops: Any) -> None:
    disbursement = loan_prepare_disbursement(
        actor=ops, loan_id=signed_loan.pk, bank_name=" 中国工商银行 ", bank_account="6222 0202 0011 2233 445"
    )
    signed_loan.refresh_from_db()
    assert signed_loan.status == LoanStatus.DISBURSEMENT_PENDING
    assert signed_loan.prepared_by == ops
    assert disbursement.amount == signed_loan.principal == Decimal("100000.00")
    assert disbursement.bank_name == "中国工商银行"
    assert disbursement.bank_account == "6222020200112233445"
    assert disbursement.masked_account == "6222***********3445"
    assert disbursement.prepared_by == ops
    assert disbursement.confirmed_by is None
    assert disbursement_for(signed_loan) == disbursement
    event = AuditEvent.objects.get(action="loan.prepare_disbursement", subject_id=str(signed_loan.pk))
    assert event.data["bank_account"] == "6222***********3445"  # never the full account in the audit trail
    assert event.data["amount"] == "100000.00"


@pytest.mark.parametrize(
    ("bank_name", "bank_account", "field"),
    [
        ("", "6222020200112233445", "bank_name"),
        ("   ", "6222020200112233445", "bank_name"),
        ("银" * 101, "6222020200112233445", "bank_name"),
        ("中国银行", "", "bank_account"),
        ("中国银行", "12345678901", "bank_account"),  # 11 digits
        ("中国银行", "1" * 31, "bank_account"),
        ("中国银行", "6222-0202-ABCD-2233", "bank_account"),
    ],
)
def test_prepare_bad_input_changes_nothing(
    signed_loan: Loan, ops: Any, bank_name: str, bank_account: str, field: str
) -> None:
    before = snapshot(signed_loan)
    with pytest.raises(InputError) as exc_info:
        loan_prepare_disbursement(actor=ops, loan_id=signed_loan.pk, bank_name=bank_name, bank_account=bank_account)
    assert field in exc_info.value.fields
    assert snapshot(signed_loan) == before


def test_prepare_accepts_12_and_30_digits(ops: Any, risk: Any, signed_loan: Loan) -> None:
    disbursement = loan_prepare_disbursement(
        actor=ops, loan_id=signed_loan.pk, bank_name="招商银行", bank_account="1" * 30
    )
    assert disbursement.masked_account == "1111" + "*" * 22 + "1111"


def test_prepare_wrong_state(pending_loan: Loan, ops: Any) -> None:
    before = snapshot(pending_loan)
    with pytest.raises(InvalidTransition):
        loan_prepare_disbursement(
            actor=ops, loan_id=pending_loan.pk, bank_name="中国银行", bank_account="6222020200112233445"
        )
    assert snapshot(pending_loan) == before


@pytest.mark.parametrize("role_fixture", ["risk", "manager", "service_user"])
def test_prepare_without_permission(request: pytest.FixtureRequest, signed_loan: Loan, role_fixture: str) -> None:
    before = snapshot(signed_loan)
    with pytest.raises(PermissionDenied):
        loan_prepare_disbursement(
            actor=request.getfixturevalue(role_fixture),
            loan_id=signed_loan.pk,
            bank_name="中国银行",
            bank_account="6222020200112233445",
        )
    assert snapshot(signed_loan) == before


def test_borrower_cannot_prepare_own_disbursement(signed_loan: Loan) -> None:
    with pytest.raises(PermissionDenied):
        loan_prepare_disbursement(
            actor=signed_loan.customer.user,
            loan_id=signed_loan.pk,
            bank_name="中国银行",
            bank_account="6222020200112233445",
        )
    assert not Disbursement.objects.exists()


# --- selectors ------------------------------------------------------------------------------------


def test_contract_get_for_actor(pending_loan: Loan, other_customer: Customer, ops: Any) -> None:
    contract = contract_current(pending_loan)
    assert contract is not None
    assert contract_get_for_actor(actor=pending_loan.customer.user, contract_id=contract.pk) == contract
    assert contract_get_for_actor(actor=ops, contract_id=contract.pk) == contract
    with pytest.raises(Contract.DoesNotExist):
        contract_get_for_actor(actor=other_customer.user, contract_id=contract.pk)


def test_nothing_current_before_acceptance(offered_loan: Loan) -> None:
    assert contract_current(offered_loan) is None
    assert disbursement_for(offered_loan) is None
