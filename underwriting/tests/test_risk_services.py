"""Services of the risk assessment: credit-report summary, automatic and manual assessments, scorecard
versioning, knock-outs blocking approval, and the approval authority matrix (two levels, two people)."""

from __future__ import annotations

import copy
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from applications import services as intake
from applications.models import Loan, LoanStatus
from compliance.models import AuditEvent
from loanops import roles
from loanops.exceptions import DomainError, InputError, InvalidTransition
from underwriting.models import (
    ApprovalAuthority,
    ApprovalStep,
    CreditReportSummary,
    RiskAssessment,
    RiskReview,
    Scorecard,
)
from underwriting.risk_services import (
    assessment_run,
    assessment_update_notes,
    credit_report_save,
    scorecard_activate,
    scorecard_create_version,
)
from underwriting.scoring import DEFAULT_SCORECARD
from underwriting.services import loan_approve, loan_reject
from underwriting.tests.helpers import make_customer_with_login, make_loan, make_user

pytestmark = pytest.mark.django_db

CLEAN_REPORT: dict[str, Any] = {
    "report_date": "2026-01-05",
    "current_overdue_count": 0,
    "overdue_count_24m": 0,
    "max_dpd_24m": 0,
    "inquiries_6m": 1,
    "total_debt": "20000.00",
    "monthly_debt_payment": "500.00",
    "verified_annual_income": "240000.00",
    "collateral_value": "0",
}


def counts() -> dict[str, int]:
    return {
        "reports": CreditReportSummary.objects.count(),
        "assessments": RiskAssessment.objects.count(),
        "steps": ApprovalStep.objects.count(),
        "reviews": RiskReview.objects.count(),
        "scorecards": Scorecard.objects.count(),
        "audit": AuditEvent.objects.count(),
    }


def submitted(loan: Loan, ops: Any) -> Loan:
    intake.loan_submit(actor=loan.customer.user, loan_id=loan.pk)
    return loan


def to_review(loan: Loan, ops: Any) -> Loan:
    intake.loan_start_review(actor=ops, loan_id=loan.pk)
    loan.refresh_from_db()
    return loan


@pytest.fixture
def manager2(db: None) -> Any:
    return make_user("manager2", roles.MANAGER)


@pytest.fixture
def risk2(db: None) -> Any:
    return make_user("risk2", roles.RISK)


# --- seeded defaults ------------------------------------------------------------------------------


def test_default_scorecard_and_matrix_are_seeded() -> None:
    active = Scorecard.objects.get(is_active=True)
    assert active.version == 1
    assert active.grade_cutoffs == DEFAULT_SCORECARD["grade_cutoffs"]
    assert list(ApprovalAuthority.objects.values_list("levels", flat=True)) == [1, 2, 2, 0]


# --- credit-report summary ------------------------------------------------------------------------


def test_ops_enters_and_corrects_the_credit_report(draft_loan: Loan, ops: Any) -> None:
    report = credit_report_save(actor=ops, loan_id=draft_loan.pk, data=CLEAN_REPORT)
    assert report.total_debt == Decimal("20000.00") and report.inquiries_6m == 1
    report = credit_report_save(actor=ops, loan_id=draft_loan.pk, data={**CLEAN_REPORT, "inquiries_6m": "4"})
    assert CreditReportSummary.objects.get(loan=draft_loan).inquiries_6m == 4
    actions = list(AuditEvent.objects.filter(subject_id=str(draft_loan.pk)).values_list("action", flat=True))
    assert actions[-2:] == ["loan.credit_report_create", "loan.credit_report_update"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"report_date": "2026-13-01"}, "report_date"),
        ({"report_date": (timezone.localdate() + timedelta(days=1)).isoformat()}, "report_date"),
        ({"inquiries_6m": -1}, "inquiries_6m"),
        ({"inquiries_6m": "x"}, "inquiries_6m"),
        ({"max_dpd_24m": 1.5}, "max_dpd_24m"),
        ({"total_debt": "-1"}, "total_debt"),
        ({"total_debt": "1.001"}, "total_debt"),
        ({"monthly_debt_payment": ""}, "monthly_debt_payment"),
        ({"verified_annual_income": "abc"}, "verified_annual_income"),
        ({"current_overdue_count": 2, "overdue_count_24m": 0}, "overdue_count_24m"),
    ],
)
def test_bad_credit_report_input_writes_nothing(
    draft_loan: Loan, ops: Any, changes: dict[str, Any], field: str
) -> None:
    before = counts()
    with pytest.raises(InputError) as error:
        credit_report_save(actor=ops, loan_id=draft_loan.pk, data={**CLEAN_REPORT, **changes})
    assert field in error.value.fields
    assert counts() == before


