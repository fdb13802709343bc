"""Back-office money pages: partial prepayment (with a preview), payoff, settlement certificate download.

Thin views: they validate the form, call ``servicing.services`` (which checks the permission again and
writes in one transaction) and render the result; a refusal re-renders the form with the message.
"""

from __future__ import annotations

import contextlib
from typing import Any

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views import View

from applications.models import Loan
from backoffice.forms import OverpaymentRefundForm, PayoffForm, PrepaymentForm
from backoffice.views.base import StaffPermissionMixin, apply_domain_error, get_loan_or_404
from backoffice.views.repayments import balance_rows
from loanops.exceptions import DomainError
from loanops.money import format_money


def _channels() -> list[tuple[str, Any]]:
    from servicing.models import RepaymentChannel

    return list(RepaymentChannel.choices)


class PrepaymentView(StaffPermissionMixin, View):
    """提前还款: 「试算」 shows the new schedule without writing; 「确认提前还款」 books it."""

    permission_required = "servicing.add_repayment"
    template_name = "backoffice/prepayment_form.html"

    def render_page(self, loan: Loan, form: PrepaymentForm, *, plan: Any = None, status: int = 200) -> HttpResponse:
        from servicing.services import business_date_get

        context = {
            "page_title": _("提前还款"),
            "loan": loan,
            "form": form,
            "plan": plan,
            "business_date": business_date_get(),
            "balances": balance_rows(loan) if loan.disbursed_on else [],
        }
        return render(self.request, self.template_name, context, status=status)

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        loan = get_loan_or_404(request, pk)
        return self.render_page(loan, PrepaymentForm(channels=_channels(), initial={"option": "keep_term"}))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        from servicing.services import prepayment_quote, prepayment_record

        loan = get_loan_or_404(request, pk)
        form = PrepaymentForm(request.POST, channels=_channels())
        if not form.is_valid():
            return self.render_page(loan, form, status=400)
        data = form.cleaned_data
        try:
            if request.POST.get("action") != "confirm":
                plan = prepayment_quote(
                    actor=request.user, loan_id=loan.pk, amount=data["amount"], option=data["option"]
                )
                return self.render_page(loan, form, plan=plan)
            prepayment = prepayment_record(
                actor=request.user,
                loan_id=loan.pk,
                amount=data["amount"],
                option=data["option"],
                channel=data["channel"],
                reference=data["reference"],
            )
        except DomainError as exc:
            return self.render_page(loan, form, status=apply_domain_error(form, exc))
        messages.success(
            request,
            _(
                "已办理提前还款：本金 %(principal)s 元，利息 %(interest)s 元，手续费 %(fee)s 元；已生成第 %(version)s 版还款计划。"
            )
            % {
                "principal": format_money(prepayment.principal),
                "interest": format_money(prepayment.interest),
                "fee": format_money(prepayment.fee),
                "version": prepayment.new_version.version,
            },
        )
        return redirect(reverse("backoffice:loan-detail", kwargs={"pk": loan.pk}) + "#schedule")


