"""Back-office forms of the product stage: the repayment calculator and the product catalogue.

Forms check types and the units they present (rates are typed as percentages here); ranges and
consistency are checked once, by `loanops.schedule.validate_schedule_input` and
`underwriting.services.validate_product_data`, whose field errors the views put back on these fields.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Final

from django import forms
from django.utils.translation import gettext_lazy as _

from applications.models import ApplicantType, DocumentType, Industry, Product
from loanops.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from loanops.types import RepaymentMethod, RiskGrade
from underwriting.matching import product_rate_bands, product_terms

HUNDRED: Final = Decimal(100)
#: a rate is stored with 6 decimals, so a percentage has at most 4
PERCENT_DECIMAL_PLACES: Final = 4


def percent_to_rate(value: Decimal) -> Decimal:
    """4.9 (%) → 0.049 (the annual decimal the services and the schedule take). Exact for 4 decimals."""
    return value / HUNDRED


def rate_to_percent_text(rate: Decimal) -> str:
    """0.049000 → "4.9" (no exponent, no trailing zeros), for a form's initial value."""
    text = f"{rate * HUNDRED:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _amount(label: Any, **kwargs: Any) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        max_digits=MONEY_MAX_DIGITS,
        decimal_places=MONEY_DECIMAL_PLACES,
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
        **kwargs,
    )


def _percent(label: Any, *, help_text: Any = "", required: bool = True) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        help_text=help_text,
        required=required,
        max_digits=PERCENT_DECIMAL_PLACES + 3,
        decimal_places=PERCENT_DECIMAL_PLACES,
        min_value=Decimal(0),
        max_value=HUNDRED,
        error_messages={
            "min_value": _("请输入 0 到 100 之间的百分数"),
            "max_value": _("请输入 0 到 100 之间的百分数（按百分比填写，如 4.9 表示 4.9%%）"),
            "max_decimal_places": _("百分数最多保留 4 位小数"),
        },
        widget=forms.NumberInput(attrs={"step": "0.0001", "inputmode": "decimal"}),
    )


class CalculatorForm(forms.Form):
    """还款试算. The annual rate is typed as a percentage (4.9 → 0.049)."""

    principal = _amount(_("贷款本金（元）"), initial=Decimal("100000"))
    annual_rate_percent = _percent(
        _("年利率（%）"), help_text=_("按年化百分比填写，如 4.9 表示年利率 4.9%（即 0.049）")
    )
    term_months = forms.IntegerField(
        label=_("期限（月）"), initial=12, widget=forms.NumberInput(attrs={"step": "1", "inputmode": "numeric"})
    )
    method = forms.ChoiceField(label=_("还款方式"), choices=RepaymentMethod.choices)
    first_due_date = forms.DateField(
        label=_("首期还款日"), widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})
    )

    #: service / schedule field → form field
    FIELD_MAP: Final = {"annual_rate": "annual_rate_percent"}

    def schedule_kwargs(self) -> dict[str, Any]:
        """The cleaned input as `build_schedule` keyword arguments."""
        data = self.cleaned_data
        return {
            "principal": data["principal"],
            "annual_rate": percent_to_rate(data["annual_rate_percent"]),
            "term_months": data["term_months"],
            "method": data["method"],
            "first_due_date": data["first_due_date"],
        }


#: the product's rate fields: service field → form field (typed as a percentage)
PRODUCT_RATE_FIELDS: Final = {
    "penalty_surcharge": "penalty_surcharge_percent",
    "prepayment_fee_rate": "prepayment_fee_rate_percent",
    "origination_fee_rate": "origination_fee_rate_percent",
}
#: grade → (form field of the band's minimum, of its maximum), both typed as percentages
BAND_FIELDS: Final = {grade: (f"rate_{grade}_min_percent", f"rate_{grade}_max_percent") for grade in RiskGrade.values}
_TERMS_SPLIT: Final = re.compile(r"[\s,，、;；]+")


def terms_text(terms: list[int]) -> str:
    return ", ".join(str(term) for term in terms)