def test_credit_report_needs_permission_and_an_open_application(
    approved_loan: Loan, service_user: Any, product_manager: Any, ops: Any
) -> None:
    draft_loan = make_loan(customer=approved_loan.customer, product=approved_loan.product)
    before = counts()
    for user in (service_user, product_manager):
        with pytest.raises(PermissionDenied):
            credit_report_save(actor=user, loan_id=draft_loan.pk, data=CLEAN_REPORT)
    with pytest.raises(PermissionDenied):  # the borrower may not write their own credit file
        credit_report_save(actor=draft_loan.customer.user, loan_id=draft_loan.pk, data=CLEAN_REPORT)
    other = make_customer_with_login()
    with pytest.raises(Loan.DoesNotExist):  # another customer's loan: not found (404)
        credit_report_save(actor=other.user, loan_id=draft_loan.pk, data=CLEAN_REPORT)
    with pytest.raises(InvalidTransition):
        credit_report_save(actor=ops, loan_id=approved_loan.pk, data=CLEAN_REPORT)
    assert counts() == before


# --- assessments ----------------------------------------------------------------------------------


def test_assessment_runs_automatically_at_start_review(draft_loan: Loan, ops: Any) -> None:
    credit_report_save(actor=ops, loan_id=draft_loan.pk, data=CLEAN_REPORT)
    to_review(submitted(draft_loan, ops), ops)
    assessment = RiskAssessment.objects.get(loan=draft_loan)
    assert assessment.trigger == RiskAssessment.Trigger.START_REVIEW
    assert assessment.scorecard.is_active and assessment.scorecard.version == 1
    assert assessment.run_by == ops
    assert [line["code"] for line in assessment.points][:3] == ["age", "annual_income", "dti"]
    assert assessment.score == 400 + sum(line["points"] for line in assessment.points)
    assert {r["code"] for r in assessment.rule_results} >= {"ko_age", "ko_dti", "ko_serious_overdue", "ko_blacklist"}
    assert assessment.reason_codes == [r["code"] for r in assessment.rule_results if r["hit"]]
    assert not assessment.knocked_out
    assert AuditEvent.objects.filter(action="loan.risk_assessment", subject_id=str(draft_loan.pk)).exists()


def test_manual_run_records_notes_and_needs_risk_review_state(review_loan: Loan, risk: Any) -> None:
    draft_loan = make_loan(customer=review_loan.customer, product=review_loan.product)
    assessment = assessment_run(actor=risk, loan_id=review_loan.pk, notes="补录征信后复评")
    assert assessment.trigger == RiskAssessment.Trigger.MANUAL and assessment.notes == "补录征信后复评"
    before = counts()
    with pytest.raises(InvalidTransition):
        assessment_run(actor=risk, loan_id=draft_loan.pk)
    with pytest.raises(InputError):
        assessment_run(actor=risk, loan_id=review_loan.pk, notes="x" * 2001)
    assert counts() == before


@pytest.mark.parametrize("role", ["ops", "service_user", "product_manager"])
def test_only_risk_and_manager_run_assessments(review_loan: Loan, role: str, request: pytest.FixtureRequest) -> None:
    user = request.getfixturevalue(role)
    before = counts()
    with pytest.raises(PermissionDenied):
        assessment_run(actor=user, loan_id=review_loan.pk)
    assert counts() == before


