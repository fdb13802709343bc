"""Portal: a borrower asks for an extension (展期) of one of their active or overdue loans.

Ownership is checked by `portal.views.get_own_loan` (404 for another customer's loan); the service
(`servicing.services.restructuring.restructuring_request`) checks permission, state and term again. Risk
approves in the back office; the borrower sees the request and its outcome on this page.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views import View

from applications.models import SERVICING_STATUSES, Loan
from loanops.exceptions import DomainError
from portal.views import CustomerRequiredMixin, get_own_loan


class ExtensionRequestForm(forms.Form):
    term_months = forms.IntegerField(
        label=_("希望的剩余期数（月）"),
        min_value=1,
        max_value=360,
        help_text=_("剩余本金按此期数重新分期，须多于现在的剩余期数"),
    )
    reason = forms.CharField(label=_("申请理由"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))


class LoanExtensionView(CustomerRequiredMixin, View):
    template_name = "portal/extension.html"

    def render_page(self, request: HttpRequest, loan: Loan, form: forms.Form, status: int = 200) -> HttpResponse:
        from servicing.selectors import loan_restructurings, schedule_current

        installments = schedule_current(loan)
        context: dict[str, Any] = {
            "loan": loan,
            "form": form,
            "can_request": loan.status in SERVICING_STATUSES,
            "remaining_periods": sum(1 for row in installments if row.status != "paid"),
            "requests": list(loan_restructurings(loan)),
        }
        return render(request, self.template_name, context, status=status)

    def get(self, request: HttpRequest, loan_id: int) -> HttpResponse:
        loan = get_own_loan(request, loan_id)
        return self.render_page(request, loan, ExtensionRequestForm())

    def post(self, request: HttpRequest, loan_id: int) -> HttpResponse:
        from servicing.services.restructuring import restructuring_request

        loan = get_own_loan(request, loan_id)
        form = ExtensionRequestForm(request.POST)
        if not form.is_valid():
            return self.render_page(request, loan, form, status=400)
        try:
            restructuring_request(
                actor=request.user,
                loan_id=loan.pk,
                kind="extension",
                term_months=form.cleaned_data["term_months"],
                reason=form.cleaned_data["reason"],
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
            for name, errors in exc.fields.items():
                for error in errors:
                    form.add_error(name if name in form.fields else None, error)
            return self.render_page(request, loan, form, status=exc.http_status)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
            return self.render_page(request, loan, form, status=403)
        messages.success(request, _("展期申请已提交，我们会尽快审核并通知您。"))
        return redirect("portal:loan-extension", loan_id=loan.pk)
