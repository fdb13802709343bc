"""Pricing helpers — pure functions: annualised rate (年化利率) and penalty interest (罚息, 复利).

Nothing here rounds except :func:`annualised_rate`, which returns a stored-precision rate through
:func:`loanops.money.to_rate`; :func:`penalty_for_range` returns an unrounded amount that the caller rounds
(with :func:`loanops.money.to_money`) when it posts the accrual.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Context, Decimal, localcontext
from typing import Final

from loanops.money import to_decimal, to_rate

__all__ = ["annualised_rate", "daily_penalty_rate", "months_between", "penalty_for_range"]

_CONTEXT: Final = Context(prec=34)
_ZERO: Final = Decimal(0)
_ONE: Final = Decimal(1)
_TWO: Final = Decimal(2)
_TWELVE: Final = Decimal(12)
_DAYS_PER_YEAR: Final = Decimal(360)  # DESIGN.md §3: daily rate = annual / 360
_TOLERANCE: Final = Decimal("1e-24")
_MAX_ITERATIONS: Final = 200
_MAX_MONTHLY_RATE: Final = Decimal(1000)  # 100,000 % a month: far beyond anything a lender may charge


def months_between(start: date, on: date) -> int:
    """Whole calendar months from ``start`` to ``on`` by month number, ignoring the day of the month.

    ``months_between(2025-01-15, 2025-02-14) == 1``; ``months_between(2025-01-31, 2026-01-31) == 12``.
    For a schedule whose first due date falls in the month after ``start`` this is the period index.
    """
    return (on.year - start.year) * 12 + (on.month - start.month)


def _npv_and_derivative(flows: list[tuple[int, Decimal]], received: Decimal, i: Decimal) -> tuple[Decimal, Decimal]:
    """``f(i) = Σ a_k (1+i)^-k − received`` and ``f'(i) = −Σ k a_k (1+i)^-(k+1)``."""
    v = _ONE / (_ONE + i)
    value = -received
    slope = _ZERO
    for k, amount in flows:
        discounted = amount * v**k
        value += discounted
        slope -= k * discounted * v
    return value, slope


def annualised_rate(
    *,
    principal_received: Decimal,
    payments: Iterable[tuple[date, Decimal]],
    start: date,
) -> Decimal:
    """The annualised rate (年化利率) of a loan's cash flows, IRR method (PBoC announcement 2021 No. 3).

    Convention:

    * the borrower receives ``principal_received`` on ``start``; when fees are deducted up front it is the
      contract principal minus those fees — that is how fees enter the rate;
    * each payment ``(due_date, amount)`` is placed at month ``k = months_between(start, due_date)``
      (the period index for a regular monthly schedule: 1, 2, …, n; a bullet loan's single payment sits
      at month n; payments in the same month are added together);
    * the monthly IRR ``i`` solves ``principal_received = Σ amount_k / (1 + i)^k`` (safeguarded Newton
      iteration with bisection, 34 significant digits);
    * the annual rate is the nominal ``i × 12`` — how 年化利率 is disclosed in China (not the effective
      ``(1 + i)^12 − 1``) — rounded to 6 decimal places with :func:`loanops.money.to_rate`.

    The result is negative when the payments add up to less than what was received.
    Raises :class:`TypeError` for floats and :class:`ValueError` for a non-positive ``principal_received``,
    a negative payment, a payment dated before ``start`` or no positive payment after the start month.
    """
    received = to_decimal(principal_received)
    if received <= 0:
        raise ValueError("principal_received must be positive")
    by_month: dict[int, Decimal] = {}
    for due, amount_in in payments:
        amount = to_decimal(amount_in)
        if amount < 0:
            raise ValueError("payments must not be negative")
        if due < start:
            raise ValueError(f"payment dated {due} is before the start {start}")
        k = months_between(start, due)
        by_month[k] = by_month.get(k, _ZERO) + amount
    flows = sorted((k, a) for k, a in by_month.items() if a)
    if not any(k > 0 for k, _ in flows):
        raise ValueError("no positive payment after the start month: the rate is undefined")

    with localcontext(_CONTEXT):
        total = sum((a for _, a in flows), _ZERO)
        if total == received and all(k > 0 for k, _ in flows):
            return to_rate(_ZERO)
        # f is strictly decreasing on (-1, ∞): bracket the root, then Newton with bisection fallback.
        if total > received:
            low, high = _ZERO, _ONE
            while _npv_and_derivative(flows, received, high)[0] > 0:
                low, high = high, high * _TWO
                if high > _MAX_MONTHLY_RATE:
                    raise ValueError("the rate is implausibly high")
        else:
            low, high = Decimal("-0.999999"), _ZERO
        weighted_months = sum((k * a for k, a in flows), _ZERO) / total
        guess = (total / received - _ONE) / max(weighted_months, _ONE)
        i = guess if low < guess < high else (low + high) / _TWO
        for _ in range(_MAX_ITERATIONS):
            value, slope = _npv_and_derivative(flows, received, i)
            if value == 0:
                break
            if value > 0:
                low = i
            else:
                high = i
            step = value / slope if slope else _ZERO
            candidate = i - step
            if not (low < candidate < high) or not slope:
                candidate = (low + high) / _TWO
            if abs(candidate - i) < _TOLERANCE:
                i = candidate
                break
            i = candidate
        return to_rate(i * _TWELVE)


