"""GET/POST /api/v1/loans/{id}/documents/ and GET /api/v1/documents/{id}/download/."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from applications.models import Loan, LoanDocument, LoanStatus
from compliance.models import AuditEvent
from tests.conftest import PDF_BYTES, pdf_upload, png_upload

pytestmark = pytest.mark.django_db
Client = Callable[[Any], APIClient]


def documents(loan: Loan) -> str:
    return reverse("api:loan-documents", kwargs={"loan_id": loan.pk})


def download(document_id: int) -> str:
    return reverse("api:document-download", kwargs={"document_id": document_id})


def nothing_written(loan: Loan) -> tuple[int, int]:
    return LoanDocument.objects.filter(loan=loan).count(), AuditEvent.objects.count()


def test_customer_uploads_lists_and_downloads(api_client_for: Client, customer_user: Any, loan: Loan) -> None:
    client = api_client_for(customer_user)
    response = client.post(
        documents(loan), {"doc_type": "id_front", "file": pdf_upload("身份证.pdf")}, format="multipart"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["doc_type"] == "id_front"
    assert body["content_type"] == "application/pdf"
    assert body["size"] == len(PDF_BYTES)
    assert body["download_url"] == download(body["id"])
    assert AuditEvent.objects.filter(action="loan.document_upload", subject_id=str(loan.pk)).exists()

    listed = client.get(documents(loan)).json()
    assert [doc["id"] for doc in listed] == [body["id"]]
    assert client.get(reverse("api:loan-detail", kwargs={"loan_id": loan.pk})).json()["missing_documents"] == [
        "id_back",
        "income_proof",
        "credit_auth",
    ]

    # A browser asking for the PDF itself must not get 406.
    file_response = client.get(body["download_url"], HTTP_ACCEPT="application/pdf")
    assert file_response.status_code == 200
    assert file_response["Content-Type"] == "application/pdf"
    assert "attachment" in file_response["Content-Disposition"]
    assert b"".join(file_response.streaming_content) == PDF_BYTES


def test_ops_uploads_for_the_customer(api_client_for: Client, ops_user: Any, loan: Loan) -> None:
    response = api_client_for(ops_user).post(
        documents(loan), {"doc_type": "income_proof", "file": png_upload()}, format="multipart"
    )
    assert response.status_code == 201
    assert response.json()["content_type"] == "image/png"


def test_exe_renamed_pdf_is_400_and_writes_nothing(api_client_for: Client, customer_user: Any, loan: Loan) -> None:
    before = nothing_written(loan)
    fake = SimpleUploadedFile("payslip.pdf", b"MZ\x90\x00\x03" + b"\x00" * 64, content_type="application/pdf")
    response = api_client_for(customer_user).post(
        documents(loan), {"doc_type": "income_proof", "file": fake}, format="multipart"
    )
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["file"]
    assert nothing_written(loan) == before


@override_settings(LOANOPS_MAX_UPLOAD_BYTES=32)
def test_oversized_upload_is_400_and_writes_nothing(api_client_for: Client, customer_user: Any, loan: Loan) -> None:
    before = nothing_written(loan)
    big = pdf_upload("big.pdf", PDF_BYTES + b"0" * 64)
    response = api_client_for(customer_user).post(
        documents(loan), {"doc_type": "id_back", "file": big}, format="multipart"
    )
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["file"]
    assert nothing_written(loan) == before


def test_missing_fields_are_named(api_client_for: Client, customer_user: Any, loan: Loan) -> None:
    response = api_client_for(customer_user).post(documents(loan), {}, format="multipart")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"doc_type", "file"}


def test_unknown_doc_type_is_400(api_client_for: Client, customer_user: Any, loan: Loan) -> None:
    response = api_client_for(customer_user).post(
        documents(loan), {"doc_type": "selfie", "file": pdf_upload()}, format="multipart"
    )
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["doc_type"]


def test_upload_after_the_application_stage_is_422(
    api_client_for: Client, customer_user: Any, loan: Loan, advance_loan: Callable[[Loan, str], Loan]
) -> None:
    advance_loan(loan, LoanStatus.APPROVED)
    before = nothing_written(loan)
    response = api_client_for(customer_user).post(
        documents(loan), {"doc_type": "other", "file": pdf_upload()}, format="multipart"
    )
    assert response.status_code == 422
    assert response.json()["code"] == "upload_closed"
    assert nothing_written(loan) == before


def test_other_customers_loan_and_document_are_404(
    api_client_for: Client, customer_user: Any, other_customer_user: Any, other_loan: Loan
) -> None:
    theirs = api_client_for(other_customer_user).post(
        documents(other_loan), {"doc_type": "id_front", "file": pdf_upload()}, format="multipart"
    )
    assert theirs.status_code == 201
    mine = api_client_for(customer_user)
    assert mine.get(documents(other_loan)).status_code == 404
    assert (
        mine.post(documents(other_loan), {"doc_type": "id_back", "file": pdf_upload()}, format="multipart").status_code
        == 404
    )
    assert mine.get(download(theirs.json()["id"])).status_code == 404
    assert mine.get(download(999999)).status_code == 404
    assert LoanDocument.objects.filter(loan=other_loan).count() == 1


def test_upload_needs_add_loandocument(api_client_for: Client, risk_user: Any, loan: Loan) -> None:
    response = api_client_for(risk_user).post(
        documents(loan), {"doc_type": "other", "file": pdf_upload()}, format="multipart"
    )
    assert response.status_code == 403
    assert not LoanDocument.objects.filter(loan=loan).exists()


def test_reading_needs_a_role(api_client_for: Client, outsider: Any, customer_user: Any, loan: Loan) -> None:
    created = api_client_for(customer_user).post(
        documents(loan), {"doc_type": "id_front", "file": pdf_upload()}, format="multipart"
    )
    client = api_client_for(outsider)
    assert client.get(documents(loan)).status_code == 403
    assert client.get(download(created.json()["id"])).status_code == 403


def test_unauthenticated_is_401(api_client_for: Client, customer_user: Any, loan: Loan) -> None:
    created = api_client_for(customer_user).post(
        documents(loan), {"doc_type": "id_front", "file": pdf_upload()}, format="multipart"
    )
    anonymous = APIClient()
    assert anonymous.get(documents(loan)).status_code == 401
    assert (
        anonymous.post(documents(loan), {"doc_type": "id_back", "file": pdf_upload()}, format="multipart").status_code
        == 401
    )
    assert anonymous.get(download(created.json()["id"])).status_code == 401
