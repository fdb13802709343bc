"""Planning a partial prepayment (提前还款试算): what the customer pays and the schedule that follows.

One function, :func:`prepayment_plan`, used both by the quote (preview, nothing written) and by
``servicing.services.prepayments.prepayment_record`` (which writes exactly what the plan says), so the
preview and the booking can never disagree.

Rules (prepayment on date D of principal A, the loan active with nothing due unpaid):

* **interest accrued on A** for the current period: ``to_money(A × annual × days / 360)`` with ``days``
  from the last due date on or before D (or the disbursement date) to D — the same daily convention as
  the payoff quote. The new schedule charges the current period's interest on the reduced balance only;
* **prepayment fee** = ``to_money(A × product.prepayment_fee_rate)``;
* the customer pays ``A + accrued interest + fee``;
* the installments not yet due (the *tail*, see ``servicing.services.schedules``) are replaced by a new
  schedule for ``tail principal − A`` on the loan's own due dates, with the customer's choice:

  - ``keep_term``: as many installments as before, each one smaller;
  - ``keep_installment``: 等额本息 — the fewest installments whose amount does not exceed the current
    one; 等额本金 — the fewest installments whose principal does not exceed the current one. Not
    offered for 先息后本 and 到期一次还本付息 (the installment there is interest only / the whole loan).

Refusals (nothing written): amount not a positive cent amount (400); loan not active (409
``loan_not_active``); an installment due and unpaid (422 ``arrears_outstanding``); amount ≥ the
principal not yet due (422 ``prepayment_is_payoff``: that is a payoff, see ``loan_payoff``);
``keep_installment`` for a method without a fixed installment (422 ``option_not_applicable``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from applications.models import Loan, LoanStatus
from applications.services import FieldErrors
from loanops.exceptions import DomainError, InvalidTransition
from loanops.money import ZERO, to_money
from loanops.schedule import RepaymentMethod, ScheduleRow, equal_installment_amount
from servicing.models import Installment, ScheduleVersion
from servicing.services.schedules import ScheduleTail, tail_from, tail_rows
from servicing.settlement_models import PrepaymentOption

__all__ = ["PrepaymentPlan", "parse_prepayment_input", "prepayment_plan", "require_active"]

_DAYS_PER_YEAR = Decimal(360)
_MAX_AMOUNT = Decimal("9999999999999999.99")


@dataclass(frozen=True, slots=True)
class PrepaymentPlan:
    on: date
    option: str
    principal: Decimal  # A, the principal prepaid
    interest: Decimal  # interest accrued on A in the current period
    interest_days: int
    fee: Decimal
    total: Decimal  # what the customer pays now
    tail: ScheduleTail
    remaining_principal: Decimal  # principal of the new rows
    rows: list[ScheduleRow]  # the new installments (periods numbered after the kept ones)
    old_installment: Decimal | None
    new_installment: Decimal | None
    old_periods: int
    new_periods: int
    old_interest: Decimal  # scheduled interest of the replaced installments
    new_interest: Decimal  # scheduled interest of the new rows
    interest_saved: Decimal  # old_interest − new_interest − accrued interest


def parse_prepayment_input(*, amount: Any, option: Any) -> tuple[Decimal, str]:
    """Field-level checks (400): a positive amount with at most two decimals, a known option."""
    errors = FieldErrors()
    try:
        value = Decimal(str(amount).strip()) if not isinstance(amount, float | bool) else Decimal("NaN")
    except (InvalidOperation, ValueError):
        value = Decimal("NaN")
    if not value.is_finite():
        errors.add("amount", "请输入有效的金额")
    elif value <= 0:
        errors.add("amount", "提前还款本金必须大于 0")
    elif to_money(value) != value:
        errors.add("amount", "金额最多保留两位小数")
    elif value > _MAX_AMOUNT:
        errors.add("amount", "金额超出允许的最大值")
    if option not in PrepaymentOption.values:
        errors.add("option", "请选择「期限不变」或「月供不变」")
    errors.raise_if_any()
    return to_money(value), str(option)


def _fewest_periods_equal_installment(principal: Decimal, rate: Decimal, limit: Decimal, most: int) -> int:
    """The smallest n ≤ most with installment(principal, n) ≤ limit (installment falls as n grows)."""
    low, high = 1, most
    while low < high:
        middle = (low + high) // 2
        if equal_installment_amount(principal=principal, annual_rate=rate, term_months=middle) <= limit:
            high = middle
        else:
            low = middle + 1
    return low


def require_active(loan: Loan) -> None:
    """409 ``loan_not_active`` unless the loan is active (not overdue, not settled, not yet disbursed)."""
    if loan.status != LoanStatus.ACTIVE:
        raise InvalidTransition(
            f"贷款当前状态为「{LoanStatus(loan.status).label}」，不能办理提前还款",
            code="loan_not_active",
            extra={"status": loan.status},
        )


def prepayment_plan(
    *,
    loan: Loan,
    version: ScheduleVersion,
    installments: Sequence[Installment],
    amount: Decimal,
    option: str,
    on: date,
) -> PrepaymentPlan:
    """Plan a prepayment of principal ``amount`` on ``on`` (see the module docstring); raises refusals."""
    require_active(loan)
    arrears = [item for item in installments if item.due_date <= on and item.outstanding > 0]
    if arrears:
        owed = sum((item.outstanding for item in arrears), ZERO)
        raise DomainError(
            f"尚有已到期未还金额 {owed}，请先归还后再办理提前还款",
            code="arrears_outstanding",
            extra={"outstanding": owed},
        )
    tail = tail_from(loan, version, installments, on)
    if amount >= tail.principal:
        raise DomainError(
            f"提前还款本金 {amount} 不小于未到期本金 {tail.principal}，请办理提前结清",
            code="prepayment_is_payoff",
            fields={"amount": [f"应小于未到期本金 {tail.principal}"]},
            extra={"principal_not_due": tail.principal},
        )
    method = tail.method
    if option == PrepaymentOption.KEEP_INSTALLMENT and method in (
        RepaymentMethod.INTEREST_ONLY,
        RepaymentMethod.BULLET,
    ):
        raise DomainError(
            "先息后本和到期一次还本付息的贷款只能选择「期限不变」",
            code="option_not_applicable",
            fields={"option": ["该还款方式不适用「月供不变」"]},
        )
    rate = tail.annual_rate
    remaining = tail.principal - amount
    periods = tail.periods
    if method == RepaymentMethod.BULLET:
        periods = loan.term_months or periods
    elif option == PrepaymentOption.KEEP_INSTALLMENT and tail.periods > 1:
        first = installments_by_period(installments)[tail.kept_periods + 1]
        if method == RepaymentMethod.EQUAL_INSTALLMENT:
            limit = first.principal_due + first.interest_due
            periods = _fewest_periods_equal_installment(remaining, rate, limit, tail.periods)
        else:  # equal principal: keep the principal of an installment
            periods = min(tail.periods, max(1, math.ceil(remaining / first.principal_due)))
    rows = tail_rows(tail, principal=remaining, periods=periods, annual_rate=rate, method=method)

    start = tail.last_kept_due_date or loan.disbursed_on or on
    days = max((on - start).days, 0)
    interest = to_money(amount * rate * days / _DAYS_PER_YEAR)
    fee = to_money(amount * (loan.product.prepayment_fee_rate or ZERO))
    replaced = [item for item in installments if item.period > tail.kept_periods]
    old_interest = sum((item.interest_due for item in replaced), ZERO)
    new_interest = sum((row.interest for row in rows), ZERO)
    return PrepaymentPlan(
        on=on,
        option=option,
        principal=amount,
        interest=interest,
        interest_days=days,
        fee=fee,
        total=amount + interest + fee,
        tail=tail,
        remaining_principal=remaining,
        rows=rows,
        old_installment=tail.installment_amount,
        new_installment=rows[0].total if rows else None,
        old_periods=tail.periods,
        new_periods=len(rows),
        old_interest=old_interest,
        new_interest=new_interest,
        interest_saved=old_interest - new_interest - interest,
    )


def installments_by_period(installments: Sequence[Installment]) -> dict[int, Installment]:
    return {item.period: item for item in installments}
