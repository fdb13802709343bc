"""amount_in_chinese_capitals: the PBoC rules for 中文大写金额, table-driven."""

from __future__ import annotations

from decimal import Decimal

import pytest

from contracts.numerals import amount_in_chinese_capitals


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("0", "零元整"),
        ("0.05", "伍分"),
        ("0.30", "叁角整"),
        ("0.35", "叁角伍分"),
        ("1", "壹元整"),
        ("1.05", "壹元零伍分"),
        ("10", "壹拾元整"),
        ("10.50", "壹拾元零伍角整"),
        ("15", "壹拾伍元整"),
        ("100", "壹佰元整"),
        ("101", "壹佰零壹元整"),
        ("110", "壹佰壹拾元整"),
        ("1005", "壹仟零伍元整"),
        ("1010", "壹仟零壹拾元整"),
        ("1680.32", "壹仟陆佰捌拾元零叁角贰分"),
        ("2345.67", "贰仟叁佰肆拾伍元陆角柒分"),
        ("10000", "壹万元整"),
        ("100000", "壹拾万元整"),
        ("100100", "壹拾万零壹佰元整"),
        ("107000.53", "壹拾万柒仟元零伍角叁分"),  # the PBoC 支付结算办法 example
        ("1010000", "壹佰零壹万元整"),
        ("1234567.89", "壹佰贰拾叁万肆仟伍佰陆拾柒元捌角玖分"),
        ("3000000", "叁佰万元整"),
        ("100000000", "壹亿元整"),
        ("100010000", "壹亿零壹万元整"),
        ("100000100", "壹亿零壹佰元整"),
        ("1200000000.01", "壹拾贰亿元零壹分"),
        ("9999999999999999.99", "玖仟玖佰玖拾玖万亿玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
    ],
)
def test_amount_in_chinese_capitals(amount: str, expected: str) -> None:
    assert amount_in_chinese_capitals(Decimal(amount)) == expected


def test_rounds_half_up_to_cents_first() -> None:
    assert amount_in_chinese_capitals(Decimal("0.005")) == "壹分"
    assert amount_in_chinese_capitals(Decimal("99.995")) == "壹佰元整"


@pytest.mark.parametrize("bad", [Decimal("-1"), Decimal("1E16")])
def test_refuses_negative_and_huge(bad: Decimal) -> None:
    with pytest.raises(ValueError):
        amount_in_chinese_capitals(bad)


def test_refuses_float() -> None:
    with pytest.raises(TypeError):
        amount_in_chinese_capitals(1.5)  # type: ignore[arg-type]
