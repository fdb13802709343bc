"""Portal forms. They only shape input; the services decide (and their InputError fields land back here)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import authenticate
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from applications.models import DocumentType, Product
from contracts.selectors import CONSENT_TEXT
from loanops.exceptions import DomainError
from loanops.money import format_money

UPLOAD_ACCEPT = ".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png"
#: Recorded verbatim on the signed contract, so it is shown exactly as contracts stores it (not translated).
CONSENT_LABEL = CONSENT_TEXT


class ServiceErrorsMixin:
    """Put the field messages of a service's InputError on the matching form fields."""

    #: service field name → form field name (when they differ)
    service_field_map: dict[str, str] = {}

    def add_service_errors(self, exc: DomainError) -> None:
        form: forms.Form = self  # type: ignore[assignment]
        placed = False
        for name, messages in (exc.fields or {}).items():
            field = self.service_field_map.get(name, name)
            target = field if field in form.fields else None
            for message in messages:
                form.add_error(target, message)
            placed = True
        if not placed:
            form.add_error(None, exc.message)


class PortalLoginForm(forms.Form):
    phone = forms.CharField(
        label=_("手机号"),
        max_length=20,
        widget=forms.TextInput(
            attrs={"type": "tel", "autocomplete": "tel", "inputmode": "numeric", "placeholder": _("11 位手机号")}
        ),
    )
    password = forms.CharField(
        label=_("密码"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    error_messages = {
        "invalid_login": _("手机号或密码不正确，请重新输入。"),
    }

    def __init__(self, request: HttpRequest | None = None, *args: Any, **kwargs: Any) -> None:
        self.request = request
        self.user_cache: Any = None
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        phone = (cleaned.get("phone") or "").replace(" ", "").replace("-", "")
        password = cleaned.get("password")
        if phone and password:
            self.user_cache = authenticate(self.request, phone=phone, password=password)
            if self.user_cache is None:
                raise forms.ValidationError(self.error_messages["invalid_login"], code="invalid_login")
        return cleaned

    def get_user(self) -> Any:
        return self.user_cache


class ProductChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Product) -> str:  # type: ignore[override]
        return str(
            _("%(name)s（%(min)s–%(max)s 元，%(tmin)s–%(tmax)s 个月）")
            % {
                "name": obj.name,
                "min": format_money(obj.min_amount),
                "max": format_money(obj.max_amount),
                "tmin": obj.min_term_months,
                "tmax": obj.max_term_months,
            }
        )


class LoanApplyForm(ServiceErrorsMixin, forms.Form):
    service_field_map = {}

    product = ProductChoiceField(label=_("贷款产品"), queryset=Product.objects.none(), empty_label=_("请选择产品"))
    requested_amount = forms.DecimalField(
        label=_("申请金额（元）"),
        max_digits=18,
        decimal_places=2,
        min_value=1,
        widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "0.01"}),
    )
    requested_term_months = forms.IntegerField(
        label=_("借款期限（月）"), min_value=1, max_value=360, widget=forms.NumberInput(attrs={"inputmode": "numeric"})
    )
    purpose = forms.CharField(
        label=_("借款用途"), max_length=200, help_text=_("例如：店铺装修、购买经营设备、教育支出")
    )
    repayment_source = forms.CharField(label=_("还款来源"), max_length=200, help_text=_("例如：工资收入、经营收入"))

    def __init__(self, *args: Any, products: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = products  # type: ignore[attr-defined]


class DocumentUploadForm(ServiceErrorsMixin, forms.Form):
    """One upload slot of the checklist; the item (document type) is part of the URL and the prefix."""

    file = forms.FileField(
        label=_("选择文件"),
        help_text=_("PDF、JPG 或 PNG，单个文件不超过 10 MB"),
        error_messages={"required": _("请选择要上传的文件")},
        widget=forms.ClearableFileInput(attrs={"accept": UPLOAD_ACCEPT}),
    )

    def __init__(self, *args: Any, doc_type: str, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", f"doc-{doc_type}")
        super().__init__(*args, **kwargs)
        self.doc_type = doc_type
        self.label = DocumentType(doc_type).label


class WithdrawForm(ServiceErrorsMixin, forms.Form):
    reason = forms.CharField(
        label=_("撤回原因"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": _("例如：资金需求已解决")}),
        error_messages={"required": _("请填写撤回原因")},
    )


class ContractSignForm(ServiceErrorsMixin, forms.Form):
    consent = forms.BooleanField(
        label=CONSENT_LABEL,
        required=True,
        error_messages={"required": _("请先勾选同意《借款合同》全部条款，才能签署。")},
    )
