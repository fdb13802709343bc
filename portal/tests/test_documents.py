"""The customer-facing loop: checklist → upload → submit, and the supplement round trip."""

from __future__ import annotations

import re

import pytest
from django.test import override_settings
from django.urls import reverse

from applications import services as intake
from applications.models import LoanDocument, LoanStatus, SupplementRequest
from portal.tests.conftest import add_document, pdf_upload

pytestmark = pytest.mark.django_db


def _attr_values(html: str, attr: str) -> list[str]:
    return re.findall(rf'{attr}="([^"]+)"', html)


def _upload(client, loan, doc_type, upload):
    return client.post(reverse("portal:document-upload", args=[loan.pk, doc_type]), {f"doc-{doc_type}-file": upload})


def test_one_missing_document_upload_then_submit(customer_client, loan_factory):
    """THE customer-facing test: exactly the missing item is shown; upload it; submit moves to submitted."""
    loan = loan_factory()
    for doc_type in ("id_front", "id_back", "income_proof"):
        add_document(loan, doc_type)
    detail = reverse("portal:loan-detail", args=[loan.pk])

    response = customer_client.get(detail)
    assert response.status_code == 200
    html = response.content.decode()
    assert _attr_values(html, "data-missing") == ["credit_auth"]
    assert response.context["outstanding"] == ["credit_auth"]
    assert "还需上传：征信授权书" in html
    assert re.search(r'<button type="submit" class="btn btn-primary btn-lg btn-block" disabled', html)

    response = _upload(customer_client, loan, "credit_auth", pdf_upload("授权书.pdf"))
    assert response.status_code == 302
    assert response["Location"] == detail
    assert LoanDocument.objects.filter(loan=loan, doc_type="credit_auth").count() == 1

    response = customer_client.get(detail)
    html = response.content.decode()
    assert _attr_values(html, "data-missing") == []
    assert "「征信授权书」已上传" in html
    assert "材料已齐全" in html

    response = customer_client.post(reverse("portal:loan-submit", args=[loan.pk]))
    assert response.status_code == 302
    loan.refresh_from_db()
    assert loan.status == LoanStatus.SUBMITTED
    html = customer_client.get(detail).content.decode()
    assert "申请已提交" in html
    assert "我们正在核对您的材料" in html


def test_submit_with_a_missing_document_is_refused(customer_client, loan_factory):
    loan = loan_factory()
    add_document(loan, "id_front")
    response = customer_client.post(reverse("portal:loan-submit", args=[loan.pk]))
    assert response.status_code == 422
    assert "请先上传以下材料再提交：身份证国徽面、收入证明、征信授权书" in response.content.decode()
    loan.refresh_from_db()
    assert loan.status == LoanStatus.DRAFT


def test_supplement_loop(customer_client, loan_factory, ops_user):
    loan = loan_factory(status=LoanStatus.SUBMITTED)
    for doc_type in ("id_front", "id_back", "income_proof", "credit_auth"):
        add_document(loan, doc_type)
    request = intake.loan_request_supplement(
        actor=ops_user,
        loan_id=loan.pk,
        items=["bank_statement", "income_proof"],
        message="收入证明已过期，请补充近 6 个月银行流水和新的收入证明。",
    )
    detail = reverse("portal:loan-detail", args=[loan.pk])

    response = customer_client.get(detail)
    html = response.content.decode()
    assert _attr_values(html, "data-supplement-item") == ["bank_statement", "income_proof"]
    assert "需要补充：银行流水、收入证明" in html
    assert "收入证明已过期，请补充近 6 个月银行流水和新的收入证明。" in html
    assert response.context["outstanding"] == ["bank_statement", "income_proof"]
    # Nothing else is asked for: the required checklist is complete.
    assert _attr_values(html, "data-missing") == []

    response = customer_client.post(reverse("portal:loan-submit", args=[loan.pk]))
    assert response.status_code == 422
    loan.refresh_from_db()
    assert loan.status == LoanStatus.SUPPLEMENT_REQUIRED

    assert _upload(customer_client, loan, "bank_statement", pdf_upload("流水.pdf")).status_code == 302
    response = customer_client.get(detail)
    assert response.context["outstanding"] == ["income_proof"]
    assert _upload(customer_client, loan, "income_proof", pdf_upload("收入证明.pdf")).status_code == 302
    response = customer_client.get(detail)
    assert response.context["outstanding"] == []
    assert all(item["supplied"] for item in response.context["supplement"]["items"])

    response = customer_client.post(reverse("portal:loan-submit", args=[loan.pk]))
    assert response.status_code == 302
    loan.refresh_from_db()
    request.refresh_from_db()
    assert loan.status == LoanStatus.SUBMITTED
    assert request.resolved_at is not None
    assert not SupplementRequest.objects.filter(loan=loan, resolved_at__isnull=True).exists()
    html = customer_client.get(detail).content.decode()
    assert "data-supplement-item" not in html


