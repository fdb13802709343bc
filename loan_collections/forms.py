"""Back-office forms of collections. Forms check types only; the services check the rules."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from loan_collections.case_models import (
    CaseStatus,
    CollectionLevel,
    ContactChannel,
    ContactOutcome,
    ContactParty,
    ContactRelation,
)

BUCKETS = ("M0", "M1", "M2", "M3", "M3+")


def _date_widget() -> forms.DateInput:
    return forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})


def _blank(choices: Any, label: Any) -> list[tuple[str, Any]]:
    return [("", label), *choices]


class CaseFilterForm(forms.Form):
    q = forms.CharField(label=_("贷款编号/借款人"), required=False)
    status = forms.ChoiceField(
        label=_("案件状态"), required=False, choices=[*CaseStatus.choices, ("any", _("全部"))], initial="open"
    )
    level = forms.ChoiceField(
        label=_("催收阶段"), required=False, choices=_blank(CollectionLevel.choices, _("全部阶段"))
    )
    bucket = forms.ChoiceField(
        label=_("账龄"), required=False, choices=_blank([(b, b) for b in BUCKETS], _("全部账龄"))
    )
    priority = forms.BooleanField(label=_("只看重点案件"), required=False)
    unassigned = forms.BooleanField(label=_("只看未分配"), required=False)


class ContactForm(forms.Form):
    channel = forms.ChoiceField(label=_("联系方式"), choices=ContactChannel.choices, initial=ContactChannel.PHONE)
    party = forms.ChoiceField(label=_("联系对象"), choices=ContactParty.choices, initial=ContactParty.DEBTOR)
    named_contact = forms.TypedChoiceField(label=_("指定联系人"), required=False, coerce=int, empty_value=None)
    number = forms.CharField(
        label=_("拨打/发送号码"), required=False, max_length=24, help_text=_("留空：电话/短信使用对象的登记号码")
    )
    outcome = forms.ChoiceField(label=_("结果"), choices=ContactOutcome.choices)
    note = forms.CharField(label=_("备注"), required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)
    next_action = forms.CharField(label=_("下一步行动"), required=False, max_length=200)
    next_action_on = forms.DateField(label=_("下一步行动日期"), required=False, widget=_date_widget())

    def __init__(self, *args: Any, named_contacts: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["named_contact"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [
            ("", _("（不适用）")),
            *((c.pk, f"{c.name}（{c.get_relation_display()}）") for c in named_contacts),
        ]


class PromiseForm(forms.Form):
    amount = forms.DecimalField(label=_("承诺金额（元）"), max_digits=18, decimal_places=2)
    promised_date = forms.DateField(label=_("承诺还款日"), widget=_date_widget())
    note = forms.CharField(label=_("备注"), required=False, max_length=200)


class NamedContactForm(forms.Form):
    name = forms.CharField(label=_("联系人姓名"), max_length=60)
    relation = forms.ChoiceField(label=_("与借款人关系"), choices=ContactRelation.choices)
    phone = forms.CharField(label=_("联系电话"), max_length=24)


class ConsentForm(forms.Form):
    granted = forms.TypedChoiceField(
        label=_("操作"),
        choices=[("1", _("登记借款人同意夜间联系")), ("0", _("撤回同意"))],
        coerce=lambda value: value == "1",
    )
    note = forms.CharField(label=_("同意方式/说明"), required=False, max_length=200)


class AssignForm(forms.Form):
    assignee = forms.TypedChoiceField(label=_("处理人"), coerce=int)
    reason = forms.CharField(label=_("原因"), required=False, max_length=200)

    def __init__(self, *args: Any, staff: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["assignee"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(u.pk, u.get_full_name() or u.get_username()) for u in staff]


class EscalateForm(forms.Form):
    level = forms.ChoiceField(label=_("催收阶段"), choices=CollectionLevel.choices)
    reason = forms.CharField(label=_("调整原因"), max_length=200)