def test_manager_may_run_an_assessment(review_loan: Loan, manager: Any) -> None:
    assert assessment_run(actor=manager, loan_id=review_loan.pk).run_by == manager


def test_reviewers_notes(review_loan: Loan, risk: Any, ops: Any) -> None:
    assessment = RiskAssessment.objects.get(loan=review_loan)
    assessment_update_notes(actor=risk, assessment_id=assessment.pk, notes="收入稳定，负债较低")
    assert RiskAssessment.objects.get(pk=assessment.pk).notes == "收入稳定，负债较低"
    with pytest.raises(InputError):
        assessment_update_notes(actor=risk, assessment_id=assessment.pk, notes="  ")
    with pytest.raises(PermissionDenied):
        assessment_update_notes(actor=ops, assessment_id=assessment.pk, notes="x")


def test_assessment_query_count_is_small_and_constant(review_loan: Loan, risk: Any, ops: Any) -> None:
    assessment_run(actor=risk, loan_id=review_loan.pk)  # warm: permission cache, compiled scorecard
    with CaptureQueriesContext(connection) as first:
        assessment_run(actor=risk, loan_id=review_loan.pk)
    # more history (other applications, a credit report) does not add queries
    for _ in range(3):
        make_loan(customer=review_loan.customer, product=review_loan.product)
    credit_report_save(actor=ops, loan_id=review_loan.pk, data=CLEAN_REPORT)
    with CaptureQueriesContext(connection) as second:
        assessment = assessment_run(actor=risk, loan_id=review_loan.pk)
    assert len(first.captured_queries) == len(second.captured_queries) <= 12  # PostgreSQL adds the audit-chain lock
    assert "w_repeat_applications" in assessment.reason_codes


def test_repeat_applications_count_the_same_id_number_across_customers(review_loan: Loan, risk: Any) -> None:
    twin = make_customer_with_login(id_number=review_loan.customer.id_number)
    make_loan(customer=twin, product=review_loan.product)
    result = next(
        r
        for r in assessment_run(actor=risk, loan_id=review_loan.pk).rule_results
        if r["code"] == "w_repeat_applications"
    )
    assert result["hit"] and "另有 1 笔" in result["message"]


def test_serious_overdue_in_the_credit_report_knocks_out_and_blocks_approval(
    review_loan: Loan, risk: Any, ops: Any
) -> None:
    credit_report_save(
        actor=ops, loan_id=review_loan.pk, data={**CLEAN_REPORT, "overdue_count_24m": 3, "max_dpd_24m": 120}
    )
    assessment = assessment_run(actor=risk, loan_id=review_loan.pk)
    assert assessment.knocked_out and "ko_serious_overdue" in assessment.reason_codes
    before = counts()
    with pytest.raises(DomainError) as error:
        loan_approve(actor=risk, loan_id=review_loan.pk, approved_amount=None, note="同意")
    assert error.value.code == "knockout" and error.value.http_status == 422
    assert error.value.extra["reason_codes"] == ["ko_serious_overdue"]
    assert counts() == before
    assert Loan.objects.get(pk=review_loan.pk).status == LoanStatus.RISK_REVIEW
    # rejecting is still possible, with the reason the assessment suggests
    review = loan_reject(actor=risk, loan_id=review_loan.pk, reason_codes=["credit_history"], note="严重逾期")
    assert review.grade == assessment.grade and review.score == assessment.score


def test_a_credit_report_changed_after_the_assessment_must_be_reassessed(
    review_loan: Loan, risk: Any, ops: Any
) -> None:
    credit_report_save(actor=ops, loan_id=review_loan.pk, data=CLEAN_REPORT)
    before = counts()
    with pytest.raises(DomainError) as error:
        loan_approve(actor=risk, loan_id=review_loan.pk, approved_amount=None, note="同意")
    assert error.value.code == "assessment_stale"
    assert counts() == before
    assessment_run(actor=risk, loan_id=review_loan.pk)
    loan_approve(actor=risk, loan_id=review_loan.pk, approved_amount=None, note="同意")
    assert Loan.objects.get(pk=review_loan.pk).status == LoanStatus.APPROVED