def test_upload_of_wrong_type_shows_the_field_error(customer_client, loan_factory):
    loan = loan_factory()
    response = _upload(customer_client, loan, "id_front", pdf_upload("id.pdf", b"MZ\x90\x00 not a document at all"))
    assert response.status_code == 400
    html = response.content.decode()
    assert "只接受 PDF、JPG 或 PNG 文件" in html
    assert response.context["checklist"][0]["form"].errors["file"] == ["只接受 PDF、JPG 或 PNG 文件"]
    assert not LoanDocument.objects.filter(loan=loan).exists()


@override_settings(LOANOPS_MAX_UPLOAD_BYTES=64)
def test_upload_too_large_shows_the_field_error(customer_client, loan_factory):
    loan = loan_factory()
    response = _upload(customer_client, loan, "id_back", pdf_upload("big.pdf", b"%PDF-1.4\n" + b"0" * 200))
    assert response.status_code == 400
    assert "文件过大" in response.content.decode()
    assert not LoanDocument.objects.filter(loan=loan).exists()


def test_upload_without_a_file_is_refused(customer_client, loan_factory):
    loan = loan_factory()
    response = customer_client.post(reverse("portal:document-upload", args=[loan.pk, "id_front"]), {})
    assert response.status_code == 400
    assert "请选择要上传的文件" in response.content.decode()


def test_unknown_document_type_is_404(customer_client, loan_factory):
    loan = loan_factory()
    response = _upload(customer_client, loan, "passport", pdf_upload())
    assert response.status_code == 404


def test_upload_after_review_started_is_refused_with_422(customer_client, loan_factory):
    loan = loan_factory(status=LoanStatus.APPROVED)
    response = _upload(customer_client, loan, "id_front", pdf_upload())
    assert response.status_code == 422
    assert "不能再上传申请材料" in response.content.decode()
    assert not LoanDocument.objects.filter(loan=loan).exists()


def test_withdraw_needs_a_reason_then_withdraws(customer_client, loan_factory):
    loan = loan_factory(status=LoanStatus.SUBMITTED)
    url = reverse("portal:loan-withdraw", args=[loan.pk])
    response = customer_client.post(url, {"reason": ""})
    assert response.status_code == 400
    loan.refresh_from_db()
    assert loan.status == LoanStatus.SUBMITTED
    response = customer_client.post(url, {"reason": "资金需求已解决"})
    assert response.status_code == 302
    loan.refresh_from_db()
    assert loan.status == LoanStatus.WITHDRAWN
    html = customer_client.get(reverse("portal:loan-detail", args=[loan.pk])).content.decode()
    assert "申请已撤回" in html
    assert "撤回申请" not in html


def test_withdraw_after_disbursement_is_refused(customer_client, loan_factory):
    loan = loan_factory(status=LoanStatus.ACTIVE)
    response = customer_client.post(reverse("portal:loan-withdraw", args=[loan.pk]), {"reason": "不想要了"})
    assert response.status_code == 409
    loan.refresh_from_db()
    assert loan.status == LoanStatus.ACTIVE
