"""Back-office pages of the risk assessment, the PDF report, the queue's stage clocks, and the API endpoints."""

from __future__ import annotations

import re
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from applications.models import Loan, LoanStatus
from loanops import roles
from underwriting.models import ApprovalStep, CreditReportSummary, RiskAssessment, RiskReview, Scorecard
from underwriting.risk_forms import bins_to_text, scorecard_initial, text_to_bins
from underwriting.scoring import CHARACTERISTICS, DEFAULT_SCORECARD
from underwriting.tests.helpers import make_customer_with_login, make_loan, make_user

pytestmark = pytest.mark.django_db

CREDIT_FORM = {
    "report_date": "2026-01-05",
    "current_overdue_count": "0",
    "overdue_count_24m": "1",
    "max_dpd_24m": "12",
    "inquiries_6m": "2",
    "total_debt": "30000.00",
    "monthly_debt_payment": "800.00",
    "verified_annual_income": "230000",
    "collateral_value": "0",
}


def logged_in(client: Client, user: Any) -> Client:
    client.force_login(user)
    return client


def counts() -> tuple[int, ...]:
    return (
        CreditReportSummary.objects.count(),
        RiskAssessment.objects.count(),
        Scorecard.objects.count(),
        ApprovalStep.objects.count(),
        RiskReview.objects.count(),
    )


# --- permissions ------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["ops", "service_user", "product_manager"])
def test_assessment_pages_are_for_risk_and_manager_only(
    client: Client, review_loan: Loan, role: str, request: pytest.FixtureRequest
) -> None:
    assessment = RiskAssessment.objects.get(loan=review_loan)
    logged_in(client, request.getfixturevalue(role))
    for url in (
        reverse("backoffice:loan-assessment", args=[review_loan.pk]),
        reverse("backoffice:assessment-detail", args=[assessment.pk]),
        reverse("backoffice:assessment-pdf", args=[assessment.pk]),
        reverse("backoffice:scorecard-list"),
    ):
        assert client.get(url).status_code == 403, url
    before = counts()
    assert client.post(reverse("backoffice:loan-assessment-run", args=[review_loan.pk])).status_code == 403
    assert counts() == before


def test_customers_and_anonymous_users_never_reach_the_pages(client: Client, review_loan: Loan) -> None:
    url = reverse("backoffice:loan-assessment", args=[review_loan.pk])
    assert client.get(url).status_code == 302  # to the login page
    logged_in(client, review_loan.customer.user)
    assert client.get(url).status_code == 403


@pytest.mark.parametrize("role", ["risk", "manager"])
def test_risk_and_manager_see_the_report(
    client: Client, review_loan: Loan, role: str, request: pytest.FixtureRequest
) -> None:
    logged_in(client, request.getfixturevalue(role))
    response = client.get(reverse("backoffice:loan-assessment", args=[review_loan.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assessment = RiskAssessment.objects.get(loan=review_loan)
    for text in ("规则结果", "评分明细", "ko_dti", "ko_age", "w_no_credit_report", str(assessment.score), "各阶段用时"):
        assert text in html, text


# --- credit report ----------------------------------------------------------------------------------


def test_ops_enter_the_credit_report_and_risk_reruns(client: Client, review_loan: Loan, ops: Any, risk: Any) -> None:
    url = reverse("backoffice:loan-credit-report", args=[review_loan.pk])
    logged_in(client, ops)
    assert client.get(url).status_code == 200
    response = client.post(url, CREDIT_FORM)
    assert response.status_code == 302
    report = CreditReportSummary.objects.get(loan=review_loan)
    assert (report.max_dpd_24m, report.entered_by) == (12, ops)

    logged_in(client, risk)
    response = client.post(
        reverse("backoffice:loan-assessment-run", args=[review_loan.pk]), {"notes": "补录征信后复评"}
    )
    assert response.status_code == 302
    latest = RiskAssessment.objects.filter(loan=review_loan).latest("id")
    assert latest.notes == "补录征信后复评" and "w_no_credit_report" not in latest.reason_codes


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"inquiries_6m": "-1"}, "inquiries_6m"),
        ({"total_debt": "abc"}, "total_debt"),
        ({"report_date": ""}, "report_date"),
    ],
)
def test_bad_credit_report_form_is_400_and_writes_nothing(
    client: Client, review_loan: Loan, ops: Any, changes: dict[str, str], field: str
) -> None:
    before = counts()
    response = logged_in(client, ops).post(
        reverse("backoffice:loan-credit-report", args=[review_loan.pk]), {**CREDIT_FORM, **changes}
    )
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert counts() == before


