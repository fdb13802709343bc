"""Overpayment (溢缴款): held in suspense, applied or refunded by a manager, ledger both ways, audited."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied

from applications.models import LoanStatus
from compliance.models import AuditEvent
from loanops.exceptions import DomainError, InputError
from servicing.models import JournalEntry, Repayment
from servicing.selectors import loan_balances, payoff_quote, schedule_current
from servicing.services import (
    installments_fall_due,
    loan_payoff,
    overpayment_apply,
    overpayment_refund,
    repayment_record,
    repayment_reverse,
)
from servicing.tests.conftest import set_business_date

pytestmark = pytest.mark.django_db
D = Decimal


def pay(loan, actor, amount, on=date(2025, 1, 15), channel="bank_transfer"):
    return repayment_record(actor=actor, loan_id=loan.pk, amount=amount, paid_on=on, channel=channel)


def test_money_beyond_the_next_installment_is_held_then_applied(active_loan, ops, manager):
    repayment = pay(active_loan, ops, "3000.00")
    parts = [
        (a.installment.period if a.installment else None, a.component, a.amount) for a in repayment.allocations.all()
    ]
    assert parts == [(1, "interest", D("120.00")), (1, "principal", D("946.19")), (None, "overpayment", D("1933.81"))]
    assert loan_balances(active_loan)["overpayment"] == D("1933.81")
    assert schedule_current(active_loan)[1].principal_paid == D("0.00")

    with pytest.raises(PermissionDenied):
        overpayment_apply(actor=ops, loan_id=active_loan.pk)
    applied = overpayment_apply(actor=manager, loan_id=active_loan.pk, reason="客户要求冲抵后续期次")
    assert applied.channel == "suspense" and applied.amount == D("1933.81")
    second, third = schedule_current(active_loan)[1:3]
    assert second.status == "paid" and third.total_paid == D("1933.81") - D("1066.19")
    assert loan_balances(active_loan)["overpayment"] == D("0.00")
    lines = {(line.account, line.debit > 0) for line in applied.journal_entry.lines.all()}
    assert ("overpayment", True) in lines and ("cash_clearing", True) not in lines
    assert AuditEvent.objects.filter(action="overpayment.apply").exists()
    with pytest.raises(DomainError) as info:
        overpayment_apply(actor=manager, loan_id=active_loan.pk)
    assert info.value.code == "nothing_to_apply"


def test_refund_by_a_manager_with_a_reason(active_loan, ops, manager):
    pay(active_loan, ops, "3000.00")
    entries = JournalEntry.objects.count()
    with pytest.raises(PermissionDenied):
        overpayment_refund(actor=ops, loan_id=active_loan.pk, amount="100.00", reason="x")
    with pytest.raises(InputError) as info:
        overpayment_refund(actor=manager, loan_id=active_loan.pk, amount="100.00", reason=" ")
    assert "reason" in info.value.fields
    with pytest.raises(DomainError) as info:
        overpayment_refund(actor=manager, loan_id=active_loan.pk, amount="1933.82", reason="退款")
    assert info.value.code == "refund_exceeds_overpayment"
    assert JournalEntry.objects.count() == entries

    entry = overpayment_refund(actor=manager, loan_id=active_loan.pk, amount="500.00", reason="客户申请退还")
    assert entry.kind == "refund"
    assert {(line.account, line.debit, line.credit) for line in entry.lines.all()} == {
        ("overpayment", D("500.00"), D("0.00")),
        ("cash_clearing", D("0.00"), D("500.00")),
    }
    assert loan_balances(active_loan)["overpayment"] == D("1433.81")
    assert AuditEvent.objects.filter(action="overpayment.refund", reason="客户申请退还").exists()


def test_reversal_is_refused_once_the_held_money_is_gone(active_loan, ops, manager):
    repayment = pay(active_loan, ops, "3000.00")
    overpayment_refund(actor=manager, loan_id=active_loan.pk, amount="1933.81", reason="退还")
    with pytest.raises(DomainError) as info:
        repayment_reverse(actor=manager, repayment_id=repayment.pk, reason="误录")
    assert info.value.code == "overpayment_used"
    assert Repayment.objects.get(pk=repayment.pk).reversed_at is None


def test_reversal_takes_the_held_money_back(active_loan, ops, manager):
    repayment = pay(active_loan, ops, "3000.00")
    repayment_reverse(actor=manager, repayment_id=repayment.pk, reason="误录")
    assert loan_balances(active_loan)["overpayment"] == D("0.00")


def test_payoff_uses_the_held_credit(active_loan, ops):
    pay(active_loan, ops, "3000.00")
    quote = payoff_quote(loan=active_loan, on=date(2025, 1, 15))
    assert quote["items"]["overpayment"] == D("1933.81")
    assert quote["total"] == D("12000.00") - D("946.19") - D("1933.81")
    loan_payoff(actor=ops, loan_id=active_loan.pk, amount=str(quote["total"]), channel="bank_transfer")
    active_loan.refresh_from_db()
    assert active_loan.status == LoanStatus.SETTLED
    assert loan_balances(active_loan)["overpayment"] == D("0.00")


def test_suspense_is_not_a_customer_channel(active_loan, ops):
    with pytest.raises(InputError) as info:
        pay(active_loan, ops, "10.00", channel="suspense")
    assert "channel" in info.value.fields


def test_refund_on_a_settled_loan(active_loan, ops, manager):
    set_business_date(date(2026, 1, 15))
    installments_fall_due(business_date=date(2026, 1, 15))
    total = sum(i.outstanding for i in schedule_current(active_loan))
    pay(active_loan, ops, str(total + D("100.00")), on=date(2026, 1, 15))
    active_loan.refresh_from_db()
    assert active_loan.status == LoanStatus.SETTLED
    overpayment_refund(actor=manager, loan_id=active_loan.pk, amount="100.00", reason="结清后退还多缴款")
    assert loan_balances(active_loan)["overpayment"] == D("0.00")


def test_paying_the_whole_schedule_at_once_settles_it(active_loan, ops):
    total = sum(i.outstanding for i in schedule_current(active_loan))
    repayment = pay(active_loan, ops, str(total + D("7.00")))
    active_loan.refresh_from_db()
    assert active_loan.status == LoanStatus.SETTLED
    assert repayment.allocations.get(component="overpayment").amount == D("7.00")
    assert loan_balances(active_loan)["overpayment"] == D("7.00")
