"""loan_disburse: four eyes, schedule v1, the disbursement entry, and nothing written on refusal."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied

from applications.models import Loan, LoanStageEvent, LoanStatus
from compliance.models import AuditEvent
from loanops.exceptions import DomainError, InvalidTransition
from servicing.models import Installment, JournalEntry, JournalLine, ScheduleVersion
from servicing.selectors import loan_balances, schedule_current
from servicing.services import loan_disburse

pytestmark = pytest.mark.django_db


def _nothing_written(loan: Loan) -> None:
    loan.refresh_from_db()
    assert loan.status == LoanStatus.DISBURSEMENT_PENDING
    assert loan.disbursed_on is None
    assert not ScheduleVersion.objects.filter(loan=loan).exists()
    assert not Installment.objects.filter(loan=loan).exists()
    assert not JournalEntry.objects.filter(loan=loan).exists()
    assert not LoanStageEvent.objects.filter(loan=loan).exists()


def test_disburse_creates_schedule_and_balanced_entry(business_date, loan_factory, manager):
    loan = loan_factory()
    result = loan_disburse(actor=manager, loan_id=loan.pk, reason="复核通过")

    assert result.status == LoanStatus.ACTIVE
    loan.refresh_from_db()
    assert loan.status == LoanStatus.ACTIVE
    assert loan.disbursed_on == business_date
    version = ScheduleVersion.objects.get(loan=loan)
    assert (version.version, version.is_current, version.principal) == (1, True, Decimal("12000.00"))
    rows = schedule_current(loan)
    assert len(rows) == 12
    assert sum(r.principal_due for r in rows) == Decimal("12000.00")
    assert rows[0].due_date == date(2025, 2, 15)
    assert (rows[0].principal_due, rows[0].interest_due) == (Decimal("946.19"), Decimal("120.00"))
    entry = JournalEntry.objects.get(loan=loan)
    lines = {(line.account, line.debit, line.credit) for line in entry.lines.all()}
    assert lines == {
        ("principal_receivable", Decimal("12000.00"), Decimal("0.00")),
        ("cash_clearing", Decimal("0.00"), Decimal("12000.00")),
    }
    assert loan_balances(loan)["principal_receivable"] == Decimal("12000.00")
    assert AuditEvent.objects.filter(action="loan.disburse", subject_id=str(loan.pk)).exists()


def test_origination_fee_is_deducted_from_cash(business_date, loan_factory, manager):
    loan = loan_factory(principal="10000.00", fee_rate="0.015000")
    loan_disburse(actor=manager, loan_id=loan.pk)
    lines = {(line.account, line.debit, line.credit) for line in JournalLine.objects.filter(loan=loan)}
    assert lines == {
        ("principal_receivable", Decimal("10000.00"), Decimal("0.00")),
        ("cash_clearing", Decimal("0.00"), Decimal("9850.00")),
        ("fee_income", Decimal("0.00"), Decimal("150.00")),
    }


def test_maker_cannot_check(business_date, loan_factory, manager):
    loan = loan_factory(maker=manager)
    with pytest.raises(DomainError) as info:
        loan_disburse(actor=manager, loan_id=loan.pk)
    assert (info.value.code, info.value.http_status) == ("four_eyes_required", 422)
    _nothing_written(loan)


def test_checker_needs_disburse_permission(business_date, loan_factory, ops2):
    loan = loan_factory()
    with pytest.raises(PermissionDenied):
        loan_disburse(actor=ops2, loan_id=loan.pk)
    _nothing_written(loan)


def test_disburse_twice_is_an_illegal_transition(business_date, loan_factory, manager):
    loan = loan_factory()
    loan_disburse(actor=manager, loan_id=loan.pk)
    with pytest.raises(InvalidTransition):
        loan_disburse(actor=manager, loan_id=loan.pk)
    assert JournalEntry.objects.filter(loan=loan).count() == 1


def test_first_due_date_must_be_after_the_business_date(business_date, loan_factory, manager):
    loan = loan_factory(first_due_date=business_date)
    with pytest.raises(DomainError) as info:
        loan_disburse(actor=manager, loan_id=loan.pk)
    assert info.value.code == "first_due_date_passed"
    _nothing_written(loan)


@pytest.mark.parametrize("method", ["equal_installment", "equal_principal", "interest_only", "bullet"])
def test_every_method_disburses_consistently(business_date, loan_factory, manager, method):
    loan = loan_factory(method=method, term=6, principal="5000.00")
    loan_disburse(actor=manager, loan_id=loan.pk)
    rows = schedule_current(loan)
    assert sum(r.principal_due for r in rows) == Decimal("5000.00")
    assert rows[-1].remaining_after == Decimal("0.00")
