"""loan_transition_many: the bulk path of the state machine (used by the daily batch)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.db import transaction

from applications.lifecycle import loan_transition_many
from applications.models import Loan, LoanStageEvent, LoanStatus
from compliance.audit import audit_verify_chain
from compliance.models import AuditEvent
from loanops.exceptions import InvalidTransition
from servicing.services.common import system_user
from servicing.tests.conftest import make_loan, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def maker() -> Any:
    return make_user("maker1", "ops")


def test_moves_every_loan_and_writes_stage_and_audit_events(maker: Any) -> None:
    loans = [make_loan(maker=maker, status=LoanStatus.ACTIVE) for _ in range(3)]
    with transaction.atomic():
        done = loan_transition_many([loan.pk for loan in loans], "mark_overdue", actor=system_user(), reason="batch")
    assert done == sorted(loan.pk for loan in loans)
    assert set(Loan.objects.values_list("status", flat=True)) == {LoanStatus.OVERDUE}
    events = LoanStageEvent.objects.filter(transition="mark_overdue")
    assert sorted(events.values_list("loan_id", "from_status", "to_status")) == [
        (loan.pk, "active", "overdue") for loan in sorted(loans, key=lambda x: x.pk)
    ]
    audits = AuditEvent.objects.filter(action="loan.mark_overdue")
    assert audits.count() == 3
    assert all(a.after == {"status": "overdue"} and a.actor_name == "system" for a in audits)
    assert audit_verify_chain() == []


def test_a_loan_not_in_a_source_state_refuses_the_whole_batch(maker: Any) -> None:
    good = make_loan(maker=maker, status=LoanStatus.ACTIVE)
    bad = make_loan(maker=maker, status=LoanStatus.SETTLED)
    audits = AuditEvent.objects.count()
    with pytest.raises(InvalidTransition), transaction.atomic():
        loan_transition_many([good.pk, bad.pk], "mark_overdue", actor=system_user())
    assert Loan.objects.get(pk=good.pk).status == LoanStatus.ACTIVE
    assert LoanStageEvent.objects.count() == 0
    assert AuditEvent.objects.count() == audits


def test_needs_the_transitions_permission(maker: Any) -> None:
    loan = make_loan(maker=maker, status=LoanStatus.OVERDUE)
    with pytest.raises(PermissionDenied), transaction.atomic():
        loan_transition_many([loan.pk], "cure", actor=maker)
    assert Loan.objects.get(pk=loan.pk).status == LoanStatus.OVERDUE


def test_refuses_transitions_with_per_loan_rules(maker: Any) -> None:
    loan = make_loan(maker=maker, status=LoanStatus.DISBURSEMENT_PENDING)
    with pytest.raises(ValueError, match="per loan"), transaction.atomic():
        loan_transition_many([loan.pk], "disburse", actor=make_user("boss", "manager"))
