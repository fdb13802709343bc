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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Context, Decimal, localcontext
from functools import lru_cache
from typing import Final

from django.utils.translation import gettext

from loanops.exceptions import DomainError, InputError
from loanops.money import ZERO, to_decimal, to_money
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


@dataclass(frozen=True, slots=True)
class ScheduleRow:
    """One installment (期次) of a schedule. ``total = principal + interest``; ``remaining`` is the
    principal still owed after this installment is paid."""

    period: int
    due_date: date
    principal: Decimal
    interest: Decimal
    total: Decimal
    remaining: Decimal


_SlotSetter = Callable[[ScheduleRow, object], None]


def _slot_setters() -> tuple[_SlotSetter, ...]:
    """The member descriptors' ``__set__`` of :class:`ScheduleRow`'s slots, in field order.

    Speed: a frozen dataclass's ``__init__`` sets every field through ``object.__setattr__``, which took
    more than half the time of building a schedule (see ``servicing.benchmarks``). Setting the slots
    through their descriptors on ``object.__new__(ScheduleRow)`` is about twice as fast and gives an
    ordinary ``ScheduleRow`` (equal to, and indistinguishable from, one built with ``ScheduleRow(...)``).
    This is only valid while ``ScheduleRow`` has no ``__post_init__``; both are checked at import.
    """
    names = [f.name for f in fields(ScheduleRow)]
    if names != ["period", "due_date", "principal", "interest", "total", "remaining"]:
        raise RuntimeError("ScheduleRow fields changed: update loanops.schedule._slot_setters")
    if hasattr(ScheduleRow, "__post_init__"):
        raise RuntimeError("ScheduleRow has __post_init__: the fast row construction would bypass it")
    return tuple(ScheduleRow.__dict__[name].__set__ for name in names)


_SET_PERIOD, _SET_DUE, _SET_PRINCIPAL, _SET_INTEREST, _SET_TOTAL, _SET_REMAINING = _slot_setters()


def _new_row(
    period: int, due: date, principal: Decimal, interest: Decimal, total: Decimal, remaining: Decimal
) -> ScheduleRow:
    """``ScheduleRow(period, due, principal, interest, total, remaining)``, twice as fast (see above)."""
    row: ScheduleRow = object.__new__(ScheduleRow)
    _SET_PERIOD(row, period)
    _SET_DUE(row, due)
    _SET_PRINCIPAL(row, principal)
    _SET_INTEREST(row, interest)
    _SET_TOTAL(row, total)
    _SET_REMAINING(row, remaining)
    return row


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


# The two loops below build 360 rows per schedule thousands of times a second, so they inline _new_row
# and bind globals to locals; keep them in step with _new_row.


def _equal_installment(p: Decimal, r: Decimal, installment: Decimal, dates: Sequence[date]) -> list[ScheduleRow]:
    # No interest exceeds the first one (the balance never grows) and installment ≥ that interest, since
    # P·r·g/(g−1) > P·r and rounding is monotone: so no principal portion is negative once this holds.
    if installment < to_money(p * r):
        raise _infeasible(1)
    rows: list[ScheduleRow] = []
    append = rows.append
    new, cls = object.__new__, ScheduleRow
    set_period, set_due, set_principal, set_interest, set_total, set_remaining = (
        _SET_PERIOD,
        _SET_DUE,
        _SET_PRINCIPAL,
        _SET_INTEREST,
        _SET_TOTAL,
        _SET_REMAINING,
    )
    money = to_money
    zero = ZERO
    remaining = p
    last = len(dates)
    for period, due in zip(range(1, last), dates, strict=False):
        interest = money(remaining * r)
        principal = installment - interest
        remaining -= principal
        if remaining <= zero:
            raise _infeasible(period)
        row = new(cls)
        set_period(row, period)
        set_due(row, due)
        set_principal(row, principal)
        set_interest(row, interest)
        set_total(row, installment)
        set_remaining(row, remaining)
        append(row)
    interest = money(remaining * r)
    append(_new_row(last, dates[-1], remaining, interest, remaining + interest, zero))
    return rows


def _equal_principal(p: Decimal, r: Decimal, principal: Decimal, dates: Sequence[date]) -> list[ScheduleRow]:
    rows: list[ScheduleRow] = []
    append = rows.append
    new, cls = object.__new__, ScheduleRow
    set_period, set_due, set_principal, set_interest, set_total, set_remaining = (
        _SET_PERIOD,
        _SET_DUE,
        _SET_PRINCIPAL,
        _SET_INTEREST,
        _SET_TOTAL,
        _SET_REMAINING,
    )
    money = to_money
    zero = ZERO
    remaining = p
    last = len(dates)
    for period, due in zip(range(1, last), dates, strict=False):
        interest = money(remaining * r)
        remaining -= principal
        if remaining <= zero:
            raise _infeasible(period)
        row = new(cls)
        set_period(row, period)
        set_due(row, due)
        set_principal(row, principal)
        set_interest(row, interest)
        set_total(row, principal + interest)
        set_remaining(row, remaining)
        append(row)
    interest = money(remaining * r)
    append(_new_row(last, dates[-1], remaining, interest, remaining + interest, zero))
    return rows


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
