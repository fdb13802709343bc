"""The legal cap on a loan's annualised cost, by licence type and date (read side; no writes).

Policy (``settings.LOANOPS_LICENCE_TYPE``):

* ``private_lending`` (民间借贷, the default): since 2020-08-20 (最高人民法院《关于审理民间借贷案件适用法律
  若干问题的规定》as amended that day) the protected rate is 4 × the one-year LPR. The LPR used is the latest
  *approved* row of `LoanPrimeRate` published strictly BEFORE the contract date: an LPR published on the
  contract date itself is not used (it is published at 9:15 that morning, and a contract dated that day may
  have been agreed before; taking the previous one is the conservative, reproducible reading). For a
  contract date before 2020-08-20 the former 24 % line of the 2015 provisions applies.
* a licensed lender — ``microcredit`` (小额贷款公司), ``consumer_finance`` (消费金融公司), … — the fixed cap its
  regulator sets, from ``settings.LOANOPS_LICENSED_RATE_CAPS`` (default 24 % for both). No LPR is used.

`rate_cap_for(on=...)` returns the cap with what it was derived from, so the offer can record both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Final

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from loanops.exceptions import DomainError
from loanops.money import format_rate_percent, to_decimal, to_rate
from underwriting.pricing_models import LoanPrimeRate

PRIVATE_LENDING: Final = "private_lending"
MICROCREDIT: Final = "microcredit"
CONSUMER_FINANCE: Final = "consumer_finance"

LICENCE_LABELS: Final = {
    PRIVATE_LENDING: _("民间借贷"),
    MICROCREDIT: _("小额贷款公司"),
    CONSUMER_FINANCE: _("消费金融公司"),
}
#: regulator-set caps of licensed lenders (overridable with settings.LOANOPS_LICENSED_RATE_CAPS)
DEFAULT_LICENSED_RATE_CAPS: Final = {MICROCREDIT: Decimal("0.24"), CONSUMER_FINANCE: Decimal("0.24")}
#: the day the 4 × LPR rule took effect for private lending
LPR_RULE_SINCE: Final = date(2020, 8, 20)
LPR_MULTIPLE: Final = Decimal(4)
#: private lending before LPR_RULE_SINCE: the 24 % line of the 2015 provisions
PRE_LPR_PRIVATE_CAP: Final = Decimal("0.24")


@dataclass(frozen=True)
class RateCap:
    """A cap and its basis: ``lpr`` / ``lpr_published_on`` are None when no LPR was used."""

    cap: Decimal
    licence_type: str
    lpr: Decimal | None
    lpr_published_on: date | None
    basis: str

    @property
    def licence_label(self) -> str:
        return str(LICENCE_LABELS.get(self.licence_type, self.licence_type))


def licence_type() -> str:
    return str(getattr(settings, "LOANOPS_LICENCE_TYPE", PRIVATE_LENDING))


def licensed_rate_caps() -> dict[str, Decimal]:
    configured = getattr(settings, "LOANOPS_LICENSED_RATE_CAPS", None) or {}
    return {**DEFAULT_LICENSED_RATE_CAPS, **{key: to_decimal(value) for key, value in configured.items()}}


def lpr_in_force(on: date) -> LoanPrimeRate | None:
    """The latest approved one-year LPR published strictly before ``on`` (None if there is none)."""
    return (
        LoanPrimeRate.objects.filter(status=LoanPrimeRate.Status.APPROVED, published_on__lt=on)
        .order_by("-published_on", "-id")
        .first()
    )


def rate_cap_for(*, on: date, licence: str | None = None) -> RateCap:
    """The cap on the annualised rate (IRR) of a contract dated ``on`` for a lender of ``licence`` type.

    Raises ``DomainError(code="lpr_missing")`` for private lending when no approved LPR was published
    before ``on``, and ``DomainError(code="licence_unknown")`` for a licence type without a cap.
    """
    kind = licence or licence_type()
    if kind == PRIVATE_LENDING:
        if on < LPR_RULE_SINCE:
            return RateCap(
                cap=PRE_LPR_PRIVATE_CAP,
                licence_type=kind,
                lpr=None,
                lpr_published_on=None,
                basis=f"民间借贷，合同日期早于 {LPR_RULE_SINCE:%Y-%m-%d}：年利率 24%",
            )
        row = lpr_in_force(on)
        if row is None:
            raise DomainError(
                f"没有 {on:%Y-%m-%d} 之前公布且已复核生效的一年期LPR，无法确定利率上限，请先维护LPR",
                code="lpr_missing",
                extra={"on": on.isoformat()},
            )
        lpr = to_rate(row.one_year_rate)
        return RateCap(
            cap=to_rate(lpr * LPR_MULTIPLE),
            licence_type=kind,
            lpr=lpr,
            lpr_published_on=row.published_on,
            basis=(f"民间借贷：{row.published_on:%Y-%m-%d} 公布的一年期LPR {format_rate_percent(lpr)} × 4"),
        )
    caps = licensed_rate_caps()
    if kind not in caps:
        raise DomainError(f"未配置牌照类型「{kind}」的利率上限", code="licence_unknown")
    label = LICENCE_LABELS.get(kind, kind)
    return RateCap(
        cap=to_rate(caps[kind]),
        licence_type=kind,
        lpr=None,
        lpr_published_on=None,
        basis=f"{label}：监管规定的年化利率上限 {format_rate_percent(caps[kind])}",
    )


def lpr_history() -> list[LoanPrimeRate]:
    """Every LPR row, newest first, with the people who proposed and decided it (one query)."""
    return list(LoanPrimeRate.objects.select_related("proposed_by", "decided_by").order_by("-published_on", "-id"))
