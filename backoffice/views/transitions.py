"""One page (and one URL) per loan transition: a form, the stage service, and the error translation.

Each view states the transition's permission (`applications.<verb>_loan`); the service checks state and
permission again through `applications.lifecycle.loan_transition`. A refused transition re-renders the form
with the service's message: 409 for an illegal transition or concurrent change, 422 for a business rule,
400 for bad input (field errors on the fields). Nothing is written in any of these cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views import View

from applications import services as application_services
from applications.lifecycle import available_transitions
from applications.models import DocumentType, Loan
from applications.selectors import loan_missing_documents
from backoffice import forms as bo_forms
from backoffice.views.base import StaffPermissionMixin, apply_domain_error, get_loan_or_404, is_htmx
from loanops.exceptions import DomainError


@dataclass(frozen=True)
class TransitionAction:
    """How a transition appears in the back office: button label, style and the URL name of its form."""

    name: str
    label: Any
    style: str = "btn-secondary"
    url_name: str | None = None  # None: not done from the back office (shown disabled)
    note: Any = ""


def _url(name: str) -> str:
    return "backoffice:loan-" + name.replace("_", "-")


ACTIONS: dict[str, TransitionAction] = {
    action.name: action
    for action in (
        TransitionAction("submit", _("代客户提交申请"), "btn-primary", _url("submit")),
        TransitionAction("start_review", _("提交风控"), "btn-primary", _url("start_review")),
        TransitionAction("request_supplement", _("要求补充材料"), "btn-secondary", _url("request_supplement")),
        TransitionAction("approve", _("审批通过"), "btn-primary", _url("approve")),
        TransitionAction("reject", _("拒绝"), "btn-danger", _url("reject")),
        TransitionAction("make_offer", _("出具要约"), "btn-primary", _url("make_offer")),
        TransitionAction("accept_offer", _("代客户接受要约"), "btn-secondary", _url("accept_offer")),
        TransitionAction("sign_contract", _("签署合同"), note=_("由借款人在门户完成电子签名")),
        TransitionAction("prepare_disbursement", _("发起放款"), "btn-primary", _url("prepare_disbursement")),
        TransitionAction("disburse", _("放款复核"), "btn-primary", _url("disburse")),
        TransitionAction("mark_overdue", _("标记逾期"), note=_("由日终批处理自动执行")),
        TransitionAction("cure", _("逾期转正常"), note=_("由日终批处理自动执行")),
        TransitionAction("settle", _("结清"), "btn-primary", _url("settle")),
        TransitionAction("archive", _("归档"), "btn-secondary", _url("archive")),
        TransitionAction("write_off", _("核销"), "btn-danger", _url("write_off")),
        TransitionAction("withdraw", _("撤回申请"), "btn-danger", _url("withdraw")),
    )
}


def loan_actions(loan: Loan, user: Any) -> list[TransitionAction]:
    """The buttons for exactly the transitions this user may take on this loan now."""
    return [ACTIONS[name] for name in available_transitions(loan, user) if name in ACTIONS]


class LoanTransitionView(StaffPermissionMixin, View):
    """GET shows the form for one transition; POST runs the stage service and redirects to the loan."""

    transition: ClassVar[str]
    form_class: ClassVar[type[forms.Form]] = bo_forms.ReasonForm
    title: ClassVar[Any] = ""
    intro: ClassVar[Any] = ""
    submit_label: ClassVar[Any] = _("确认")
    success_message: ClassVar[Any] = _("操作成功")
    field_map: ClassVar[dict[str, str]] = {}
    template_name = "backoffice/loan_transition.html"
    partial_template_name = "backoffice/partials/transition_form.html"

    loan: Loan

    def get_permission_required(self) -> tuple[str, ...]:
        return (f"applications.{self.transition}_loan",)

    # --- hooks for subclasses -----------------------------------------------------------------

    def get_initial(self) -> dict[str, Any]:
        return {}

    def get_form_kwargs(self) -> dict[str, Any]:
        return {}

    def perform(self, form: forms.Form) -> Any:
        raise NotImplementedError

    def get_success_message(self, result: Any) -> str:
        return str(self.success_message)

    def get_extra_context(self) -> dict[str, Any]:
        return {}

    def on_permission_denied(self, form: forms.Form, exc: PermissionDenied) -> HttpResponse:
        raise exc

    # --- plumbing -----------------------------------------------------------------------------

    def get_form(self, data: Any = None, files: Any = None) -> forms.Form:
        kwargs = self.get_form_kwargs()
        if data is None:
            kwargs["initial"] = self.get_initial()
        return self.form_class(data, files, **kwargs)

    def render_form(self, form: forms.Form, *, status: int = 200) -> HttpResponse:
        allowed = self.transition in available_transitions(self.loan, self.request.user)
        context = {
            "loan": self.loan,
            "form": form,
            "action": ACTIONS[self.transition],
            "title": self.title or ACTIONS[self.transition].label,
            "intro": self.intro,
            "submit_label": self.submit_label,
            "submit_style": ACTIONS[self.transition].style,
            "allowed": allowed,
            "page_title": self.title or ACTIONS[self.transition].label,
            **self.get_extra_context(),
        }
        template = self.partial_template_name if is_htmx(self.request) else self.template_name
        return render(self.request, template, context, status=status)

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        self.loan = get_loan_or_404(request, pk)
        return self.render_form(self.get_form())

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        self.loan = get_loan_or_404(request, pk)
        form = self.get_form(request.POST, request.FILES)
        if not form.is_valid():
            return self.render_form(form, status=400)
        try:
            result = self.perform(form)
        except DomainError as exc:
            status = apply_domain_error(form, exc, field_map=self.field_map)
            return self.render_form(form, status=status)
        except PermissionDenied as exc:
            return self.on_permission_denied(form, exc)
        messages.success(request, self.get_success_message(result))
        return redirect("backoffice:loan-detail", pk=self.loan.pk)


# --- applications (intake) -----------------------------------------------------------------------


class LoanSubmitView(LoanTransitionView):
    transition = "submit"
    intro = _("代借款人提交申请（例如借款人在柜台办理）。提交后进入材料核对。")
    submit_label = _("提交申请")
    success_message = _("申请已提交")

    def perform(self, form: forms.Form) -> Any:
        return application_services.loan_submit(
            actor=self.request.user, loan_id=self.loan.pk, reason=form.cleaned_data["reason"]
        )


class LoanStartReviewView(LoanTransitionView):
    transition = "start_review"
    intro = _("确认申请材料齐全、信息一致后，提交风控审查。")
    submit_label = _("提交风控")
    success_message = _("已提交风控审查")

    def get_extra_context(self) -> dict[str, Any]:
        missing = loan_missing_documents(self.loan)
        return {"missing_documents": [DocumentType(item).label for item in missing]}

    def perform(self, form: forms.Form) -> Any:
        return application_services.loan_start_review(
            actor=self.request.user, loan_id=self.loan.pk, reason=form.cleaned_data["reason"]
        )


class LoanRequestSupplementView(LoanTransitionView):
    transition = "request_supplement"
    form_class = bo_forms.RequestSupplementForm
    intro = _("勾选需要借款人补充的材料并说明原因；借款人补齐后重新提交。")
    submit_label = _("发送补件要求")
    success_message = _("已要求借款人补充材料")

    def get_initial(self) -> dict[str, Any]:
        return {"items": loan_missing_documents(self.loan)}

    def perform(self, form: forms.Form) -> Any:
        return application_services.loan_request_supplement(
            actor=self.request.user,
            loan_id=self.loan.pk,
            items=list(form.cleaned_data["items"]),
            message=form.cleaned_data["message"],
        )


class LoanWithdrawView(LoanTransitionView):
    transition = "withdraw"
    form_class = bo_forms.RequiredReasonForm
    intro = _("撤回后申请终止，不能恢复。请填写撤回原因（例如借款人主动放弃）。")
    submit_label = _("确认撤回")
    success_message = _("申请已撤回")

    def perform(self, form: forms.Form) -> Any:
        return application_services.loan_withdraw(
            actor=self.request.user, loan_id=self.loan.pk, reason=form.cleaned_data["reason"]
        )


# --- underwriting (risk decision, offer) ---------------------------------------------------------


class LoanApproveView(LoanTransitionView):
    transition = "approve"
    form_class = bo_forms.ApproveForm
    intro = _("批准金额不得超过申请金额；审批通过后由产品匹配出具要约。")
    submit_label = _("审批通过")
    success_message = _("已审批通过")

    def get_initial(self) -> dict[str, Any]:
        from underwriting.risk_selectors import pending_second_level

        pending = pending_second_level(self.loan)
        if pending is not None:
            return {"approved_amount": pending.approved_amount, "conditions": pending.conditions}
        return {"approved_amount": self.loan.requested_amount}

    def get_extra_context(self) -> dict[str, Any]:
        from underwriting.risk_selectors import loan_latest_assessment, pending_second_level

        assessment = loan_latest_assessment(self.loan)
        pending = pending_second_level(self.loan)
        context: dict[str, Any] = {"assessment": assessment, "pending_approval": pending}
        if assessment is not None:
            context["intro_extra"] = _("当前评估：%(score)s 分，%(grade)s 级%(ko)s") % {
                "score": assessment.score,
                "grade": assessment.grade,
                "ko": _("，命中拒绝规则（不能审批通过）") if assessment.knocked_out else "",
            }
        if pending is not None:
            context["notice_message"] = _(
                "已由 %(who)s 完成第一级审批（%(amount)s 元），本次为第二级审批，须由另一位部门经理完成。"
            ) % {"who": pending.approver.get_username(), "amount": pending.approved_amount}
        return context

    def get_success_message(self, result: Any) -> str:
        from underwriting.models import ApprovalStep

        if isinstance(result, ApprovalStep):
            return str(_("已完成第一级审批；该笔贷款还须部门经理进行第二级审批"))
        return str(self.success_message)

    def on_permission_denied(self, form: forms.Form, exc: PermissionDenied) -> HttpResponse:
        form.add_error(None, str(exc))
        return self.render_form(form, status=403)

    def perform(self, form: forms.Form) -> Any:
        from underwriting import services as underwriting_services

        return underwriting_services.loan_approve(
            actor=self.request.user,
            loan_id=self.loan.pk,
            approved_amount=form.cleaned_data["approved_amount"],
            note=form.cleaned_data["note"],
            conditions=form.cleaned_data["conditions"],
        )


class LoanRejectView(LoanTransitionView):
    transition = "reject"
    form_class = bo_forms.RejectForm
    intro = _("借款人只会看到礼貌的通用说明，不会看到具体的拒绝规则。")
    submit_label = _("确认拒绝")
    success_message = _("已拒绝该申请")

    def get_form_kwargs(self) -> dict[str, Any]:
        from underwriting.selectors import REJECT_REASONS

        return {"reasons": REJECT_REASONS}

    def get_initial(self) -> dict[str, Any]:
        from underwriting.risk_selectors import loan_latest_assessment, suggested_reject_reasons

        return {"reason_codes": suggested_reject_reasons(loan_latest_assessment(self.loan))}

    def perform(self, form: forms.Form) -> Any:
        from underwriting import services as underwriting_services

        return underwriting_services.loan_reject(
            actor=self.request.user,
            loan_id=self.loan.pk,
            reason_codes=list(form.cleaned_data["reason_codes"]),
            note=form.cleaned_data["note"],
        )


class LoanMakeOfferView(LoanTransitionView):
    transition = "make_offer"
    form_class = bo_forms.MakeOfferForm
    intro = _("要约条款已按批准金额和产品参数预填，可按需调整。年化成本须在法定上限以内。")
    submit_label = _("出具要约")
    success_message = _("要约已出具，等待借款人确认")

    def get_form_kwargs(self) -> dict[str, Any]:
        from underwriting.matching import loan_product_matching

        eligible = [m.product for m in loan_product_matching(self.loan) if m.eligible]
        methods = sorted({m for p in [self.loan.product, *eligible] for m in p.repayment_methods or []})
        return {
            "methods": methods if len(eligible) > 1 else list(self.offer_product().repayment_methods or []),
            "products": [(p.pk, f"{p.name}（{p.code} v{p.version}）") for p in eligible] or None,
        }

    def offer_product(self) -> Any:
        from underwriting.selectors import offer_defaults

        return offer_defaults(self.loan)["product"]

    def get_initial(self) -> dict[str, Any]:
        from underwriting.selectors import offer_defaults

        initial = dict(offer_defaults(self.loan))
        initial["product_id"] = initial.pop("product").pk
        if initial.get("annual_rate") is not None:
            initial["annual_rate"] = (Decimal(initial["annual_rate"]) * 100).normalize()
        return initial

    def get_extra_context(self) -> dict[str, Any]:
        from django.utils import timezone

        from underwriting.matching import format_terms, loan_risk_grade, product_rate_band, product_terms
        from underwriting.rate_caps import rate_cap_for

        product = self.offer_product()
        grade = loan_risk_grade(self.loan)
        try:
            cap: Any = rate_cap_for(on=timezone.localdate())
        except DomainError as exc:
            cap = exc.message
        return {
            "product": product,
            "offer_grade": grade,
            "offer_band": product_rate_band(product, grade),
            "offer_terms": format_terms(product_terms(product)),
            "offer_rate_cap": cap,
        }

    def perform(self, form: forms.Form) -> Any:
        from underwriting import services as underwriting_services

        assert isinstance(form, bo_forms.MakeOfferForm)
        data = form.cleaned_data
        return underwriting_services.loan_make_offer(
            actor=self.request.user,
            loan_id=self.loan.pk,
            principal=data["principal"],
            annual_rate=form.annual_rate_fraction,
            term_months=data["term_months"],
            repayment_method=data["repayment_method"],
            first_due_date=data["first_due_date"],
            product_id=data.get("product_id"),
            reason=data["reason"],
        )


# --- contracts (acceptance on the customer's behalf, maker) -------------------------------------


class LoanAcceptOfferView(LoanTransitionView):
    transition = "accept_offer"
    intro = _("借款人已当面或书面确认接受要约时，由运营代为确认。确认后生成借款合同，等待借款人签署。")
    submit_label = _("确认接受要约")
    success_message = _("要约已接受，合同已生成")

    def perform(self, form: forms.Form) -> Any:
        from contracts import services as contract_services

        return contract_services.loan_accept_offer(
            actor=self.request.user, loan_id=self.loan.pk, reason=form.cleaned_data["reason"]
        )


class LoanPrepareDisbursementView(LoanTransitionView):
    transition = "prepare_disbursement"
    form_class = bo_forms.PrepareDisbursementForm
    intro = _("录入收款账户并发起放款（制单）。放款须由另一位有复核权限的同事确认（四眼原则）。")
    submit_label = _("发起放款")
    success_message = _("放款已发起，等待复核")

    def perform(self, form: forms.Form) -> Any:
        from contracts import services as contract_services

        data = form.cleaned_data
        return contract_services.loan_prepare_disbursement(
            actor=self.request.user,
            loan_id=self.loan.pk,
            bank_name=data["bank_name"],
            bank_account=data["bank_account"],
            reason=data["reason"],
        )


# --- servicing (checker, settlement) -------------------------------------------------------------

FOUR_EYES_MESSAGE = _("四眼原则：放款复核人不能是发起放款的制单人。请由另一位有放款复核权限的同事确认。")


class LoanDisburseView(LoanTransitionView):
    transition = "disburse"
    form_class = bo_forms.DisburseForm
    intro = _("请核对借款人、放款金额和收款账户。确认后生成还款计划并记账，款项划出后不能撤回。")
    submit_label = _("确认放款")
    success_message = _("放款已确认，贷款进入还款期")

    def is_maker(self) -> bool:
        return self.loan.prepared_by_id is not None and self.loan.prepared_by_id == self.request.user.pk

    def get_extra_context(self) -> dict[str, Any]:
        from contracts.selectors import disbursement_for

        return {
            "disbursement": disbursement_for(self.loan),
            "blocked_message": FOUR_EYES_MESSAGE if self.is_maker() else "",
        }

    def on_permission_denied(self, form: forms.Form, exc: PermissionDenied) -> HttpResponse:
        if self.is_maker():
            return self.render_form(form, status=403)
        raise exc

    def perform(self, form: forms.Form) -> Any:
        from servicing import services as servicing_services

        return servicing_services.loan_disburse(
            actor=self.request.user, loan_id=self.loan.pk, reason=form.cleaned_data["reason"]
        )


class LoanSettleView(LoanTransitionView):
    transition = "settle"
    intro = _("确认借款人已还清全部本金、利息、罚息和费用后结清贷款。尚有欠款时系统会拒绝结清。")
    submit_label = _("确认结清")
    success_message = _("贷款已结清")

    def perform(self, form: forms.Form) -> Any:
        from servicing import services as servicing_services

        return servicing_services.loan_settle(
            actor=self.request.user, loan_id=self.loan.pk, reason=form.cleaned_data["reason"]
        )


class LoanArchiveView(LoanTransitionView):
    transition = "archive"
    intro = _("归档后贷款档案只读保存。")
    submit_label = _("确认归档")
    success_message = _("贷款已归档")

    def perform(self, form: forms.Form) -> Any:
        from servicing import services as servicing_services

        return servicing_services.loan_archive(
            actor=self.request.user, loan_id=self.loan.pk, reason=form.cleaned_data["reason"]
        )


TRANSITION_VIEWS: dict[str, type[LoanTransitionView]] = {
    view.transition: view
    for view in (
        LoanSubmitView,
        LoanStartReviewView,
        LoanRequestSupplementView,
        LoanApproveView,
        LoanRejectView,
        LoanMakeOfferView,
        LoanAcceptOfferView,
        LoanPrepareDisbursementView,
        LoanDisburseView,
        LoanSettleView,
        LoanArchiveView,
        LoanWithdrawView,
    )
}