class ProductForm(forms.Form):
    """A loan product for `product_create` / `product_update`. Rates are percentages on the form; the rate
    band of each risk grade is a pair of fields (both blank: the grade is not served)."""

    code = forms.CharField(
        label=_("产品代码"),
        max_length=40,
        help_text=_("字母、数字、连字符或下划线，如 consumer-std；创建后不可修改"),
    )
    name = forms.CharField(label=_("产品名称"), max_length=80)
    applicant_type = forms.ChoiceField(label=_("适用借款人"), choices=ApplicantType.choices)
    min_amount = _amount(_("最低金额（元）"))
    max_amount = _amount(_("最高金额（元）"))
    allowed_terms = forms.CharField(
        label=_("可选期限（月）"),
        max_length=400,
        help_text=_("借款人可选择的期限，用逗号分隔，如 3, 6, 12, 24, 36"),
        widget=forms.TextInput(attrs={"inputmode": "numeric"}),
    )
    repayment_methods = forms.MultipleChoiceField(
        label=_("还款方式"), choices=RepaymentMethod.choices, widget=forms.CheckboxSelectMultiple, required=False
    )
    required_documents = forms.MultipleChoiceField(
        label=_("必备材料"), choices=DocumentType.choices, widget=forms.CheckboxSelectMultiple, required=False
    )
    min_age = forms.IntegerField(label=_("最低年龄（周岁）"), widget=forms.NumberInput(attrs={"inputmode": "numeric"}))
    max_age = forms.IntegerField(label=_("最高年龄（周岁）"), widget=forms.NumberInput(attrs={"inputmode": "numeric"}))
    excluded_industries = forms.MultipleChoiceField(
        label=_("禁入行业"),
        choices=Industry.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("所属行业在此列表中的借款人不能申请本产品"),
    )
    penalty_surcharge_percent = _percent(
        _("罚息加收比例（%）"), help_text=_("罚息利率 = 合同利率 ×（1 + 加收比例）；如 50 表示在合同利率上加收 50%")
    )
    compound_overdue_interest = forms.BooleanField(label=_("逾期利息计复利"), required=False)
    prepayment_fee_rate_percent = _percent(_("提前还款手续费率（%）"), help_text=_("按提前还款本金计收"))
    origination_fee_rate_percent = _percent(
        _("服务费率（%，一次性）"), help_text=_("放款时从本金中一次性扣收，计入年化利率")
    )
    is_active = forms.BooleanField(label=_("在售"), required=False)

    #: service field → form field, for the services' field errors
    FIELD_MAP: Final = {
        **PRODUCT_RATE_FIELDS,
        "min_term_months": "allowed_terms",
        "max_term_months": "allowed_terms",
    }

    def __init__(self, *args: Any, instance: Product | None = None, **kwargs: Any) -> None:
        self.instance = instance
        if instance is not None:
            kwargs.setdefault("initial", product_initial(instance))
        super().__init__(*args, **kwargs)
        for grade, (low, high) in BAND_FIELDS.items():
            self.fields[low] = _percent(_("%(grade)s 级最低年利率（%%）") % {"grade": grade}, required=False)
            self.fields[high] = _percent(_("%(grade)s 级最高年利率（%%）") % {"grade": grade}, required=False)
        if instance is not None:  # the code identifies the product to other systems: fixed once created
            self.fields["code"].disabled = True
            self.fields["code"].help_text = _("产品代码创建后不可修改")

    def band_rows(self) -> list[dict[str, Any]]:
        """For the template: one row per grade with its two bound fields."""
        return [{"grade": grade, "low": self[low], "high": self[high]} for grade, (low, high) in BAND_FIELDS.items()]

    def clean_allowed_terms(self) -> list[int]:
        text = self.cleaned_data["allowed_terms"].strip()
        parts = [part for part in _TERMS_SPLIT.split(text) if part]
        if not parts:
            raise forms.ValidationError(_("请至少填写一个可选期限"))
        if not all(part.isdigit() for part in parts):
            raise forms.ValidationError(_("期限只能是整数月数，用逗号分隔，如 3, 6, 12"))
        return sorted({int(part) for part in parts})

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        served = 0
        for grade, (low, high) in BAND_FIELDS.items():
            low_value, high_value = cleaned.get(low), cleaned.get(high)
            if low in self.errors or high in self.errors:
                served += 1
                continue
            if low_value is None and high_value is None:
                continue
            served += 1
            if low_value is None:
                self.add_error(low, _("请同时填写 %(grade)s 级的最低和最高利率") % {"grade": grade})
            elif high_value is None:
                self.add_error(high, _("请同时填写 %(grade)s 级的最低和最高利率") % {"grade": grade})
            elif low_value > high_value:
                self.add_error(high, _("%(grade)s 级的最高利率不能低于最低利率") % {"grade": grade})
        if not served:
            self.add_error(None, _("请至少为一个风险等级设置利率区间（不准入的等级留空）"))
        return cleaned

    def service_data(self) -> dict[str, Any]:
        """The cleaned input as the `data` dict of `product_create` / `product_update`."""
        data = dict(self.cleaned_data)
        for service_field, form_field in PRODUCT_RATE_FIELDS.items():
            data[service_field] = percent_to_rate(data.pop(form_field))
        bands: dict[str, dict[str, Decimal]] = {}
        for grade, (low, high) in BAND_FIELDS.items():
            low_value, high_value = data.pop(low, None), data.pop(high, None)
            if low_value is not None and high_value is not None:
                bands[grade] = {"min_rate": percent_to_rate(low_value), "max_rate": percent_to_rate(high_value)}
        data["rate_bands"] = bands
        if self.instance is not None:
            data.pop("code", None)
        return data


