"""A restricted industry (行业限制): offers get at most the product maximum × factor and need a manager's
approval; a lifted restriction no longer applies."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from applications.models import Loan, LoanStatus
from compliance.models import AuditEvent
from loanops.exceptions import DomainError, InputError, InvalidTransition
from underwriting.industry_restrictions import IndustryRestriction, RestrictedOfferApproval
from underwriting.restriction_services import restricted_offer_approve
from underwriting.selectors import offer_defaults
from underwriting.services import loan_make_offer
from underwriting.tests.helpers import offer_terms, snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def restriction(approved_loan: Loan) -> IndustryRestriction:
    # The customer's industry ("I") is restricted: max 500 000 × 0.1 = 50 000.
    return IndustryRestriction.objects.create(
        industry=approved_loan.customer.industry,
        factor=Decimal("0.1"),
        overdue_rate=Decimal("0.12"),
        threshold=Decimal("0.10"),
        imposed_on=date(2025, 1, 1),
    )


def test_amount_above_the_reduced_maximum_is_refused(approved_loan: Loan, restriction: Any, risk: Any) -> None:
    before = snapshot(approved_loan)
    with pytest.raises(InputError) as caught:
        loan_make_offer(actor=risk, loan_id=approved_loan.pk, **offer_terms(principal="50000.01"))
    assert "50,000.00" in caught.value.fields["principal"][0]
    assert snapshot(approved_loan) == before


def test_offer_needs_a_managers_approval_then_passes(
    approved_loan: Loan, restriction: Any, risk: Any, manager: Any
) -> None:
    before = snapshot(approved_loan)
    with pytest.raises(DomainError) as caught:
        loan_make_offer(actor=risk, loan_id=approved_loan.pk, **offer_terms(principal="50000"))
    assert caught.value.code == "manager_approval_required"
    assert snapshot(approved_loan) == before
    with pytest.raises(PermissionDenied):
        restricted_offer_approve(actor=risk, loan_id=approved_loan.pk, note="自批")
    with pytest.raises(InputError):
        restricted_offer_approve(actor=manager, loan_id=approved_loan.pk, note=" ")
    assert RestrictedOfferApproval.objects.count() == 0
    restricted_offer_approve(actor=manager, loan_id=approved_loan.pk, note="客户经营稳定，同意按压降额度出要约")
    event = AuditEvent.objects.get(action="underwriting.restricted_offer_approve")
    assert event.data["max_amount"] == "50000.00" and event.actor_id == manager.pk
    loan_make_offer(actor=risk, loan_id=approved_loan.pk, **offer_terms(principal="50000"))
    fresh = Loan.objects.get(pk=approved_loan.pk)
    assert (fresh.status, fresh.principal) == (LoanStatus.OFFERED, Decimal("50000.00"))
    with pytest.raises(InvalidTransition):  # only approved loans need (and get) the approval
        restricted_offer_approve(actor=manager, loan_id=approved_loan.pk, note="again")


def test_suggested_principal_respects_the_restriction(approved_loan: Loan, restriction: Any) -> None:
    assert offer_defaults(approved_loan)["principal"] == Decimal("50000.00")


def test_a_lifted_restriction_no_longer_applies(approved_loan: Loan, restriction: Any, risk: Any, manager: Any) -> None:
    IndustryRestriction.objects.filter(pk=restriction.pk).update(lifted_at=timezone.now(), lifted_on=date(2025, 1, 2))
    with pytest.raises(DomainError) as caught:
        restricted_offer_approve(actor=manager, loan_id=approved_loan.pk, note="x")
    assert caught.value.code == "industry_not_restricted"
    loan_make_offer(actor=risk, loan_id=approved_loan.pk, **offer_terms(principal="100000"))
    assert Loan.objects.get(pk=approved_loan.pk).status == LoanStatus.OFFERED


def test_other_industries_are_not_affected(approved_loan: Loan, risk: Any, manager: Any) -> None:
    IndustryRestriction.objects.create(
        industry="K",
        factor=Decimal("0.1"),
        overdue_rate=Decimal("0.2"),
        threshold=Decimal("0.1"),
        imposed_on=date(2025, 1, 1),
    )
    with pytest.raises(PermissionDenied):
        restricted_offer_approve(actor=risk, loan_id=approved_loan.pk, note="x")
    with pytest.raises(DomainError) as caught:
        restricted_offer_approve(actor=manager, loan_id=approved_loan.pk, note="x")
    assert caught.value.code == "industry_not_restricted"
    loan_make_offer(actor=risk, loan_id=approved_loan.pk, **offer_terms(principal="100000"))
    assert Loan.objects.get(pk=approved_loan.pk).status == LoanStatus.OFFERED