class PayoffView(StaffPermissionMixin, View):
    """提前结清: the itemised payoff quote for the business date, and booking the payment that settles."""

    permission_required = "servicing.add_repayment"
    template_name = "backoffice/payoff_form.html"

    def render_page(self, loan: Loan, form: PayoffForm, *, status: int = 200) -> HttpResponse:
        from servicing.selectors import payoff_quote
        from servicing.services import business_date_get

        today = business_date_get()
        quote: dict[str, Any] | None = None
        refusal = ""
        try:
            quote = payoff_quote(loan=loan, on=today)
        except DomainError as exc:
            refusal = exc.message
        context = {
            "page_title": _("提前结清"),
            "loan": loan,
            "form": form,
            "quote": quote,
            "refusal": refusal,
            "business_date": today,
        }
        return render(self.request, self.template_name, context, status=status)

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        from servicing.selectors import payoff_quote
        from servicing.services import business_date_get

        loan = get_loan_or_404(request, pk)
        initial: dict[str, Any] = {"channel": "bank_transfer"}
        with contextlib.suppress(DomainError):  # the page explains why there is no quote
            initial["amount"] = payoff_quote(loan=loan, on=business_date_get())["total"]
        return self.render_page(loan, PayoffForm(channels=_channels(), initial=initial))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        from servicing.services import loan_payoff

        loan = get_loan_or_404(request, pk)
        form = PayoffForm(request.POST, channels=_channels())
        if not form.is_valid():
            return self.render_page(loan, form, status=400)
        data = form.cleaned_data
        try:
            repayment = loan_payoff(
                actor=request.user,
                loan_id=loan.pk,
                amount=data["amount"],
                channel=data["channel"],
                reference=data["reference"],
            )
        except DomainError as exc:
            return self.render_page(loan, form, status=apply_domain_error(form, exc))
        messages.success(
            request,
            _("已收到结清款 %(amount)s 元，贷款已结清，结清证明已生成。") % {"amount": format_money(repayment.amount)},
        )
        return redirect(reverse("backoffice:loan-detail", kwargs={"pk": loan.pk}))


class SettlementCertificateDownloadView(StaffPermissionMixin, View):
    permission_required = "applications.view_loan"

    def get(self, request: HttpRequest, pk: int) -> FileResponse:
        from servicing.models import SettlementCertificate
        from servicing.selectors import settlement_certificate_get_for_actor

        try:
            certificate = settlement_certificate_get_for_actor(actor=request.user, loan_id=pk)
            handle = certificate.file.open("rb")
        except (SettlementCertificate.DoesNotExist, FileNotFoundError, ValueError) as exc:
            raise Http404("结清证明不存在") from exc
        return FileResponse(
            handle, as_attachment=True, filename=f"{certificate.number}.pdf", content_type="application/pdf"
        )


class OverpaymentView(StaffPermissionMixin, View):
    """溢缴款: the manager applies the held credit to the installments or refunds (part of) it."""

    permission_required = "servicing.refund_overpayment"
    template_name = "backoffice/overpayment_form.html"

    def render_page(
        self, loan: Loan, form: OverpaymentRefundForm, *, status: int = 200, error: str = ""
    ) -> HttpResponse:
        from servicing.selectors import loan_balances

        context = {
            "page_title": _("溢缴款处理"),
            "loan": loan,
            "form": form,
            "error": error,
            "held": loan_balances(loan)["overpayment"],
        }
        return render(self.request, self.template_name, context, status=status)

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self.render_page(get_loan_or_404(request, pk), OverpaymentRefundForm())

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        from servicing.services import overpayment_apply, overpayment_refund

        loan = get_loan_or_404(request, pk)
        if request.POST.get("action") == "apply":
            try:
                repayment = overpayment_apply(
                    actor=request.user, loan_id=loan.pk, reason=str(_("经理决定冲抵后续期次"))
                )
            except DomainError as exc:
                return self.render_page(loan, OverpaymentRefundForm(), status=exc.http_status, error=exc.message)
            messages.success(
                request, _("已将溢缴款 %(amount)s 元冲抵应还款项。") % {"amount": format_money(repayment.amount)}
            )
            return redirect(reverse("backoffice:loan-detail", kwargs={"pk": loan.pk}) + "#repayments")
        form = OverpaymentRefundForm(request.POST)
        if not form.is_valid():
            return self.render_page(loan, form, status=400)
        try:
            overpayment_refund(
                actor=request.user,
                loan_id=loan.pk,
                amount=form.cleaned_data["amount"],
                reason=form.cleaned_data["reason"],
            )
        except DomainError as exc:
            return self.render_page(loan, form, status=apply_domain_error(form, exc))
        messages.success(
            request, _("已退还溢缴款 %(amount)s 元。") % {"amount": format_money(form.cleaned_data["amount"])}
        )
        return redirect(reverse("backoffice:loan-detail", kwargs={"pk": loan.pk}))
