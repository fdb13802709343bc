"""loanops.schedule: published figures, due-date clamping, input checks and schedule invariants."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal, localcontext

import pytest
from django.utils import translation
from hypothesis import given, settings
from hypothesis import strategies as st

from loanops.exceptions import DomainError, InputError
from loanops.money import ZERO, to_money
from loanops.schedule import (
    RepaymentMethod,
    ScheduleInputError,
    ScheduleRow,
    _new_row,
    build_schedule,
    due_dates,
    summarize,
    validate_schedule_input,
)

D = Decimal
METHODS = [m.value for m in RepaymentMethod]


@pytest.fixture(autouse=True)
def _chinese() -> Iterator[None]:
    with translation.override("zh-hans"):
        yield


def schedule(
    principal: str | Decimal,
    rate: str | Decimal,
    term: int,
    method: str,
    first: date = date(2025, 2, 15),
) -> list[ScheduleRow]:
    return build_schedule(
        principal=D(principal), annual_rate=D(rate), term_months=term, method=method, first_due_date=first
    )


# ------------------------------------------------------------------------------------ published figures


def test_equal_installment_published_figures() -> None:
    rows = schedule("1000000", "0.049", 360, "equal_installment")
    assert len(rows) == 360
    assert rows[0].total == D("5307.27")
    assert rows[0].interest == D("4083.33")
    assert rows[0].principal == D("1223.94")
    assert rows[0].remaining == D("998776.06")
    assert all(r.total == D("5307.27") for r in rows[:-1])
    assert rows[-1].remaining == ZERO
    assert summarize(rows)["total_principal"] == D("1000000.00")


def test_equal_principal_published_figures() -> None:
    rows = schedule("1000000", "0.049", 360, "equal_principal")
    assert rows[0].principal == D("2777.78")
    assert rows[0].interest == D("4083.33")
    assert rows[0].total == D("6861.11")
    assert rows[1].interest == to_money(D("997222.22") * D("0.049") / 12)
    assert rows[-1].principal == D("1000000.00") - 359 * D("2777.78")
    assert rows[-1].remaining == ZERO


def test_interest_only() -> None:
    rows = schedule("100000", "0.06", 12, "interest_only")
    assert [r.interest for r in rows] == [D("500.00")] * 12
    assert [r.principal for r in rows] == [ZERO] * 11 + [D("100000.00")]
    assert [r.remaining for r in rows] == [D("100000.00")] * 11 + [ZERO]
    assert rows[-1].total == D("100500.00")


def test_bullet_is_one_row_at_maturity() -> None:
    rows = schedule("100000", "0.06", 12, "bullet", first=date(2025, 1, 31))
    assert rows == [
        ScheduleRow(
            period=1,
            due_date=date(2025, 12, 31),
            principal=D("100000.00"),
            interest=D("6000.00"),
            total=D("106000.00"),
            remaining=ZERO,
        )
    ]
    # maturity is the n-th due date, clamped like the others
    assert schedule("1000", "0.1", 2, "bullet", first=date(2027, 1, 31))[0].due_date == date(2027, 2, 28)
    # interest = to_money(P × annual × n / 12)
    assert schedule("1000", "0.1", 7, "bullet")[0].interest == D("58.33")


def test_zero_rate_equal_installment_is_straight_line() -> None:
    rows = schedule("1000", "0", 3, "equal_installment")
    assert [r.principal for r in rows] == [D("333.33"), D("333.33"), D("333.34")]
    assert all(r.interest == ZERO for r in rows)


def test_negligible_rate_is_a_straight_line() -> None:
    # 1+r rounds to 1 in 34 digits: no division by zero, interest rounds to 0.00
    rows = schedule("1000", "1E-40", 3, "equal_installment")
    assert [r.total for r in rows] == [D("333.33"), D("333.33"), D("333.34")]


def test_single_period() -> None:
    for method in METHODS:
        rows = schedule("1000", "0.12", 1, method)
        assert len(rows) == 1
        assert rows[0].principal == D("1000.00")
        assert rows[0].interest == D("10.00")
        assert rows[0].remaining == ZERO


def test_methods_and_labels() -> None:
    assert METHODS == ["equal_installment", "equal_principal", "interest_only", "bullet"]
    assert str(RepaymentMethod.EQUAL_INSTALLMENT.label) == "等额本息"
    assert str(RepaymentMethod.EQUAL_PRINCIPAL.label) == "等额本金"
    assert str(RepaymentMethod.INTEREST_ONLY.label) == "先息后本"
    assert str(RepaymentMethod.BULLET.label) == "到期一次还本付息"
    assert schedule("1000", "0.1", 3, RepaymentMethod.EQUAL_PRINCIPAL) == schedule("1000", "0.1", 3, "equal_principal")


def test_summarize() -> None:
    rows = schedule("1000", "0.12", 3, "equal_principal")
    assert summarize(rows) == {
        "total_principal": D("1000.00"),
        "total_interest": D("10.00") + D("6.67") + D("3.33"),
        "total_payment": D("1020.00"),
    }
    assert summarize([]) == {"total_principal": ZERO, "total_interest": ZERO, "total_payment": ZERO}


def test_fast_row_constructor_builds_ordinary_rows() -> None:
    values = (3, date(2025, 1, 1), D("1.00"), D("2.00"), D("3.00"), D("4.00"))
    row = _new_row(*values)
    assert type(row) is ScheduleRow
    assert row == ScheduleRow(*values)
    assert hash(row) == hash(ScheduleRow(*values))
    assert tuple(row) == values and row.total == D("3.00") and row._fields[-1] == "remaining"
    with pytest.raises(AttributeError):
        row.total = D("0")  # type: ignore[misc]


# -------------------------------------------------------------------------------------------- dates


def test_due_dates_clamp_to_month_end_leap_year() -> None:
    assert due_dates(date(2028, 1, 31), 5) == [
        date(2028, 1, 31),
        date(2028, 2, 29),
        date(2028, 3, 31),
        date(2028, 4, 30),
        date(2028, 5, 31),
    ]


def test_due_dates_clamp_to_month_end_common_year() -> None:
    assert due_dates(date(2027, 1, 31), 4) == [
        date(2027, 1, 31),
        date(2027, 2, 28),
        date(2027, 3, 31),
        date(2027, 4, 30),
    ]
    assert due_dates(date(2027, 1, 29), 3) == [date(2027, 1, 29), date(2027, 2, 28), date(2027, 3, 29)]


def test_due_dates_cross_the_year_and_edge_counts() -> None:
    assert due_dates(date(2025, 11, 30), 4) == [
        date(2025, 11, 30),
        date(2025, 12, 30),
        date(2026, 1, 30),
        date(2026, 2, 28),
    ]
    assert due_dates(date(2025, 1, 15), 0) == []
    assert due_dates(date(2025, 1, 15), 1) == [date(2025, 1, 15)]
    assert len(due_dates(date(2025, 1, 15), 360)) == 360
    assert due_dates(date(2025, 1, 15), 360)[-1] == date(2054, 12, 15)
    with pytest.raises(ValueError):
        due_dates(date(2025, 1, 15), -1)


@settings(max_examples=200, deadline=None)
@given(first=st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)), n=st.integers(1, 360))
def test_due_dates_properties(first: date, n: int) -> None:
    dates = due_dates(first, n)
    assert len(dates) == n
    assert dates[0] == first
    for k, d in enumerate(dates):
        months = first.month - 1 + k
        assert (d.year, d.month) == (first.year + months // 12, months % 12 + 1)
        if d.day != first.day:
            assert d.day < first.day
            assert (d + timedelta(days=1)).day == 1  # clamped to the month's last day


# ------------------------------------------------------------------------------------- input checks


def fields_of(exc: pytest.ExceptionInfo[ScheduleInputError]) -> dict[str, list[str]]:
    return exc.value.fields


GOOD = {
    "principal": D("10000"),
    "annual_rate": D("0.12"),
    "term_months": 12,
    "method": "equal_installment",
    "first_due_date": date(2025, 1, 31),
}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("principal", D("0"), "本金必须大于 0。"),
        ("principal", D("-1.00"), "本金必须大于 0。"),
        ("principal", D("10.001"), "本金最多保留两位小数。"),
        ("principal", D("10000000000000000"), "本金超出允许的最大金额。"),
        ("principal", 1000.0, "本金必须是有效的金额数字。"),
        ("principal", "abc", "本金必须是有效的金额数字。"),
        ("principal", D("NaN"), "本金必须是有效的金额数字。"),
        ("principal", None, "本金必须是有效的金额数字。"),
        ("annual_rate", D("-0.000001"), "年利率必须在 0 到 1 之间（含 0 和 1）。"),
        ("annual_rate", D("1.000001"), "年利率必须在 0 到 1 之间（含 0 和 1）。"),
        ("annual_rate", 0.12, "年利率必须是有效的数字。"),
        ("annual_rate", D("Infinity"), "年利率必须是有效的数字。"),
        ("term_months", 0, "期限必须在 1 到 360 个月之间。"),
        ("term_months", 361, "期限必须在 1 到 360 个月之间。"),
        ("term_months", 12.0, "期限必须是整数月数。"),
        ("term_months", "12", "期限必须是整数月数。"),
        ("term_months", True, "期限必须是整数月数。"),
        ("method", "balloon", "不支持的还款方式。"),
        ("method", None, "不支持的还款方式。"),
        ("first_due_date", "2025-01-31", "首期还款日必须是日期。"),
        ("first_due_date", datetime(2025, 1, 31, 0, 0), "首期还款日必须是日期。"),
        ("first_due_date", date(9999, 2, 1), "首期还款日过晚，最后一期超出可表示的日期范围。"),
    ],
)
def test_each_input_check_names_its_field(field: str, value: object, message: str) -> None:
    params = {**GOOD, field: value}
    with pytest.raises(ScheduleInputError) as exc:
        validate_schedule_input(**params)
    assert fields_of(exc) == {field: [message]}
    assert exc.value.http_status == 400
    assert isinstance(exc.value, InputError)
    assert exc.value.message == "还款计划参数有误。"
    with pytest.raises(ScheduleInputError):
        build_schedule(**params)  # type: ignore[arg-type]


def test_valid_edges_are_accepted() -> None:
    for field, value in [
        ("annual_rate", D("0")),
        ("annual_rate", D("1")),
        ("annual_rate", D("0.0123456789")),
        ("term_months", 1),
        ("term_months", 360),
        ("principal", D("0.01")),
        ("principal", D("10.10000")),  # trailing zeros are still two decimals
        ("principal", 500),
        ("principal", "500.50"),
        ("method", RepaymentMethod.BULLET),
        ("first_due_date", date(9999, 1, 31)),  # 12 months still end in 9999
    ]:
        validate_schedule_input(**{**GOOD, field: value})


def test_all_bad_fields_are_reported_together() -> None:
    with pytest.raises(ScheduleInputError) as exc:
        validate_schedule_input(principal=D("0"), annual_rate=D("2"), term_months=0, method="x", first_due_date=None)
    assert set(fields_of(exc)) == {"principal", "annual_rate", "term_months", "method", "first_due_date"}


# ------------------------------------------------------------------------------------- infeasibility


@pytest.mark.parametrize(
    ("principal", "rate", "term", "method", "period"),
    [
        ("0.05", "0", 6, "equal_installment", 5),  # 0.00833 → 0.01 a month: paid off in period 5
        ("0.01", "0", 2, "equal_principal", 1),  # 0.005 → 0.01: paid off in period 1
        ("0.05", "0.12", 10, "equal_principal", 5),
        ("1.00", "0", 199, "equal_installment", 100),  # 0.005025 → 0.01 × 100 = 1.00 in period 100
        # high rate × long term: the installment's rounding (+0.0049) compounds to more than the last
        # balance, so an ordinary-looking loan is paid off in period 253 of 254
        ("5000.01", "0.359934", 254, "equal_installment", 253),
    ],
)
def test_infeasible_schedules_are_refused_with_422(
    principal: str, rate: str, term: int, method: str, period: int
) -> None:
    with pytest.raises(DomainError) as exc:
        schedule(principal, rate, term, method)
    assert exc.value.code == "schedule_infeasible"
    assert exc.value.http_status == 422
    assert exc.value.extra == {"period": period}
    assert not isinstance(exc.value, InputError)


def test_tiny_loans_that_fit_are_built() -> None:
    rows = schedule("1.00", "0", 360, "equal_principal")  # 0.00277 → 0.00; the last period pays all
    assert [r.principal for r in rows] == [ZERO] * 359 + [D("1.00")]
    rows = schedule("0.03", "0", 2, "equal_installment")  # 0.015 → 0.02, then 0.01
    assert [r.principal for r in rows] == [D("0.02"), D("0.01")]


# -------------------------------------------------------------------------------------- properties


def reference_schedule(p: Decimal, annual: Decimal, n: int, method: str, first: date) -> list[ScheduleRow] | None:
    """A plain restatement of the conventions (no speed tricks); None where the schedule is infeasible."""
    with localcontext(prec=34):  # r = annual / 12 is never rounded (beyond 34 digits)
        r = annual / 12
        dates = due_dates(first, n)
        if method == "bullet":
            interest = to_money(p * annual * n / 12)
            return [ScheduleRow(1, dates[-1], p, interest, p + interest, ZERO)]
        if method == "equal_installment":
            growth = (1 + r) ** n
            installment = to_money(p * r * growth / (growth - 1)) if r else to_money(p / n)
        rows = []
        remaining = p
        for k in range(1, n + 1):
            interest = to_money(remaining * r)
            if k == n:
                principal = remaining
            elif method == "equal_installment":
                principal = installment - interest
            elif method == "equal_principal":
                principal = to_money(p / n)
            else:
                principal = ZERO
            remaining -= principal
            if k < n and (remaining <= 0 or principal < 0):
                return None
            rows.append(ScheduleRow(k, dates[k - 1], principal, interest, principal + interest, remaining))
        return rows


principals = st.decimals(min_value=D("0.01"), max_value=D("10000000"), places=2)
rates = st.decimals(min_value=D("0"), max_value=D("0.36"), places=6)
terms = st.integers(min_value=1, max_value=360)
methods = st.sampled_from(METHODS)
firsts = st.dates(min_value=date(2020, 1, 1), max_value=date(2060, 12, 31))


def check_invariants(rows: list[ScheduleRow], p: Decimal, n: int, method: str, first: date) -> None:
    assert len(rows) == (1 if method == "bullet" else n)
    assert [r.period for r in rows] == list(range(1, len(rows) + 1))
    assert sum((r.principal for r in rows), ZERO) == p
    assert rows[-1].remaining == ZERO
    assert str(rows[-1].remaining) == "0.00"
    previous = p
    for r in rows:
        for amount in (r.principal, r.interest, r.total, r.remaining):
            assert amount >= 0
            assert amount.as_tuple().exponent == -2
        assert r.total == r.principal + r.interest
        assert r.remaining == previous - r.principal
        assert r.remaining <= previous
        previous = r.remaining
    assert all(r.remaining > 0 for r in rows[:-1])
    if method == "equal_installment":
        assert len({r.total for r in rows[:-1]}) <= 1
    if method == "equal_principal":
        assert len({r.principal for r in rows[:-1]}) <= 1
    if method == "bullet":
        assert rows[0].due_date == due_dates(first, n)[-1]
    else:
        assert [r.due_date for r in rows] == due_dates(first, n)


@settings(max_examples=200, deadline=None)
@given(p=principals, annual=rates, n=terms, method=methods, first=firsts)
def test_schedule_invariants(p: Decimal, annual: Decimal, n: int, method: str, first: date) -> None:
    expected = reference_schedule(p, annual, n, method, first)
    try:
        rows = build_schedule(principal=p, annual_rate=annual, term_months=n, method=method, first_due_date=first)
    except DomainError as exc:
        # refused only where the rounded figures really would retire the loan early
        assert exc.code == "schedule_infeasible"
        assert exc.http_status == 422
        assert expected is None
        return
    assert rows == expected
    check_invariants(rows, p, n, method, first)


@settings(max_examples=200, deadline=None)
@given(
    p=st.decimals(min_value=D("0.01"), max_value=D("5.00"), places=2),
    annual=rates,
    n=st.integers(min_value=2, max_value=360),
    method=st.sampled_from(["equal_installment", "equal_principal"]),
)
def test_small_loans_are_built_correctly_or_refused(p: Decimal, annual: Decimal, n: int, method: str) -> None:
    """Tiny principals over long terms are where rounding can retire a loan early: never a negative."""
    first = date(2025, 3, 31)
    expected = reference_schedule(p, annual, n, method, first)
    if expected is None:
        with pytest.raises(DomainError) as exc:
            build_schedule(principal=p, annual_rate=annual, term_months=n, method=method, first_due_date=first)
        assert exc.value.code == "schedule_infeasible"
        return
    rows = build_schedule(principal=p, annual_rate=annual, term_months=n, method=method, first_due_date=first)
    assert rows == expected
    check_invariants(rows, p, n, method, first)


@settings(max_examples=100, deadline=None)
@given(
    p=st.decimals(min_value=D("100000"), max_value=D("10000000"), places=2),
    annual=st.decimals(min_value=D("0"), max_value=D("0.24"), places=6),
    n=terms,
)
def test_equal_installment_is_feasible_for_ordinary_loans(p: Decimal, annual: Decimal, n: int) -> None:
    """Rounding moves at most 0.01 a period of principal; compounded that is 0.01·((1+r)^n − 1)/r by the
    end, well below the last balance (≈ installment) for 100,000.00 or more at up to 24 % a year."""
    rows = build_schedule(
        principal=p,
        annual_rate=annual,
        term_months=n,
        method="equal_installment",
        first_due_date=date(2025, 1, 1),
    )
    check_invariants(rows, p, n, "equal_installment", date(2025, 1, 1))