def test_service_errors_land_on_the_form(client: Client, review_loan: Loan, ops: Any) -> None:
    response = logged_in(client, ops).post(
        reverse("backoffice:loan-credit-report", args=[review_loan.pk]),
        {**CREDIT_FORM, "current_overdue_count": "2", "overdue_count_24m": "0"},
    )
    assert response.status_code == 400
    assert "overdue_count_24m" in response.context["form"].errors
    assert not CreditReportSummary.objects.exists()


def test_running_an_assessment_outside_risk_review_is_409(client: Client, approved_loan: Loan, risk: Any) -> None:
    before = counts()
    response = logged_in(client, risk).post(reverse("backoffice:loan-assessment-run", args=[approved_loan.pk]))
    assert response.status_code == 409
    assert counts() == before


def test_notes_are_saved_and_required(client: Client, review_loan: Loan, risk: Any) -> None:
    assessment = RiskAssessment.objects.get(loan=review_loan)
    url = reverse("backoffice:assessment-notes", args=[assessment.pk])
    logged_in(client, risk)
    assert client.post(url, {"notes": ""}).status_code == 400
    assert client.post(url, {"notes": "收入稳定"}).status_code == 302
    assert RiskAssessment.objects.get(pk=assessment.pk).notes == "收入稳定"


# --- the PDF ----------------------------------------------------------------------------------------


def _pdf_tool(tool: str, pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / f"{tool}.pdf"
    path.write_bytes(pdf)
    args = [tool, str(path), "-"] if tool == "pdftotext" else [tool, str(path)]
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def test_the_pdf_report_embeds_the_cjk_font_and_shows_the_assessment(
    client: Client, review_loan: Loan, risk: Any, tmp_path: Path
) -> None:
    assessment = RiskAssessment.objects.get(loan=review_loan)
    response = logged_in(client, risk).get(reverse("backoffice:assessment-pdf", args=[assessment.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert "attachment" in response["Content-Disposition"]
    pdf = response.content
    assert pdf.startswith(b"%PDF-1.") and b"STSong" not in pdf
    fonts = _pdf_tool("pdffonts", pdf, tmp_path)
    embedded = [line for line in fonts.splitlines() if "WenQuanYiZenHei" in line]
    assert embedded and all(" yes yes yes " in line for line in embedded)
    text = re.sub(r"\s+", "", _pdf_tool("pdftotext", pdf, tmp_path))
    for expected in ("风险评估报告", review_loan.reference, "评分明细", "规则结果", "ko_dti", "ko_serious_overdue"):
        assert expected in text, expected
    assert f"{assessment.grade}级" in text and str(assessment.score) in text
    assert review_loan.customer.id_number not in text  # personal data masked
    assert "110105********0025" in text


# --- scorecards -------------------------------------------------------------------------------------


def scorecard_post(scorecard: Scorecard, **changes: str) -> dict[str, Any]:
    data = {key: "" if value is None else str(value) for key, value in scorecard_initial(scorecard).items()}
    data.update(changes)
    return data


def test_edit_format_round_trips() -> None:
    for code in CHARACTERISTICS:
        bins = DEFAULT_SCORECARD["characteristics"][code]["bins"]
        assert text_to_bins(bins_to_text(bins)) == bins
    with pytest.raises(ValueError):
        text_to_bins("25")
    with pytest.raises(ValueError):
        text_to_bins("abc 10\n以上 5")


def test_risk_edits_a_scorecard_into_a_new_version_and_activates_it(client: Client, risk: Any) -> None:
    v1 = Scorecard.objects.get(is_active=True)
    logged_in(client, risk)
    assert client.get(reverse("backoffice:scorecard-detail", args=[v1.pk])).status_code == 200
    url = reverse("backoffice:scorecard-new-version", args=[v1.pk])
    assert client.get(url).status_code == 200
    response = client.post(
        url, scorecard_post(v1, base_points="380", bins_age="25 0\n45 40\n以上 20", note="年龄分箱简化")
    )
    assert response.status_code == 302
    v2 = Scorecard.objects.get(version=2)
    assert not v2.is_active and v2.base_points == 380
    assert v2.characteristics["age"]["bins"] == [
        {"lower": None, "upper": "25", "points": 0},
        {"lower": "25", "upper": "45", "points": 40},
        {"lower": "45", "upper": None, "points": 20},
    ]
    assert Scorecard.objects.get(pk=v1.pk).characteristics == DEFAULT_SCORECARD["characteristics"]
    assert client.post(reverse("backoffice:scorecard-activate", args=[v2.pk])).status_code == 302
    assert Scorecard.objects.get(is_active=True) == v2


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"bins_age": "25"}, "bins_age"),
        ({"bins_dti": "0.5 10\n0.2 20\n以上 0"}, "bins_dti"),  # edges not increasing
        ({"cutoff_A": "100"}, "cutoff_A"),  # A below B
        ({"name": ""}, "name"),
    ],
)
def test_bad_scorecard_edits_are_400_and_create_nothing(
    client: Client, risk: Any, changes: dict[str, str], field: str
) -> None:
    v1 = Scorecard.objects.get(is_active=True)
    before = counts()
    response = logged_in(client, risk).post(
        reverse("backoffice:scorecard-new-version", args=[v1.pk]), scorecard_post(v1, **changes)
    )
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert counts() == before


