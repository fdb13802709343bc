"""Post-loan risk in the back office: the loan page's 贷后风险 section, five-category classification (downgrade
or upgrade request, a manager's decision), write-off (proposal / approval / rejection), recoveries after a
write-off, and extension / restructuring requests and their approval.

Each page states its permission; the services check permission, four eyes and state again. A refusal
re-renders the form with the service's message (400 / 403 / 409 / 422) and writes nothing.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views import View

from applications.models import RISK_CLASS_RANK, SERVICING_STATUSES, Loan, LoanStatus, RiskClass
from backoffice.risk_forms import DecisionForm, RecoveryForm, RestructuringForm, RiskClassForm, WriteOffForm
from backoffice.views.base import StaffPermissionMixin, apply_domain_error, get_loan_or_404
from backoffice.views.transitions import ACTIONS
from loanops.exceptions import DomainError

TEMPLATE = "backoffice/risk_form.html"


def risk_context(loan: Loan, user: Any) -> dict[str, Any]:
    """What the loan page shows about the class, write-off, recoveries and restructurings (a few queries)."""
    from servicing.selectors import (
        loan_restructurings,
        loan_risk_class_history,
        loan_risk_class_upgrade_pending,
        loan_write_off_summary,
    )
    from servicing.services import business_date_get
    from servicing.services.classification import floor_class

    in_servicing = loan.status in SERVICING_STATUSES
    pending_upgrade = loan_risk_class_upgrade_pending(loan) if in_servicing else None
    write_off = loan_write_off_summary(loan) if loan.disbursed_on else {}
    restructurings = list(loan_restructurings(loan)) if loan.disbursed_on else []
    for row in restructurings:
        row.can_decide = _can_decide_restructuring(row, user)  # type: ignore[attr-defined]
    pending_write_off = write_off.get("pending")
    return {
        "risk_class_label": loan.get_risk_class_display(),
        "risk_floor_label": RiskClass(floor_class(loan=loan, on=business_date_get())).label if in_servicing else "",
        "risk_history": list(loan_risk_class_history(loan)) if loan.disbursed_on else [],
        "risk_pending_upgrade": pending_upgrade,
        "can_classify": in_servicing and user.has_perm("servicing.classify_loan"),
        "can_decide_upgrade": pending_upgrade is not None
        and user.has_perm("servicing.approve_risk_class_upgrade")
        and pending_upgrade.requested_by_id != user.pk,
        "write_off": write_off,
        "can_propose_write_off": loan.status == LoanStatus.OVERDUE
        and loan.risk_class == RiskClass.LOSS
        and pending_write_off is None
        and user.has_perm("servicing.propose_write_off"),
        "can_record_recovery": loan.status == LoanStatus.WRITTEN_OFF
        and user.has_perm("servicing.add_writeoffrecovery"),
        "restructurings": restructurings,
        "can_request_restructuring": in_servicing
        and user.has_perm("servicing.request_restructuring")
        and not any(row.status in ("requested", "risk_approved") for row in restructurings),
    }


def _can_decide_restructuring(row: Any, user: Any) -> bool:
    if row.status == "requested":
        perm = "servicing.approve_restructuring"
    elif row.status == "risk_approved":
        perm = "servicing.approve_restructuring_above_limit"
    else:
        return False
    return bool(user.has_perm(perm) and user.pk not in (row.requested_by_id, row.risk_approved_by_id))


class _LoanFormView(StaffPermissionMixin, View):
    """A form page about one loan: GET shows it, POST calls ``perform`` and redirects to the loan page."""

    title: Any = ""
    intro: Any = ""
    submit_label: Any = _("确认")
    submit_style = "btn-primary"
    success_message: Any = _("操作成功")
    loan: Loan

    def get_form(self, data: Any = None) -> forms.Form:
        raise NotImplementedError

    def perform(self, form: Any) -> Any:
        raise NotImplementedError

    def get_success_message(self, result: Any) -> str:
        return str(self.success_message)

    def extra_context(self) -> dict[str, Any]:
        return {}

    def render_form(self, form: forms.Form, *, status: int = 200) -> HttpResponse:
        context = {
            "page_title": self.title,
            "title": self.title,
            "intro": self.intro,
            "loan": self.loan,
            "form": form,
            "submit_label": self.submit_label,
            "submit_style": self.submit_style,
            "action_url": self.request.path,
            **self.extra_context(),
        }
        return render(self.request, TEMPLATE, context, status=status)

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        self.loan = get_loan_or_404(request, pk)
        return self.render_form(self.get_form())

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        self.loan = get_loan_or_404(request, pk)
        form = self.get_form(request.POST)
        if not form.is_valid():
            return self.render_form(form, status=400)
        try:
            result = self.perform(form)
        except DomainError as exc:
            return self.render_form(form, status=apply_domain_error(form, exc))
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
            return self.render_form(form, status=403)
        messages.success(request, self.get_success_message(result))
        return redirect("backoffice:loan-detail", pk=self.loan.pk)


# --- five-category class -----------------------------------------------------------------------------


class LoanRiskClassView(_LoanFormView):
    permission_required = "servicing.classify_loan"
    title = _("调整五级分类")
    intro = _(
        "下调（比当前分类更差）立即生效，日终批处理不会自动上调；上调须提交申请，由另一位部门经理审批（四眼原则），"
        "且不能好于按逾期天数/重组观察期确定的下限。"
    )

    def get_form(self, data: Any = None) -> forms.Form:
        return RiskClassForm(data, initial={"risk_class": self.loan.risk_class})

    def extra_context(self) -> dict[str, Any]:
        return {
            "facts": [(_("当前分类"), self.loan.get_risk_class_display()), (_("逾期天数"), self.loan.days_past_due)]
        }

    def perform(self, form: Any) -> Any:
        from servicing.services.classification import risk_class_downgrade, risk_class_upgrade_request

        data = form.cleaned_data
        if RISK_CLASS_RANK[data["risk_class"]] > RISK_CLASS_RANK[self.loan.risk_class]:
            return risk_class_downgrade(actor=self.request.user, loan_id=self.loan.pk, **data)
        return risk_class_upgrade_request(actor=self.request.user, loan_id=self.loan.pk, **data)

    def get_success_message(self, result: Any) -> str:
        from servicing.models import RiskClassChange

        if isinstance(result, RiskClassChange):
            return str(_("五级分类已调整为「%(label)s」") % {"label": result.get_to_class_display()})
        return str(_("上调申请已提交，等待部门经理审批"))


class RiskClassUpgradeDecideView(StaffPermissionMixin, View):
    """POST only: a manager approves or rejects the loan's pending upgrade request."""

    permission_required = "servicing.approve_risk_class_upgrade"

    def post(self, request: HttpRequest, pk: int, request_id: int) -> HttpResponse:
        from servicing.models import RiskClassUpgradeRequest
        from servicing.services.classification import risk_class_upgrade_decide

        loan = get_loan_or_404(request, pk)
        if not RiskClassUpgradeRequest.objects.filter(pk=request_id, loan=loan).exists():
            raise Http404("申请不存在")
        form = DecisionForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("请选择批准或驳回"))
            return redirect("backoffice:loan-detail", pk=loan.pk)
        approve = form.cleaned_data["decision"] == "approve"
        try:
            risk_class_upgrade_decide(
                actor=request.user, request_id=request_id, approve=approve, note=form.cleaned_data["note"]
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        except PermissionDenied as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("已批准上调") if approve else _("已驳回上调申请"))
        return redirect("backoffice:loan-detail", pk=loan.pk)


