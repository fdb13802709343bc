"""Template filters for amounts and rates: `{{ loan.principal|money }}`, `{{ loan.annual_rate|rate }}`."""

from __future__ import annotations

from decimal import Decimal

from django import template

from loanops.money import format_money, format_rate_percent

register = template.Library()


@register.filter(name="money")
def money_filter(value: Decimal | int | str | None) -> str:
    if value is None or value == "":
        return "—"
    return format_money(Decimal(value))


@register.filter(name="rate")
def rate_filter(value: Decimal | str | None) -> str:
    if value is None or value == "":
        return "—"
    return format_rate_percent(Decimal(value))