# --- scorecard versioning -------------------------------------------------------------------------


def _stricter() -> dict[str, Any]:
    data = copy.deepcopy(DEFAULT_SCORECARD)
    data["name"] = "收紧版"
    data["base_points"] = 300
    return data


def test_editing_creates_a_new_version_and_activation_switches(review_loan: Loan, risk: Any) -> None:
    v1 = Scorecard.objects.get(is_active=True)
    first = RiskAssessment.objects.get(loan=review_loan)
    v2 = scorecard_create_version(actor=risk, data=_stricter(), note="基础分下调 100")
    assert (v2.version, v2.is_active) == (2, False)
    assert Scorecard.objects.get(pk=v1.pk).base_points == 400  # the old version never changes
    assert assessment_run(actor=risk, loan_id=review_loan.pk).scorecard == v1  # still the active one
    scorecard_activate(actor=risk, scorecard_id=v2.pk)
    assert list(Scorecard.objects.filter(is_active=True)) == [v2]
    second = assessment_run(actor=risk, loan_id=review_loan.pk)
    assert second.scorecard == v2 and second.score == first.score - 100
    assert RiskAssessment.objects.get(pk=first.pk).scorecard == v1
    with pytest.raises(DomainError):
        scorecard_activate(actor=risk, scorecard_id=v2.pk)  # already active
    v3 = scorecard_create_version(actor=risk, data=DEFAULT_SCORECARD, activate=True)
    assert Scorecard.objects.get(is_active=True) == v3 and v3.version == 3


def test_scorecard_changes_need_the_risk_role_and_valid_input(ops: Any, manager: Any, risk: Any) -> None:
    before = counts()
    for user in (ops, manager):
        with pytest.raises(PermissionDenied):
            scorecard_create_version(actor=user, data=DEFAULT_SCORECARD)
        with pytest.raises(PermissionDenied):
            scorecard_activate(actor=user, scorecard_id=Scorecard.objects.get().pk)
    bad = copy.deepcopy(DEFAULT_SCORECARD)
    bad["grade_cutoffs"] = {"A": 1, "B": 2, "C": 3, "D": 4}
    with pytest.raises(InputError):
        scorecard_create_version(actor=risk, data=bad)
    assert counts() == before


# --- the authority matrix -------------------------------------------------------------------------


def _review_loan_for(amount: str, *, ops: Any, product: Any, **customer: Any) -> Loan:
    loan = make_loan(customer=make_customer_with_login(**customer), product=product, amount=amount)
    return to_review(submitted(loan, ops), ops)


def test_grade_a_to_c_up_to_200000_needs_one_risk_manager(review_loan: Loan, risk: Any) -> None:
    assessment = RiskAssessment.objects.get(loan=review_loan)
    assert assessment.grade in "ABC" and review_loan.requested_amount <= 200000
    review = loan_approve(
        actor=risk, loan_id=review_loan.pk, approved_amount="90000", note="同意", conditions="提供工资流水"
    )
    assert isinstance(review, RiskReview)
    assert Loan.objects.get(pk=review_loan.pk).status == LoanStatus.APPROVED
    step = ApprovalStep.objects.get(loan=review_loan)
    assert (step.level, step.levels_required, step.conditions) == (1, 1, "提供工资流水")


