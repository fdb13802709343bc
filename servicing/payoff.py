"""The payoff (提前结清) figures for a date — a pure function over a loan's current installments.

Used by the quote (``servicing.selectors.payoff_quote``) and by the booking (``loan_payoff``), so what the
customer is quoted is exactly what settles the loan. See ``payoff_quote`` for the items.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from applications.models import Loan
from loanops.money import ZERO, to_money
from servicing.models import Installment

__all__ = ["PayoffPlan", "payoff_plan"]

_DAYS_PER_YEAR = Decimal(360)


@dataclass(frozen=True, slots=True)
class PayoffPlan:
    on: date
    items: dict[str, Decimal]
    total: Decimal
    current_period: int | None  # the first installment due after ``on`` (its interest is cut to the accrual)
    accrued: Decimal  # interest of the current period still to pay (``items["interest_accrued"]``)
    principal_not_due: Decimal
    prepayment_fee: Decimal


def payoff_plan(*, loan: Loan, installments: Sequence[Installment], on: date, overpayment: Decimal) -> PayoffPlan:
    installments = sorted(installments, key=lambda item: item.period)
    principal = sum((i.principal_due - i.principal_paid for i in installments), ZERO)
    not_yet_due = [i for i in installments if i.due_date > on]
    principal_not_due = sum((i.principal_due - i.principal_paid for i in not_yet_due), ZERO)
    interest_due = sum((i.interest_due - i.interest_paid for i in installments if i.due_date <= on), ZERO)
    penalty = sum((i.penalty_due - i.penalty_paid for i in installments), ZERO)
    fees = sum((i.fee_due - i.fee_paid for i in installments), ZERO)
    accrued = ZERO
    current_period = None
    if not_yet_due:
        current = not_yet_due[0]
        current_period = current.period
        earlier = [i.due_date for i in installments if i.due_date < current.due_date]
        start = max(earlier) if earlier else (loan.disbursed_on or on)
        days = max((on - start).days, 0)
        rate = loan.annual_rate or ZERO
        exact = principal_not_due * rate * days / _DAYS_PER_YEAR
        accrued = max(min(to_money(exact), current.interest_due) - current.interest_paid, ZERO)
    prepayment_fee = to_money(principal_not_due * (loan.product.prepayment_fee_rate or ZERO))
    items = {
        "principal": principal,
        "interest_due": interest_due,
        "interest_accrued": accrued,
        "penalty": penalty,
        "fees": fees,
        "prepayment_fee": prepayment_fee,
        "overpayment": overpayment,
    }
    total = principal + interest_due + accrued + penalty + fees + prepayment_fee - overpayment
    return PayoffPlan(
        on=on,
        items=items,
        total=max(total, ZERO),
        current_period=current_period,
        accrued=accrued,
        principal_not_due=principal_not_due,
        prepayment_fee=prepayment_fee,
    )
