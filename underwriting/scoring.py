"""Pure functions of the risk assessment: scorecard validation and scoring, grades, and the rules.

No database access here: `underwriting.risk_services` gathers the facts (one query each) and calls these, so
every bin edge and every rule is unit-testable on its own. All figures are `Decimal`; nothing is rounded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from typing import Any, Final

from compliance import identity
from loanops.exceptions import InputError
from loanops.money import format_rate_percent

#: characteristic code → label (the order of the report and of the edit form)
CHARACTERISTICS: Final[dict[str, str]] = {
    "age": "年龄（周岁）",
    "annual_income": "年收入（元）",
    "dti": "负债收入比（月还款额 ÷ 月收入，含本笔）",
    "years_in_business": "工作/经营年限（年）",
    "overdue_count_24m": "近24个月逾期次数",
    "max_dpd_24m": "近24个月最长逾期天数",
    "inquiries_6m": "近6个月征信查询次数",
    "total_debt_ratio": "负债总额 ÷ 年收入",
    "collateral_ratio": "抵押担保覆盖率（担保物价值 ÷ 申请金额）",
}
GRADE_ORDER: Final = ("A", "B", "C", "D", "E")
CUTOFF_GRADES: Final = ("A", "B", "C", "D")  # E is everything below D's cut-off
POINTS_LIMIT: Final = 10_000

KNOCKOUT: Final = "knockout"
WARNING: Final = "warning"


# --- the seeded default scorecard ---------------------------------------------------------------


def _bins(*rows: tuple[str | None, str | None, int]) -> list[dict[str, Any]]:
    return [{"lower": lower, "upper": upper, "points": points} for lower, upper, points in rows]


DEFAULT_SCORECARD: Final[dict[str, Any]] = {
    "name": "个人及小微通用评分卡",
    "base_points": 400,
    "characteristics": {
        "age": {
            "bins": _bins((None, "22", 0), ("22", "25", 10), ("25", "35", 30), ("35", "50", 45),
                          ("50", "60", 30), ("60", None, 10)),
            "missing": 0,
        },
        "annual_income": {
            "bins": _bins((None, "50000", 0), ("50000", "100000", 20), ("100000", "200000", 40),
                          ("200000", "500000", 60), ("500000", None, 75)),
            "missing": 0,
        },
        "dti": {
            "bins": _bins((None, "0.2", 70), ("0.2", "0.35", 50), ("0.35", "0.5", 25), ("0.5", "0.7", 5),
                          ("0.7", None, 0)),
            "missing": 0,
        },
        "years_in_business": {
            "bins": _bins((None, "1", 0), ("1", "3", 15), ("3", "5", 30), ("5", "10", 45), ("10", None, 55)),
            "missing": 0,
        },
        "overdue_count_24m": {
            "bins": _bins((None, "1", 60), ("1", "3", 30), ("3", "6", 10), ("6", None, 0)),
            "missing": 15,
        },
        "max_dpd_24m": {
            "bins": _bins((None, "1", 40), ("1", "31", 20), ("31", "61", 5), ("61", None, 0)),
            "missing": 10,
        },
        "inquiries_6m": {
            "bins": _bins((None, "2", 40), ("2", "4", 25), ("4", "7", 10), ("7", None, 0)),
            "missing": 10,
        },
        "total_debt_ratio": {
            "bins": _bins((None, "0.5", 40), ("0.5", "1", 25), ("1", "2", 10), ("2", None, 0)),
            "missing": 10,
        },
        "collateral_ratio": {
            "bins": _bins((None, "0.01", 0), ("0.01", "0.5", 10), ("0.5", "1", 25), ("1", None, 40)),
            "missing": 0,
        },
    },
    "grade_cutoffs": {"A": 720, "B": 650, "C": 570, "D": 510},
}  # fmt: skip


# --- validation -----------------------------------------------------------------------------------


def _number(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool | float):
        raise ValueError
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError from exc
    if not number.is_finite():
        raise ValueError
    return number


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError
    number = int(str(value).strip())
    if abs(number) > POINTS_LIMIT:
        raise ValueError
    return number


def _edge_text(value: Decimal | None) -> str | None:
    if value is None:
        return None
    text = format(value.normalize(), "f")
    return text


def validate_scorecard(data: Mapping[str, Any]) -> dict[str, Any]:
    """Normalise and check a whole scorecard definition; raises one `InputError` listing every bad field.

    Field keys of the errors: ``name``, ``base_points``, ``grade_cutoffs``, and ``characteristics.<code>``.
    """
    fields: dict[str, list[str]] = {}

    def add(name: str, message: str) -> None:
        fields.setdefault(name, []).append(message)

    name = str(data.get("name") or "").strip()
    if not name:
        add("name", "请填写评分卡名称")
    elif len(name) > 80:
        add("name", "评分卡名称最多 80 个字")
    try:
        base_points = _int(data.get("base_points"))
    except (TypeError, ValueError):
        add("base_points", f"基础分必须是 -{POINTS_LIMIT} 到 {POINTS_LIMIT} 之间的整数")
        base_points = 0

    raw_characteristics = data.get("characteristics")
    characteristics: dict[str, Any] = {}
    if not isinstance(raw_characteristics, Mapping):
        add("characteristics", "评分项格式错误")
        raw_characteristics = {}
    unknown = [code for code in raw_characteristics if code not in CHARACTERISTICS]
    if unknown:
        add("characteristics", f"未知的评分项：{', '.join(map(str, unknown))}")
    for code, label in CHARACTERISTICS.items():
        key = f"characteristics.{code}"
        spec = raw_characteristics.get(code)
        if not isinstance(spec, Mapping) or not isinstance(spec.get("bins"), list | tuple) or not spec["bins"]:
            add(key, f"「{label}」至少需要一个分箱")
            continue
        try:
            missing = _int(spec.get("missing", 0))
        except (TypeError, ValueError):
            add(key, f"「{label}」的缺失值分数必须是整数")
            continue
        bins: list[dict[str, Any]] = []
        problem = ""
        previous_upper: Decimal | None = None
        for index, item in enumerate(spec["bins"]):
            if not isinstance(item, Mapping):
                problem = "分箱格式错误"
                break
            try:
                lower = None if item.get("lower") in (None, "") else _number(item.get("lower"))
                upper = None if item.get("upper") in (None, "") else _number(item.get("upper"))
                points = _int(item.get("points"))
            except (TypeError, ValueError):
                problem = f"第 {index + 1} 个分箱的上下限或分数无效"
                break
            first, last = index == 0, index == len(spec["bins"]) - 1
            if first and lower is not None:
                problem = "第一个分箱不能有下限（应覆盖所有更小的值）"
                break
            if last and upper is not None:
                problem = "最后一个分箱不能有上限（应覆盖所有更大的值）"
                break
            if not first and lower is None:
                problem = f"第 {index + 1} 个分箱缺少下限"
                break
            if not last and upper is None:
                problem = f"第 {index + 1} 个分箱缺少上限"
                break
            if not first and lower != previous_upper:
                problem = f"第 {index + 1} 个分箱的下限应等于上一个分箱的上限（分箱须首尾相接、不重叠）"
                break
            if lower is not None and upper is not None and not lower < upper:
                problem = f"第 {index + 1} 个分箱的上限必须大于下限"
                break
            bins.append({"lower": _edge_text(lower), "upper": _edge_text(upper), "points": points})
            previous_upper = upper
        if problem:
            add(key, f"「{label}」：{problem}")
            continue
        characteristics[code] = {"bins": bins, "missing": missing}

    raw_cutoffs = data.get("grade_cutoffs")
    cutoffs: dict[str, int] = {}
    if not isinstance(raw_cutoffs, Mapping):
        add("grade_cutoffs", "等级分数线格式错误")
    else:
        try:
            cutoffs = {grade: _int(raw_cutoffs.get(grade)) for grade in CUTOFF_GRADES}
        except (TypeError, ValueError):
            add("grade_cutoffs", "A–D 各等级的最低分必须是整数")
        else:
            values = [cutoffs[grade] for grade in CUTOFF_GRADES]
            if any(a <= b for a, b in pairwise(values)):
                add("grade_cutoffs", "等级分数线必须严格递减：A > B > C > D")
    if fields:
        raise InputError("评分卡有误，请检查标注的项目", fields=fields)
    return {
        "name": name,
        "base_points": base_points,
        "characteristics": characteristics,
        "grade_cutoffs": cutoffs,
    }


# --- scoring ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompiledBin:
    lower: Decimal | None
    upper: Decimal | None
    points: int

    def contains(self, value: Decimal) -> bool:
        return (self.lower is None or value >= self.lower) and (self.upper is None or value < self.upper)

    @property
    def label(self) -> str:
        if self.lower is None and self.upper is None:
            return "全部"
        if self.lower is None:
            return f"< {_edge_text(self.upper)}"
        if self.upper is None:
            return f"≥ {_edge_text(self.lower)}"
        return f"{_edge_text(self.lower)} ≤ x < {_edge_text(self.upper)}"


@dataclass(frozen=True)
class CompiledScorecard:
    base_points: int
    characteristics: tuple[tuple[str, tuple[CompiledBin, ...], int], ...]
    cutoffs: tuple[tuple[str, int], ...]
    version: int = 0


def compile_scorecard(
    *, base_points: int, characteristics: Mapping[str, Any], grade_cutoffs: Mapping[str, Any], version: int = 0
) -> CompiledScorecard:
    """Turn a stored (validated) definition into Decimal bins, in `CHARACTERISTICS` order."""
    compiled = []
    for code in CHARACTERISTICS:
        spec = characteristics.get(code)
        if spec is None:
            continue
        bins = tuple(
            CompiledBin(
                lower=None if item["lower"] is None else Decimal(item["lower"]),
                upper=None if item["upper"] is None else Decimal(item["upper"]),
                points=int(item["points"]),
            )
            for item in spec["bins"]
        )
        compiled.append((code, bins, int(spec.get("missing", 0))))
    cutoffs = tuple((grade, int(grade_cutoffs[grade])) for grade in CUTOFF_GRADES)
    return CompiledScorecard(
        base_points=int(base_points), characteristics=tuple(compiled), cutoffs=cutoffs, version=version
    )


def grade_for(score: int, cutoffs: Sequence[tuple[str, int]]) -> str:
    """A if score ≥ A's cut-off, else B if ≥ B's, … else E."""
    for grade, minimum in cutoffs:
        if score >= minimum:
            return grade
    return "E"


def score(card: CompiledScorecard, values: Mapping[str, Decimal | None]) -> tuple[int, str, list[dict[str, Any]]]:
    """(score, grade, per-characteristic points) of these values. A value of None scores the `missing` points."""
    total = card.base_points
    lines: list[dict[str, Any]] = []
    for code, bins, missing in card.characteristics:
        value = values.get(code)
        if value is None:
            points, label = missing, "缺失"
        else:
            chosen = next(item for item in bins if item.contains(value))  # bins cover everything
            points, label = chosen.points, chosen.label
        total += points
        lines.append({"code": code, "value": None if value is None else str(value), "bin": label, "points": points})
    return total, grade_for(total, card.cutoffs), lines


# --- facts ----------------------------------------------------------------------------------------


_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK: Final = "10X98765432"


def birth_date_from_id(id_number: str) -> date | None:
    """The birth date inside a valid 18-digit 居民身份证 number (GB 11643 check digit), or None.

    (`compliance.identity.clean_id_number` validates the region too, at about 1000× the cost; intake has
    validated the number already, the assessment only needs the date.)
    """
    text = (id_number or "").strip().upper()
    if len(text) != 18 or not text[:17].isdigit():
        return None
    if _ID_CHECK[sum(int(c) * w for c, w in zip(text, _ID_WEIGHTS, strict=False)) % 11] != text[17]:
        return None
    try:
        return date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        return None


def age_on(birth: date | None, day: date) -> int | None:
    return None if birth is None else identity.age_on(birth, day)


def monthly_payment(principal: Decimal, annual_rate: Decimal, term_months: int) -> Decimal:
    """Equal-installment payment P·r·(1+r)^n / ((1+r)^n − 1), r = annual/12 (unrounded: used for ratios)."""
    if term_months <= 0:
        return principal
    rate = annual_rate / 12
    if rate == 0:
        return principal / term_months
    growth = (1 + rate) ** term_months
    return principal * rate * growth / (growth - 1)


@dataclass
class Facts:
    """Everything the rules and the scorecard look at, gathered by `risk_services.assessment_facts`."""

    applicant_kind: str
    age: int | None
    product_min_age: int
    product_max_age: int
    stated_annual_income: Decimal
    years_in_business: int
    requested_amount: Decimal
    new_monthly_payment: Decimal
    has_credit_report: bool = False
    current_overdue_count: int = 0
    overdue_count_24m: int = 0
    max_dpd_24m: int = 0
    inquiries_6m: int = 0
    total_debt: Decimal = Decimal(0)
    monthly_debt_payment: Decimal = Decimal(0)
    verified_annual_income: Decimal | None = None
    collateral_value: Decimal = Decimal(0)
    recent_applications: int = 0  # other applications from this ID number or phone within the window
    blacklist_hit: str = ""  # the blacklist entry's reason when the applicant is listed
    industry_warning: str = ""  # the early-warning text when the applicant's industry is under warning
    industry_warning_available: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def annual_income(self) -> Decimal:
        """The income the ratios use: the verified one when ops entered it, else the stated one."""
        return self.verified_annual_income if self.verified_annual_income is not None else self.stated_annual_income

    @property
    def dti(self) -> Decimal | None:
        monthly_income = self.annual_income / 12
        if monthly_income <= 0:
            return None
        return (self.monthly_debt_payment + self.new_monthly_payment) / monthly_income

    def characteristic_values(self) -> dict[str, Decimal | None]:
        credit = self.has_credit_report
        income = self.annual_income
        return {
            "age": None if self.age is None else Decimal(self.age),
            "annual_income": income,
            "dti": self.dti,
            "years_in_business": Decimal(self.years_in_business),
            "overdue_count_24m": Decimal(self.overdue_count_24m) if credit else None,
            "max_dpd_24m": Decimal(self.max_dpd_24m) if credit else None,
            "inquiries_6m": Decimal(self.inquiries_6m) if credit else None,
            "total_debt_ratio": (self.total_debt / income) if credit and income > 0 else None,
            "collateral_ratio": self.collateral_value / self.requested_amount if self.requested_amount > 0 else None,
        }


@dataclass(frozen=True)
class Policy:
    """The thresholds of the rules (settings, see `risk_services.policy`)."""

    max_dti: Decimal
    serious_dpd: int
    repeat_window_days: int
    repeat_min_others: int
    income_deviation: Decimal


def _percent(value: Decimal) -> str:
    return format_rate_percent(value)


def _result(code: str, kind: str, hit: bool, message: str, reject_reason: str = "") -> dict[str, Any]:
    return {"code": code, "kind": kind, "hit": hit, "message": message, "reject_reason": reject_reason}


def evaluate_rules(facts: Facts, policy: Policy) -> list[dict[str, Any]]:
    """Every rule's result, hit or not, knock-outs first. Each has a reason code and a Chinese sentence;
    `reject_reason` names the `REJECT_REASONS` code a rejection on this rule would use."""
    results: list[dict[str, Any]] = []

    # knock-outs
    if facts.blacklist_hit:
        results.append(
            _result("ko_blacklist", KNOCKOUT, True, f"借款人命中黑名单：{facts.blacklist_hit}", "fraud_suspected")
        )
    else:
        results.append(_result("ko_blacklist", KNOCKOUT, False, "借款人未命中黑名单"))

    if facts.age is None:
        if facts.applicant_kind == "individual":
            results.append(_result("ko_age", KNOCKOUT, True, "无法从身份证号确定借款人年龄", "age_ineligible"))
        else:
            results.append(_result("ko_age", KNOCKOUT, False, "企业借款人未登记身份证号，不适用年龄准入"))
    elif not (facts.product_min_age <= facts.age <= facts.product_max_age):
        results.append(
            _result(
                "ko_age",
                KNOCKOUT,
                True,
                f"借款人年龄 {facts.age} 周岁，不在产品准入范围 {facts.product_min_age}–{facts.product_max_age} 周岁内",
                "age_ineligible",
            )
        )
    else:
        results.append(
            _result(
                "ko_age",
                KNOCKOUT,
                False,
                f"借款人年龄 {facts.age} 周岁，在产品准入范围 {facts.product_min_age}–{facts.product_max_age} 周岁内",
            )
        )

    dti = facts.dti
    if dti is None:
        results.append(_result("ko_dti", KNOCKOUT, True, "借款人无可核实的收入，无法覆盖还款", "income_insufficient"))
    elif dti > policy.max_dti:
        results.append(
            _result(
                "ko_dti",
                KNOCKOUT,
                True,
                f"负债收入比 {_percent(dti)}（含本笔月供）超过上限 {_percent(policy.max_dti)}",
                "debt_ratio",
            )
        )
    else:
        results.append(
            _result("ko_dti", KNOCKOUT, False, f"负债收入比 {_percent(dti)}，未超过上限 {_percent(policy.max_dti)}")
        )

    if not facts.has_credit_report:
        results.append(_result("ko_serious_overdue", KNOCKOUT, False, "尚未录入征信摘要，无法检查严重逾期"))
    elif facts.current_overdue_count > 0:
        results.append(
            _result(
                "ko_serious_overdue",
                KNOCKOUT,
                True,
                f"征信显示当前有 {facts.current_overdue_count} 个账户处于逾期状态",
                "credit_history",
            )
        )
    elif facts.max_dpd_24m > policy.serious_dpd:
        results.append(
            _result(
                "ko_serious_overdue",
                KNOCKOUT,
                True,
                f"征信显示近24个月最长逾期 {facts.max_dpd_24m} 天，超过 {policy.serious_dpd} 天",
                "credit_history",
            )
        )
    else:
        results.append(
            _result(
                "ko_serious_overdue",
                KNOCKOUT,
                False,
                f"无当前逾期，近24个月最长逾期 {facts.max_dpd_24m} 天，未超过 {policy.serious_dpd} 天",
            )
        )

    # warnings
    if not facts.has_credit_report:
        results.append(
            _result("w_no_credit_report", WARNING, True, "尚未录入征信摘要：征信相关评分项按缺失计分", "other")
        )
    else:
        results.append(_result("w_no_credit_report", WARNING, False, "已录入征信摘要"))

    if facts.recent_applications >= policy.repeat_min_others:
        results.append(
            _result(
                "w_repeat_applications",
                WARNING,
                True,
                f"近 {policy.repeat_window_days} 天内同一身份证号或手机号另有 {facts.recent_applications} 笔申请",
                "fraud_suspected",
            )
        )
    else:
        results.append(
            _result(
                "w_repeat_applications",
                WARNING,
                False,
                f"近 {policy.repeat_window_days} 天内同一身份证号或手机号另有 {facts.recent_applications} 笔申请，未达提示标准",
            )
        )

    verified = facts.verified_annual_income
    if verified is None:
        results.append(_result("w_income_mismatch", WARNING, False, "尚未录入按材料核实的收入，未比对"))
    else:
        stated = facts.stated_annual_income
        deviation = abs(stated - verified) / verified if verified > 0 else (Decimal(1) if stated > 0 else Decimal(0))
        hit = deviation > policy.income_deviation
        verb = "超过" if hit else "未超过"
        results.append(
            _result(
                "w_income_mismatch",
                WARNING,
                hit,
                f"申报年收入 {stated:,} 元与材料核实的 {verified:,} 元相差 {_percent(deviation)}，"
                f"{verb}允许偏差 {_percent(policy.income_deviation)}",
                "income_unverified" if hit else "",
            )
        )

    if not facts.industry_warning_available:
        results.append(_result("w_industry_warning", WARNING, False, "行业预警数据尚未接入，未检查"))
    elif facts.industry_warning:
        results.append(
            _result(
                "w_industry_warning",
                WARNING,
                True,
                f"借款人所属行业处于预警状态：{facts.industry_warning}",
                "industry_restricted",
            )
        )
    else:
        results.append(_result("w_industry_warning", WARNING, False, "借款人所属行业未处于预警状态"))
    return results