def test_above_200000_needs_a_second_approval_by_another_person(
    ops: Any, risk: Any, manager: Any, manager2: Any, product: Any
) -> None:
    loan = _review_loan_for("250000", ops=ops, product=product, annual_income=Decimal("900000"))
    assert RiskAssessment.objects.get(loan=loan).grade in "ABC"

    first = loan_approve(actor=risk, loan_id=loan.pk, approved_amount=None, note="同意", conditions="追加担保")
    assert isinstance(first, ApprovalStep) and (first.level, first.levels_required) == (1, 2)
    assert Loan.objects.get(pk=loan.pk).status == LoanStatus.RISK_REVIEW
    assert AuditEvent.objects.filter(action="loan.approve_level_1", subject_id=str(loan.pk)).exists()

    # the same person cannot give the second level; a risk manager without the second-level permission neither
    before = counts()
    with pytest.raises(PermissionDenied, match="四眼原则"):
        loan_approve(actor=risk, loan_id=loan.pk, approved_amount=None, note="再批一次")
    with pytest.raises(PermissionDenied):
        loan_approve(actor=make_user("risk-other", roles.RISK), loan_id=loan.pk, approved_amount=None, note="同意")
    with pytest.raises(InputError):  # not above the first level's amount
        loan_approve(actor=manager, loan_id=loan.pk, approved_amount="250000.01", note="同意")
    assert counts() == before
    assert Loan.objects.get(pk=loan.pk).status == LoanStatus.RISK_REVIEW

    review = loan_approve(actor=manager, loan_id=loan.pk, approved_amount=None, note="同意，按条件放款")
    assert isinstance(review, RiskReview) and review.reviewer == manager
    assert Loan.objects.get(pk=loan.pk).status == LoanStatus.APPROVED
    steps = list(
        ApprovalStep.objects.filter(loan=loan).order_by("level").values_list("level", "approver", "conditions")
    )
    assert steps == [(1, risk.pk, "追加担保"), (2, manager.pk, "追加担保")]


def test_a_manager_who_gave_the_first_level_cannot_give_the_second(
    ops: Any, manager: Any, manager2: Any, product: Any
) -> None:
    loan = _review_loan_for("300000", ops=ops, product=product, annual_income=Decimal("900000"))
    loan_approve(actor=manager, loan_id=loan.pk, approved_amount=None, note="同意")
    with pytest.raises(PermissionDenied):
        loan_approve(actor=manager, loan_id=loan.pk, approved_amount=None, note="同意")
    loan_approve(actor=manager2, loan_id=loan.pk, approved_amount=None, note="同意")
    assert Loan.objects.get(pk=loan.pk).status == LoanStatus.APPROVED


def _force_grade(loan: Loan, grade: str) -> None:
    """Point the loan's assessment at a grade by moving the active scorecard's cut-offs (a new version)."""
    risk = make_user(None, roles.RISK)
    score = RiskAssessment.objects.filter(loan=loan).latest("id").score
    data = copy.deepcopy(DEFAULT_SCORECARD)
    rank = "ABCDE".index(grade)
    data["grade_cutoffs"] = {g: score + (rank - i) * 10 for i, g in enumerate("ABCD")}  # score lands in `grade`
    scorecard_create_version(actor=risk, data=data, activate=True)
    assessment = assessment_run(actor=risk, loan_id=loan.pk)
    assert assessment.grade == grade, (assessment.score, data["grade_cutoffs"])


def test_grade_d_needs_two_levels(review_loan: Loan, risk: Any, manager: Any) -> None:
    _force_grade(review_loan, "D")
    step = loan_approve(actor=risk, loan_id=review_loan.pk, approved_amount=None, note="同意")
    assert isinstance(step, ApprovalStep) and step.levels_required == 2
    loan_approve(actor=manager, loan_id=review_loan.pk, approved_amount=None, note="同意")
    assert Loan.objects.get(pk=review_loan.pk).status == LoanStatus.APPROVED


def test_grade_e_is_never_approved(review_loan: Loan, risk: Any, manager: Any) -> None:
    _force_grade(review_loan, "E")
    before = counts()
    for user in (risk, manager):
        with pytest.raises(DomainError) as error:
            loan_approve(actor=user, loan_id=review_loan.pk, approved_amount=None, note="同意")
        assert error.value.code == "outside_authority" and error.value.http_status == 422
    assert counts() == before


