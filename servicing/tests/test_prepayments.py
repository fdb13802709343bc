"""Partial prepayment: accrued interest and fee, keep-term / keep-installment schedules, refusals write nothing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied

from applications.models import Product
from compliance.models import AuditEvent
from loanops.exceptions import DomainError, InputError, InvalidTransition
from loanops.schedule import build_schedule
from servicing.models import JournalEntry, Prepayment, Repayment, ScheduleVersion
from servicing.selectors import loan_balances, schedule_current, schedule_version_current
from servicing.services import prepayment_quote, prepayment_record, repayment_record, repayment_reverse
from servicing.tests.conftest import make_user, set_business_date

pytestmark = pytest.mark.django_db
D = Decimal


def pay_first(loan, ops):
    set_business_date(date(2025, 2, 15))
    repayment_record(actor=ops, loan_id=loan.pk, amount="1066.19", paid_on=date(2025, 2, 15), channel="bank_transfer")


def counts():
    return (
        ScheduleVersion.objects.count(),
        JournalEntry.objects.count(),
        Repayment.objects.count(),
        Prepayment.objects.count(),
    )


def test_keep_term_lowers_the_installment(active_loan, ops):
    pay_first(active_loan, ops)
    set_business_date(date(2025, 3, 1))  # 14 days into period 2
    Product.objects.filter(pk=active_loan.product_id).update(prepayment_fee_rate=D("0.01"))
    quote = prepayment_quote(actor=ops, loan_id=active_loan.pk, amount="5000.00", option="keep_term")
    assert (quote.principal, quote.interest, quote.interest_days, quote.fee, quote.total) == (
        D("5000.00"),
        D("23.33"),  # 5000 × 12 % × 14 / 360
        14,
        D("50.00"),
        D("5073.33"),
    )
    expected = build_schedule(
        principal=D("6053.81"),
        annual_rate=D("0.12"),
        term_months=11,
        method="equal_installment",
        first_due_date=date(2025, 3, 15),
    )
    assert [(r.due_date, r.principal, r.interest) for r in quote.rows] == [
        (r.due_date, r.principal, r.interest) for r in expected
    ]
    assert quote.new_periods == 11 and quote.new_installment < quote.old_installment == D("1066.19")
    assert ScheduleVersion.objects.count() == 1  # the quote writes nothing

    prepayment = prepayment_record(actor=ops, loan_id=active_loan.pk, amount="5000.00", option="keep_term")
    assert (prepayment.principal, prepayment.interest, prepayment.fee) == (D("5000.00"), D("23.33"), D("50.00"))
    assert prepayment.repayment.amount == D("5073.33")
    version = schedule_version_current(active_loan)
    assert version.version == 2 and version.reason.startswith("提前还款本金 5000.00")
    assert ScheduleVersion.objects.get(pk=prepayment.old_version_id).superseded_at is not None
    current = schedule_current(active_loan)
    assert len(current) == 12 and current[0].status == "paid"
    assert [(i.due_date, i.principal_due, i.interest_due) for i in current[1:]] == [
        (r.due_date, r.principal, r.interest) for r in expected
    ]
    balances = loan_balances(active_loan)
    assert balances["principal_receivable"] == D("6053.81")
    assert balances["fee_receivable"] == D("0.00") and balances["interest_receivable"] == D("0.00")
    kinds = list(JournalEntry.objects.filter(loan=active_loan).values_list("kind", flat=True))
    assert kinds[-3:] == ["accrual", "fee", "repayment"]
    assert AuditEvent.objects.filter(action="prepayment.record").exists()
    with pytest.raises(DomainError) as info:
        repayment_reverse(actor=make_user("mgr", "manager"), repayment_id=prepayment.repayment_id, reason="x")
    assert info.value.code == "prepayment_not_reversible"


def test_keep_installment_shortens_the_term(active_loan, ops):
    pay_first(active_loan, ops)
    prepayment = prepayment_record(actor=ops, loan_id=active_loan.pk, amount="5000.00", option="keep_installment")
    assert prepayment.interest == D("0.00")  # on the due date: no day of the new period has run
    current = schedule_current(active_loan)
    new_rows = current[1:]
    assert len(new_rows) == 6
    assert all(i.total_due <= D("1066.19") for i in new_rows)
    # five installments would need more than the old one
    assert build_schedule(
        principal=D("6053.81"),
        annual_rate=D("0.12"),
        term_months=5,
        method="equal_installment",
        first_due_date=date(2025, 3, 15),
    )[0].total > D("1066.19")
    assert new_rows[-1].due_date == date(2025, 8, 15) and new_rows[-1].remaining_after == D("0.00")
    assert sum(i.principal_due for i in new_rows) == D("6053.81")


def test_equal_principal_keep_installment_keeps_the_principal_portion(loan_factory, manager, ops, business_date):
    from servicing.services import loan_disburse

    loan = loan_disburse(actor=manager, loan_id=loan_factory(method="equal_principal").pk)
    prepayment_record(actor=ops, loan_id=loan.pk, amount="3000.00", option="keep_installment")
    rows = schedule_current(loan)
    assert len(rows) == 9 and all(i.principal_due == D("1000.00") for i in rows)


def test_interest_only_allows_keep_term_only(loan_factory, manager, ops, business_date):
    from servicing.services import loan_disburse

    loan = loan_disburse(actor=manager, loan_id=loan_factory(method="interest_only").pk)
    before = counts()
    with pytest.raises(DomainError) as info:
        prepayment_record(actor=ops, loan_id=loan.pk, amount="2000.00", option="keep_installment")
    assert info.value.code == "option_not_applicable"
    assert counts() == before
    prepayment_record(actor=ops, loan_id=loan.pk, amount="2000.00", option="keep_term")
    rows = schedule_current(loan)
    assert [i.interest_due for i in rows[:2]] == [D("100.00"), D("100.00")]  # 10 000 × 1 %
    assert rows[-1].principal_due == D("10000.00")


def test_bullet_prepayment_reduces_the_payment_at_maturity(loan_factory, manager, ops, business_date):
    from servicing.services import loan_disburse

    loan = loan_disburse(actor=manager, loan_id=loan_factory(method="bullet").pk)
    prepayment_record(actor=ops, loan_id=loan.pk, amount="2000.00", option="keep_term")
    (row,) = schedule_current(loan)
    assert (row.due_date, row.principal_due, row.interest_due) == (date(2026, 1, 15), D("10000.00"), D("1200.00"))


@pytest.mark.parametrize(
    ("amount", "option", "field"),
    [
        ("0", "keep_term", "amount"),
        ("-1.00", "keep_term", "amount"),
        ("1.001", "keep_term", "amount"),
        ("abc", "keep_term", "amount"),
        ("100.00", "shorter", "option"),
    ],
)
def test_bad_input_is_field_level_and_writes_nothing(active_loan, ops, amount, option, field):
    before = counts()
    with pytest.raises(InputError) as info:
        prepayment_record(actor=ops, loan_id=active_loan.pk, amount=amount, option=option)
    assert field in info.value.fields and info.value.http_status == 400
    assert counts() == before


def test_refusals_write_nothing(active_loan, ops, loan_factory):
    before = counts()
    with pytest.raises(DomainError) as info:
        prepayment_record(actor=ops, loan_id=active_loan.pk, amount="12000.00", option="keep_term")
    assert info.value.code == "prepayment_is_payoff" and info.value.http_status == 422
    set_business_date(date(2025, 2, 16))  # period 1 is due and unpaid
    with pytest.raises(DomainError) as info:
        prepayment_record(actor=ops, loan_id=active_loan.pk, amount="100.00", option="keep_term")
    assert info.value.code == "arrears_outstanding"
    pending = loan_factory()
    with pytest.raises(InvalidTransition) as info:
        prepayment_record(actor=ops, loan_id=pending.pk, amount="100.00", option="keep_term")
    assert info.value.http_status == 409 and info.value.code == "loan_not_active"
    with pytest.raises(PermissionDenied):
        prepayment_record(actor=make_user("riskx", "risk"), loan_id=active_loan.pk, amount="1.00", option="keep_term")
    assert counts() == before
