"""Repayment schedules (还款计划) — pure functions: no models, no database.

Conventions (DESIGN.md §3), fixed because contracts, the ledger and the API all depend on them:

* monthly rate ``r = annual_rate / 12``, never rounded (computed with 34 significant digits);
* interest of a period = ``to_money(remaining × r)``;
* 等额本息 equal installment: ``installment = to_money(P·r·(1+r)^n / ((1+r)^n − 1))``
  (``to_money(P / n)`` when ``r == 0``), principal of a period = installment − interest;
* 等额本金 equal principal: principal = ``to_money(P / n)`` each period;
* 先息后本 interest only: interest ``to_money(P × r)`` each period, all principal in the last period;
* 到期一次还本付息 bullet: ONE row at maturity (the n-th monthly due date), interest
  ``to_money(P × annual × n / 12)``;
* for every method the last period takes the whole remaining balance as principal, so the principal
  column sums exactly to ``P`` and the last ``remaining`` is ``0.00``;
* if the rounded installment would retire the loan before its last period, the schedule is refused with
  ``DomainError(code="schedule_infeasible")`` (HTTP 422) — a schedule never shows a negative amount.

Due dates keep the day of month of the first due date, clamped to the month's end
(01-31 → 02-29 → 03-31 → 04-30).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Context, Decimal, localcontext
from functools import lru_cache
from typing import Final, NamedTuple

from django.utils.translation import gettext

from loanops.exceptions import DomainError, InputError
from loanops.money import CENT, MONEY_ROUNDING, ZERO, to_decimal, to_money
from loanops.types import RepaymentMethod

__all__ = [
    "MAX_TERM_MONTHS",
    "RepaymentMethod",
    "ScheduleInputError",
    "ScheduleRow",
    "build_schedule",
    "due_dates",
    "equal_installment_amount",
    "summarize",
    "validate_schedule_input",
]

MAX_TERM_MONTHS: Final = 360
_MAX_PRINCIPAL: Final = Decimal("9999999999999999.99")  # what money_field (18, 2) can store
_ONE: Final = Decimal(1)
_TWELVE: Final = Decimal(12)
# 34 significant digits for r, (1+r)^n and remaining × r: far below a cent for any storable amount.
_CONTEXT: Final = Context(prec=34)


class ScheduleRow(NamedTuple):
    """One installment (期次) of a schedule. ``total = principal + interest``; ``remaining`` is the
    principal still owed after this installment is paid.

    Immutable. A ``NamedTuple`` rather than a frozen dataclass for speed: building a 360-row schedule
    creates 360 rows, and ``tuple.__new__`` is several times cheaper than a frozen dataclass's
    ``__init__`` (which sets every field through ``object.__setattr__``). Use ``row._replace(...)`` to
    derive a changed row.
    """

    period: int
    due_date: date
    principal: Decimal
    interest: Decimal
    total: Decimal
    remaining: Decimal


_TUPLE_NEW: Final = tuple.__new__


def _new_row(
    period: int, due: date, principal: Decimal, interest: Decimal, total: Decimal, remaining: Decimal
) -> ScheduleRow:
    """``ScheduleRow(period, due, principal, interest, total, remaining)`` without the keyword machinery."""
    return _TUPLE_NEW(ScheduleRow, (period, due, principal, interest, total, remaining))


_METHOD_VALUES: Final = frozenset(RepaymentMethod.values)


class ScheduleInputError(InputError):
    """The schedule parameters are invalid (HTTP 400); ``fields`` maps each bad field to its messages."""


# --------------------------------------------------------------------------------------------- dates


@lru_cache(maxsize=4096)
def _due_dates_cached(first_due_date: date, n: int) -> tuple[date, ...]:
    anchor_day = first_due_date.day
    year, month0 = first_due_date.year, first_due_date.month - 1
    result: list[date] = []
    for k in range(n):
        y, m0 = divmod(month0 + k, 12)
        y += year
        last_day = calendar.monthrange(y, m0 + 1)[1]
        result.append(date(y, m0 + 1, min(anchor_day, last_day)))
    return tuple(result)


def due_dates(first_due_date: date, n: int) -> list[date]:
    """The ``n`` monthly due dates starting at ``first_due_date``.

    Each keeps the day of month of the first due date, clamped to the end of shorter months:
    starting 2028-01-31 gives 2028-01-31, 2028-02-29, 2028-03-31, 2028-04-30, …
    """
    if n < 0:
        raise ValueError("n must not be negative")
    return list(_due_dates_cached(first_due_date, n))


# ---------------------------------------------------------------------------------------- validation


def _as_decimal(value: object) -> Decimal | None:
    """``value`` as a finite Decimal, or None if it is not one (floats are refused)."""
    if isinstance(value, Decimal | int | str):
        try:
            return to_decimal(value)
        except (TypeError, ValueError):
            return None
    return None


def validate_schedule_input(
    *,
    principal: object,
    annual_rate: object,
    term_months: object,
    method: object,
    first_due_date: object,
) -> None:
    """Check the parameters of :func:`build_schedule`; raise :class:`ScheduleInputError` listing every
    bad field with a Chinese message. Accepts Decimal, int or numeric strings for amounts and rates
    (never floats)."""
    errors: dict[str, list[str]] = {}

    amount = _as_decimal(principal)
    if amount is None:
        errors["principal"] = [gettext("本金必须是有效的金额数字。")]
    elif amount <= 0:
        errors["principal"] = [gettext("本金必须大于 0。")]
    elif amount > _MAX_PRINCIPAL:
        errors["principal"] = [gettext("本金超出允许的最大金额。")]
    elif to_money(amount) != amount:
        errors["principal"] = [gettext("本金最多保留两位小数。")]

    rate = _as_decimal(annual_rate)
    if rate is None:
        errors["annual_rate"] = [gettext("年利率必须是有效的数字。")]
    elif not (0 <= rate <= 1):
        errors["annual_rate"] = [gettext("年利率必须在 0 到 1 之间（含 0 和 1）。")]

    if isinstance(term_months, bool) or not isinstance(term_months, int):
        errors["term_months"] = [gettext("期限必须是整数月数。")]
    elif not (1 <= term_months <= MAX_TERM_MONTHS):
        errors["term_months"] = [
            gettext("期限必须在 1 到 %(max)d 个月之间。") % {"max": MAX_TERM_MONTHS},
        ]

    if not isinstance(method, str) or method not in _METHOD_VALUES:
        errors["method"] = [gettext("不支持的还款方式。")]

    if isinstance(first_due_date, datetime) or not isinstance(first_due_date, date):
        errors["first_due_date"] = [gettext("首期还款日必须是日期。")]
    elif "term_months" not in errors and isinstance(term_months, int):
        last_month = first_due_date.year * 12 + first_due_date.month - 1 + term_months - 1
        if last_month > date.max.year * 12 + 11:
            errors["first_due_date"] = [gettext("首期还款日过晚，最后一期超出可表示的日期范围。")]

    if errors:
        raise ScheduleInputError(gettext("还款计划参数有误。"), fields=errors)


# -------------------------------------------------------------------------------------------- build


def _infeasible(period: int) -> DomainError:
    return DomainError(
        gettext("按四舍五入后的每期还款额，贷款会在最后一期之前还清（第 %(period)d 期），请调整本金、期限或还款方式。")
        % {"period": period},
        code="schedule_infeasible",
        extra={"period": period},
    )


def build_schedule(
    *,
    principal: Decimal,
    annual_rate: Decimal,
    term_months: int,
    method: str,
    first_due_date: date,
) -> list[ScheduleRow]:
    """Build the repayment schedule of a loan; see the module docstring for the exact conventions.

    Raises :class:`ScheduleInputError` (400) for bad input and ``DomainError(code="schedule_infeasible")``
    (422) when rounding would pay the loan off before its last period.
    """
    validate_schedule_input(
        principal=principal,
        annual_rate=annual_rate,
        term_months=term_months,
        method=method,
        first_due_date=first_due_date,
    )
    p = to_money(principal)  # exact (validated): gives the amount the exponent of cents
    n = term_months
    with localcontext(_CONTEXT):
        annual = to_decimal(annual_rate)
        r = annual / _TWELVE
        if method == RepaymentMethod.BULLET:
            due = _due_dates_cached(first_due_date, n)[-1]
            interest = to_money(p * annual * n / _TWELVE)
            return [ScheduleRow(1, due, p, interest, p + interest, ZERO)]

        dates = _due_dates_cached(first_due_date, n)
        if method == RepaymentMethod.EQUAL_INSTALLMENT:
            growth = (_ONE + r) ** n
            # growth == 1: r == 0, or too small to register in 34 digits: a straight line
            exact = p * r * growth / (growth - _ONE) if growth != _ONE else p / n
            installment = to_money(exact)
            return _equal_installment(p, r, installment, dates)
        if method == RepaymentMethod.EQUAL_PRINCIPAL:
            return _equal_principal(p, r, to_money(p / n), dates)
        return _interest_only(p, r, dates)


def equal_installment_amount(*, principal: Decimal, annual_rate: Decimal, term_months: int) -> Decimal:
    """The rounded 等额本息 installment ``to_money(P·r·(1+r)^n / ((1+r)^n − 1))`` (``to_money(P / n)`` at r = 0).

    The same figure :func:`build_schedule` uses for every row but the last.
    """
    if isinstance(term_months, bool) or not isinstance(term_months, int) or term_months < 1:
        raise ValueError("term_months must be a positive int")
    p = to_money(principal)
    with localcontext(_CONTEXT):
        r = to_decimal(annual_rate) / _TWELVE
        growth = (_ONE + r) ** term_months
        return to_money(p * r * growth / (growth - _ONE) if growth != _ONE else p / term_months)


# The two loops below build 360 rows per schedule thousands of times a second (``python manage.py bench
# schedule``), so they inline ``to_money`` (``quantize(CENT, ROUND_HALF_UP)``: the same rounding, without a
# Python call per amount) and ``_new_row``, and bind globals to locals. The balance falls every period
# (each principal portion is positive once the first one is), so "remaining reached zero before the last
# period" is checked once after the loop, not on every row.


def _equal_installment(p: Decimal, r: Decimal, installment: Decimal, dates: Sequence[date]) -> list[ScheduleRow]:
    # No interest exceeds the first one (the balance never grows) and installment ≥ that interest, since
    # P·r·g/(g−1) > P·r and rounding is monotone: so no principal portion is negative once this holds.
    if installment < to_money(p * r):
        raise _infeasible(1)
    rows: list[ScheduleRow] = []
    append = rows.append
    new, cls = _TUPLE_NEW, ScheduleRow
    cent, half_up = CENT, MONEY_ROUNDING
    remaining = p
    last = len(dates)
    for period, due in enumerate(dates[: last - 1], start=1):
        interest = (remaining * r).quantize(cent, half_up)
        principal = installment - interest
        remaining -= principal
        append(new(cls, (period, due, principal, interest, installment, remaining)))
    if remaining <= ZERO:
        raise _infeasible(_first_paid_off(rows))
    interest = (remaining * r).quantize(cent, half_up)
    append(new(cls, (last, dates[-1], remaining, interest, remaining + interest, ZERO)))
    return rows


def _equal_principal(p: Decimal, r: Decimal, principal: Decimal, dates: Sequence[date]) -> list[ScheduleRow]:
    rows: list[ScheduleRow] = []
    append = rows.append
    new, cls = _TUPLE_NEW, ScheduleRow
    cent, half_up = CENT, MONEY_ROUNDING
    last = len(dates)
    remaining = p - principal * (last - 1)
    if remaining <= ZERO:
        # the balance first reaches zero in period ceil(p / principal) (≤ last − 1 here; principal > 0)
        first = int(p // principal)
        raise _infeasible(first if first * principal >= p else first + 1)
    balance = p
    for period, due in enumerate(dates[: last - 1], start=1):
        interest = (balance * r).quantize(cent, half_up)
        balance -= principal
        append(new(cls, (period, due, principal, interest, principal + interest, balance)))
    interest = (remaining * r).quantize(cent, half_up)
    append(new(cls, (last, dates[-1], remaining, interest, remaining + interest, ZERO)))
    return rows


def _first_paid_off(rows: Sequence[ScheduleRow]) -> int:
    """The first period whose remaining balance is zero or less (the schedule is infeasible there)."""
    return next(row.period for row in rows if row.remaining <= ZERO)


def _interest_only(p: Decimal, r: Decimal, dates: Sequence[date]) -> list[ScheduleRow]:
    interest = to_money(p * r)
    last = len(dates)
    rows = [_new_row(period, dates[period - 1], ZERO, interest, interest, p) for period in range(1, last)]
    rows.append(_new_row(last, dates[-1], p, interest, p + interest, ZERO))
    return rows


def summarize(rows: Iterable[ScheduleRow]) -> dict[str, Decimal]:
    """Totals of a schedule: ``{"total_principal", "total_interest", "total_payment"}`` as Decimals."""
    total_principal = ZERO
    total_interest = ZERO
    for r in rows:
        total_principal += r.principal
        total_interest += r.interest
    return {
        "total_principal": total_principal,
        "total_interest": total_interest,
        "total_payment": total_principal + total_interest,
    }
