"""penalties_accrue: daily penalty on overdue principal, exact accumulator, idempotent per date."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from servicing.models import JournalEntry
from servicing.selectors import loan_balances, schedule_current
from servicing.services import installments_fall_due, repayment_record
from servicing.services.batch import installments_mark_overdue
from servicing.services.batch import penalties_accrue as penalties_accrue_only
from servicing.tests.conftest import set_business_date

pytestmark = pytest.mark.django_db
D = Decimal


def penalties_accrue(*, business_date: date) -> dict[str, int]:
    """As in the close of business: step 1 marks what is past due, then step 2 accrues penalty."""
    installments_fall_due(business_date=business_date)
    installments_mark_overdue(business_date=business_date)
    return penalties_accrue_only(business_date=business_date)


def test_penalty_accrues_daily_and_is_idempotent(active_loan):
    # overdue principal of period 1 = 946.19; daily rate = 12 % × 1.5 / 360 = 0.0005 → 0.473095 a day
    assert penalties_accrue(business_date=date(2025, 2, 15)) == {"installments": 0, "entries": 0}
    assert penalties_accrue(business_date=date(2025, 2, 16)) == {"installments": 1, "entries": 1}
    assert schedule_current(active_loan)[0].penalty_due == D("0.47")
    assert penalties_accrue(business_date=date(2025, 2, 16)) == {"installments": 0, "entries": 0}
    penalties_accrue(business_date=date(2025, 2, 17))
    first = schedule_current(active_loan)[0]
    assert first.penalty_due == D("0.95")  # to_money(0.94619), not 0.47 + 0.47
    assert first.penalty_accrued_to == date(2025, 2, 17)
    assert loan_balances(active_loan)["penalty_receivable"] == D("0.95")
    assert JournalEntry.objects.filter(loan=active_loan, kind="penalty").count() == 2


def test_skipped_days_are_caught_up_and_penalty_is_paid_first(active_loan, ops):
    set_business_date(date(2025, 2, 25))
    installments_fall_due(business_date=date(2025, 2, 25))
    penalties_accrue(business_date=date(2025, 2, 25))  # 10 days × 0.473095 = 4.73095
    assert schedule_current(active_loan)[0].penalty_due == D("4.73")
    repayment = repayment_record(
        actor=ops, loan_id=active_loan.pk, amount="10.00", paid_on=date(2025, 2, 25), channel="counter"
    )
    parts = [(a.component, a.amount) for a in repayment.allocations.order_by("id")]
    assert parts == [("penalty", D("4.73")), ("interest", D("5.27"))]
    assert loan_balances(active_loan)["penalty_receivable"] == D("0.00")


def test_no_penalty_once_principal_is_paid(active_loan, ops):
    set_business_date(date(2025, 2, 15))
    repayment_record(actor=ops, loan_id=active_loan.pk, amount="1066.19", paid_on=date(2025, 2, 15), channel="wechat")
    assert penalties_accrue(business_date=date(2025, 2, 20)) == {"installments": 0, "entries": 0}