# --- write-off ----------------------------------------------------------------------------------------


class LoanWriteOffView(_LoanFormView):
    """核销: risk proposes; a manager who is not the proposer approves or rejects (the header's 核销 button)."""

    permission_required: Any = ()
    title = _("核销")
    intro = _(
        "只有逾期且五级分类为「损失」的贷款可以核销：由风控提出申请，另一位部门经理审批（四眼原则）。"
        "核销时按账面应收本金、利息、罚息、费用记入核销损失，贷款状态变为「已核销」。"
    )
    submit_style = "btn-danger"

    def has_permission(self) -> bool:
        user = self.request.user
        allowed = user.has_perm("servicing.propose_write_off") or user.has_perm("applications.write_off_loan")
        return bool(user.is_authenticated and user.is_active and user.is_staff and allowed)

    def _pending(self) -> Any:
        from servicing.selectors import loan_write_off_summary

        return loan_write_off_summary(self.loan)["pending"]

    def get_form(self, data: Any = None) -> forms.Form:
        user = self.request.user
        pending = self._pending()
        actions: list[tuple[str, Any]] = []
        if pending is None and user.has_perm("servicing.propose_write_off"):
            actions.append(("propose", _("提出核销申请")))
        if pending is not None and user.has_perm("applications.write_off_loan"):
            actions += [("approve", _("批准核销")), ("reject", _("驳回申请"))]
        return WriteOffForm(data, actions=actions)

    def extra_context(self) -> dict[str, Any]:
        from servicing.selectors import loan_balances

        pending = self._pending()
        facts: list[tuple[Any, Any]] = [
            (_("五级分类"), self.loan.get_risk_class_display()),
            (_("逾期天数"), self.loan.days_past_due),
        ]
        if self.loan.disbursed_on:
            balances = loan_balances(self.loan)
            facts.append((_("应收合计（将核销）"), f"¥{balances['total_receivable']:,}"))
        if pending is not None:
            proposer = pending.proposed_by.get_full_name() or pending.proposed_by.get_username()
            facts += [(_("核销申请人"), proposer), (_("申请理由"), pending.reason)]
            if pending.proposed_by_id == self.request.user.pk:
                return {"facts": facts, "blocked_message": _("四眼原则：核销审批人不能是核销申请人。")}
        return {"facts": facts, "action": ACTIONS["write_off"]}

    def perform(self, form: Any) -> Any:
        from servicing.services.write_off import loan_write_off

        return loan_write_off(actor=self.request.user, loan_id=self.loan.pk, **form.cleaned_data)

    def get_success_message(self, result: Any) -> str:
        return {
            "proposed": str(_("核销申请已提交，等待部门经理审批")),
            "approved": str(_("贷款已核销")),
            "rejected": str(_("已驳回核销申请")),
        }[result.status]