def test_managers_view_scorecards_but_do_not_edit_them(client: Client, manager: Any) -> None:
    v1 = Scorecard.objects.get(is_active=True)
    logged_in(client, manager)
    assert client.get(reverse("backoffice:scorecard-list")).status_code == 200
    assert client.get(reverse("backoffice:scorecard-new-version", args=[v1.pk])).status_code == 403
    assert client.post(reverse("backoffice:scorecard-activate", args=[v1.pk])).status_code == 403


# --- decision pages (authority matrix through the back office) -----------------------------------------


def test_two_level_approval_in_the_back_office(client: Client, ops: Any, risk: Any, manager: Any, product: Any) -> None:
    from applications import services as intake

    loan = make_loan(customer=make_customer_with_login(annual_income="900000"), product=product, amount="260000")
    intake.loan_submit(actor=loan.customer.user, loan_id=loan.pk)
    intake.loan_start_review(actor=ops, loan_id=loan.pk)
    url = reverse("backoffice:loan-approve", args=[loan.pk])
    data = {"approved_amount": "260000.00", "note": "同意", "conditions": "追加保证人"}

    response = logged_in(client, risk).post(url, data)
    assert response.status_code == 302
    assert Loan.objects.get(pk=loan.pk).status == LoanStatus.RISK_REVIEW
    response = client.post(url, data)  # the same person again
    assert response.status_code == 403
    assert "四眼原则" in response.content.decode()
    assert ApprovalStep.objects.filter(loan=loan).count() == 1

    logged_in(client, manager)
    form_page = client.get(url)
    assert "第一级审批" in form_page.content.decode()
    assert form_page.context["form"].initial["conditions"] == "追加保证人"
    assert client.post(url, {**data, "note": "同意放款"}).status_code == 302
    assert Loan.objects.get(pk=loan.pk).status == LoanStatus.APPROVED


