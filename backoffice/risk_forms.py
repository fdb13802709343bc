"""Back-office forms of post-loan risk: classification, write-off, recoveries, extension / restructuring.

They shape and pre-check input; the services in ``servicing.services`` validate again and write.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from applications.models import RiskClass
from loanops.types import RepaymentMethod


def _textarea(rows: int = 3) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows})


class RiskClassForm(forms.Form):
    risk_class = forms.ChoiceField(label=_("五级分类"), choices=RiskClass.choices)
    reason = forms.CharField(label=_("原因"), max_length=2000, widget=_textarea())


class DecisionForm(forms.Form):
    """Approve / reject buttons of a pending request, with an optional note."""

    decision = forms.ChoiceField(choices=[("approve", _("批准")), ("reject", _("驳回"))])
    note = forms.CharField(label=_("审批意见"), required=False, max_length=2000, widget=_textarea(2))


class WriteOffForm(forms.Form):
    action = forms.ChoiceField(label=_("操作"), widget=forms.RadioSelect, choices=())
    reason = forms.CharField(label=_("理由 / 审批意见"), required=False, max_length=2000, widget=_textarea())

    def __init__(self, *args: Any, actions: list[tuple[str, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["action"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = actions
        if len(actions) == 1:
            field.initial = actions[0][0]


class RecoveryForm(forms.Form):
    amount = forms.DecimalField(label=_("收回金额"), max_digits=18, decimal_places=2, min_value=Decimal("0.01"))
    recovered_on = forms.DateField(label=_("收回日期"), widget=forms.DateInput(attrs={"type": "date"}))
    channel = forms.ChoiceField(label=_("收回渠道"), choices=())
    reference = forms.CharField(label=_("凭证号"), required=False, max_length=64)
    note = forms.CharField(label=_("备注"), required=False, max_length=2000, widget=_textarea(2))

    def __init__(self, *args: Any, channels: list[tuple[str, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["channel"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = channels
        self.fields["amount"].widget.attrs.update({"step": "0.01", "inputmode": "decimal"})


class RestructuringForm(forms.Form):
    kind = forms.ChoiceField(label=_("类型"), choices=(("extension", _("展期")), ("restructuring", _("重组"))))
    term_months = forms.IntegerField(
        label=_("新的剩余期数(月)"), min_value=1, max_value=360, help_text=_("剩余本金按此期数重新分期")
    )
    annual_rate_percent = forms.DecimalField(
        label=_("新年利率(%)"),
        required=False,
        min_value=Decimal("0"),
        max_digits=7,
        decimal_places=4,
        help_text=_("仅重组可调整；不填则不变"),
    )
    repayment_method = forms.ChoiceField(
        label=_("新还款方式"),
        required=False,
        choices=[("", _("不变")), *RepaymentMethod.choices],
        help_text=_("仅重组可调整"),
    )
    reason = forms.CharField(label=_("申请理由"), max_length=2000, widget=_textarea())

    @property
    def annual_rate_fraction(self) -> Decimal | None:
        value = self.cleaned_data.get("annual_rate_percent")
        return None if value is None else value / 100
