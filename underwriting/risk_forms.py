"""Back-office forms of the risk assessment. Forms check types; `underwriting.risk_services` and
`underwriting.scoring.validate_scorecard` check everything else and their field errors land back here."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from django import forms
from django.utils.translation import gettext_lazy as _

from loanops.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from underwriting.assessment import GRADES, ApprovalAuthority, Scorecard
from underwriting.scoring import CHARACTERISTICS, CUTOFF_GRADES


def _money(label: Any, *, required: bool = True, help_text: Any = "") -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=required,
        help_text=help_text,
        min_value=Decimal(0),
        max_digits=MONEY_MAX_DIGITS,
        decimal_places=MONEY_DECIMAL_PLACES,
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
    )


def _count(label: Any) -> forms.IntegerField:
    return forms.IntegerField(
        label=label, min_value=0, initial=0, widget=forms.NumberInput(attrs={"step": "1", "inputmode": "numeric"})
    )


class CreditReportForm(forms.Form):
    report_date = forms.DateField(
        label=_("征信报告日期"), widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})
    )
    current_overdue_count = _count(_("当前逾期账户数"))
    overdue_count_24m = _count(_("近24个月逾期次数"))
    max_dpd_24m = _count(_("近24个月最长逾期天数"))
    inquiries_6m = _count(_("近6个月查询次数"))
    total_debt = _money(_("负债总额（元）"))
    monthly_debt_payment = _money(_("现有月还款额（元）"))
    verified_annual_income = _money(
        _("核实年收入（元）"), required=False, help_text=_("按收入证明、银行流水等材料核实；未核实请留空")
    )
    collateral_value = _money(_("抵押/担保物价值（元）"), help_text=_("无抵押担保填 0"))


class NotesForm(forms.Form):
    notes = forms.CharField(
        label=_("审查意见"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class RequiredNotesForm(forms.Form):
    notes = forms.CharField(label=_("审查意见"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))


_OPEN_END: Final = {"", "*", "-", "以上", "+", "∞"}
_SPLIT: Final = re.compile(r"[\s,，:：]+")


def bins_to_text(bins: list[dict[str, Any]]) -> str:
    """Stored bins → the edit format: one line per bin, "上限 分值"; the last line "以上 分值"."""
    return "\n".join(f"{item['upper'] if item['upper'] is not None else '以上'} {item['points']}" for item in bins)


def text_to_bins(text: str) -> list[dict[str, Any]]:
    """The edit format → bins (each bin's lower edge is the previous line's upper edge). Raises ValueError."""
    bins: list[dict[str, Any]] = []
    lower: str | None = None
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if not lines:
        raise ValueError("请至少填写一行")
    for number, line in enumerate(lines, start=1):
        parts = [part for part in _SPLIT.split(line) if part]
        if len(parts) != 2:
            raise ValueError(f"第 {number} 行应为「上限 分值」两项，如「25 10」；最后一行为「以上 分值」")
        upper_text, points_text = parts
        if not re.fullmatch(r"-?\d{1,5}", points_text):
            raise ValueError(f"第 {number} 行的分值应为整数")
        upper: str | None
        if upper_text in _OPEN_END:
            upper = None
        else:
            try:
                value = Decimal(upper_text)
            except InvalidOperation as exc:
                raise ValueError(f"第 {number} 行的上限不是数字") from exc
            if not value.is_finite():
                raise ValueError(f"第 {number} 行的上限不是数字")
            upper = upper_text
        bins.append({"lower": lower, "upper": upper, "points": int(points_text)})
        lower = upper
    return bins


class ScorecardForm(forms.Form):
    """A whole scorecard; saving creates a new version (see `risk_services.scorecard_create_version`)."""

    name = forms.CharField(label=_("评分卡名称"), max_length=80)
    base_points = forms.IntegerField(label=_("基础分"), min_value=-10000, max_value=10000)
    note = forms.CharField(
        label=_("版本说明"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("本次修改了什么、为什么"),
    )  # fmt: skip
    activate = forms.BooleanField(label=_("保存后立即启用"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for grade in CUTOFF_GRADES:
            self.fields[f"cutoff_{grade}"] = forms.IntegerField(
                label=_("%(grade)s 级最低分") % {"grade": grade}, min_value=-10000, max_value=10000
            )
        for code, label in CHARACTERISTICS.items():
            self.fields[f"bins_{code}"] = forms.CharField(
                label=label,
                widget=forms.Textarea(attrs={"rows": 6, "class": "mono"}),
                help_text=_("每行「上限 分值」，区间含下限不含上限；最后一行写「以上 分值」"),
            )
            self.fields[f"missing_{code}"] = forms.IntegerField(
                label=_("%(label)s：缺失时分值") % {"label": label}, min_value=-10000, max_value=10000, initial=0
            )

    @property
    def characteristic_rows(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        return [(self[f"bins_{code}"], self[f"missing_{code}"]) for code in CHARACTERISTICS]

    @property
    def cutoff_fields(self) -> list[forms.BoundField]:
        return [self[f"cutoff_{grade}"] for grade in CUTOFF_GRADES]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for code in CHARACTERISTICS:
            key = f"bins_{code}"
            if key in cleaned:
                try:
                    cleaned[f"parsed_{code}"] = text_to_bins(cleaned[key])
                except ValueError as exc:
                    self.add_error(key, str(exc))
        return cleaned

    def service_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "base_points": data["base_points"],
            "grade_cutoffs": {grade: data[f"cutoff_{grade}"] for grade in CUTOFF_GRADES},
            "characteristics": {
                code: {"bins": data[f"parsed_{code}"], "missing": data[f"missing_{code}"]} for code in CHARACTERISTICS
            },
        }

    #: service error key → form field
    @staticmethod
    def field_map() -> dict[str, str]:
        mapping = {f"characteristics.{code}": f"bins_{code}" for code in CHARACTERISTICS}
        mapping["grade_cutoffs"] = "cutoff_A"
        return mapping


def authority_initial(row: ApprovalAuthority) -> dict[str, Any]:
    return {
        "position": row.position,
        "grades": row.grades,
        "max_amount": row.max_amount,
        "levels": row.levels,
        "description": row.description,
    }


def scorecard_initial(scorecard: Scorecard) -> dict[str, Any]:
    initial: dict[str, Any] = {"name": scorecard.name, "base_points": scorecard.base_points}
    for grade in CUTOFF_GRADES:
        initial[f"cutoff_{grade}"] = scorecard.grade_cutoffs.get(grade)
    for code in CHARACTERISTICS:
        spec = scorecard.characteristics.get(code) or {"bins": [], "missing": 0}
        initial[f"bins_{code}"] = bins_to_text(spec["bins"])
        initial[f"missing_{code}"] = spec.get("missing", 0)
    return initial


class AuthorityForm(forms.Form):
    """A row of the approval authority matrix (`risk_services.authority_save` checks the rest)."""

    position = forms.IntegerField(
        label=_("顺序"), min_value=1, max_value=32000, help_text=_("按顺序匹配，第一条符合的生效")
    )
    grades = forms.MultipleChoiceField(
        label=_("风险等级"), choices=[(g, g) for g in GRADES], widget=forms.CheckboxSelectMultiple
    )
    max_amount = _money(_("金额上限（元）"), required=False, help_text=_("不限请留空"))
    levels = forms.TypedChoiceField(
        label=_("所需审批"),
        coerce=int,
        choices=[(1, _("风控经理一级审批")), (2, _("风控经理 + 部门经理两级审批")), (0, _("不得审批通过"))],
    )
    description = forms.CharField(label=_("说明"), max_length=200, required=False)
