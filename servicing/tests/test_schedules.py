"""schedule_replace: new schedule versions keep paid history, supersede the old one, and agree with the ledger."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from applications.models import LoanStatus
from compliance.models import AuditEvent
from loanops.exceptions import DomainError, InvalidTransition
from loanops.schedule import ScheduleRow
from servicing.models import Installment, InstallmentStatus, ScheduleVersion
from servicing.selectors import loan_balances, schedule_current, schedule_version_current
from servicing.services import installments_fall_due, repayment_record, repayment_reverse
from servicing.services.schedules import schedule_replace, schedule_tail, tail_rows
from servicing.tests.conftest import set_business_date

pytestmark = pytest.mark.django_db
D = Decimal


def pay(loan, actor, amount, on):
    return repayment_record(actor=actor, loan_id=loan.pk, amount=amount, paid_on=on, channel="bank_transfer")


def counts():
    return ScheduleVersion.objects.count(), Installment.objects.count(), AuditEvent.objects.count()


def test_extension_keeps_paid_history_and_supersedes_the_old_version(active_loan, ops, manager):
    set_business_date(date(2025, 2, 15))
    pay(active_loan, ops, "1066.19", date(2025, 2, 15))
    old = schedule_version_current(active_loan)
    old_rows = [(i.period, i.principal_due, i.interest_due) for i in schedule_current(active_loan)]

    tail = schedule_tail(loan=active_loan)
    assert (tail.kept_periods, tail.periods, tail.principal) == (1, 11, D("11053.81"))
    rows = tail_rows(tail, principal=tail.principal, periods=14, annual_rate=D("0.12"), method=tail.method)
    version = schedule_replace(actor=manager, loan=active_loan, rows=rows, reason="展期 3 个月")

    old.refresh_from_db()
    assert not old.is_current and old.superseded_at is not None and old.superseded_reason == "展期 3 个月"
    assert [(i.period, i.principal_due, i.interest_due) for i in old.installments.order_by("period")] == old_rows
    assert (version.version, version.is_current, version.term_months, version.principal) == (
        2,
        True,
        14,
        D("11053.81"),
    )
    current = schedule_current(active_loan)
    assert [i.period for i in current] == list(range(1, 16))
    first = current[0]
    assert (first.status, first.principal_paid, first.interest_paid, first.interest_booked) == (
        InstallmentStatus.PAID,
        D("946.19"),
        D("120.00"),
        True,
    )
    assert current[1].due_date == date(2025, 3, 15) and current[-1].due_date == date(2026, 4, 15)
    assert sum(i.principal_due for i in current) == D("12000.00")
    assert current[-1].remaining_after == D("0.00")
    assert loan_balances(active_loan)["principal_receivable"] == D("11053.81")
    assert AuditEvent.objects.filter(action="schedule.replace", subject_id=str(active_loan.pk)).exists()

    # the new schedule works like the first one: the next installment falls due and is paid
    set_business_date(date(2025, 3, 15))
    installments_fall_due(business_date=date(2025, 3, 15))
    repayment = pay(active_loan, ops, str(current[1].total_due), date(2025, 3, 15))
    assert schedule_current(active_loan)[1].status == InstallmentStatus.PAID
    assert repayment.allocations.filter(installment__schedule=version).count() == 2


def test_due_dates_keep_the_day_of_month(loan_factory, manager, business_date):
    from servicing.services import loan_disburse

    loan = loan_disburse(actor=manager, loan_id=loan_factory(first_due_date=date(2025, 1, 31)).pk)
    set_business_date(date(2025, 2, 1))
    tail = schedule_tail(loan=loan)
    # period 1 (Jan 31) is due and unpaid: kept; the tail continues Feb 28, Mar 31, Apr 30 …
    assert tail.kept_periods == 1 and tail.arrears_principal > 0
    rows = tail_rows(tail, principal=tail.principal, periods=11, annual_rate=D("0.12"), method=tail.method)
    assert [r.due_date for r in rows[:3]] == [date(2025, 2, 28), date(2025, 3, 31), date(2025, 4, 30)]
    schedule_replace(actor=manager, loan=loan, rows=rows, reason="重新计算")
    assert schedule_current(loan)[0].principal_paid == D("0.00")


def test_roll_over_arrears_re_amortises_overdue_principal(active_loan, ops, manager):
    set_business_date(date(2025, 3, 20))
    installments_fall_due(business_date=date(2025, 3, 20))
    tail = schedule_tail(loan=active_loan)
    assert tail.kept_periods == 2
    principal = tail.principal + tail.arrears_principal
    assert principal == D("12000.00")
    rows = tail_rows(tail, principal=principal, periods=12, annual_rate=D("0.12"), method="equal_installment")
    schedule_replace(actor=manager, loan=active_loan, rows=rows, reason="重组", roll_over_arrears=True)
    current = schedule_current(active_loan)
    # the overdue installments keep their (booked) interest, their principal moved to the new rows
    assert [(i.principal_due, i.interest_due, i.status) for i in current[:2]] == [
        (D("0.00"), D("120.00"), InstallmentStatus.DUE),
        (D("0.00"), D("110.54"), InstallmentStatus.DUE),
    ]
    assert len(current) == 14 and sum(i.principal_due for i in current) == D("12000.00")
    assert loan_balances(active_loan)["interest_receivable"] == D("230.54")
    repayment = pay(active_loan, ops, "230.54", date(2025, 3, 20))
    assert [a.component for a in repayment.allocations.all()] == ["interest", "interest"]
    assert schedule_current(active_loan)[1].status == InstallmentStatus.PAID


def test_principal_mismatch_and_bad_dates_write_nothing(active_loan, manager):
    tail = schedule_tail(loan=active_loan)
    rows = tail_rows(tail, principal=D("11000.00"), periods=12, annual_rate=D("0.12"), method=tail.method)
    before = counts()
    with pytest.raises(DomainError) as info:
        schedule_replace(actor=manager, loan=active_loan, rows=rows, reason="x")
    assert info.value.code == "schedule_principal_mismatch"
    bad = [ScheduleRow(1, date(2025, 1, 10), D("12000.00"), D("0.00"), D("12000.00"), D("0.00"))]
    with pytest.raises(DomainError) as info:
        schedule_replace(actor=manager, loan=active_loan, rows=bad, reason="x")
    assert info.value.code == "schedule_dates_invalid"
    with pytest.raises(DomainError) as info:
        schedule_replace(actor=manager, loan=active_loan, rows=rows, reason="  ")
    assert info.value.code == "reason_required"
    assert counts() == before
    assert schedule_version_current(active_loan).version == 1


def test_partly_prepaid_future_installment_is_refused(active_loan, ops, manager):
    pay(active_loan, ops, "500.00", date(2025, 1, 15))  # pays part of period 1, not yet due
    before = counts()
    with pytest.raises(DomainError) as info:
        schedule_tail(loan=active_loan)
    assert info.value.code == "installment_partly_paid"
    assert counts() == before


def test_loan_not_in_servicing_is_refused(loan_factory, manager, business_date):
    loan = loan_factory()
    rows = [ScheduleRow(1, date(2025, 2, 15), D("12000.00"), D("0.00"), D("12000.00"), D("0.00"))]
    before = counts()
    with pytest.raises(InvalidTransition) as info:
        schedule_replace(actor=manager, loan=loan, rows=rows, reason="x")
    assert info.value.http_status == 409 and info.value.code == "loan_not_servicing"
    assert loan.status == LoanStatus.DISBURSEMENT_PENDING
    assert counts() == before


def test_repayment_before_a_new_version_cannot_be_reversed(active_loan, ops, manager):
    set_business_date(date(2025, 2, 15))
    repayment = pay(active_loan, ops, "1066.19", date(2025, 2, 15))
    tail = schedule_tail(loan=active_loan)
    rows = tail_rows(tail, principal=tail.principal, periods=11, annual_rate=D("0.12"), method=tail.method)
    schedule_replace(actor=manager, loan=active_loan, rows=rows, reason="重新计算")
    with pytest.raises(DomainError) as info:
        repayment_reverse(actor=manager, repayment_id=repayment.pk, reason="误录")
    assert info.value.code == "schedule_superseded"