class LoanRecoveryCreateView(_LoanFormView):
    permission_required = "servicing.add_writeoffrecovery"
    title = _("登记核销后收回")
    intro = _("已核销贷款收回的款项记入「核销后收回」（借：银行存款/清算，贷：核销后收回），累计不超过核销金额。")

    def get_form(self, data: Any = None) -> forms.Form:
        from servicing.models import WriteOffRecovery
        from servicing.services import business_date_get

        return RecoveryForm(
            data, initial={"recovered_on": business_date_get()}, channels=list(WriteOffRecovery.Channel.choices)
        )

    def perform(self, form: Any) -> Any:
        from servicing.services.write_off import recovery_record

        return recovery_record(actor=self.request.user, loan_id=self.loan.pk, **form.cleaned_data)

    success_message = _("核销后收回已登记入账")


# --- extension / restructuring ------------------------------------------------------------------------


class LoanRestructuringCreateView(_LoanFormView):
    permission_required = "servicing.request_restructuring"
    title = _("申请展期/重组")
    intro = _(
        "剩余本金（含逾期本金）按新的期数重新分期，已到期的利息、罚息仍须归还。展期不改变利率和还款方式；"
        "重组可调整。由风控审批，超过限额的还须部门经理审批；生效后观察期内五级分类至少为「关注」。"
    )

    def get_form(self, data: Any = None) -> forms.Form:
        return RestructuringForm(data)

    def perform(self, form: Any) -> Any:
        from servicing.services.restructuring import restructuring_request

        data = form.cleaned_data
        return restructuring_request(
            actor=self.request.user,
            loan_id=self.loan.pk,
            kind=data["kind"],
            term_months=data["term_months"],
            annual_rate=form.annual_rate_fraction,
            repayment_method=data["repayment_method"],
            reason=data["reason"],
        )

    success_message = _("展期/重组申请已提交，等待风控审批")


class RestructuringDecideView(StaffPermissionMixin, View):
    """POST only: risk (or a manager above the limit) approves or rejects a request."""

    def has_permission(self) -> bool:
        user = self.request.user
        allowed = user.has_perm("servicing.approve_restructuring") or user.has_perm(
            "servicing.approve_restructuring_above_limit"
        )
        return bool(user.is_authenticated and user.is_active and user.is_staff and allowed)

    def post(self, request: HttpRequest, pk: int, restructuring_id: int) -> HttpResponse:
        from servicing.models import Restructuring
        from servicing.services.restructuring import restructuring_approve, restructuring_reject

        loan = get_loan_or_404(request, pk)
        if not Restructuring.objects.filter(pk=restructuring_id, loan=loan).exists():
            raise Http404("申请不存在")
        form = DecisionForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("请选择批准或驳回"))
            return redirect("backoffice:loan-detail", pk=loan.pk)
        note = form.cleaned_data["note"]
        try:
            if form.cleaned_data["decision"] == "approve":
                row = restructuring_approve(actor=request.user, restructuring_id=restructuring_id, note=note)
                done = (
                    _("展期/重组已生效，已生成新的还款计划")
                    if row.status == "approved"
                    else _("风控已批准，等待部门经理审批")
                )
            else:
                restructuring_reject(actor=request.user, restructuring_id=restructuring_id, note=note)
                done = _("已驳回展期/重组申请")
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect("backoffice:loan-detail", pk=loan.pk)
        except PermissionDenied as exc:
            messages.error(request, str(exc))
            return redirect("backoffice:loan-detail", pk=loan.pk)
        messages.success(request, done)
        return redirect("backoffice:loan-detail", pk=loan.pk)


__all__ = [
    "LoanRecoveryCreateView",
    "LoanRestructuringCreateView",
    "LoanRiskClassView",
    "LoanWriteOffView",
    "RestructuringDecideView",
    "RiskClassUpgradeDecideView",
    "risk_context",
]
