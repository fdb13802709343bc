"""Back-office prepayment (preview, then confirm) and payoff pages; settlement certificate in the back
office and the portal (the customer's own only); the portal shows the new schedule version."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from backoffice.tests.conftest import login
from servicing.selectors import ledger_check

pytestmark = pytest.mark.django_db
D = Decimal


def test_prepayment_preview_writes_nothing_then_confirm_books(client: Any, active_loan: Any, ops: Any) -> None:
    from servicing.models import Prepayment, ScheduleVersion

    login(client, ops)
    url = reverse("backoffice:loan-prepayment", args=[active_loan.pk])
    assert client.get(url).status_code == 200
    data = {"amount": "3000.00", "option": "keep_term", "channel": "bank_transfer", "reference": "PP1"}
    preview = client.post(url, {**data, "action": "preview"})
    assert preview.status_code == 200
    plan = preview.context["plan"]
    assert plan.principal == D("3000.00") and plan.new_periods == 12
    assert "试算结果" in preview.content.decode() and "确认提前还款" in preview.content.decode()
    assert ScheduleVersion.objects.filter(loan=active_loan).count() == 1

    response = client.post(url, {**data, "action": "confirm"}, follow=True)
    assert response.status_code == 200
    assert Prepayment.objects.filter(loan=active_loan).count() == 1
    page = response.content.decode()
    assert "第 2 版" in page and "提前还款本金 3000.00" in page
    assert ledger_check() == []


def test_prepayment_refusal_rerenders_and_writes_nothing(client: Any, active_loan: Any, ops: Any) -> None:
    from servicing.models import Prepayment

    login(client, ops)
    url = reverse("backoffice:loan-prepayment", args=[active_loan.pk])
    response = client.post(
        url, {"amount": "12000.00", "option": "keep_term", "channel": "bank_transfer", "action": "confirm"}
    )
    assert response.status_code == 422
    assert "提前结清" in response.content.decode()
    bad = client.post(url, {"amount": "-5", "option": "keep_term", "channel": "bank_transfer"})
    assert bad.status_code == 400
    assert not Prepayment.objects.exists()


def test_risk_cannot_open_the_money_pages(client: Any, active_loan: Any, risk: Any) -> None:
    login(client, risk)
    assert client.get(reverse("backoffice:loan-prepayment", args=[active_loan.pk])).status_code == 403
    assert client.get(reverse("backoffice:loan-payoff", args=[active_loan.pk])).status_code == 403


def test_payoff_page_settles_and_the_certificate_is_downloadable(
    client: Any, active_loan: Any, ops: Any, customer_user: Any, make_user: Any
) -> None:
    from applications.models import Customer, LoanStatus

    login(client, ops)
    url = reverse("backoffice:loan-payoff", args=[active_loan.pk])
    page = client.get(url)
    assert page.status_code == 200
    quote = page.context["quote"]
    assert quote["total"] == D("12000.00")  # on the disbursement date nothing has accrued yet
    assert page.context["form"].initial["amount"] == D("12000.00")
    short = client.post(url, {"amount": "11999.99", "channel": "bank_transfer"})
    assert short.status_code == 422
    response = client.post(url, {"amount": "12000.00", "channel": "bank_transfer"}, follow=True)
    assert response.status_code == 200
    active_loan.refresh_from_db()
    assert active_loan.status == LoanStatus.SETTLED
    assert "下载结清证明" in response.content.decode()
    download = client.get(reverse("backoffice:loan-settlement-certificate", args=[active_loan.pk]))
    assert download.status_code == 200 and download["Content-Type"] == "application/pdf"

    portal = Client()
    portal.force_login(customer_user)
    detail = portal.get(reverse("portal:loan-detail", args=[active_loan.pk]))
    assert detail.status_code == 200
    body = detail.content.decode()
    assert "下载结清证明" in body and "还款计划已调整（第 2 版）：提前结清" in body
    own = portal.get(reverse("portal:settlement-certificate", args=[active_loan.pk]))
    assert own.status_code == 200 and b"".join(own.streaming_content).startswith(b"%PDF-")

    stranger = make_user("customer", is_staff=False, username="13911112222")
    Customer.objects.create(kind="individual", name="路人", phone="13911112222", industry="C", user=stranger)
    other = Client()
    other.force_login(stranger)
    assert other.get(reverse("portal:settlement-certificate", args=[active_loan.pk])).status_code == 404
    assert ledger_check() == []


def test_manager_refunds_then_applies_held_overpayment(client: Any, active_loan: Any, ops: Any, manager: Any) -> None:
    from servicing.selectors import loan_balances
    from servicing.services import business_date_get, repayment_record

    repayment_record(
        actor=ops, loan_id=active_loan.pk, amount="3000.00", paid_on=business_date_get(), channel="bank_transfer"
    )
    held = loan_balances(active_loan)["overpayment"]
    assert held > 0
    login(client, ops)
    url = reverse("backoffice:loan-overpayment", args=[active_loan.pk])
    assert client.get(url).status_code == 403
    login(client, manager)
    page = client.get(url)
    assert page.status_code == 200 and page.context["held"] == held
    detail = client.get(reverse("backoffice:loan-detail", args=[active_loan.pk]))
    assert "溢缴款处理" in detail.content.decode()
    too_much = client.post(url, {"action": "refund", "amount": str(held + D("0.01")), "reason": "x"})
    assert too_much.status_code == 422
    refunded = client.post(url, {"action": "refund", "amount": "100.00", "reason": "客户申请"})
    assert refunded.status_code == 302
    assert loan_balances(active_loan)["overpayment"] == held - D("100.00")
    applied = client.post(url, {"action": "apply"})
    assert applied.status_code == 302
    assert loan_balances(active_loan)["overpayment"] == D("0.00")
    nothing = client.post(url, {"action": "apply"})
    assert nothing.status_code == 422
    assert ledger_check() == []