def test_knocked_out_loan_cannot_be_approved_in_the_back_office(client: Client, review_loan: Loan, risk: Any) -> None:
    CreditReportSummary.objects.create(
        loan=review_loan, report_date="2026-01-01", current_overdue_count=2, overdue_count_24m=4, entered_by=risk
    )
    logged_in(client, risk).post(reverse("backoffice:loan-assessment-run", args=[review_loan.pk]))
    before = counts()
    response = client.post(
        reverse("backoffice:loan-approve", args=[review_loan.pk]), {"approved_amount": "100000", "note": "同意"}
    )
    assert response.status_code == 422
    assert "命中拒绝规则" in response.content.decode()
    assert counts() == before
    reject_form = client.get(reverse("backoffice:loan-reject", args=[review_loan.pk])).context["form"]
    assert "credit_history" in reject_form.initial["reason_codes"]


def test_the_customer_sees_a_polite_reason_never_the_codes(client: Client, review_loan: Loan, risk: Any) -> None:
    from underwriting.services import loan_reject

    loan_reject(
        actor=risk, loan_id=review_loan.pk, reason_codes=["credit_history"], note="征信当前逾期 ko_serious_overdue"
    )
    api = APIClient()
    api.force_authenticate(review_loan.customer.user)
    timeline = api.get(reverse("api:loan-timeline", kwargs={"loan_id": review_loan.pk})).content.decode()
    detail = api.get(reverse("api:loan-detail", kwargs={"loan_id": review_loan.pk})).content.decode()
    for body in (timeline, detail):
        assert "credit_history" not in body and "ko_serious_overdue" not in body and "征信当前逾期" not in body
    assert api.get(reverse("api:loan-assessments", kwargs={"loan_id": review_loan.pk})).status_code == 403


# --- queue: stage clocks ---------------------------------------------------------------------------


def test_queue_highlights_loans_past_their_stage_target_without_n_plus_one(
    client: Client, risk: Any, product: Any, django_assert_max_num_queries: Any, settings: Any
) -> None:
    settings.LOANOPS_STAGE_SLA_HOURS = {"risk_review": 48}
    late, fresh = [], []
    for index in range(6):
        loan = Loan.objects.create(
            customer=make_customer_with_login(), product=product, requested_amount="50000", requested_term_months=12,
            purpose="装修", status=LoanStatus.RISK_REVIEW, reference=f"LNQ{index:04d}",
        )  # fmt: skip
        hours = 72 if index % 2 else 2
        Loan.objects.filter(pk=loan.pk).update(status_changed_at=loan.status_changed_at - timedelta(hours=hours))
        (late if index % 2 else fresh).append(loan)
    logged_in(client, risk)
    client.get(reverse("backoffice:queue"))  # warm the session and permission caches
    with django_assert_max_num_queries(12):
        response = client.get(reverse("backoffice:queue"))
    html = response.content.decode()
    rows = {m.group(1): m.group(0) for m in re.finditer(r'<tr class="[^"]*"[^>]*>.*?(LNQ\d{4}).*?</tr>', html, re.S)}
    assert all('data-sla="late"' in rows[loan.reference] and "超时" in rows[loan.reference] for loan in late)
    assert all('data-sla="late"' not in rows[loan.reference] for loan in fresh)
    assert "3 笔超时" in html and "时限 48 小时" in html
    # more loans in the queue do not add queries
    for index in range(6, 12):
        Loan.objects.create(
            customer=make_customer_with_login(), product=product, requested_amount="50000", requested_term_months=12,
            purpose="装修", status=LoanStatus.RISK_REVIEW, reference=f"LNQ{index:04d}",
        )  # fmt: skip
    with django_assert_max_num_queries(12):
        client.get(reverse("backoffice:queue"))


def test_stage_durations_add_up_repeat_visits(review_loan: Loan, risk: Any) -> None:
    from underwriting.stage_clocks import format_duration, stage_durations

    rows = {row["status"]: row for row in stage_durations(review_loan)}
    assert set(rows) == {"draft", "submitted", "risk_review"}
    assert rows["risk_review"]["is_current"] and rows["risk_review"]["target_hours"] == 48
    assert format_duration(timedelta(days=2, hours=3)) == "2 天 3 小时"
    assert format_duration(timedelta(minutes=75)) == "1 小时 15 分"


