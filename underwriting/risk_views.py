"""Back-office pages of the risk assessment: the credit-report summary, the assessment report (page and PDF),
运行评估, reviewer's notes, scorecard versions and the approval authority matrix.

Thin views: forms check types, `underwriting.risk_services` checks permissions, state and values. Every page
is staff-only with its own permission; a refused action re-renders with 400/409/422 and writes nothing.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views import View

from applications.models import Loan, LoanStatus
from applications.selectors import loan_get_for_actor
from loanops.exceptions import DomainError
from underwriting.assessment import ApprovalAuthority, RiskAssessment, Scorecard
from underwriting.report_pdf import assessment_pdf
from underwriting.risk_forms import (
    AuthorityForm,
    CreditReportForm,
    NotesForm,
    RequiredNotesForm,
    ScorecardForm,
    authority_initial,
    scorecard_initial,
)
from underwriting.risk_selectors import (
    approval_steps,
    assessment_get_for_actor,
    assessment_report,
    authority_matrix,
    loan_assessments,
    loan_credit_report,
    pending_second_level,
    scorecards,
)
from underwriting.risk_services import (
    CREDIT_REPORT_FIELDS,
    assessment_run,
    assessment_update_notes,
    authority_save,
    credit_report_save,
    scorecard_activate,
    scorecard_create_version,
)
from underwriting.scoring import CHARACTERISTICS
from underwriting.stage_clocks import stage_durations
from underwriting.views import StaffPermissionRequiredMixin, apply_domain_error


def _loan(request: HttpRequest, pk: int) -> Loan:
    try:
        return loan_get_for_actor(actor=request.user, loan_id=pk)
    except Loan.DoesNotExist as exc:
        raise Http404("贷款不存在") from exc


def _assessment(request: HttpRequest, pk: int) -> RiskAssessment:
    try:
        return assessment_get_for_actor(actor=request.user, assessment_id=pk)
    except RiskAssessment.DoesNotExist as exc:
        raise Http404("评估不存在") from exc


def _scorecard(pk: int) -> Scorecard:
    scorecard = Scorecard.objects.select_related("created_by").filter(pk=pk).first()
    if scorecard is None:
        raise Http404("评分卡不存在")
    return scorecard


# --- credit-report summary ----------------------------------------------------------------------------


class CreditReportView(StaffPermissionRequiredMixin, View):
    """征信摘要: view and enter/correct (ops or risk) before the decision."""

    permission_required = "underwriting.view_creditreportsummary"
    template_name = "underwriting/credit_report_form.html"

    def render_form(self, loan: Loan, form: CreditReportForm, *, status: int = 200) -> HttpResponse:
        report = loan_credit_report(loan)
        can_edit = self.request.user.has_perm(
            "underwriting.change_creditreportsummary" if report else "underwriting.add_creditreportsummary"
        )
        context = {"page_title": _("征信摘要"), "loan": loan, "form": form, "report": report, "can_edit": can_edit}
        return render(self.request, self.template_name, context, status=status)

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        loan = _loan(request, pk)
        report = loan_credit_report(loan)
        initial = {field: getattr(report, field) for field in CREDIT_REPORT_FIELDS} if report else {}
        return self.render_form(loan, CreditReportForm(initial=initial))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        loan = _loan(request, pk)
        form = CreditReportForm(request.POST)
        if not form.is_valid():
            return self.render_form(loan, form, status=400)
        try:
            credit_report_save(actor=request.user, loan_id=loan.pk, data=dict(form.cleaned_data))
        except DomainError as exc:
            apply_domain_error(form, exc, {})
            return self.render_form(loan, form, status=exc.http_status)
        messages.success(request, _("征信摘要已保存"))
        if loan.status == LoanStatus.RISK_REVIEW and request.user.has_perm("underwriting.view_riskassessment"):
            return redirect("backoffice:loan-assessment", pk=loan.pk)
        return redirect("backoffice:loan-detail", pk=loan.pk)


# --- assessments --------------------------------------------------------------------------------------


def render_assessment_page(request: HttpRequest, loan: Loan, *, status: int = 200) -> HttpResponse:
    history = list(loan_assessments(loan)[:20])
    current = history[0] if history else None
    context: dict[str, Any] = {
        "page_title": _("风险评估"),
        "loan": loan,
        "history": history,
        "report": assessment_report(current) if current else None,
        "steps": approval_steps(current) if current else [],
        "pending": pending_second_level(loan),
        "credit_report": loan_credit_report(loan),
        "can_run": loan.status == LoanStatus.RISK_REVIEW and request.user.has_perm("underwriting.add_riskassessment"),
        "notes_form": RequiredNotesForm(initial={"notes": current.notes if current else ""}),
        "run_form": NotesForm(),
        "durations": stage_durations(loan),
    }
    return render(request, "underwriting/assessment.html", context, status=status)


class LoanAssessmentView(StaffPermissionRequiredMixin, View):
    """风险评估: the current assessment's report, earlier runs, the approvals and the stage clocks."""

    permission_required = "underwriting.view_riskassessment"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return render_assessment_page(request, _loan(request, pk))