def product_initial(product: Product | None = None) -> dict[str, Any]:
    """Initial values of the product form: the product's own, or sensible defaults for a new one."""
    if product is None:
        initial: dict[str, Any] = {
            "applicant_type": ApplicantType.INDIVIDUAL,
            "allowed_terms": "3, 6, 12, 24, 36",
            "repayment_methods": [RepaymentMethod.EQUAL_INSTALLMENT, RepaymentMethod.EQUAL_PRINCIPAL],
            "required_documents": [
                DocumentType.ID_FRONT,
                DocumentType.ID_BACK,
                DocumentType.INCOME_PROOF,
                DocumentType.CREDIT_AUTH,
            ],
            "min_age": 18,
            "max_age": 65,
            "penalty_surcharge_percent": "50",
            "prepayment_fee_rate_percent": "0",
            "origination_fee_rate_percent": "0",
            "is_active": True,
        }
        for grade, (low_pct, high_pct) in DEFAULT_BANDS_PERCENT.items():
            low, high = BAND_FIELDS[grade]
            initial[low], initial[high] = low_pct, high_pct
        return initial
    initial = {
        field: getattr(product, field)
        for field in (
            "code",
            "name",
            "applicant_type",
            "min_amount",
            "max_amount",
            "repayment_methods",
            "required_documents",
            "min_age",
            "max_age",
            "excluded_industries",
            "compound_overdue_interest",
            "is_active",
        )
    }
    initial["allowed_terms"] = terms_text(product_terms(product))
    for service_field, form_field in PRODUCT_RATE_FIELDS.items():
        initial[form_field] = rate_to_percent_text(getattr(product, service_field))
    for grade, (low_rate, high_rate) in product_rate_bands(product).items():
        low, high = BAND_FIELDS[grade]
        initial[low], initial[high] = rate_to_percent_text(low_rate), rate_to_percent_text(high_rate)
    return initial


#: the bands a new product starts with (percent); grade E is not served by default
DEFAULT_BANDS_PERCENT: Final = {"A": ("4.35", "6"), "B": ("6", "8"), "C": ("8", "10"), "D": ("10", "12")}


class LprProposeForm(forms.Form):
    """录入一年期LPR (typed as a percentage, 3.1 → 0.031)."""

    published_on = forms.DateField(
        label=_("公布日期"), widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})
    )
    one_year_rate_percent = _percent(_("一年期LPR（%）"), help_text=_("按百分比填写，如 3.0 表示 3.00%"))
    note = forms.CharField(label=_("说明"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))

    FIELD_MAP: Final = {"one_year_rate": "one_year_rate_percent"}

    def service_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["one_year_rate"] = percent_to_rate(data.pop("one_year_rate_percent"))
        return data


class LprDecisionForm(forms.Form):
    note = forms.CharField(label=_("复核意见"), required=False, max_length=2000)
