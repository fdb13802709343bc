"""Read side of the risk assessment: the current assessment of a loan, its report, scorecards, the matrix."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from applications.models import Loan
from applications.selectors import loan_get_for_actor
from loanops.money import format_rate_percent, to_decimal
from underwriting.assessment import ApprovalAuthority, ApprovalStep, CreditReportSummary, RiskAssessment, Scorecard
from underwriting.scoring import CHARACTERISTICS
from underwriting.selectors import REJECT_REASONS


def loan_latest_assessment(loan: Loan) -> RiskAssessment | None:
    return RiskAssessment.objects.filter(loan=loan).select_related("scorecard", "run_by").order_by("-id").first()


def loan_assessments(loan: Loan) -> QuerySet[RiskAssessment]:
    return RiskAssessment.objects.filter(loan=loan).select_related("scorecard", "run_by").order_by("-id")


def loan_credit_report(loan: Loan) -> CreditReportSummary | None:
    return CreditReportSummary.objects.filter(loan=loan).select_related("entered_by").first()


def assessment_get_for_actor(*, actor: Any, assessment_id: int) -> RiskAssessment:
    """An assessment of a loan the actor may see (RiskAssessment.DoesNotExist otherwise → 404)."""
    assessment = (
        RiskAssessment.objects.select_related("scorecard", "run_by", "loan", "loan__customer", "loan__product")
        .filter(pk=assessment_id)
        .first()
    )
    if assessment is None:
        raise RiskAssessment.DoesNotExist
    try:
        loan_get_for_actor(actor=actor, loan_id=assessment.loan_id)
    except Loan.DoesNotExist as exc:
        raise RiskAssessment.DoesNotExist from exc
    return assessment


def approval_steps(assessment: RiskAssessment) -> list[ApprovalStep]:
    return list(ApprovalStep.objects.filter(assessment=assessment).select_related("approver").order_by("level"))


def pending_second_level(loan: Loan) -> ApprovalStep | None:
    """The level-1 approval waiting for a second level on the loan's current assessment, if any."""
    latest = RiskAssessment.objects.filter(loan=loan).order_by("-id").values_list("pk", flat=True).first()
    if latest is None:
        return None
    steps = list(ApprovalStep.objects.filter(assessment_id=latest).select_related("approver").order_by("level"))
    if len(steps) == 1 and steps[0].levels_required == 2:
        return steps[0]
    return None


def scorecards() -> QuerySet[Scorecard]:
    return Scorecard.objects.select_related("created_by").order_by("-version")


def scorecard_active() -> Scorecard | None:
    return Scorecard.objects.filter(is_active=True).first()


def authority_matrix() -> list[ApprovalAuthority]:
    return list(ApprovalAuthority.objects.order_by("position"))


def suggested_reject_reasons(assessment: RiskAssessment | None) -> list[str]:
    """The `REJECT_REASONS` codes of the rules that hit (knock-outs first), for the reject form."""
    if assessment is None:
        return []
    codes = [r["reject_reason"] for r in assessment.rule_results if r["hit"] and r.get("reject_reason")]
    if assessment.grade == "E":
        codes.append("score_insufficient")
    return [code for code in dict.fromkeys(codes) if code in REJECT_REASONS]


def _value_text(code: str, value: str | None) -> str:
    if value is None:
        return "缺失"
    number = to_decimal(value)
    if code in ("dti", "total_debt_ratio", "collateral_ratio"):
        return format_rate_percent(number)
    if code == "annual_income":
        return f"{number:,.2f} 元"
    return str(number.normalize()) if number == number.to_integral_value() else str(number)


def assessment_report(assessment: RiskAssessment) -> dict[str, Any]:
    """Everything the report page and the PDF show, as display-ready values."""
    points = [
        {
            **line,
            "label": CHARACTERISTICS.get(line["code"], line["code"]),
            "value_text": _value_text(line["code"], line["value"]),
        }
        for line in assessment.points
    ]
    knockouts = [r for r in assessment.rule_results if r["kind"] == "knockout"]
    warnings = [r for r in assessment.rule_results if r["kind"] == "warning"]
    inputs = assessment.inputs or {}
    dti = inputs.get("dti")
    return {
        "assessment": assessment,
        "points": points,
        "knockouts": knockouts,
        "warnings": warnings,
        "hit_knockouts": [r for r in knockouts if r["hit"]],
        "hit_warnings": [r for r in warnings if r["hit"]],
        "dti_text": format_rate_percent(to_decimal(dti)) if dti is not None else "—",
        "inputs": inputs,
        "base_points": assessment.scorecard.base_points,
    }
