"""Write-off (核销): risk proposes, a manager who is not the proposer approves; ledger entries, status, audit;
the ledger check stays green and meaningful; recoveries after write-off are booked."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from applications.models import Loan, LoanStageEvent, LoanStatus, RiskClass
from compliance.models import AuditEvent
from loanops.exceptions import ConflictError, DomainError, InputError, InvalidTransition
from servicing.models import Account, EntryKind, Installment, JournalEntry, JournalLine, WriteOff, WriteOffRecovery
from servicing.selectors import ledger_check, loan_balances, trial_balance
from servicing.services import installments_fall_due, penalties_accrue
from servicing.services.write_off import (
    loan_write_off,
    recovery_record,
    write_off_approve,
    write_off_propose,
    write_off_reject,
)
from servicing.tests.conftest import make_user, set_business_date

pytestmark = pytest.mark.django_db

LATE = date(2025, 6, 20)  # five installments due and unpaid


@pytest.fixture
def loss_loan(active_loan: Loan) -> Loan:
    """Overdue, classified 损失, with principal, booked interest and penalty receivable."""
    set_business_date(LATE)
    installments_fall_due(business_date=LATE)
    penalties_accrue(business_date=LATE)
    Loan.objects.filter(pk=active_loan.pk).update(
        status=LoanStatus.OVERDUE, days_past_due=400, risk_class=RiskClass.LOSS
    )
    return Loan.objects.get(pk=active_loan.pk)


def _counts() -> tuple[int, ...]:
    return (
        WriteOff.objects.count(),
        JournalEntry.objects.count(),
        AuditEvent.objects.count(),
        LoanStageEvent.objects.count(),
        WriteOffRecovery.objects.count(),
    )


def test_write_off_four_eyes_and_ledger(loss_loan: Loan, risk: Any, manager: Any) -> None:
    before = loan_balances(loss_loan)
    assert before["principal_receivable"] == Decimal("12000.00")
    assert before["interest_receivable"] > 0 and before["penalty_receivable"] > 0
    proposal = write_off_propose(actor=risk, loan_id=loss_loan.pk, reason="借款人失联，执行无果")
    assert Loan.objects.get(pk=loss_loan.pk).status == LoanStatus.OVERDUE  # a proposal changes no status
    approved = write_off_approve(actor=manager, loan_id=loss_loan.pk, reason="同意核销")
    assert approved.pk == proposal.pk
    loan = Loan.objects.get(pk=loss_loan.pk)
    assert loan.status == LoanStatus.WRITTEN_OFF
    assert (approved.status, approved.proposed_by, approved.decided_by) == ("approved", risk, manager)
    assert approved.principal == before["principal_receivable"]
    assert approved.interest == before["interest_receivable"]
    assert approved.penalty == before["penalty_receivable"]
    after = loan_balances(loan)
    assert after["total_receivable"] == Decimal("0.00")
    entry = approved.journal_entry
    assert entry is not None and entry.kind == EntryKind.WRITE_OFF
    lines = {(line.account, line.debit, line.credit) for line in entry.lines.all()}
    assert (Account.WRITE_OFF_EXPENSE, before["total_receivable"], Decimal("0.00")) in lines
    assert (Account.PRINCIPAL_RECEIVABLE, Decimal("0.00"), Decimal("12000.00")) in lines
    assert AuditEvent.objects.filter(action="loan.write_off", subject_id=str(loan.pk)).exists()
    assert AuditEvent.objects.filter(action="loan.write_off_propose", subject_id=str(loan.pk)).exists()
    assert ledger_check() == []
    # the batch leaves a written-off loan alone: no more due interest or penalty
    later = date(2025, 9, 20)
    set_business_date(later)
    installments_fall_due(business_date=later)
    penalties_accrue(business_date=later)
    assert loan_balances(loan)["total_receivable"] == Decimal("0.00")
    assert ledger_check() == []


def test_ledger_check_detects_a_tampered_write_off(loss_loan: Loan, risk: Any, manager: Any) -> None:
    write_off_propose(actor=risk, loan_id=loss_loan.pk, reason="失联")
    write_off_approve(actor=manager, loan_id=loss_loan.pk)
    item = Installment.objects.filter(loan=loss_loan, schedule__is_current=True).order_by("period").last()
    assert item is not None
    Installment.objects.filter(pk=item.pk).update(principal_due=item.principal_due + 1)
    kinds = {problem.kind for problem in ledger_check()}
    assert "write_off_mismatch" in kinds
    Installment.objects.filter(pk=item.pk).update(principal_due=item.principal_due)
    assert ledger_check() == []


def test_proposer_cannot_approve(loss_loan: Loan, risk: Any, manager: Any) -> None:
    # a manager who proposes (given the permission) cannot approve their own proposal
    manager.user_permissions.add(Permission.objects.get(codename="propose_write_off"))
    proposer = type(manager).objects.get(pk=manager.pk)
    write_off_propose(actor=proposer, loan_id=loss_loan.pk, reason="失联")
    counts = _counts()
    with pytest.raises(PermissionDenied):
        write_off_approve(actor=proposer, loan_id=loss_loan.pk)
    assert _counts() == counts
    assert Loan.objects.get(pk=loss_loan.pk).status == LoanStatus.OVERDUE


def test_permissions(loss_loan: Loan, risk: Any, ops: Any, manager: Any) -> None:
    counts = _counts()
    for actor in (ops, manager):
        with pytest.raises(PermissionDenied):
            write_off_propose(actor=actor, loan_id=loss_loan.pk, reason="x")
    write_off_propose(actor=risk, loan_id=loss_loan.pk, reason="x")
    other_risk = make_user("risk2", "risk")
    with pytest.raises(PermissionDenied):
        write_off_approve(actor=other_risk, loan_id=loss_loan.pk)
    assert _counts()[1:] == (counts[1], counts[2] + 1, counts[3], counts[4])


def test_refusals_change_nothing(active_loan: Loan, loss_loan: Loan, risk: Any, manager: Any) -> None:
    with pytest.raises(InputError):
        write_off_propose(actor=risk, loan_id=loss_loan.pk, reason="  ")
    with pytest.raises(DomainError) as caught:  # nothing proposed yet
        write_off_approve(actor=manager, loan_id=loss_loan.pk)
    assert caught.value.code == "no_write_off_proposal"
    Loan.objects.filter(pk=loss_loan.pk).update(risk_class=RiskClass.DOUBTFUL)
    counts = _counts()
    with pytest.raises(DomainError) as caught:
        write_off_propose(actor=risk, loan_id=loss_loan.pk, reason="x")
    assert caught.value.code == "not_loss_class" and caught.value.http_status == 422
    Loan.objects.filter(pk=loss_loan.pk).update(risk_class=RiskClass.LOSS, status=LoanStatus.ACTIVE)
    with pytest.raises(InvalidTransition):  # write_off's source is overdue: 409
        write_off_propose(actor=risk, loan_id=loss_loan.pk, reason="x")
    assert _counts() == counts
    Loan.objects.filter(pk=loss_loan.pk).update(status=LoanStatus.OVERDUE)
    write_off_propose(actor=risk, loan_id=loss_loan.pk, reason="x")
    with pytest.raises(ConflictError):
        write_off_propose(actor=risk, loan_id=loss_loan.pk, reason="again")


def test_reject_then_propose_again(loss_loan: Loan, risk: Any, manager: Any) -> None:
    write_off_propose(actor=risk, loan_id=loss_loan.pk, reason="x")
    rejected = write_off_reject(actor=manager, loan_id=loss_loan.pk, reason="继续诉讼")
    assert rejected.status == WriteOff.Status.REJECTED
    assert Loan.objects.get(pk=loss_loan.pk).status == LoanStatus.OVERDUE
    assert JournalEntry.objects.filter(kind=EntryKind.WRITE_OFF).count() == 0
    write_off_propose(actor=risk, loan_id=loss_loan.pk, reason="诉讼终结")
    loan_write_off(actor=manager, loan_id=loss_loan.pk, reason="同意")  # no action: approves the pending one
    assert Loan.objects.get(pk=loss_loan.pk).status == LoanStatus.WRITTEN_OFF


# --- recoveries --------------------------------------------------------------------------------------


@pytest.fixture
def written_off(loss_loan: Loan, risk: Any, manager: Any) -> WriteOff:
    write_off_propose(actor=risk, loan_id=loss_loan.pk, reason="失联")
    return write_off_approve(actor=manager, loan_id=loss_loan.pk)


def test_recovery_booking(written_off: WriteOff, ops: Any) -> None:
    income_before = trial_balance().get(Account.RECOVERY_INCOME, Decimal("0.00"))
    recovery = recovery_record(
        actor=ops,
        loan_id=written_off.loan_id,
        amount="1500.00",
        recovered_on=LATE,
        channel="litigation",
        reference="(2025)京0105执123号",
    )
    lines = {(line.account, line.debit, line.credit) for line in recovery.journal_entry.lines.all()}
    assert lines == {
        (Account.CASH_CLEARING, Decimal("1500.00"), Decimal("0.00")),
        (Account.RECOVERY_INCOME, Decimal("0.00"), Decimal("1500.00")),
    }
    assert trial_balance()[Account.RECOVERY_INCOME] == income_before - Decimal("1500.00")
    assert recovery.journal_entry.kind == EntryKind.RECOVERY
    assert AuditEvent.objects.filter(action="loan.write_off_recovery").count() == 1
    assert Loan.objects.get(pk=written_off.loan_id).status == LoanStatus.WRITTEN_OFF
    assert ledger_check() == []


@pytest.mark.parametrize(
    ("amount", "day", "channel", "field"),
    [
        ("0", LATE, "litigation", "amount"),
        ("-5", LATE, "litigation", "amount"),
        ("1.234", LATE, "litigation", "amount"),
        ("abc", LATE, "litigation", "amount"),
        ("10.00", date(2025, 6, 21), "litigation", "recovered_on"),  # after the business date
        ("10.00", date(2025, 6, 19), "litigation", "recovered_on"),  # before the write-off
        ("10.00", LATE, "carrier_pigeon", "channel"),
    ],
)
def test_recovery_bad_input(written_off: WriteOff, ops: Any, amount: str, day: date, channel: str, field: str) -> None:
    counts = _counts()
    with pytest.raises(InputError) as caught:
        recovery_record(actor=ops, loan_id=written_off.loan_id, amount=amount, recovered_on=day, channel=channel)
    assert field in caught.value.fields
    assert _counts() == counts


def test_recovery_refusals(written_off: WriteOff, active_loan: Loan, ops: Any, risk: Any) -> None:
    with pytest.raises(PermissionDenied):
        recovery_record(actor=risk, loan_id=written_off.loan_id, amount="1", recovered_on=LATE, channel="other")
    with pytest.raises(DomainError) as caught:
        recovery_record(
            actor=ops,
            loan_id=written_off.loan_id,
            amount=str(written_off.total + 1),
            recovered_on=LATE,
            channel="other",
        )
    assert caught.value.code == "recovery_exceeds_write_off"
    assert WriteOffRecovery.objects.count() == 0
    assert JournalLine.objects.filter(account=Account.RECOVERY_INCOME).count() == 0


def test_recovery_needs_written_off_loan(active_loan: Loan, ops: Any, business_date: date) -> None:
    with pytest.raises(DomainError) as caught:
        recovery_record(actor=ops, loan_id=active_loan.pk, amount="1.00", recovered_on=business_date, channel="other")
    assert caught.value.code == "loan_not_written_off"


# --- API ---------------------------------------------------------------------------------------------


def test_api_write_off_and_recoveries(api: Any, loss_loan: Loan, risk: Any, manager: Any, ops: Any) -> None:
    url = reverse("api:loan-write-off", args=[loss_loan.pk])
    api.force_authenticate(risk)
    assert api.post(url, {"reason": ""}, format="json").status_code == 400
    response = api.post(url, {"reason": "失联"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["write_off"]["status"] == "proposed"
    assert response.json()["status"] == "overdue"
    assert api.post(url, {"action": "approve", "reason": "x"}, format="json").status_code == 403
    api.force_authenticate(manager)
    assert api.post(url, {"action": "bogus"}, format="json").status_code == 400
    response = api.post(url, {"reason": "同意"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "written_off"
    assert api.post(url, {"action": "propose", "reason": "x"}, format="json").status_code == 403

    recoveries = reverse("api:loan-recoveries", args=[loss_loan.pk])
    api.force_authenticate(ops)
    body = {"amount": "800.00", "recovered_on": "2025-06-20", "channel": "bank_transfer", "reference": "R1"}
    response = api.post(recoveries, body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["amount"] == "800.00"
    assert api.post(recoveries, {**body, "amount": "-1"}, format="json").status_code == 400
    assert api.post(recoveries, {**body, "amount": "999999.00"}, format="json").status_code == 422
    listing = api.get(recoveries)
    assert listing.status_code == 200
    assert [row["amount"] for row in listing.json()["recoveries"]] == ["800.00"]
    assert listing.json()["write_off"]["principal"] == "12000.00"


def test_api_customer_gets_404(api: Any, loss_loan: Loan) -> None:
    from servicing.tests.conftest import make_customer

    user = make_user("13900000999", "customer", staff=False)
    make_customer(user=user)
    api.force_authenticate(user)
    assert api.post(reverse("api:loan-write-off", args=[loss_loan.pk]), {"reason": "x"}).status_code in (403, 404)
    assert api.get(reverse("api:loan-recoveries", args=[loss_loan.pk])).status_code in (403, 404)