def test_the_matrix_is_configurable(review_loan: Loan, risk: Any) -> None:
    ApprovalAuthority.objects.filter(position=10).update(max_amount=Decimal("50000.00"))
    step = loan_approve(actor=risk, loan_id=review_loan.pk, approved_amount=None, note="同意")
    assert isinstance(step, ApprovalStep) and step.levels_required == 2


def test_a_new_assessment_needs_a_new_first_level(review_loan: Loan, risk: Any, risk2: Any, manager: Any) -> None:
    _force_grade(review_loan, "D")
    loan_approve(actor=risk, loan_id=review_loan.pk, approved_amount=None, note="同意")
    assessment_run(actor=risk2, loan_id=review_loan.pk)  # re-assessed: the first level was on the old one
    step = loan_approve(actor=manager, loan_id=review_loan.pk, approved_amount=None, note="同意")
    assert isinstance(step, ApprovalStep) and step.level == 1
    assert Loan.objects.get(pk=review_loan.pk).status == LoanStatus.RISK_REVIEW


def test_approval_without_an_assessment_runs_one_first(review_loan: Loan, risk: Any) -> None:
    ApprovalStep.objects.all().delete()
    RiskAssessment.objects.all().delete()  # e.g. the loan entered review while no scorecard was active
    loan_approve(actor=risk, loan_id=review_loan.pk, approved_amount=None, note="同意")
    assert RiskAssessment.objects.filter(loan=review_loan, trigger="manual").count() == 1


def test_no_active_scorecard_skips_the_automatic_run_and_refuses_the_manual_one(
    draft_loan: Loan, ops: Any, risk: Any
) -> None:
    Scorecard.objects.update(is_active=False)
    to_review(submitted(draft_loan, ops), ops)
    assert not RiskAssessment.objects.filter(loan=draft_loan).exists()
    with pytest.raises(DomainError) as error:
        assessment_run(actor=risk, loan_id=draft_loan.pk)
    assert error.value.code == "no_active_scorecard"


def test_a_blacklisted_applicant_is_knocked_out(review_loan: Loan, risk: Any) -> None:
    from compliance.services import blacklist_add

    # listed after intake (intake itself refuses listed applicants): the assessment catches it
    blacklist_add(actor=risk, id_number=review_loan.customer.id_number, reason="冒用他人身份", source="internal")
    assessment = assessment_run(actor=risk, loan_id=review_loan.pk)
    assert assessment.knocked_out and "ko_blacklist" in assessment.reason_codes
    result = next(r for r in assessment.rule_results if r["code"] == "ko_blacklist")
    assert "冒用他人身份" in result["message"]
    with pytest.raises(DomainError) as error:
        loan_approve(actor=risk, loan_id=review_loan.pk, approved_amount=None, note="同意")
    assert error.value.code == "knockout"


def test_industry_under_early_warning_is_a_warning(review_loan: Loan, risk: Any) -> None:
    from datetime import date

    from underwriting.industry_restrictions import IndustryRestriction

    result = next(
        r for r in assessment_run(actor=risk, loan_id=review_loan.pk).rule_results if r["code"] == "w_industry_warning"
    )
    assert not result["hit"] and "未处于预警" in result["message"]
    IndustryRestriction.objects.create(
        industry=review_loan.customer.industry, factor=Decimal("0.5"), overdue_rate=Decimal("0.120000"),
        threshold=Decimal("0.100000"), imposed_on=date(2026, 11, 30),
    )  # fmt: skip
    assessment = assessment_run(actor=risk, loan_id=review_loan.pk)
    result = next(r for r in assessment.rule_results if r["code"] == "w_industry_warning")
    assert result["hit"] and result["kind"] == "warning"
    assert "12.00%" in result["message"] and "2026-11-30" in result["message"]
    assert not assessment.knocked_out  # a warning, not a knock-out
