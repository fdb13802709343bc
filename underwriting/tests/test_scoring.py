"""Pure tests of the scorecard and the rules (underwriting.scoring): every bin edge of the seeded default
scorecard on both sides, the grade cut-offs, validation of a scorecard definition, and every rule."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from itertools import pairwise
from typing import Any

import pytest

from loanops.exceptions import InputError
from underwriting.scoring import (
    CHARACTERISTICS,
    DEFAULT_SCORECARD,
    Facts,
    Policy,
    age_on,
    birth_date_from_id,
    compile_scorecard,
    evaluate_rules,
    grade_for,
    monthly_payment,
    score,
    validate_scorecard,
)

CARD = compile_scorecard(**{k: v for k, v in DEFAULT_SCORECARD.items() if k != "name"})
#: the smallest step of each characteristic's values (ages, counts and days are whole numbers)
STEP = {
    "age": Decimal(1),
    "annual_income": Decimal("0.01"),
    "dti": Decimal("0.0001"),
    "years_in_business": Decimal(1),
    "overdue_count_24m": Decimal(1),
    "max_dpd_24m": Decimal(1),
    "inquiries_6m": Decimal(1),
    "total_debt_ratio": Decimal("0.0001"),
    "collateral_ratio": Decimal("0.0001"),
}


def _points_of(code: str, value: Decimal | None) -> int:
    _, _, lines = score(CARD, {code: value})
    return next(line["points"] for line in lines if line["code"] == code)


def _edges() -> list[Any]:
    cases = []
    for code, spec in DEFAULT_SCORECARD["characteristics"].items():
        bins = spec["bins"]
        for previous, current in pairwise(bins):
            edge = Decimal(current["lower"])
            cases.append(pytest.param(code, edge, previous["points"], current["points"], id=f"{code}@{edge}"))
    return cases


@pytest.mark.parametrize(("code", "edge", "below", "at"), _edges())
def test_every_bin_edge_of_the_default_scorecard(code: str, edge: Decimal, below: int, at: int) -> None:
    """A bin includes its lower edge and excludes its upper edge: edge − step scores the lower bin."""
    assert below != at, "adjacent bins with the same points would make this edge untestable"
    assert _points_of(code, edge - STEP[code]) == below
    assert _points_of(code, edge) == at


@pytest.mark.parametrize("code", list(CHARACTERISTICS))
def test_open_ends_and_missing_values(code: str) -> None:
    spec = DEFAULT_SCORECARD["characteristics"][code]
    assert _points_of(code, Decimal("-1000000")) == spec["bins"][0]["points"]
    assert _points_of(code, Decimal("100000000")) == spec["bins"][-1]["points"]
    assert _points_of(code, None) == spec["missing"]


def test_score_is_base_plus_points_and_lists_every_characteristic() -> None:
    values = {
        "age": Decimal(40),
        "annual_income": Decimal("240000"),
        "dti": Decimal("0.3"),
        "years_in_business": Decimal(6),
        "overdue_count_24m": Decimal(0),
        "max_dpd_24m": Decimal(0),
        "inquiries_6m": Decimal(1),
        "total_debt_ratio": Decimal("0.2"),
        "collateral_ratio": Decimal(0),
    }
    total, grade, lines = score(CARD, values)
    assert [line["code"] for line in lines] == list(CHARACTERISTICS)
    assert total == 400 + 45 + 60 + 50 + 45 + 60 + 40 + 40 + 40 + 0 == sum(line["points"] for line in lines) + 400
    assert grade == "A"
    assert lines[0] == {"code": "age", "value": "40", "bin": "35 ≤ x < 50", "points": 45}


CUTOFFS = (("A", 720), ("B", 650), ("C", 570), ("D", 510))


@pytest.mark.parametrize(
    ("value", "grade"),
    [
        (10_000, "A"), (720, "A"), (719, "B"), (650, "B"), (649, "C"), (570, "C"), (569, "D"), (510, "D"),
        (509, "E"), (-5, "E"),
    ],
)  # fmt: skip
def test_grade_cutoffs_on_both_sides(value: int, grade: str) -> None:
    assert grade_for(value, CUTOFFS) == grade


def test_default_scorecard_is_valid_and_round_trips() -> None:
    clean = validate_scorecard(DEFAULT_SCORECARD)
    assert clean["characteristics"] == DEFAULT_SCORECARD["characteristics"]
    assert clean["grade_cutoffs"] == {"A": 720, "B": 650, "C": 570, "D": 510}


def _definition(**changes: Any) -> dict[str, Any]:
    import copy

    data = copy.deepcopy(DEFAULT_SCORECARD)
    data.update(changes)
    return data


def _bad_age(bins: list[dict[str, Any]]) -> dict[str, Any]:
    data = _definition()
    data["characteristics"]["age"]["bins"] = bins
    return data


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (_definition(name=""), "name"),
        (_definition(base_points="abc"), "base_points"),
        (_definition(base_points=1.5), "base_points"),
        (_definition(grade_cutoffs={"A": 600, "B": 650, "C": 570, "D": 510}), "grade_cutoffs"),
        (_definition(grade_cutoffs={"A": 700, "B": 650, "C": 650, "D": 510}), "grade_cutoffs"),
        (_definition(grade_cutoffs={"A": 700, "B": 650, "C": 570}), "grade_cutoffs"),
        (_bad_age([]), "characteristics.age"),
        (_bad_age([{"lower": "18", "upper": None, "points": 1}]), "characteristics.age"),  # first bin has a lower edge
        (_bad_age([{"lower": None, "upper": "30", "points": 1}]), "characteristics.age"),  # last bin has an upper edge
        (
            _bad_age([{"lower": None, "upper": "30", "points": 1}, {"lower": "31", "upper": None, "points": 2}]),
            "characteristics.age",
        ),  # a gap
        (
            _bad_age(
                [
                    {"lower": None, "upper": "30", "points": 1},
                    {"lower": "30", "upper": "30", "points": 2},
                    {"lower": "30", "upper": None, "points": 3},
                ]
            ),
            "characteristics.age",
        ),  # an empty bin
        (
            _bad_age([{"lower": None, "upper": "x", "points": 1}, {"lower": "x", "upper": None, "points": 2}]),
            "characteristics.age",
        ),
        (
            _bad_age([{"lower": None, "upper": "30", "points": "ten"}, {"lower": "30", "upper": None, "points": 2}]),
            "characteristics.age",
        ),
    ],
)
def test_bad_scorecard_definitions_are_refused_with_the_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError) as error:
        validate_scorecard(data)
    assert field in error.value.fields


def test_unknown_and_missing_characteristics_are_refused() -> None:
    data = _definition()
    data["characteristics"]["shoe_size"] = data["characteristics"].pop("age")
    with pytest.raises(InputError) as error:
        validate_scorecard(data)
    assert "characteristics" in error.value.fields
    assert "characteristics.age" in error.value.fields


# --- facts ------------------------------------------------------------------------------------------


def test_birth_date_and_age() -> None:
    assert birth_date_from_id("110105199003070025") == date(1990, 3, 7)
    assert birth_date_from_id("110105199003070026") is None  # bad check digit
    assert birth_date_from_id("") is None
    birth = date(1990, 3, 7)
    assert age_on(birth, date(2026, 3, 6)) == 35
    assert age_on(birth, date(2026, 3, 7)) == 36
    assert age_on(None, date(2026, 3, 7)) is None


def test_monthly_payment_is_the_annuity() -> None:
    assert monthly_payment(Decimal(12000), Decimal(0), 12) == Decimal(1000)
    payment = monthly_payment(Decimal(100000), Decimal("0.12"), 12)
    assert Decimal("8884.87") < payment < Decimal("8884.89")


# --- rules ------------------------------------------------------------------------------------------

POLICY = Policy(
    max_dti=Decimal("0.55"),
    serious_dpd=90,
    repeat_window_days=30,
    repeat_min_others=1,
    income_deviation=Decimal("0.3"),
)


def good_facts(**changes: Any) -> Facts:
    facts = Facts(
        applicant_kind="individual",
        age=36,
        product_min_age=18,
        product_max_age=65,
        stated_annual_income=Decimal("240000"),
        years_in_business=5,
        requested_amount=Decimal("100000"),
        new_monthly_payment=Decimal("5000"),  # + 1000 debt = 6000 / 20000 = 30 %
        has_credit_report=True,
        monthly_debt_payment=Decimal("1000"),
        verified_annual_income=Decimal("240000"),
        industry_warning_available=True,
    )
    return replace(facts, **changes)


def results_by_code(facts: Facts, policy: Policy = POLICY) -> dict[str, dict[str, Any]]:
    results = evaluate_rules(facts, policy)
    assert all(r["message"] and r["code"] and r["kind"] in ("knockout", "warning") for r in results)
    return {r["code"]: r for r in results}


def hits(facts: Facts, policy: Policy = POLICY) -> set[str]:
    return {code for code, r in results_by_code(facts, policy).items() if r["hit"]}


def test_a_clean_applicant_hits_nothing() -> None:
    results = results_by_code(good_facts())
    assert set(results) == {
        "ko_blacklist", "ko_age", "ko_dti", "ko_serious_overdue",
        "w_no_credit_report", "w_repeat_applications", "w_income_mismatch", "w_industry_warning",
    }  # fmt: skip
    assert not any(r["hit"] for r in results.values())


def test_blacklist_knocks_out() -> None:
    result = results_by_code(good_facts(blacklist_hit="法院失信被执行人"))["ko_blacklist"]
    assert result["hit"] and result["kind"] == "knockout"
    assert "法院失信被执行人" in result["message"] and result["reject_reason"] == "fraud_suspected"


@pytest.mark.parametrize(("age", "hit"), [(17, True), (18, False), (65, False), (66, True)])
def test_age_outside_the_product_range_knocks_out(age: int, hit: bool) -> None:
    result = results_by_code(good_facts(age=age))["ko_age"]
    assert result["hit"] is hit
    assert str(age) in result["message"]


def test_unknown_age_knocks_out_an_individual_but_not_an_enterprise() -> None:
    assert "ko_age" in hits(good_facts(age=None))
    assert "ko_age" not in hits(good_facts(age=None, applicant_kind="enterprise"))


@pytest.mark.parametrize(
    ("new_payment", "hit"),
    [(Decimal("10000"), False), (Decimal("10000.01"), True)],  # (1000 + p) / 20000 vs 55 %: 11000 is exactly 55 %
)
def test_dti_above_the_limit_knocks_out(new_payment: Decimal, hit: bool) -> None:
    result = results_by_code(good_facts(new_monthly_payment=new_payment))["ko_dti"]
    assert result["hit"] is hit
    assert "55.00%" in result["message"]


def test_dti_limit_is_the_setting_and_no_income_knocks_out() -> None:
    strict = replace(POLICY, max_dti=Decimal("0.25"))
    assert "ko_dti" in hits(good_facts(), strict)
    none = good_facts(stated_annual_income=Decimal(0), verified_annual_income=None)
    assert none.dti is None
    assert results_by_code(none)["ko_dti"]["reject_reason"] == "income_insufficient"
    assert "ko_dti" in hits(none)


def test_dti_uses_the_verified_income_when_entered() -> None:
    facts = good_facts(stated_annual_income=Decimal("1000000"), verified_annual_income=Decimal("120000"))
    assert facts.dti == Decimal(6000) / Decimal(10000)
    assert "ko_dti" in hits(facts)


@pytest.mark.parametrize(
    ("current", "max_dpd", "hit"),
    [(0, 90, False), (0, 91, True), (1, 0, True), (0, 0, False)],
)
def test_serious_overdue_knocks_out(current: int, max_dpd: int, hit: bool) -> None:
    result = results_by_code(good_facts(current_overdue_count=current, max_dpd_24m=max_dpd, overdue_count_24m=1))
    assert result["ko_serious_overdue"]["hit"] is hit
    if hit:
        assert result["ko_serious_overdue"]["reject_reason"] == "credit_history"


def test_no_credit_report_is_a_warning_not_a_knockout() -> None:
    facts = good_facts(has_credit_report=False)
    assert hits(facts) == {"w_no_credit_report"}
    assert facts.characteristic_values()["overdue_count_24m"] is None


@pytest.mark.parametrize(("others", "hit"), [(0, False), (1, True), (3, True)])
def test_repeat_applications_warn(others: int, hit: bool) -> None:
    result = results_by_code(good_facts(recent_applications=others))["w_repeat_applications"]
    assert result["hit"] is hit and result["kind"] == "warning"
    assert "30 天" in result["message"]


@pytest.mark.parametrize(
    ("stated", "verified", "hit"),
    [
        ("130000", "100000", False),  # exactly 30 %
        ("130001", "100000", True),
        ("70000", "100000", False),
        ("69999", "100000", True),
        ("1000", "0", True),
    ],
)
def test_stated_income_far_from_the_documents_warns(stated: str, verified: str, hit: bool) -> None:
    facts = good_facts(
        stated_annual_income=Decimal(stated), verified_annual_income=Decimal(verified), new_monthly_payment=Decimal(0)
    )
    assert results_by_code(facts)["w_income_mismatch"]["hit"] is hit


def test_income_not_compared_until_verified() -> None:
    result = results_by_code(good_facts(verified_annual_income=None))["w_income_mismatch"]
    assert not result["hit"] and "未比对" in result["message"]


def test_industry_warning() -> None:
    assert "w_industry_warning" in hits(good_facts(industry_warning="批发零售业不良率上升"))
    unavailable = results_by_code(good_facts(industry_warning_available=False))["w_industry_warning"]
    assert not unavailable["hit"] and "尚未接入" in unavailable["message"]
