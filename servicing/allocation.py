"""The repayment waterfall (还款冲抵顺序) — a pure function: no models, no database.

Default order (DESIGN.md §3, PRC Civil Code art. 561: costs, then interest, then principal); a product
may set another order of the four components (``Product.allocation_order``, e.g. when the contract says
principal first), which replaces fee → penalty → interest → principal below:

1. Installments already due (``due_date <= as_of``) are settled component by component across all of
   them: every due installment's **fees** first (oldest installment first), then **penalty** interest,
   then **interest**, then **principal**. A partial payment therefore clears the interest of every due
   installment before it reduces the principal of the oldest one.
2. Whatever is left is applied to the installments that are not yet due, one installment at a time in
   period order, each one fee → penalty → interest → principal. (Partial prepayment with a new schedule
   is a later feature; until then money paid early simply pays the next installments.)
3. Anything left after every installment is fully paid is the surplus (溢缴款), held in the
   ``overpayment`` account.

The allocations always sum exactly to the amount paid (minus the surplus); nothing is rounded here
because every input is already a cent amount.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Final

from loanops.money import ZERO

__all__ = ["COMPONENTS", "Allocation", "Outstanding", "allocate"]

#: Components in the order a payment is applied to them.
COMPONENTS: Final = ("fee", "penalty", "interest", "principal")


@dataclass(frozen=True, slots=True)
class Outstanding:
    """What is still owed on one installment, per component. ``key`` identifies the installment."""

    key: int
    period: int
    due_date: date
    fee: Decimal = ZERO
    penalty: Decimal = ZERO
    interest: Decimal = ZERO
    principal: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.fee + self.penalty + self.interest + self.principal


@dataclass(frozen=True, slots=True)
class Allocation:
    key: int
    component: str
    amount: Decimal


def allocate(
    amount: Decimal, items: Iterable[Outstanding], *, as_of: date, order: Sequence[str] = COMPONENTS
) -> tuple[list[Allocation], Decimal]:
    """Split ``amount`` over ``items`` (see the module docstring); return ``(allocations, surplus)``.

    ``order`` is the component order (each of :data:`COMPONENTS` exactly once).
    ``sum(a.amount for a in allocations) + surplus == amount``; no allocation is zero or negative.
    Raises :class:`ValueError` for a negative amount, a negative outstanding component or a bad order.
    """
    if amount < 0:
        raise ValueError("amount must not be negative")
    order = tuple(order)
    if sorted(order) != sorted(COMPONENTS) or len(order) != len(COMPONENTS):
        raise ValueError(f"allocation order must name each of {COMPONENTS} once, got {order!r}")
    ordered = sorted(items, key=lambda item: (item.due_date, item.period, item.key))
    for item in ordered:
        if any(getattr(item, component) < 0 for component in COMPONENTS):
            raise ValueError(f"negative outstanding amount on installment {item.key}")
    due = [item for item in ordered if item.due_date <= as_of]
    future = [item for item in ordered if item.due_date > as_of]
    remaining = amount
    result: list[Allocation] = []

    def take(item: Outstanding, component: str) -> None:
        nonlocal remaining
        owed: Decimal = getattr(item, component)
        portion = min(remaining, owed)
        if portion > 0:
            result.append(Allocation(item.key, component, portion))
            remaining -= portion

    for component in order:
        for item in due:
            if remaining <= 0:
                break
            take(item, component)
    for item in future:
        for component in order:
            if remaining <= 0:
                break
            take(item, component)
    return result, remaining