# --- API ----------------------------------------------------------------------------------------------


def api_as(user: Any) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def test_api_credit_report_and_assessments(review_loan: Loan, ops: Any, risk: Any) -> None:
    url = reverse("api:loan-credit-report", kwargs={"loan_id": review_loan.pk})
    assert api_as(ops).get(url).status_code == 404  # none yet
    payload = {**CREDIT_FORM, "current_overdue_count": 0, "inquiries_6m": 2}
    response = api_as(ops).put(url, payload, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["total_debt"] == "30000.00"
    assert api_as(ops).get(url).json()["max_dpd_24m"] == 12

    runs = reverse("api:loan-assessments", kwargs={"loan_id": review_loan.pk})
    assert api_as(ops).post(runs, {}, format="json").status_code == 403
    response = api_as(risk).post(runs, {"notes": "API 复评"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["scorecard_version"] == 1 and body["grade"] in "ABCDE"
    assert {r["code"] for r in body["rule_results"]} >= {"ko_dti", "w_income_mismatch"}
    listed = api_as(risk).get(runs).json()
    assert [item["id"] for item in listed][:1] == [body["id"]] and len(listed) == 2


def test_api_bad_input_is_400_and_writes_nothing(review_loan: Loan, ops: Any) -> None:
    url = reverse("api:loan-credit-report", kwargs={"loan_id": review_loan.pk})
    before = counts()
    response = api_as(ops).put(url, {**CREDIT_FORM, "inquiries_6m": -2, "total_debt": "x"}, format="json")
    assert response.status_code == 400
    assert {"inquiries_6m", "total_debt"} <= set(response.json()["fields"])
    assert counts() == before


def test_api_approve_carries_conditions_and_refuses_grade_e(review_loan: Loan, risk: Any) -> None:
    from underwriting.models import ApprovalAuthority

    ApprovalAuthority.objects.filter(levels=0).update(grades=["A", "B", "C", "D", "E"], position=5)
    url = reverse("api:loan-approve", kwargs={"loan_id": review_loan.pk})
    before = counts()
    response = api_as(risk).post(url, {"note": "同意", "conditions": "x"}, format="json")
    assert response.status_code == 422 and response.json()["code"] == "outside_authority"
    assert counts() == before


def test_other_staff_without_the_role_get_403_from_the_api(review_loan: Loan) -> None:
    user = make_user(None, roles.SERVICE)
    assert api_as(user).get(reverse("api:loan-assessments", kwargs={"loan_id": review_loan.pk})).status_code == 403
    assert api_as(user).get(reverse("api:loan-credit-report", kwargs={"loan_id": review_loan.pk})).status_code == 403


def test_start_review_through_the_api_assesses_the_loan(draft_loan: Loan, ops: Any) -> None:
    from applications import services as intake

    intake.loan_submit(actor=draft_loan.customer.user, loan_id=draft_loan.pk)
    response = api_as(ops).post(reverse("api:loan-start-review", kwargs={"loan_id": draft_loan.pk}), {}, format="json")
    assert response.status_code == 200, response.content
    assessment = RiskAssessment.objects.get(loan=draft_loan)
    assert assessment.trigger == "start_review" and assessment.run_by == ops


def test_assessment_detail_page_and_scorecard_pages_render(client: Client, review_loan: Loan, risk: Any) -> None:
    assessment = RiskAssessment.objects.get(loan=review_loan)
    logged_in(client, risk)
    html = client.get(reverse("backoffice:assessment-detail", args=[assessment.pk])).content.decode()
    assert "评分明细" in html and reverse("backoffice:assessment-pdf", args=[assessment.pk]) in html
    listing = client.get(reverse("backoffice:scorecard-list")).content.decode()
    assert "审批权限矩阵" in listing and "v1" in listing
    loan_page = client.get(reverse("backoffice:loan-detail", args=[review_loan.pk])).content.decode()
    assert reverse("backoffice:loan-assessment", args=[review_loan.pk]) in loan_page
