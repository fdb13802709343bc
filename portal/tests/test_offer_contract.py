"""Offer (方案) → accept → contract PDF → e-signature with explicit consent; rejected and servicing views."""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from applications.models import LoanStageEvent, LoanStatus
from compliance.models import AuditEvent
from contracts.models import Contract
from portal.tests.conftest import make_loan, offer_fields
from servicing.models import Installment, Repayment, ScheduleVersion
from underwriting.models import RiskReview

pytestmark = pytest.mark.django_db

CONTRACT_PDF = b"%PDF-1.4\n% loan contract\n"


def make_contract(loan, *, content: bytes = CONTRACT_PDF) -> Contract:
    contract = Contract(
        loan=loan, version=1, number=f"HT{loan.reference}-1", sha256=hashlib.sha256(content).hexdigest()
    )
    contract.file.save(f"HT{loan.reference}-1.pdf", ContentFile(content), save=False)
    contract.save()
    return contract


def test_offer_shows_terms_and_full_schedule(customer_client, loan_factory):
    loan = loan_factory(status=LoanStatus.OFFERED, **offer_fields())
    response = customer_client.get(reverse("portal:loan-detail", args=[loan.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    for text in ("借款方案", "12,000.00", "7.20%", "年化利率", "等额本息", "接受方案", "2031-03-15"):
        assert text in html, text
    rows = response.context["offer_rows"]
    assert len(rows) == 12
    assert sum(row.principal for row in rows) == Decimal("12000.00")
    summary = response.context["offer_summary"]
    assert summary["total_interest"] == sum(row.interest for row in rows)
    assert f"{summary['total_interest']:,.2f}" in html


def test_offer_shows_the_legal_cap_it_was_checked_against(customer_client, loan_factory):
    loan = loan_factory(
        status=LoanStatus.OFFERED, rate_cap=Decimal("0.120000"), lpr_used=Decimal("0.030000"), **offer_fields()
    )
    html = customer_client.get(reverse("portal:loan-detail", args=[loan.pk])).content.decode()
    assert "本方案年化利率不超过法定上限 12.00%（一年期贷款市场报价利率 LPR 3.00% 的 4 倍）" in html
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in html  # phone-sized layout
    assert 'class="table-wrap"' in html  # the schedule scrolls sideways on a narrow screen


def test_accept_offer_moves_to_contract_pending_with_a_contract(customer_client, loan_factory):
    loan = loan_factory(status=LoanStatus.OFFERED, **offer_fields())
    response = customer_client.post(reverse("portal:offer-accept", args=[loan.pk]))
    assert response.status_code == 302
    loan.refresh_from_db()
    assert loan.status == LoanStatus.CONTRACT_PENDING
    contract = Contract.objects.get(loan=loan)
    html = customer_client.get(reverse("portal:loan-detail", args=[loan.pk])).content.decode()
    assert reverse("portal:contract-download", args=[contract.pk]) in html
    assert "我已阅读并同意《借款合同》全部条款，确认以电子签名方式签署" in html


def test_accept_offer_twice_is_refused(customer_client, loan_factory):
    loan = loan_factory(status=LoanStatus.CONTRACT_PENDING, **offer_fields())
    response = customer_client.post(reverse("portal:offer-accept", args=[loan.pk]))
    assert response.status_code == 409
    assert "不能执行该操作" in response.content.decode()


def test_contract_download_is_owner_only(customer_client, loan_factory, other_customer, product):
    mine = make_contract(loan_factory(status=LoanStatus.CONTRACT_PENDING, **offer_fields()))
    response = customer_client.get(reverse("portal:contract-download", args=[mine.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content) == CONTRACT_PDF
    theirs = make_contract(make_loan(other_customer, product, status=LoanStatus.CONTRACT_PENDING, **offer_fields()))
    assert customer_client.get(reverse("portal:contract-download", args=[theirs.pk])).status_code == 404
    assert customer_client.get(reverse("portal:contract-download", args=[999999])).status_code == 404


def test_signing_requires_the_consent_box(customer_client, loan_factory):
    loan = loan_factory(status=LoanStatus.CONTRACT_PENDING, **offer_fields())
    contract = make_contract(loan)
    audit_before = AuditEvent.objects.count()
    response = customer_client.post(reverse("portal:contract-sign", args=[loan.pk]), {})
    assert response.status_code == 400
    assert "请先勾选同意《借款合同》全部条款" in response.content.decode()
    loan.refresh_from_db()
    contract.refresh_from_db()
    assert loan.status == LoanStatus.CONTRACT_PENDING
    assert contract.status == Contract.Status.GENERATED
    assert contract.signed_at is None
    assert not LoanStageEvent.objects.filter(loan=loan).exists()
    assert AuditEvent.objects.count() == audit_before


def test_signing_with_consent_records_the_signature(customer_client, customer, loan_factory):
    loan = loan_factory(status=LoanStatus.CONTRACT_PENDING, **offer_fields())
    contract = make_contract(loan)
    response = customer_client.post(
        reverse("portal:contract-sign", args=[loan.pk]),
        {"consent": "on"},
        REMOTE_ADDR="203.0.113.7",
        HTTP_USER_AGENT="Mozilla/5.0 (iPhone)",
    )
    assert response.status_code == 302
    loan.refresh_from_db()
    contract.refresh_from_db()
    assert loan.status == LoanStatus.CONTRACT_SIGNED
    assert contract.status == Contract.Status.SIGNED
    assert contract.signed_by == customer.user
    assert contract.signed_ip == "203.0.113.7"
    assert contract.user_agent == "Mozilla/5.0 (iPhone)"
    html = customer_client.get(reverse("portal:loan-detail", args=[loan.pk])).content.decode()
    assert "合同已签署" in html
    assert "确认签署" not in html


def test_rejected_shows_only_the_polite_customer_reason(customer_client, loan_factory, ops_user):
    loan = loan_factory(status=LoanStatus.REJECTED)
    RiskReview.objects.create(
        loan=loan, outcome="reject", reason_codes=["debt_ratio"], note="月供收入比 72%，超限", reviewer=ops_user
    )
    html = customer_client.get(reverse("portal:loan-detail", args=[loan.pk])).content.decode()
    assert "很遗憾，经综合评估，您本次的借款申请暂未通过。" in html
    assert "负债收入比" not in html
    assert "72%" not in html
    assert "撤回申请" not in html


def test_active_loan_shows_schedule_paid_per_period_and_my_repayments(customer_client, loan_factory, ops_user):
    loan = loan_factory(status=LoanStatus.ACTIVE, disbursed_on=date(2031, 2, 15), **offer_fields())
    version = ScheduleVersion.objects.create(
        loan=loan,
        version=1,
        principal=Decimal("12000.00"),
        annual_rate=Decimal("0.072000"),
        term_months=2,
        repayment_method="equal_principal",
        first_due_date=date(2031, 3, 15),
        reason="放款生成",
    )
    Installment.objects.create(
        schedule=version,
        loan=loan,
        period=1,
        due_date=date(2031, 3, 15),
        principal_due=Decimal("6000.00"),
        interest_due=Decimal("72.00"),
        principal_paid=Decimal("6000.00"),
        interest_paid=Decimal("72.00"),
        remaining_after=Decimal("6000.00"),
        status="paid",
        paid_on=date(2031, 3, 14),
    )
    Installment.objects.create(
        schedule=version,
        loan=loan,
        period=2,
        due_date=date(2031, 4, 15),
        principal_due=Decimal("6000.00"),
        interest_due=Decimal("36.00"),
        remaining_after=Decimal("0.00"),
        status="pending",
    )
    Repayment.objects.create(
        loan=loan, amount=Decimal("6072.00"), paid_on=date(2031, 3, 14), channel="bank_transfer", recorded_by=ops_user
    )
    response = customer_client.get(reverse("portal:loan-detail", args=[loan.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert [row.period for row in response.context["installments"]] == [1, 2]
    assert 'data-period="1" data-paid="1"' in html
    assert 'data-period="2" data-paid="0"' in html
    assert "已还 1 / 2 期" in html
    assert "6,072.00" in html
    assert "银行转账" in html
