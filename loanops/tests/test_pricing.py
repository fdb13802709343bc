"""loanops.pricing: annualised rate (IRR, 年化利率) and penalty interest (罚息 / 复利)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loanops.money import to_money
from loanops.pricing import annualised_rate, daily_penalty_rate, months_between, penalty_for_range
from loanops.schedule import build_schedule

D = Decimal
START = date(2025, 1, 15)


def payments_of(principal: str, rate: str, term: int, method: str) -> list[tuple[date, Decimal]]:
    rows = build_schedule(
        principal=D(principal),
        annual_rate=D(rate),
        term_months=term,
        method=method,
        first_due_date=date(2025, 2, 15),
    )
    return [(r.due_date, r.total) for r in rows]


# ---------------------------------------------------------------------------------- annualised rate


def test_irr_of_a_plain_equal_installment_loan_is_its_rate() -> None:
    payments = payments_of("10000", "0.12", 12, "equal_installment")
    assert payments[0][1] == D("888.49")
    rate = annualised_rate(principal_received=D("10000"), payments=payments, start=START)
    assert abs(rate - D("0.12")) < D("0.0001")
    assert rate.as_tuple().exponent == -6


def test_upfront_fee_raises_the_annualised_rate() -> None:
    payments = payments_of("10000", "0.12", 12, "equal_installment")
    plain = annualised_rate(principal_received=D("10000"), payments=payments, start=START)
    with_fee = annualised_rate(principal_received=D("9800"), payments=payments, start=START)  # 2 % fee
    assert with_fee > plain
    # a 2 % fee on a one-year amortising loan adds roughly 3.7 points
    assert D("0.155") < with_fee < D("0.16")


def test_equal_principal_and_interest_only_irr_is_the_contract_rate() -> None:
    for method in ("equal_principal", "interest_only"):
        payments = payments_of("100000", "0.0365", 24, method)
        rate = annualised_rate(principal_received=D("100000"), payments=payments, start=START)
        assert abs(rate - D("0.0365")) < D("0.0001"), method


def test_bullet_is_discounted_from_its_maturity_month() -> None:
    # 12 % simple interest for a year, paid at month 12: (1 + i)^12 = 1.12, annual = 12 i
    payments = payments_of("10000", "0.12", 12, "bullet")
    assert payments == [(date(2026, 1, 15), D("11200.00"))]
    rate = annualised_rate(principal_received=D("10000"), payments=payments, start=START)
    expected = (D("1.12") ** (D(1) / 12) - 1) * 12
    assert abs(rate - expected) < D("0.000001")
    assert rate == D("0.113866")


def test_irr_zero_and_negative() -> None:
    flat = [(date(2025, m, 15), D("100.00")) for m in range(2, 12)]
    assert annualised_rate(principal_received=D("1000"), payments=flat, start=START) == D("0.000000")
    assert annualised_rate(principal_received=D("1100"), payments=flat, start=START) < 0


def test_irr_payment_order_does_not_matter_and_same_month_payments_add() -> None:
    payments = payments_of("10000", "0.12", 12, "equal_installment")
    forward = annualised_rate(principal_received=D("10000"), payments=payments, start=START)
    backward = annualised_rate(principal_received=D("10000"), payments=payments[::-1], start=START)
    assert forward == backward
    split = [(d, a / 2) for d, a in payments] + [(d.replace(day=20), a / 2) for d, a in payments]
    assert annualised_rate(principal_received=D("10000"), payments=split, start=START) == forward


@pytest.mark.parametrize(
    ("received", "payments", "error"),
    [
        (D("0"), [(date(2025, 2, 15), D("1"))], ValueError),
        (D("100"), [], ValueError),
        (D("100"), [(date(2025, 2, 15), D("-1"))], ValueError),
        (D("100"), [(date(2025, 1, 1), D("101"))], ValueError),  # before the start
        (D("100"), [(date(2025, 1, 20), D("101"))], ValueError),  # nothing after the start month
        (D("100"), [(date(2025, 2, 15), D("0"))], ValueError),
        (100.0, [(date(2025, 2, 15), D("101"))], TypeError),
        (D("100"), [(date(2025, 2, 15), 101.0)], TypeError),
    ],
)
def test_irr_bad_input(received: object, payments: list[tuple[date, object]], error: type[Exception]) -> None:
    with pytest.raises(error):
        annualised_rate(principal_received=received, payments=payments, start=START)  # type: ignore[arg-type]


def test_months_between() -> None:
    assert months_between(date(2025, 1, 15), date(2025, 2, 14)) == 1
    assert months_between(date(2025, 1, 31), date(2025, 2, 28)) == 1
    assert months_between(date(2025, 1, 31), date(2026, 1, 31)) == 12
    assert months_between(date(2025, 12, 1), date(2026, 1, 1)) == 1


@settings(max_examples=60, deadline=None)
@given(
    rate=st.decimals(min_value=D("0.01"), max_value=D("0.36"), places=4),
    term=st.integers(min_value=3, max_value=120),
    method=st.sampled_from(["equal_installment", "equal_principal", "interest_only"]),
    fee=st.decimals(min_value=D("0"), max_value=D("0.05"), places=3),
)
def test_irr_recovers_the_contract_rate_and_fees_only_raise_it(
    rate: Decimal, term: int, method: str, fee: Decimal
) -> None:
    principal = D("100000")
    payments = payments_of(str(principal), str(rate), term, method)
    plain = annualised_rate(principal_received=principal, payments=payments, start=START)
    assert abs(plain - rate) < D("0.0001")
    with_fee = annualised_rate(principal_received=principal - to_money(principal * fee), payments=payments, start=START)
    assert with_fee >= plain
    if fee:
        assert with_fee > plain


# ------------------------------------------------------------------------------------------ penalty


def test_daily_penalty_rate() -> None:
    # 12 % contract rate + 50 % surcharge = 18 % a year = 0.05 % a day on a 360-day year
    assert daily_penalty_rate(D("0.12"), D("0.5")) == D("0.0005")
    daily = daily_penalty_rate(D("0.049"), D("0"))
    assert str(daily) == "0.0001361111111111111111111111111111111"  # 34 significant digits, not rounded
    with pytest.raises(TypeError):
        daily_penalty_rate(0.12, D("0.5"))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        daily_penalty_rate(D("0.12"), D("-0.1"))


def test_penalty_worked_example() -> None:
    """Worked by hand: 10,000.00 principal and 100.00 interest overdue from 3 to 13 March (10 days).

    Penalty rate 12 % × 1.5 = 18 % a year → 0.18 / 360 = 0.0005 a day.
    罚息 10,000 × 0.0005 × 10 = 50.00; 复利 100 × 0.0005 × 10 = 0.50; together 50.50.
    """
    common = {
        "overdue_principal": D("10000.00"),
        "overdue_interest": D("100.00"),
        "annual_rate": D("0.12"),
        "surcharge": D("0.5"),
        "start": date(2025, 3, 3),
        "end": date(2025, 3, 13),
    }
    assert penalty_for_range(**common, compound=False) == D("50")
    assert penalty_for_range(**common, compound=True) == D("50.5")


def test_penalty_is_unrounded_and_end_exclusive() -> None:
    # 1,000 × 0.049 / 360 × 1 day = 0.136111…: the caller rounds
    one_day = penalty_for_range(
        overdue_principal=D("1000.00"),
        overdue_interest=D("0"),
        annual_rate=D("0.049"),
        surcharge=D("0"),
        compound=True,
        start=date(2025, 2, 28),
        end=date(2025, 3, 1),
    )
    assert one_day != to_money(one_day)
    assert to_money(one_day) == D("0.14")
    assert str(one_day).startswith("0.13611111111")
    same_day = penalty_for_range(
        overdue_principal=D("1000.00"),
        overdue_interest=D("5"),
        annual_rate=D("0.049"),
        surcharge=D("0.3"),
        compound=True,
        start=date(2025, 3, 1),
        end=date(2025, 3, 1),
    )
    assert same_day == 0


def test_penalty_is_additive_over_adjacent_ranges() -> None:
    def accrue(start: date, end: date) -> Decimal:
        return penalty_for_range(
            overdue_principal=D("5432.10"),
            overdue_interest=D("67.89"),
            annual_rate=D("0.0725"),
            surcharge=D("0.4"),
            compound=True,
            start=start,
            end=end,
        )

    whole = accrue(date(2024, 2, 1), date(2024, 3, 31))
    parts = accrue(date(2024, 2, 1), date(2024, 2, 29)) + accrue(date(2024, 2, 29), date(2024, 3, 31))
    assert abs(whole - parts) < D("1e-20")


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"end": date(2025, 3, 2)}, ValueError),
        ({"overdue_principal": D("-1")}, ValueError),
        ({"overdue_interest": D("-1")}, ValueError),
        ({"overdue_principal": 1.0}, TypeError),
        ({"annual_rate": 0.1}, TypeError),
    ],
)
def test_penalty_bad_input(changes: dict[str, object], error: type[Exception]) -> None:
    params: dict[str, object] = {
        "overdue_principal": D("1"),
        "overdue_interest": D("1"),
        "annual_rate": D("0.1"),
        "surcharge": D("0"),
        "compound": False,
        "start": date(2025, 3, 3),
        "end": date(2025, 3, 4),
    }
    with pytest.raises(error):
        penalty_for_range(**{**params, **changes})  # type: ignore[arg-type]
