"""Back-office forms. They only shape and pre-check input; the services validate again and write."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from django import forms
from django.contrib.auth.password_validation import validate_password
from django.utils.translation import gettext_lazy as _

from applications.models import ApplicantType, DocumentType, Industry, LoanStatus, Product
from loanops.types import RepaymentMethod

BUCKETS = ("M0", "M1", "M2", "M3", "M3+")
MONEY: dict[str, Any] = {"max_digits": 18, "decimal_places": 2}


def _textarea(rows: int = 3) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows})


def _money_field(label: Any, **kwargs: Any) -> forms.DecimalField:
    kwargs.setdefault("min_value", Decimal("0.01"))
    field = forms.DecimalField(label=label, **MONEY, **kwargs)
    field.widget.attrs.update({"step": "0.01", "inputmode": "decimal"})
    return field


# --- search / filter bars ------------------------------------------------------------------


class LoanFilterForm(forms.Form):
    q = forms.CharField(
        label=_("搜索"),
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("编号 / 姓名 / 手机号")}),
    )
    status = forms.ChoiceField(label=_("状态"), required=False)
    product = forms.ModelChoiceField(label=_("产品"), required=False, queryset=Product.objects.none())
    bucket = forms.ChoiceField(label=_("账龄"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["status"]).choices = [("", _("全部状态")), *LoanStatus.choices]
        cast(forms.ChoiceField, self.fields["bucket"]).choices = [("", _("全部账龄")), *((b, b) for b in BUCKETS)]
        product_field = self.fields["product"]
        assert isinstance(product_field, forms.ModelChoiceField)
        product_field.queryset = Product.objects.order_by("code")
        product_field.empty_label = _("全部产品")


class CustomerFilterForm(forms.Form):
    q = forms.CharField(
        label=_("搜索"),
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("姓名/企业名称 / 手机号 / 证件号")}),
    )
    kind = forms.ChoiceField(
        label=_("借款人类型"), required=False, choices=[("", _("全部类型")), *ApplicantType.choices]
    )


# --- transitions -----------------------------------------------------------------------------


class ReasonForm(forms.Form):
    """Transitions that only carry an optional note (start_review, submit, accept_offer, settle, archive)."""

    reason = forms.CharField(label=_("备注"), required=False, max_length=2000, widget=_textarea())


class RequiredReasonForm(forms.Form):
    reason = forms.CharField(label=_("原因"), max_length=2000, widget=_textarea())


class RequestSupplementForm(forms.Form):
    items = forms.MultipleChoiceField(
        label=_("需补充的材料"), choices=DocumentType.choices, widget=forms.CheckboxSelectMultiple
    )
    message = forms.CharField(
        label=_("补件说明"),
        max_length=2000,
        widget=_textarea(4),
        help_text=_("借款人会在门户和通知中看到这段说明。"),
    )


class ApproveForm(forms.Form):
    approved_amount = _money_field(_("批准金额（元）"))
    conditions = forms.CharField(
        label=_("放款条件"), max_length=2000, required=False, widget=_textarea(2),
        help_text=_("如：放款前提供房产抵押登记证明；无条件可留空"),
    )  # fmt: skip
    note = forms.CharField(label=_("审查意见"), max_length=2000, widget=_textarea(4))


class RejectForm(forms.Form):
    reason_codes = forms.MultipleChoiceField(label=_("拒绝原因"), widget=forms.CheckboxSelectMultiple, choices=())
    note = forms.CharField(label=_("审查意见"), max_length=2000, widget=_textarea(4))

    def __init__(self, *args: Any, reasons: dict[str, tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["reason_codes"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [(code, texts[0]) for code, texts in reasons.items()]


class MakeOfferForm(forms.Form):
    principal = _money_field(_("贷款本金（元）"))
    annual_rate = forms.DecimalField(
        label=_("年利率（%）"),
        max_digits=8,
        decimal_places=4,
        min_value=Decimal("0"),
        max_value=Decimal("100"),
        help_text=_("按年填写百分比，例如 7.2 表示年利率 7.2%。"),
    )
    term_months = forms.IntegerField(label=_("期限（月）"), min_value=1, max_value=360)
    repayment_method = forms.ChoiceField(label=_("还款方式"), choices=RepaymentMethod.choices)
    first_due_date = forms.DateField(
        label=_("首期还款日"), widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})
    )
    reason = forms.CharField(label=_("备注"), required=False, max_length=2000, widget=_textarea(2))

    def __init__(
        self,
        *args: Any,
        methods: list[str] | None = None,
        products: list[tuple[int, str]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if products:  # the eligible products from matching, best first; the loan's own is the default
            self.fields["product_id"] = forms.TypedChoiceField(
                label=_("产品"),
                choices=products,
                coerce=int,
                required=False,
                empty_value=None,
                help_text=_("按产品匹配结果排序（仅列出适用的产品）；留空按本笔申请的产品"),
            )
            self.order_fields(["product_id"])
        self.fields["annual_rate"].widget.attrs.update({"step": "0.0001", "inputmode": "decimal"})
        if methods:
            field = self.fields["repayment_method"]
            assert isinstance(field, forms.ChoiceField)
            field.choices = [(m, RepaymentMethod(m).label) for m in methods if m in RepaymentMethod.values]

    @property
    def annual_rate_fraction(self) -> Decimal:
        """The rate as the services take it: an annual fraction (7.2 % → 0.072)."""
        return self.cleaned_data["annual_rate"] / Decimal(100)


class PrepareDisbursementForm(forms.Form):
    bank_name = forms.CharField(label=_("收款银行"), max_length=100)
    bank_account = forms.CharField(
        label=_("收款账号"), max_length=40, widget=forms.TextInput(attrs={"inputmode": "numeric"})
    )
    reason = forms.CharField(label=_("备注"), required=False, max_length=2000, widget=_textarea(2))


class DisburseForm(forms.Form):
    confirm = forms.BooleanField(label=_("我已核对借款人、放款金额与收款账户，确认放款"))
    reason = forms.CharField(label=_("复核意见"), required=False, max_length=2000, widget=_textarea(2))


# --- servicing -------------------------------------------------------------------------------


class RepaymentForm(forms.Form):
    amount = _money_field(_("还款金额（元）"))
    paid_on = forms.DateField(label=_("到账日期"), widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}))
    channel = forms.ChoiceField(label=_("还款渠道"))
    reference = forms.CharField(
        label=_("流水号"), required=False, max_length=64, help_text=_("银行或支付渠道的交易流水号，便于对账。")
    )

    def __init__(self, *args: Any, channels: list[tuple[str, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["channel"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = channels


# --- customers and applications -----------------------------------------------------------


class CustomerForm(forms.Form):
    """Both kinds in one form; which fields are required per kind is checked by `customer_create`."""

    kind = forms.ChoiceField(
        label=_("借款人类型"),
        choices=ApplicantType.choices,
        initial=ApplicantType.INDIVIDUAL,
        widget=forms.RadioSelect,
    )
    name = forms.CharField(label=_("姓名/企业名称"), max_length=120)
    phone = forms.CharField(
        label=_("手机号"), max_length=20, widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel"})
    )
    id_number = forms.CharField(
        label=_("身份证号"),
        required=False,
        max_length=18,
        help_text=_("个人必填；企业填写法定代表人身份证号（选填）。"),
    )
    uscc = forms.CharField(label=_("统一社会信用代码"), required=False, max_length=18, help_text=_("企业必填。"))
    legal_representative = forms.CharField(
        label=_("法定代表人"), required=False, max_length=60, help_text=_("企业必填。")
    )
    industry = forms.ChoiceField(label=_("行业"), choices=[("", "---------"), *Industry.choices])
    annual_income = forms.DecimalField(
        label=_("年收入/年营业收入（元）"), required=False, min_value=Decimal("0"), **MONEY
    )
    employer = forms.CharField(label=_("工作单位"), required=False, max_length=120)
    years_in_business = forms.IntegerField(
        label=_("经营/工作年限"), required=False, min_value=0, max_value=100, initial=0
    )
    registered_capital = forms.DecimalField(
        label=_("注册资本（元）"), required=False, min_value=Decimal("0"), help_text=_("企业必填。"), **MONEY
    )
    email = forms.EmailField(label=_("电子邮箱"), required=False)
    address = forms.CharField(label=_("地址"), required=False, max_length=200)
    portal_password = forms.CharField(
        label=_("门户登录密码"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("选填。填写后为借款人开通门户账号（用户名为手机号），至少 8 位。"),
    )

    def clean_portal_password(self) -> str:
        password = self.cleaned_data.get("portal_password") or ""
        if password:
            validate_password(password)
        return password

    def service_data(self) -> dict[str, Any]:
        data = {key: value for key, value in self.cleaned_data.items() if key != "portal_password"}
        if data.get("annual_income") is None:
            data["annual_income"] = Decimal("0")
        if data.get("years_in_business") is None:
            data["years_in_business"] = 0
        if data.get("registered_capital") is None:
            data["registered_capital"] = Decimal("0")
        return data


class LoanCreateForm(forms.Form):
    product = forms.ModelChoiceField(label=_("贷款产品"), queryset=Product.objects.none())
    requested_amount = _money_field(_("申请金额（元）"))
    requested_term_months = forms.IntegerField(label=_("申请期限（月）"), min_value=1, max_value=360)
    purpose = forms.CharField(label=_("借款用途"), max_length=200)
    repayment_source = forms.CharField(
        label=_("还款来源"), max_length=200, help_text=_("例如：工资收入、经营收入、租金收入")
    )

    def __init__(self, *args: Any, products: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["product"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = products
        field.label_from_instance = lambda p: (  # type: ignore[method-assign,assignment]
            f"{p.name}（{p.min_amount:,.0f}–{p.max_amount:,.0f} 元，{p.min_term_months}–{p.max_term_months} 个月）"
        )


class DocumentUploadForm(forms.Form):
    doc_type = forms.ChoiceField(label=_("材料类型"), choices=DocumentType.choices)
    file = forms.FileField(
        label=_("文件"),
        help_text=_("PDF、JPG 或 PNG。"),
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png"}),
    )


# --- blacklist (compliance) ------------------------------------------------------------------


class BlacklistFilterForm(forms.Form):
    q = forms.CharField(
        label=_("搜索"),
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("姓名/名称，或完整证件号 / 手机号")}),
    )
    status = forms.ChoiceField(
        label=_("状态"),
        required=False,
        choices=[("active", _("有效")), ("inactive", _("已解除")), ("all", _("全部"))],
    )


class BlacklistEntryForm(forms.Form):
    name = forms.CharField(label=_("姓名/企业名称"), required=False, max_length=120)
    id_number = forms.CharField(label=_("身份证号"), required=False, max_length=20)
    uscc = forms.CharField(label=_("统一社会信用代码"), required=False, max_length=20)
    phone = forms.CharField(
        label=_("手机号"), required=False, max_length=20, widget=forms.TextInput(attrs={"inputmode": "tel"})
    )
    source = forms.ChoiceField(label=_("来源"), choices=())
    reason = forms.CharField(
        label=_("列入原因"),
        max_length=2000,
        widget=_textarea(3),
        help_text=_("仅员工可见；借款人只会看到「暂时无法受理」。"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from compliance.models import BlacklistSource

        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["source"]).choices = BlacklistSource.choices


class BlacklistDeactivateForm(forms.Form):
    reason = forms.CharField(label=_("解除原因"), max_length=2000, widget=_textarea(2))


class BlacklistImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV 文件"),
        help_text=_(
            "UTF-8 编码（可带 BOM），首行为表头：身份证号、统一社会信用代码、手机号（至少一列）、原因，"
            "可选 姓名、来源。任何一行有误则整个文件都不导入。"
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )
    default_source = forms.ChoiceField(label=_("默认来源"), choices=(), help_text=_("「来源」列为空时使用。"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from compliance.models import BlacklistSource

        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["default_source"]).choices = BlacklistSource.choices


# --- prepayment and payoff (servicing) ------------------------------------------------------


class PrepaymentForm(forms.Form):
    amount = _money_field(_("提前归还本金（元）"))
    option = forms.ChoiceField(
        label=_("提前还款方式"),
        choices=[("keep_term", _("期限不变，减少每期还款额")), ("keep_installment", _("每期还款额不变，缩短期限"))],
        widget=forms.RadioSelect,
    )
    channel = forms.ChoiceField(label=_("还款渠道"))
    reference = forms.CharField(label=_("流水号"), required=False, max_length=64)

    def __init__(self, *args: Any, channels: list[tuple[str, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["channel"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = channels


class PayoffForm(forms.Form):
    amount = _money_field(_("结清金额（元）"), help_text=_("不少于结清应付合计；多付部分作为溢缴款挂账。"))
    channel = forms.ChoiceField(label=_("还款渠道"))
    reference = forms.CharField(label=_("流水号"), required=False, max_length=64)

    def __init__(self, *args: Any, channels: list[tuple[str, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["channel"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = channels


class OverpaymentRefundForm(forms.Form):
    amount = _money_field(_("退还金额（元）"))
    reason = forms.CharField(label=_("退款原因"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
