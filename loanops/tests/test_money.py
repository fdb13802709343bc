"""loanops.money: the one rounding rule (ROUND_HALF_UP to cents), float rejection, splits, display."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import models
from hypothesis import given, settings
from hypothesis import strategies as st

from loanops.money import (
    CENT,
    MONEY_ROUNDING,
    ZERO,
    format_money,
    format_rate_percent,
    money_field,
    rate_field,
    split_evenly,
    to_money,
    to_rate,
)


def test_constants() -> None:
    assert str(CENT) == "0.01"
    assert MONEY_ROUNDING == "ROUND_HALF_UP"
    assert str(ZERO) == "0.00"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2.345", "2.35"),
        ("2.344999", "2.34"),
        ("2.355", "2.36"),  # half-up, not banker's rounding (half-even would give 2.36 here too)
        ("2.365", "2.37"),  # half-even would give 2.36
        ("0.005", "0.01"),
        ("0.0049", "0.00"),
        ("-2.345", "-2.35"),  # half away from zero
        ("-0.005", "-0.01"),
        ("1234567890123456.785", "1234567890123456.79"),
        ("10", "10.00"),
        ("1E+2", "100.00"),
    ],
)
def test_to_money_rounds_half_up_at_the_half_cent(value: str, expected: str) -> None:
    result = to_money(Decimal(value))
    assert result == Decimal(expected)
    assert str(result) == expected
    assert to_money(value) == Decimal(expected)  # strings too


def test_to_money_accepts_int_and_string() -> None:
    assert str(to_money(5)) == "5.00"
    assert str(to_money(" 12.3 ")) == "12.30"


@pytest.mark.parametrize("func", [to_money, to_rate, format_money, format_rate_percent])
def test_float_is_rejected(func: object) -> None:
    with pytest.raises(TypeError):
        func(0.1)  # type: ignore[operator]


@pytest.mark.parametrize("bad", [True, None, [1]])
def test_other_types_are_rejected(bad: object) -> None:
    with pytest.raises(TypeError):
        to_money(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["abc", "", "NaN", "Infinity", Decimal("NaN"), Decimal("-Infinity")])
def test_non_numbers_are_rejected(bad: object) -> None:
    with pytest.raises(ValueError):
        to_money(bad)  # type: ignore[arg-type]


def test_to_rate_keeps_six_places() -> None:
    assert str(to_rate(Decimal("0.049"))) == "0.049000"
    assert to_rate(Decimal("0.1234565")) == Decimal("0.123457")
    assert to_rate("0.12") == Decimal("0.120000")


def test_split_evenly_examples() -> None:
    assert split_evenly(Decimal("100.00"), 3) == [Decimal("33.33"), Decimal("33.33"), Decimal("33.34")]
    assert split_evenly(Decimal("0.02"), 3) == [Decimal("0.01"), Decimal("0.01"), Decimal("0.00")]
    assert split_evenly(Decimal("10"), 1) == [Decimal("10.00")]
    # half-up pieces would overshoot (9 × 0.01 > 0.05): truncated pieces, the last takes the rest
    assert split_evenly(Decimal("0.05"), 10) == [Decimal("0.00")] * 9 + [Decimal("0.05")]


@pytest.mark.parametrize("parts", [0, -1, True, 2.0])
def test_split_evenly_needs_positive_int_parts(parts: object) -> None:
    with pytest.raises(ValueError):
        split_evenly(Decimal("1.00"), parts)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(
    total=st.decimals(min_value=Decimal("-1000000"), max_value=Decimal("10000000"), places=2),
    parts=st.integers(min_value=1, max_value=400),
)
def test_split_evenly_sums_exactly(total: Decimal, parts: int) -> None:
    pieces = split_evenly(total, parts)
    assert len(pieces) == parts
    assert sum(pieces, ZERO) == total
    assert all(p.as_tuple().exponent == -2 for p in pieces)
    assert len(set(pieces[:-1])) <= 1
    if total >= 0:
        assert all(p >= 0 for p in pieces)
    else:
        assert all(p <= 0 for p in pieces)


def test_format_money() -> None:
    assert format_money(Decimal("1234.56")) == "1,234.56"
    assert format_money(Decimal("1234567.5")) == "1,234,567.50"
    assert format_money(Decimal("0.005")) == "0.01"
    assert format_money(0) == "0.00"
    assert format_money(Decimal("-1234.5")) == "-1,234.50"


def test_format_rate_percent() -> None:
    assert format_rate_percent(Decimal("0.049")) == "4.90%"
    assert format_rate_percent(Decimal("0.049000")) == "4.90%"
    assert format_rate_percent(Decimal("0.1234")) == "12.34%"
    assert format_rate_percent(Decimal("0.00005")) == "0.01%"
    assert format_rate_percent(Decimal("0")) == "0.00%"
    assert format_rate_percent(Decimal("1")) == "100.00%"


def test_model_fields() -> None:
    money = money_field(verbose_name="金额", default=ZERO)
    rate = rate_field()
    assert isinstance(money, models.DecimalField)
    assert (money.max_digits, money.decimal_places) == (18, 2)
    assert money.verbose_name == "金额"
    assert money.default == ZERO
    assert (rate.max_digits, rate.decimal_places) == (9, 6)