class AssessmentRunView(StaffPermissionRequiredMixin, View):
    """运行评估 (POST): a new assessment with the active scorecard."""

    permission_required = "underwriting.add_riskassessment"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        loan = _loan(request, pk)
        form = NotesForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("审查意见最多 2000 个字"))
            return render_assessment_page(request, loan, status=400)
        try:
            assessment = assessment_run(actor=request.user, loan_id=loan.pk, notes=form.cleaned_data["notes"])
        except DomainError as exc:
            messages.error(request, exc.message)
            return render_assessment_page(request, loan, status=exc.http_status)
        messages.success(
            request, _("评估完成：%(score)s 分，%(grade)s 级") % {"score": assessment.score, "grade": assessment.grade}
        )
        return redirect("backoffice:loan-assessment", pk=loan.pk)


class AssessmentNotesView(StaffPermissionRequiredMixin, View):
    """审查意见 (POST) on an assessment."""

    permission_required = "underwriting.add_riskassessment"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        assessment = _assessment(request, pk)
        form = RequiredNotesForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("请填写审查意见（最多 2000 个字）"))
            return render_assessment_page(request, assessment.loan, status=400)
        try:
            assessment_update_notes(actor=request.user, assessment_id=assessment.pk, notes=form.cleaned_data["notes"])
        except DomainError as exc:
            messages.error(request, exc.message)
            return render_assessment_page(request, assessment.loan, status=exc.http_status)
        messages.success(request, _("审查意见已保存"))
        return redirect("backoffice:loan-assessment", pk=assessment.loan_id)


class AssessmentDetailView(StaffPermissionRequiredMixin, View):
    """One assessment's report (also earlier runs)."""

    permission_required = "underwriting.view_riskassessment"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        assessment = _assessment(request, pk)
        context = {
            "page_title": _("风险评估报告"),
            "loan": assessment.loan,
            "report": assessment_report(assessment),
            "steps": approval_steps(assessment),
        }
        return render(request, "underwriting/assessment_detail.html", context)


class AssessmentPdfView(StaffPermissionRequiredMixin, View):
    permission_required = "underwriting.view_riskassessment"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        assessment = _assessment(request, pk)
        response = HttpResponse(assessment_pdf(assessment), content_type="application/pdf")
        name = f"risk-assessment-{assessment.loan.reference or assessment.loan_id}-{assessment.pk}.pdf"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


# --- scorecards ---------------------------------------------------------------------------------------


def _bins_rows(scorecard: Scorecard) -> list[dict[str, Any]]:
    from underwriting.risk_services import compiled_scorecard

    compiled = compiled_scorecard(scorecard)
    return [
        {
            "code": code,
            "label": CHARACTERISTICS.get(code, code),
            "bins": [{"label": item.label, "points": item.points} for item in bins],
            "missing": missing,
        }
        for code, bins, missing in compiled.characteristics
    ]


class ScorecardListView(StaffPermissionRequiredMixin, View):
    permission_required = "underwriting.view_scorecard"

    def get(self, request: HttpRequest) -> HttpResponse:
        context = {
            "page_title": _("评分卡"),
            "scorecards": list(scorecards()),
            "matrix": authority_matrix(),
        }
        return render(request, "underwriting/scorecard_list.html", context)


