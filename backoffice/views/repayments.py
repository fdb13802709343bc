"""Repayment entry by ops: amount, date, channel, reference → `servicing.services.repayment_record`."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views import View

from applications.models import SERVICING_STATUSES, Loan
from backoffice.forms import RepaymentForm
from backoffice.views.base import StaffPermissionMixin, apply_domain_error, get_loan_or_404
from loanops.exceptions import DomainError
from loanops.money import ZERO, format_money


def allocation_summary(repayment: Any) -> list[tuple[str, Decimal]]:
    """(component label, amount) in allocation order, summed over installments."""
    from servicing.models import AllocationComponent

    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for allocation in repayment.allocations.all():
        totals[allocation.component] += allocation.amount
    return [(str(AllocationComponent(c).label), totals[c]) for c in AllocationComponent.values if c in totals]


def balance_rows(loan: Loan) -> list[tuple[str, Decimal]]:
    """The loan's balances from its journal, labelled for display: [(label, amount), ...]."""
    from servicing.models import Account
    from servicing.selectors import loan_balances

    balances = loan_balances(loan)
    labels = {
        "principal_receivable": Account.PRINCIPAL_RECEIVABLE.label,
        "interest_receivable": Account.INTEREST_RECEIVABLE.label,
        "penalty_receivable": Account.PENALTY_RECEIVABLE.label,
        "fee_receivable": Account.FEE_RECEIVABLE.label,
        "total_receivable": _("应收合计"),
        "overpayment": Account.OVERPAYMENT.label,
    }
    return [(str(labels[key]), balances[key]) for key in labels if key in balances]


class RepaymentCreateView(StaffPermissionMixin, View):
    permission_required = "servicing.add_repayment"
    template_name = "backoffice/repayment_form.html"

    def get_form(self, data: Any = None) -> RepaymentForm:
        from servicing.models import RepaymentChannel
        from servicing.services import business_date_get

        initial = {"paid_on": business_date_get(), "channel": RepaymentChannel.BANK_TRANSFER}
        return RepaymentForm(data, initial=initial, channels=list(RepaymentChannel.choices))

    def render_form(self, loan: Loan, form: RepaymentForm, status: int = 200) -> HttpResponse:
        context = {
            "page_title": _("登记还款"),
            "loan": loan,
            "form": form,
            "repayable": loan.status in SERVICING_STATUSES,
            "balances": balance_rows(loan) if loan.status in SERVICING_STATUSES else [],
        }
        return render(self.request, self.template_name, context, status=status)

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        loan = get_loan_or_404(request, pk)
        return self.render_form(loan, self.get_form())

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        from servicing.services import repayment_record

        loan = get_loan_or_404(request, pk)
        form = self.get_form(request.POST)
        if not form.is_valid():
            return self.render_form(loan, form, status=400)
        data = form.cleaned_data
        try:
            repayment = repayment_record(
                actor=request.user,
                loan_id=loan.pk,
                amount=data["amount"],
                paid_on=data["paid_on"],
                channel=data["channel"],
                reference=data["reference"],
            )
        except DomainError as exc:
            return self.render_form(loan, form, status=apply_domain_error(form, exc))
        parts = "，".join(f"{label} {format_money(amount)}" for label, amount in allocation_summary(repayment))
        messages.success(
            request,
            _("已登记还款 %(amount)s 元。分配：%(parts)s")
            % {"amount": format_money(repayment.amount), "parts": parts or "—"},
        )
        return redirect(reverse("backoffice:loan-detail", kwargs={"pk": loan.pk}) + "#repayments")
