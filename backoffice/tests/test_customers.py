"""Register a borrower (individual / enterprise, optional portal account), open an application, upload."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from applications.models import Customer, Loan, LoanDocument
from backoffice.tests.conftest import PDF_BYTES, login
from compliance.models import AuditEvent
from compliance.pii import pii_hash

pytestmark = pytest.mark.django_db

INDIVIDUAL = {
    "kind": "individual",
    "name": "王五",
    "phone": "13912345678",
    "id_number": "11010519491231002X",
    "industry": "F",
    "annual_income": "180000",
    "years_in_business": "3",
    "employer": "某某商贸有限公司",
    "email": "wangwu@example.com",
    "address": "北京市朝阳区",
}


def test_create_individual_with_portal_account(client: Any, ops: Any) -> None:
    login(client, ops)
    response = client.post(reverse("backoffice:customer-create"), {**INDIVIDUAL, "portal_password": "Zx9!portal-2025"})
    assert response.status_code == 302, response.content.decode()[:3000]
    customer = Customer.objects.get(phone_hash=pii_hash("13912345678"))
    assert response["Location"] == reverse("backoffice:customer-detail", args=[customer.pk])
    assert customer.user is not None and customer.user.check_password("Zx9!portal-2025")
    assert AuditEvent.objects.filter(action="customer.create", actor=ops).exists()


def test_service_field_errors_are_mapped_and_nothing_is_written(client: Any, ops: Any) -> None:
    login(client, ops)
    bad = {**INDIVIDUAL, "id_number": "110105194912310021", "phone": "12345"}
    response = client.post(reverse("backoffice:customer-create"), bad)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert "id_number" in errors and "phone" in errors
    assert not Customer.objects.exists()
    assert not AuditEvent.objects.exists()


def test_enterprise_needs_uscc_and_legal_representative(client: Any, ops: Any) -> None:
    login(client, ops)
    data = {**INDIVIDUAL, "kind": "enterprise", "name": "某某科技有限公司", "id_number": ""}
    response = client.post(reverse("backoffice:customer-create"), data)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert "uscc" in errors and "legal_representative" in errors
    assert "registered_capital" in errors
    data.update(uscc="91110108MA01KPGK0L", legal_representative="赵六", registered_capital="5000000")
    response = client.post(reverse("backoffice:customer-create"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Customer.objects.get(kind="enterprise").uscc == "91110108MA01KPGK0L"


def test_weak_portal_password_is_refused(client: Any, ops: Any) -> None:
    login(client, ops)
    response = client.post(reverse("backoffice:customer-create"), {**INDIVIDUAL, "portal_password": "123"})
    assert response.status_code == 400
    assert "portal_password" in response.context["form"].errors
    assert not Customer.objects.exists()
    assert not get_user_model().objects.filter(username="13912345678").exists()


def test_duplicate_phone_is_a_field_error(client: Any, customer: Any, ops: Any) -> None:
    login(client, ops)
    response = client.post(reverse("backoffice:customer-create"), {**INDIVIDUAL, "phone": customer.phone})
    assert response.status_code == 400
    assert "phone" in response.context["form"].errors


def test_customer_detail_lists_their_loans(client: Any, customer: Any, make_loan: Callable[..., Any], ops: Any) -> None:
    loan = make_loan("active")
    login(client, ops)
    html = client.get(reverse("backoffice:customer-detail", args=[customer.pk])).content.decode()
    assert loan.reference in html
    assert reverse("backoffice:loan-create", args=[customer.pk]) in html
    assert "110105********0025" in html


def test_loan_create(client: Any, customer: Any, product: Any, ops: Any) -> None:
    login(client, ops)
    url = reverse("backoffice:loan-create", args=[customer.pk])
    data = {
        "product": product.pk,
        "requested_amount": "80000",
        "requested_term_months": "24",
        "purpose": "购买家具",
        "repayment_source": "工资收入",
    }
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    loan = Loan.objects.get(customer=customer)
    assert loan.status == "draft" and loan.created_by == ops
    assert response["Location"] == reverse("backoffice:loan-detail", args=[loan.pk])


def test_loan_create_outside_the_product_range_is_a_field_error(
    client: Any, customer: Any, product: Any, ops: Any
) -> None:
    login(client, ops)
    url = reverse("backoffice:loan-create", args=[customer.pk])
    data = {
        "product": product.pk,
        "requested_amount": "500",
        "requested_term_months": "60",
        "purpose": "装修",
        "repayment_source": "工资",
    }
    response = client.post(url, data)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert "requested_amount" in errors and "requested_term_months" in errors
    assert not Loan.objects.exists()


def test_document_upload(client: Any, make_loan: Callable[..., Any], ops: Any) -> None:
    loan = make_loan("draft")
    login(client, ops)
    url = reverse("backoffice:loan-document-upload", args=[loan.pk])
    assert client.get(url, {"doc_type": "income_proof"}).context["form"].initial == {"doc_type": "income_proof"}
    response = client.post(url, {"doc_type": "income_proof", "file": SimpleUploadedFile("pay.pdf", PDF_BYTES)})
    assert response.status_code == 302, response.content.decode()[:3000]
    document = LoanDocument.objects.get(loan=loan)
    assert document.doc_type == "income_proof" and document.original_name == "pay.pdf"


def test_document_upload_wrong_type_is_a_file_error(client: Any, make_loan: Callable[..., Any], ops: Any) -> None:
    loan = make_loan("draft")
    login(client, ops)
    url = reverse("backoffice:loan-document-upload", args=[loan.pk])
    fake = SimpleUploadedFile("evil.pdf", b"MZ\x90\x00 not a pdf at all")
    response = client.post(url, {"doc_type": "income_proof", "file": fake})
    assert response.status_code == 400
    assert "file" in response.context["form"].errors
    assert not LoanDocument.objects.exists()


def test_document_upload_too_large(client: Any, make_loan: Callable[..., Any], ops: Any, settings: Any) -> None:
    settings.LOANOPS_MAX_UPLOAD_BYTES = 10
    loan = make_loan("draft")
    login(client, ops)
    url = reverse("backoffice:loan-document-upload", args=[loan.pk])
    response = client.post(url, {"doc_type": "id_front", "file": SimpleUploadedFile("big.pdf", PDF_BYTES)})
    assert response.status_code == 400
    assert "file" in response.context["form"].errors


def test_document_upload_closed_stage_is_422(client: Any, make_loan: Callable[..., Any], ops: Any) -> None:
    loan = make_loan("active")
    login(client, ops)
    url = reverse("backoffice:loan-document-upload", args=[loan.pk])
    response = client.post(url, {"doc_type": "id_front", "file": SimpleUploadedFile("a.pdf", PDF_BYTES)})
    assert response.status_code == 422
    assert "不能再上传" in response.content.decode()
