"""Back-office forms of the product stage: the repayment calculator and the product catalogue.

Forms check types and the units they present (rates are typed as percentages here); ranges and
consistency are checked once, by `loanops.schedule.validate_schedule_input` and
`underwriting.services.validate_product_data`, whose field errors the views put back on these fields.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

from django import forms
from django.utils.translation import gettext_lazy as _

from applications.models import ApplicantType, DocumentType, Product
from loanops.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from loanops.types import RepaymentMethod

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
    "min_rate": "min_rate_percent",
    "max_rate": "max_rate_percent",
    "penalty_surcharge": "penalty_surcharge_percent",
    "prepayment_fee_rate": "prepayment_fee_rate_percent",
    "origination_fee_rate": "origination_fee_rate_percent",
}


class ProductForm(forms.Form):
    """A loan product for `product_create` / `product_update`. Rates are percentages on the form."""

    code = forms.CharField(
        label=_("产品代码"),
        max_length=40,
        help_text=_("字母、数字、连字符或下划线，如 consumer-std；创建后不可修改"),
    )
    name = forms.CharField(label=_("产品名称"), max_length=80)
    applicant_type = forms.ChoiceField(label=_("适用借款人"), choices=ApplicantType.choices)
    min_amount = _amount(_("最低金额（元）"))
    max_amount = _amount(_("最高金额（元）"))
    min_term_months = forms.IntegerField(label=_("最短期限（月）"))
    max_term_months = forms.IntegerField(label=_("最长期限（月）"))
    min_rate_percent = _percent(_("最低年利率（%）"), help_text=_("按百分比填写，如 4.35 表示 4.35%"))
    max_rate_percent = _percent(_("最高年利率（%）"), help_text=_("按百分比填写，如 18 表示 18%"))
    repayment_methods = forms.MultipleChoiceField(
        label=_("还款方式"), choices=RepaymentMethod.choices, widget=forms.CheckboxSelectMultiple, required=False
    )
    required_documents = forms.MultipleChoiceField(
        label=_("必备材料"), choices=DocumentType.choices, widget=forms.CheckboxSelectMultiple, required=False
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

    FIELD_MAP: Final = PRODUCT_RATE_FIELDS

    def __init__(self, *args: Any, instance: Product | None = None, **kwargs: Any) -> None:
        self.instance = instance
        if instance is not None:
            kwargs.setdefault("initial", product_initial(instance))
        super().__init__(*args, **kwargs)
        if instance is not None:  # the code identifies the product to other systems: fixed once created
            self.fields["code"].disabled = True
            self.fields["code"].help_text = _("产品代码创建后不可修改")

    def service_data(self) -> dict[str, Any]:
        """The cleaned input as the `data` dict of `product_create` / `product_update`."""
        data = dict(self.cleaned_data)
        for service_field, form_field in PRODUCT_RATE_FIELDS.items():
            data[service_field] = percent_to_rate(data.pop(form_field))
        if self.instance is not None:
            data.pop("code", None)
        return data


def product_initial(product: Product | None = None) -> dict[str, Any]:
    """Initial values of the product form: the product's own, or sensible defaults for a new one."""
    if product is None:
        return {
            "applicant_type": ApplicantType.INDIVIDUAL,
            "repayment_methods": [RepaymentMethod.EQUAL_INSTALLMENT, RepaymentMethod.EQUAL_PRINCIPAL],
            "required_documents": [
                DocumentType.ID_FRONT,
                DocumentType.ID_BACK,
                DocumentType.INCOME_PROOF,
                DocumentType.CREDIT_AUTH,
            ],
            "penalty_surcharge_percent": "50",
            "prepayment_fee_rate_percent": "0",
            "origination_fee_rate_percent": "0",
            "is_active": True,
        }
    initial: dict[str, Any] = {
        field: getattr(product, field)
        for field in (
            "code",
            "name",
            "applicant_type",
            "min_amount",
            "max_amount",
            "min_term_months",
            "max_term_months",
            "repayment_methods",
            "required_documents",
            "compound_overdue_interest",
            "is_active",
        )
    }
    for service_field, form_field in PRODUCT_RATE_FIELDS.items():
        initial[form_field] = rate_to_percent_text(getattr(product, service_field))
    return initial
