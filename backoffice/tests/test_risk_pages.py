"""Back-office pages of post-loan risk: class label and history on the loan page, classification, the real
write-off button (four eyes), recoveries, extension requests and their approval; the NPL ratio on the dashboard."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from applications.models import Customer, Loan, LoanStatus, RiskClass
from backoffice.tests.conftest import login
from compliance.models import AuditEvent
from servicing.models import Restructuring, RiskClassChange, RiskClassUpgradeRequest, ScheduleVersion, WriteOff

pytestmark = pytest.mark.django_db


def _loss(loan: Loan) -> Loan:
    Loan.objects.filter(pk=loan.pk).update(status=LoanStatus.OVERDUE, days_past_due=400, risk_class=RiskClass.LOSS)
    return Loan.objects.get(pk=loan.pk)


def test_loan_page_shows_the_chinese_class_and_history(client: Any, active_loan: Loan, risk: Any) -> None:
    from servicing.services.classification import risk_class_downgrade

    risk_class_downgrade(actor=risk, loan_id=active_loan.pk, risk_class=RiskClass.DOUBTFUL, reason="经营停滞")
    login(client, risk)
    page = client.get(reverse("backoffice:loan-detail", args=[active_loan.pk])).content.decode()
    assert "可疑" in page and "doubtful" not in page
    assert "经营停滞" in page and "人工下调" in page
    assert reverse("backoffice:loan-risk-class", args=[active_loan.pk]) in page


def test_classify_page_downgrade_and_upgrade_request(
    client: Any, active_loan: Loan, risk: Any, manager: Any, ops: Any
) -> None:
    url = reverse("backoffice:loan-risk-class", args=[active_loan.pk])
    login(client, ops)
    assert client.get(url).status_code == 403
    login(client, risk)
    assert client.get(url).status_code == 200
    assert client.post(url, {"risk_class": "loss", "reason": ""}).status_code == 400
    assert RiskClassChange.objects.count() == 0
    assert client.post(url, {"risk_class": "loss", "reason": "失联"}).status_code == 302
    assert Loan.objects.get(pk=active_loan.pk).risk_class == "loss"
    assert client.post(url, {"risk_class": "substandard", "reason": "已联系上"}).status_code == 302
    request_row = RiskClassUpgradeRequest.objects.get()
    decide = reverse("backoffice:risk-class-upgrade-decide", args=[active_loan.pk, request_row.pk])
    assert client.post(decide, {"decision": "approve"}).status_code == 403  # risk lacks the approval
    login(client, manager)
    page = client.get(reverse("backoffice:loan-detail", args=[active_loan.pk])).content.decode()
    assert decide in page
    assert client.post(decide, {"decision": "approve", "note": "同意"}).status_code == 302
    assert Loan.objects.get(pk=active_loan.pk).risk_class == "substandard"


def test_write_off_button_is_real_and_four_eyes(
    client: Any, active_loan: Loan, risk: Any, manager: Any, make_user: Any
) -> None:
    loan = _loss(active_loan)
    url = reverse("backoffice:loan-write-off", args=[loan.pk])
    login(client, risk)
    page = client.get(reverse("backoffice:loan-detail", args=[loan.pk])).content.decode()
    assert url in page  # 申请核销
    assert client.post(url, {"action": "propose", "reason": ""}).status_code == 400
    assert WriteOff.objects.count() == 0
    assert client.post(url, {"action": "propose", "reason": "借款人失联"}).status_code == 302
    assert WriteOff.objects.get().status == "proposed"
    assert client.post(url, {"action": "approve", "reason": "x"}).status_code == 400  # not a choice for risk
    login(client, manager)
    page = client.get(reverse("backoffice:loan-detail", args=[loan.pk])).content.decode()
    assert f'href="{url}"' in page  # the header's 核销 button is a link now, not a disabled span
    assert client.post(url, {"action": "approve", "reason": "同意核销"}).status_code == 302
    assert Loan.objects.get(pk=loan.pk).status == LoanStatus.WRITTEN_OFF
    assert AuditEvent.objects.filter(action="loan.write_off", subject_id=str(loan.pk), actor_id=manager.pk).exists()


def test_proposing_manager_is_blocked_from_approving(client: Any, active_loan: Loan, manager: Any) -> None:
    from django.contrib.auth.models import Permission

    loan = _loss(active_loan)
    manager.user_permissions.add(Permission.objects.get(codename="propose_write_off"))
    login(client, manager)
    url = reverse("backoffice:loan-write-off", args=[loan.pk])
    assert client.post(url, {"action": "propose", "reason": "失联"}).status_code == 302
    response = client.post(url, {"action": "approve", "reason": "x"})
    assert response.status_code == 403
    assert "四眼原则" in response.content.decode()
    assert Loan.objects.get(pk=loan.pk).status == LoanStatus.OVERDUE


def test_recovery_page(client: Any, active_loan: Loan, risk: Any, manager: Any, ops: Any) -> None:
    from servicing.services import business_date_get
    from servicing.services.write_off import write_off_approve, write_off_propose

    loan = _loss(active_loan)
    write_off_propose(actor=risk, loan_id=loan.pk, reason="失联")
    write_off_approve(actor=manager, loan_id=loan.pk)
    url = reverse("backoffice:loan-recovery", args=[loan.pk])
    login(client, ops)
    assert client.get(url).status_code == 200
    day = business_date_get().isoformat()
    assert client.post(url, {"amount": "0", "recovered_on": day, "channel": "other"}).status_code == 400
    response = client.post(url, {"amount": "300.00", "recovered_on": day, "channel": "litigation", "reference": "执1"})
    assert response.status_code == 302
    page = client.get(reverse("backoffice:loan-detail", args=[loan.pk])).content.decode()
    assert "300.00" in page and "诉讼执行" in page


def test_extension_request_and_approval_pages(client: Any, active_loan: Loan, ops: Any, risk: Any) -> None:
    url = reverse("backoffice:loan-restructuring", args=[active_loan.pk])
    login(client, ops)
    assert client.post(url, {"kind": "extension", "term_months": "0", "reason": "x"}).status_code == 400
    assert client.post(url, {"kind": "extension", "term_months": "6", "reason": "x"}).status_code == 422  # bad term
    assert Restructuring.objects.count() == 0
    assert client.post(url, {"kind": "extension", "term_months": "18", "reason": "经营周期"}).status_code == 302
    row = Restructuring.objects.get()
    decide = reverse("backoffice:restructuring-decide", args=[active_loan.pk, row.pk])
    assert client.post(decide, {"decision": "approve"}).status_code == 403
    login(client, risk)
    assert decide in client.get(reverse("backoffice:loan-detail", args=[active_loan.pk])).content.decode()
    assert client.post(decide, {"decision": "approve", "note": "同意"}).status_code == 302
    assert ScheduleVersion.objects.get(loan=active_loan, is_current=True).version == 2
    assert Loan.objects.get(pk=active_loan.pk).restructured_on is not None


def test_dashboard_shows_the_npl_ratio(client: Any, active_loan: Loan, manager: Any) -> None:
    Loan.objects.filter(pk=active_loan.pk).update(risk_class=RiskClass.SUBSTANDARD)
    login(client, manager)
    page = client.get(reverse("backoffice:dashboard")).content.decode()
    assert "不良率" in page and "100.00%" in page


# --- portal: the borrower's extension request (the fixtures here build a disbursed loan with a portal user) ---


def test_customer_requests_an_extension(client: Any, active_loan: Loan, customer_user: Any) -> None:
    client.force_login(customer_user)
    url = reverse("portal:loan-extension", args=[active_loan.pk])
    assert url in client.get(reverse("portal:loan-detail", args=[active_loan.pk])).content.decode()
    assert client.get(url).status_code == 200
    assert client.post(url, {"term_months": "0", "reason": "x"}).status_code == 400
    assert client.post(url, {"term_months": "3", "reason": "x"}).status_code == 422
    assert Restructuring.objects.count() == 0
    response = client.post(url, {"term_months": "18", "reason": "收入下降"})
    assert response.status_code == 302
    row = Restructuring.objects.get()
    assert (row.kind, row.requested_by, row.term_months) == ("extension", customer_user, 18)
    assert "待风控审批" in client.get(url).content.decode()


def test_other_customers_loan_is_404(client: Any, active_loan: Loan, make_user: Any) -> None:
    other = make_user("customer", is_staff=False, username="13900009999")
    Customer.objects.create(kind="individual", name="李四", phone="13900009999", industry="F", user=other)
    client.force_login(other)
    assert client.get(reverse("portal:loan-extension", args=[active_loan.pk])).status_code == 404
    assert (
        client.post(
            reverse("portal:loan-extension", args=[active_loan.pk]), {"term_months": "18", "reason": "x"}
        ).status_code
        == 404
    )
