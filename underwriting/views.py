"""Back-office pages of the product stage: the repayment calculator (还款试算) and the product catalogue."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin, UserPassesTestMixin
from django.http import HttpResponse
from django.utils.translation import gettext_lazy as _
from django.views.generic import FormView, ListView

from applications.models import Product
from loanops.exceptions import DomainError
from loanops.schedule import build_schedule, summarize
from loanops.types import RepaymentMethod


class CalculatorForm(forms.Form):
    principal = forms.DecimalField(
        label=_("贷款本金（元）"), max_digits=18, decimal_places=2, initial=Decimal("100000")
    )
    annual_rate_percent = forms.DecimalField(
        label=_("年利率（%，如 4.9）"), max_digits=9, decimal_places=4, initial=Decimal("4.9")
    )
    term_months = forms.IntegerField(label=_("期限（月）"), initial=12)
    method = forms.ChoiceField(label=_("还款方式"), choices=RepaymentMethod.choices)
    first_due_date = forms.DateField(
        label=_("首期还款日"), widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})
    )


class CalculatorView(LoginRequiredMixin, UserPassesTestMixin, FormView):
    """Any staff member may use the calculator; it writes nothing."""

    form_class = CalculatorForm
    template_name = "underwriting/calculator.html"

    def test_func(self) -> bool:
        return bool(self.request.user.is_staff)

    def get_initial(self) -> dict[str, Any]:
        from django.utils import timezone

        today = timezone.localdate()
        month = today.month % 12 + 1
        year = today.year + (today.month == 12)
        return {**super().get_initial(), "first_due_date": date(year, month, min(today.day, 28))}

    def form_valid(self, form: CalculatorForm) -> HttpResponse:
        data = form.cleaned_data
        try:
            rows = build_schedule(
                principal=data["principal"],
                annual_rate=data["annual_rate_percent"] / Decimal(100),
                term_months=data["term_months"],
                method=data["method"],
                first_due_date=data["first_due_date"],
            )
        except DomainError as exc:
            for field, messages in exc.fields.items():
                target = "annual_rate_percent" if field == "annual_rate" else field
                for message in messages:
                    form.add_error(target if target in form.fields else None, message)
            if not exc.fields:
                form.add_error(None, exc.message)
            return self.render_to_response(self.get_context_data(form=form), status=exc.http_status)
        return self.render_to_response(self.get_context_data(form=form, rows=rows, summary=summarize(rows)))


class ProductListView(LoginRequiredMixin, PermissionRequiredMixin, ListView):
    permission_required = "applications.view_product"
    template_name = "underwriting/product_list.html"
    context_object_name = "products"

    def get_queryset(self) -> Any:
        return Product.objects.order_by("code")
