"""The art. 561 waterfall as a pure function: table-driven."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from servicing.allocation import Allocation, Outstanding, allocate

D = Decimal
AS_OF = date(2025, 4, 20)
# Two overdue installments (Feb, Mar), one due today-ish (Apr 15), and one in the future (May).
ITEMS = [
    Outstanding(
        1, 1, date(2025, 2, 15), fee=D("10.00"), penalty=D("5.00"), interest=D("100.00"), principal=D("900.00")
    ),
    Outstanding(2, 2, date(2025, 3, 15), fee=D("0.00"), penalty=D("3.00"), interest=D("90.00"), principal=D("910.00")),
    Outstanding(3, 3, date(2025, 5, 15), interest=D("80.00"), principal=D("920.00")),
    Outstanding(4, 4, date(2025, 6, 15), interest=D("70.00"), principal=D("930.00")),
]


@pytest.mark.parametrize(
    ("amount", "expected", "surplus"),
    [
        ("8.00", [(1, "fee", "8.00")], "0.00"),
        ("12.00", [(1, "fee", "10.00"), (1, "penalty", "2.00")], "0.00"),
        ("18.00", [(1, "fee", "10.00"), (1, "penalty", "5.00"), (2, "penalty", "3.00")], "0.00"),
        # interest of BOTH due installments before any principal (costs → interest → principal)
        (
            "218.00",
            [
                (1, "fee", "10.00"),
                (1, "penalty", "5.00"),
                (2, "penalty", "3.00"),
                (1, "interest", "100.00"),
                (2, "interest", "90.00"),
                (1, "principal", "10.00"),
            ],
            "0.00",
        ),
        (
            "2018.00",
            [
                (1, "fee", "10.00"),
                (1, "penalty", "5.00"),
                (2, "penalty", "3.00"),
                (1, "interest", "100.00"),
                (2, "interest", "90.00"),
                (1, "principal", "900.00"),
                (2, "principal", "910.00"),
            ],
            "0.00",
        ),
        # then the next installment, interest before principal
        (
            "2100.00",
            [
                (1, "fee", "10.00"),
                (1, "penalty", "5.00"),
                (2, "penalty", "3.00"),
                (1, "interest", "100.00"),
                (2, "interest", "90.00"),
                (1, "principal", "900.00"),
                (2, "principal", "910.00"),
                (3, "interest", "80.00"),
                (3, "principal", "2.00"),
            ],
            "0.00",
        ),
        # everything paid: the rest is surplus
        (
            "5000.00",
            [
                (1, "fee", "10.00"),
                (1, "penalty", "5.00"),
                (2, "penalty", "3.00"),
                (1, "interest", "100.00"),
                (2, "interest", "90.00"),
                (1, "principal", "900.00"),
                (2, "principal", "910.00"),
                (3, "interest", "80.00"),
                (3, "principal", "920.00"),
                (4, "interest", "70.00"),
                (4, "principal", "930.00"),
            ],
            "982.00",
        ),
    ],
)
def test_waterfall(amount: str, expected: list[tuple[int, str, str]], surplus: str) -> None:
    allocations, rest = allocate(D(amount), ITEMS, as_of=AS_OF)
    assert allocations == [Allocation(k, c, D(a)) for k, c, a in expected]
    assert rest == D(surplus)
    assert sum((a.amount for a in allocations), D(0)) + rest == D(amount)


def test_order_does_not_depend_on_input_order() -> None:
    forward, _ = allocate(D("300.00"), ITEMS, as_of=AS_OF)
    backward, _ = allocate(D("300.00"), list(reversed(ITEMS)), as_of=AS_OF)
    assert forward == backward


def test_nothing_due_pays_the_next_installment() -> None:
    allocations, rest = allocate(D("100.00"), ITEMS[2:], as_of=date(2025, 5, 1))
    assert allocations == [Allocation(3, "interest", D("80.00")), Allocation(3, "principal", D("20.00"))]
    assert rest == D("0.00")


def test_negative_amount_is_refused() -> None:
    with pytest.raises(ValueError):
        allocate(D("-1.00"), ITEMS, as_of=AS_OF)


PRINCIPAL_FIRST = ("principal", "interest", "penalty", "fee")


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("950.00", [(1, "principal", "900.00"), (2, "principal", "50.00")]),
        (
            "2000.00",
            [
                (1, "principal", "900.00"),
                (2, "principal", "910.00"),
                (1, "interest", "100.00"),
                (2, "interest", "90.00"),
            ],
        ),
        # the future installment also takes its components in the product's order
        (
            "2018.00",
            [
                (1, "principal", "900.00"),
                (2, "principal", "910.00"),
                (1, "interest", "100.00"),
                (2, "interest", "90.00"),
                (1, "penalty", "5.00"),
                (2, "penalty", "3.00"),
                (1, "fee", "10.00"),
            ],
        ),
        (
            "2100.00",
            [
                (1, "principal", "900.00"),
                (2, "principal", "910.00"),
                (1, "interest", "100.00"),
                (2, "interest", "90.00"),
                (1, "penalty", "5.00"),
                (2, "penalty", "3.00"),
                (1, "fee", "10.00"),
                (3, "principal", "82.00"),
            ],
        ),
    ],
)
def test_a_product_order_replaces_the_default(amount, expected):
    allocations, surplus = allocate(D(amount), ITEMS, as_of=AS_OF, order=PRINCIPAL_FIRST)
    assert allocations == [Allocation(k, c, D(a)) for k, c, a in expected]
    assert sum(a.amount for a in allocations) + surplus == D(amount)


@pytest.mark.parametrize(
    "order",
    [("fee", "penalty", "interest"), ("fee", "fee", "interest", "principal"), ("fee", "penalty", "x", "principal")],
)
def test_a_bad_order_is_refused(order):
    with pytest.raises(ValueError):
        allocate(D("1.00"), ITEMS, as_of=AS_OF, order=order)