def daily_penalty_rate(annual_rate: Decimal, surcharge: Decimal) -> Decimal:
    """Daily penalty rate: ``annual_rate × (1 + surcharge) / 360``, unrounded (34 significant digits).

    ``surcharge`` is the product's mark-up on the contract rate (0.5 = contract rate + 50 %).
    """
    annual = to_decimal(annual_rate)
    extra = to_decimal(surcharge)
    if annual < 0 or extra < 0:
        raise ValueError("annual_rate and surcharge must not be negative")
    with localcontext(_CONTEXT):
        return annual * (_ONE + extra) / _DAYS_PER_YEAR


def penalty_for_range(
    *,
    overdue_principal: Decimal,
    overdue_interest: Decimal,
    annual_rate: Decimal,
    surcharge: Decimal,
    compound: bool,
    start: date,
    end: date,
    cap: Decimal | None = None,
) -> Decimal:
    """Penalty interest (罚息) for the days in ``[start, end)`` — ``days = (end - start).days``.

    ``overdue_principal × daily × days`` with ``daily = daily_penalty_rate(annual_rate, surcharge)``; if
    ``compound`` (复利, a product setting) also ``overdue_interest × daily × days``. Simple daily accrual:
    the penalty itself does not bear interest. The result is NOT rounded: the caller rounds with
    ``to_money`` when it posts the accrual. ``end == start`` gives 0.

    ``cap`` is the legal cap on the annual cost that applied on the loan's contract date (``Loan.rate_cap``,
    e.g. 4 × the one-year LPR). Once an installment is overdue its contractual interest is fixed and
    everything the lender charges for the overdue days is this penalty, so the annual cost of the
    overdue principal is ``penalty per day × 360 / overdue_principal``. With a cap the daily charge is
    therefore ``min(base × daily, overdue_principal × cap / 360)``: the penalty (including the compound
    part on overdue interest) never costs more than ``cap`` a year on the principal it is charged for.
    The close of business computes the same formula in SQL (``servicing.cob_steps``); a test holds the
    two together.
    """
    if end < start:
        raise ValueError("end must not be before start")
    principal = to_decimal(overdue_principal)
    interest = to_decimal(overdue_interest)
    if principal < 0 or interest < 0:
        raise ValueError("overdue amounts must not be negative")
    days = (end - start).days
    daily = daily_penalty_rate(annual_rate, surcharge)
    with localcontext(_CONTEXT):
        base = principal + interest if compound else principal
        per_day = base * daily
        if cap is not None:
            limit = to_decimal(cap)
            if limit < 0:
                raise ValueError("cap must not be negative")
            # the cap as a daily rate, like ``daily``: a cap equal to the penalty rate then gives exactly the
            # uncapped figure, not one that differs in the 34th digit by the order of the operations
            per_day = min(per_day, principal * (limit / _DAYS_PER_YEAR))
        return per_day * days