class ScorecardDetailView(StaffPermissionRequiredMixin, View):
    permission_required = "underwriting.view_scorecard"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        scorecard = _scorecard(pk)
        context = {
            "page_title": f"{scorecard.name} v{scorecard.version}",
            "scorecard": scorecard,
            "rows": _bins_rows(scorecard),
            "cutoffs": sorted(scorecard.grade_cutoffs.items()),
            "can_edit": request.user.has_perm("underwriting.add_scorecard"),
            "can_activate": request.user.has_perm("underwriting.activate_scorecard") and not scorecard.is_active,
        }
        return render(request, "underwriting/scorecard_detail.html", context)


class ScorecardNewVersionView(StaffPermissionRequiredMixin, View):
    """Edit = a new version starting from this one (the old one stays as it was)."""

    permission_required = "underwriting.add_scorecard"
    template_name = "underwriting/scorecard_form.html"

    def render_form(self, scorecard: Scorecard, form: ScorecardForm, *, status: int = 200) -> HttpResponse:
        context = {"page_title": _("编辑评分卡（生成新版本）"), "scorecard": scorecard, "form": form}
        return render(self.request, self.template_name, context, status=status)

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        scorecard = _scorecard(pk)
        return self.render_form(scorecard, ScorecardForm(initial=scorecard_initial(scorecard)))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        scorecard = _scorecard(pk)
        form = ScorecardForm(request.POST)
        if not form.is_valid():
            return self.render_form(scorecard, form, status=400)
        try:
            created = scorecard_create_version(
                actor=request.user,
                data=form.service_data(),
                note=form.cleaned_data["note"],
                activate=form.cleaned_data["activate"],
            )
        except DomainError as exc:
            apply_domain_error(form, exc, ScorecardForm.field_map())
            return self.render_form(scorecard, form, status=exc.http_status)
        except PermissionDenied:
            form.add_error("activate", _("您没有启用评分卡的权限"))
            return self.render_form(scorecard, form, status=403)
        messages.success(request, _("已保存为新版本 v%(version)s") % {"version": created.version})
        return redirect("backoffice:scorecard-detail", pk=created.pk)


class ScorecardActivateView(StaffPermissionRequiredMixin, View):
    permission_required = "underwriting.activate_scorecard"

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        scorecard = _scorecard(pk)
        try:
            scorecard_activate(actor=request.user, scorecard_id=scorecard.pk)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("评分卡 v%(version)s 已启用") % {"version": scorecard.version})
        return redirect("backoffice:scorecard-detail", pk=scorecard.pk)


# --- approval authority matrix ---------------------------------------------------------------------------


class AuthorityFormView(StaffPermissionRequiredMixin, View):
    """Add or change a row of the approval authority matrix (department manager)."""

    permission_required = "underwriting.change_approvalauthority"
    template_name = "underwriting/authority_form.html"

    def get_row(self) -> ApprovalAuthority | None:
        pk = self.kwargs.get("pk")
        if pk is None:
            return None
        row = ApprovalAuthority.objects.filter(pk=pk).first()
        if row is None:
            raise Http404("审批权限不存在")
        return row

    def render_form(self, form: AuthorityForm, row: ApprovalAuthority | None, *, status: int = 200) -> HttpResponse:
        context = {"page_title": _("审批权限矩阵"), "form": form, "row": row}
        return render(self.request, self.template_name, context, status=status)

    def get(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        row = self.get_row()
        form = AuthorityForm(initial=authority_initial(row) if row else {"levels": 1})
        return self.render_form(form, row)

    def post(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        row = self.get_row()
        form = AuthorityForm(request.POST)
        if not form.is_valid():
            return self.render_form(form, row, status=400)
        try:
            authority_save(actor=request.user, data=dict(form.cleaned_data), authority_id=row.pk if row else None)
        except DomainError as exc:
            apply_domain_error(form, exc, {})
            return self.render_form(form, row, status=exc.http_status)
        messages.success(request, _("审批权限已保存"))
        return redirect("backoffice:scorecard-list")
