"""Replay a small portfolio over 400 business days through the real COB and online repayments.

Loans pay on time, pay late, pay in parts, cure, and roll through every bucket (M1, M2, M3, M3+). After
every day the ledger check passes and the batch's results — installment statuses, penalty accrued,
days past due, bucket, loan status — match a per-loan recomputation in Python (``Expected`` below),
which derives them from the schedule and ``penalty_for_range`` alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from applications.models import Loan, LoanStatus
from compliance.audit import audit_verify_chain
from loan_collections.cob.models import CobRun, CobRunStatus
from loan_collections.cob.runner import cob_run
from loanops.money import to_money
from loanops.pricing import penalty_for_range
from servicing.cob_steps import bucket_for
from servicing.models import Installment
from servicing.selectors import ledger_check
from servicing.services import loan_disburse, repayment_record
from servicing.services.business_date import business_date_get
from servicing.services.common import system_user
from servicing.tests.conftest import set_business_date

pytestmark = pytest.mark.django_db

START = date(2025, 1, 15)
DAYS = 400
ACCUMULATOR = Decimal("1e-10")


@dataclass
class Behaviour:
    """When a loan pays: ``late`` days after each due date (None: never by itself); ``until`` a day index
    after which it stops paying; ``catch_up`` a day index on which it pays all arrears; ``split`` pays
    half on the day, the rest ``split`` days later."""

    late: int | None
    until: int = DAYS
    catch_up: tuple[int, ...] = ()
    split: int = 0


BEHAVIOURS = {
    "on_time": Behaviour(late=0),
    "late_5": Behaviour(late=5),
    "late_40_to_m2": Behaviour(late=40),
    "parts": Behaviour(late=0, split=12),
    "rolls_to_m3_plus_then_cures": Behaviour(late=None, catch_up=(150, 300)),  # ~ 120 days past due at 150
    "stops_paying": Behaviour(late=0, until=120),  # M3+ and beyond until the end
}


@dataclass
class Expected:
    """Per-loan recomputation: the exact penalty accumulator of each installment, kept in Python."""

    penalty: dict[int, Decimal] = field(default_factory=dict)
    accrued_to: dict[int, date] = field(default_factory=dict)

    def accrue(self, loan: Loan, day: date) -> None:
        """What COB for ``day`` must add: penalty for [accrued_to or due, day) on what is unpaid now."""
        product = loan.product
        for item in Installment.objects.filter(loan=loan, schedule__is_current=True):
            self.penalty.setdefault(item.pk, Decimal(0))
            start = self.accrued_to.get(item.pk, item.due_date)
            unpaid_principal = item.principal_due - item.principal_paid
            if item.due_date >= day or item.outstanding <= 0 or start >= day or unpaid_principal <= 0:
                continue
            exact = self.penalty[item.pk] + penalty_for_range(
                overdue_principal=unpaid_principal,
                overdue_interest=item.interest_due - item.interest_paid,
                annual_rate=loan.annual_rate,
                surcharge=product.penalty_surcharge,
                compound=product.compound_overdue_interest,
                start=start,
                end=day,
                cap=loan.rate_cap if loan.rate_cap is not None else Decimal("0.24"),
            )
            self.penalty[item.pk] = exact.quantize(ACCUMULATOR, ROUND_HALF_UP)  # the column keeps 10 places
            self.accrued_to[item.pk] = day

    def check(self, loan: Loan, day: date) -> set[str]:
        loan.refresh_from_db()
        items = list(Installment.objects.filter(loan=loan, schedule__is_current=True).order_by("period"))
        if loan.status == LoanStatus.SETTLED:
            assert all(item.outstanding == 0 for item in items)
            return {"settled"}
        unpaid_past = [item.due_date for item in items if item.outstanding > 0 and item.due_date < day]
        dpd = (day - min(unpaid_past)).days if unpaid_past else 0
        assert (loan.days_past_due, loan.bucket) == (dpd, bucket_for(dpd)), (loan.pk, day)
        assert loan.status == (LoanStatus.OVERDUE if dpd else LoanStatus.ACTIVE), (loan.pk, day)
        for item in items:
            if item.outstanding <= 0:
                status = "paid"
            elif item.due_date > day:
                status = "pending"
            else:
                status = "overdue" if item.due_date < day else "due"
            assert item.status == status, (loan.pk, item.period, day)
            assert item.interest_booked == (item.due_date <= day or item.interest_paid > 0)
            exact = self.penalty.get(item.pk, Decimal(0))
            assert item.penalty_accrued == exact, (loan.pk, item.period, day)
            assert item.penalty_due == to_money(exact)
        return {bucket_for(dpd)}


def _pay(actor: Any, loan: Loan, day: date, *, due_by: date, fraction: Decimal = Decimal(1)) -> None:
    owed = sum(
        (i.outstanding for i in Installment.objects.filter(loan=loan, schedule__is_current=True, due_date__lte=due_by)),
        Decimal(0),
    )
    amount = to_money(owed * fraction)
    if amount > 0:
        repayment_record(actor=actor, loan_id=loan.pk, amount=amount, paid_on=day, channel="bank_transfer")


def test_portfolio_replayed_over_400_business_days(loan_factory: Any, manager: Any, ops: Any) -> None:
    set_business_date(START)
    loans: dict[str, Loan] = {}
    for n, name in enumerate(BEHAVIOURS):
        first_due = START + timedelta(days=10 + 3 * n)
        loan = loan_factory(first_due_date=first_due, rate="0.180000" if n % 2 else "0.120000")
        loans[name] = loan_disburse(actor=manager, loan_id=loan.pk)
    Loan.objects.filter(pk=loans["parts"].pk).update(rate_cap=Decimal("0.150000"))  # 18 % × 1.5 > cap
    for loan in loans.values():
        loan.refresh_from_db()
    expected = {name: Expected() for name in loans}
    seen: set[str] = set()
    pending_rest: dict[str, date] = {}
    system = system_user()

    for index in range(DAYS):
        today = business_date_get()
        for name, loan in loans.items():
            loan.refresh_from_db()
            if loan.status not in (LoanStatus.ACTIVE, LoanStatus.OVERDUE):
                continue
            rule = BEHAVIOURS[name]
            if index in rule.catch_up:
                _pay(ops, loan, today, due_by=today)
            elif rule.late is not None and index <= rule.until:
                due_by = today - timedelta(days=rule.late)
                if Installment.objects.filter(loan=loan, due_date=due_by, schedule__is_current=True).exists():
                    _pay(ops, loan, today, due_by=due_by, fraction=Decimal("0.5") if rule.split else Decimal(1))
                    if rule.split:
                        pending_rest[name] = today + timedelta(days=rule.split)
            if pending_rest.get(name) == today:
                _pay(ops, loan, today, due_by=today)
                del pending_rest[name]
        day = today + timedelta(days=1)
        for name, loan in loans.items():
            if loan.status in (LoanStatus.ACTIVE, LoanStatus.OVERDUE):
                expected[name].accrue(loan, day)
        runs = cob_run(actor=system)
        assert [(r.business_date, r.status) for r in runs] == [(day, CobRunStatus.COMPLETED)]
        assert ledger_check() == [], day
        for name, loan in loans.items():
            seen |= expected[name].check(loan, day)

    assert {"M0", "M1", "M2", "M3", "M3+", "settled"} <= seen
    assert CobRun.objects.filter(status=CobRunStatus.COMPLETED).count() == DAYS
    assert audit_verify_chain() == []
