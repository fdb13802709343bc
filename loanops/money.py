"""Money and rate primitives — the ONLY module in LoanOps that rounds (DESIGN.md §3).

Rules:

* Amounts are :class:`~decimal.Decimal`, never ``float``. Passing a float to any helper here raises
  :class:`TypeError`, so a float cannot slip into a balance unnoticed.
* One rounding rule for amounts: to 0.01 (:data:`CENT`) with ``ROUND_HALF_UP`` (:data:`MONEY_ROUNDING`).
  Everything else in the project calls :func:`to_money` instead of ``Decimal.quantize``.
* Rates are annual decimals stored with 6 places (``0.049000`` = 4.9 % per year), see :func:`to_rate`.
* Amounts are stored as ``DecimalField(max_digits=18, decimal_places=2)`` (:func:`money_field`), rates as
  ``DecimalField(max_digits=9, decimal_places=6)`` (:func:`rate_field`).
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Final

from django.db import models

__all__ = [
    "CENT",
    "MONEY_DECIMAL_PLACES",
    "MONEY_MAX_DIGITS",
    "MONEY_ROUNDING",
    "RATE_DECIMAL_PLACES",
    "RATE_MAX_DIGITS",
    "RATE_QUANTUM",
    "ZERO",
    "MoneyInput",
    "format_money",
    "format_rate_percent",
    "money_field",
    "rate_field",
    "split_evenly",
    "to_decimal",
    "to_money",
    "to_rate",
]

#: One cent (分): the quantum every amount is rounded to.
CENT: Final = Decimal("0.01")
#: The one rounding mode for amounts (四舍五入).
MONEY_ROUNDING: Final = ROUND_HALF_UP
#: Zero, with the exponent of an amount (prints as ``0.00``).
ZERO: Final = Decimal("0.00")
#: Quantum of a stored annual rate (6 decimal places).
RATE_QUANTUM: Final = Decimal("0.000001")

MONEY_MAX_DIGITS: Final = 18
MONEY_DECIMAL_PLACES: Final = 2
RATE_MAX_DIGITS: Final = 9
RATE_DECIMAL_PLACES: Final = 6

#: What the helpers accept: a Decimal, an int or a numeric string. Never a float.
MoneyInput = Decimal | int | str

_HUNDRED: Final = Decimal(100)


def money_field(**kwargs: Any) -> models.DecimalField:
    """A model field for an amount in CNY: ``DecimalField(max_digits=18, decimal_places=2)``.

    Other keyword arguments (``verbose_name``, ``default``, ``null``…) are passed through.
    """
    kwargs.setdefault("max_digits", MONEY_MAX_DIGITS)
    kwargs.setdefault("decimal_places", MONEY_DECIMAL_PLACES)
    return models.DecimalField(**kwargs)


def rate_field(**kwargs: Any) -> models.DecimalField:
    """A model field for an annual rate: ``DecimalField(max_digits=9, decimal_places=6)``."""
    kwargs.setdefault("max_digits", RATE_MAX_DIGITS)
    kwargs.setdefault("decimal_places", RATE_DECIMAL_PLACES)
    return models.DecimalField(**kwargs)


def to_decimal(value: MoneyInput) -> Decimal:
    """Convert ``value`` to a finite :class:`Decimal` without rounding.

    Raises :class:`TypeError` for a float (or bool, or any other type) and :class:`ValueError` for a
    string that is not a number, or for NaN / infinity.
    """
    if type(value) is Decimal:
        result = value
    elif isinstance(value, float):
        raise TypeError("float is not accepted for money or rates; use Decimal or a numeric string")
    elif isinstance(value, bool):
        raise TypeError("bool is not a number here")
    elif isinstance(value, Decimal | int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"not a decimal number: {value!r}") from None
    else:
        raise TypeError(f"expected Decimal, int or str, got {type(value).__name__}")
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result


def to_money(value: MoneyInput) -> Decimal:
    """Round ``value`` to cents with ROUND_HALF_UP: ``to_money(Decimal("2.345")) == Decimal("2.35")``.

    Accepts Decimal, int or a numeric string; a float raises :class:`TypeError`. The result always has
    exactly two decimal places (``to_money(5) == Decimal("5.00")``). Negative values round half away from
    zero (``-2.345`` → ``-2.35``).
    """
    if type(value) is Decimal:  # fast path: build_schedule calls this hundreds of times per schedule
        if value.is_finite():
            return value.quantize(CENT, MONEY_ROUNDING)
        raise ValueError(f"not a finite number: {value!r}")
    return to_decimal(value).quantize(CENT, MONEY_ROUNDING)


def to_rate(value: MoneyInput) -> Decimal:
    """Round an annual rate to 6 decimal places (ROUND_HALF_UP), the precision rates are stored with."""
    return to_decimal(value).quantize(RATE_QUANTUM, MONEY_ROUNDING)


def split_evenly(total: MoneyInput, parts: int) -> list[Decimal]:
    """Split ``total`` (rounded to cents first) into ``parts`` amounts that sum exactly to it.

    Every piece but the last is ``to_money(total / parts)``; the last piece absorbs the residue, so
    ``sum(split_evenly(t, n)) == to_money(t)``. This is the same split as the principal column of an
    equal-principal schedule. Should half-up rounding make the first ``parts - 1`` pieces exceed the total
    (e.g. 0.05 in 10 parts: 9 × 0.01 > 0.05), the pieces are truncated toward zero instead
    (0.00 × 9 + 0.05), so no piece ever has the opposite sign of the total.

    Raises :class:`ValueError` if ``parts`` is not a positive int.
    """
    if isinstance(parts, bool) or not isinstance(parts, int) or parts < 1:
        raise ValueError(f"parts must be a positive int, got {parts!r}")
    amount = to_money(total)
    if parts == 1:
        return [amount]
    exact = amount / parts
    piece = exact.quantize(CENT, MONEY_ROUNDING)
    if abs(piece * (parts - 1)) > abs(amount):
        piece = exact.quantize(CENT, ROUND_DOWN)
    last = amount - piece * (parts - 1)
    return [piece] * (parts - 1) + [last]


def format_money(value: MoneyInput) -> str:
    """Format an amount for display: ``Decimal("1234.5")`` → ``"1,234.50"`` (rounded to cents first)."""
    return format(to_money(value), ",.2f")


def format_rate_percent(rate: MoneyInput) -> str:
    """Format an annual rate as a percentage with 2 decimals: ``Decimal("0.049")`` → ``"4.90%"``."""
    percent = (to_decimal(rate) * _HUNDRED).quantize(CENT, MONEY_ROUNDING)
    return f"{percent:.2f}%"
