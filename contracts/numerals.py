"""Amounts in Chinese capital numerals (中文大写金额), as written on contracts and vouchers.

Follows the PBoC 《支付结算办法》 附一 rules: 壹贰叁肆伍陆柒捌玖 with 拾佰仟 and 万/亿; one 零 for a run of
zeros between non-zero digits; "整" when there are no 分; 元 followed by 零 when the units digit is 0 and
角 follows (￥107,000.53 → 壹拾万柒仟元零伍角叁分); 10 is 壹拾 (never a bare 拾).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from loanops.money import to_money

_DIGITS: Final = "零壹贰叁肆伍陆柒捌玖"
_SMALL_UNITS: Final = ("", "拾", "佰", "仟")
_GROUP_UNITS: Final = ("", "万", "亿", "万亿")
_MAX: Final = Decimal(10) ** 16


def _group(value: int) -> str:
    """0 < value < 10000 → e.g. 1005 → 壹仟零伍, 1100 → 壹仟壹佰, 10 → 壹拾."""
    text = ""
    pending_zero = False
    for position in range(3, -1, -1):
        digit = value // 10**position % 10
        if digit == 0:
            pending_zero = bool(text)
            continue
        if pending_zero:
            text += "零"
            pending_zero = False
        text += _DIGITS[digit] + _SMALL_UNITS[position]
    return text


def _integer(value: int) -> str:
    groups: list[int] = []
    while value:
        value, rest = divmod(value, 10000)
        groups.append(rest)
    text = ""
    zero_gap = False
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            zero_gap = bool(text)
            continue
        if text and (zero_gap or group < 1000):
            text += "零"
        text += _group(group) + _GROUP_UNITS[index]
        zero_gap = False
    return text


def amount_in_chinese_capitals(amount: Decimal | int | str) -> str:
    """``Decimal("100000")`` → ``壹拾万元整``; ``Decimal("1005.30")`` → ``壹仟零伍元叁角整``.

    The amount is rounded to cents first (ROUND_HALF_UP, via loanops.money). Negative amounts and amounts of
    10^16 yuan or more raise ValueError.
    """
    money = to_money(amount)
    if money < 0:
        raise ValueError("amount must not be negative")
    if money >= _MAX:
        raise ValueError("amount is too large")
    cents = int(money * 100)
    yuan, rest = divmod(cents, 100)
    jiao, fen = divmod(rest, 10)
    if yuan == 0 and rest == 0:
        return "零元整"
    text = _integer(yuan) + "元" if yuan else ""
    if jiao:
        if yuan and yuan % 10 == 0:
            text += "零"
        text += _DIGITS[jiao] + "角"
    elif fen and yuan:
        text += "零"
    if fen:
        text += _DIGITS[fen] + "分"
    else:
        text += "整"
    return text
