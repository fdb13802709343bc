"""Every back-office page: rendered for the right role, 403 for a customer, login redirect for anonymous."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from applications.models import LoanDocument
from backoffice.tests.conftest import PDF_BYTES, login

pytestmark = pytest.mark.django_db


@pytest.fixture
def pages(make_loan: Callable[..., Any], customer: Any, ops: Any) -> dict[str, tuple[str, str]]:
    """name → (url, role that may open it)."""
    draft = make_loan("draft")
    submitted = make_loan("submitted")
    in_review = make_loan("risk_review")
    approved = make_loan("approved")
    offered = make_loan("offered")
    signed = make_loan("contract_signed")
    active = make_loan("active")
    settled = make_loan("settled")
    document = LoanDocument(
        loan=draft,
        doc_type="id_front",
        original_name="id.pdf",
        content_type="application/pdf",
        extension=".pdf",
        size=len(PDF_BYTES),
        sha256="0" * 64,
        uploaded_by=ops,
    )
    document.file.save("id.pdf", ContentFile(PDF_BYTES), save=False)
    document.save()
    return {
        "queue": (reverse("backoffice:queue"), "ops"),
        "loan-list": (reverse("backoffice:loan-list"), "service"),
        "loan-detail": (reverse("backoffice:loan-detail", args=[active.pk]), "service"),
        "customer-list": (reverse("backoffice:customer-list"), "ops"),
        "customer-detail": (reverse("backoffice:customer-detail", args=[customer.pk]), "ops"),
        "customer-create": (reverse("backoffice:customer-create"), "ops"),
        "loan-create": (reverse("backoffice:loan-create", args=[customer.pk]), "ops"),
        "loan-document-upload": (reverse("backoffice:loan-document-upload", args=[draft.pk]), "ops"),
        "document-download": (reverse("backoffice:document-download", args=[document.pk]), "risk"),
        "loan-repayment": (reverse("backoffice:loan-repayment", args=[active.pk]), "ops"),
        "loan-submit": (reverse("backoffice:loan-submit", args=[draft.pk]), "ops"),
        "loan-start-review": (reverse("backoffice:loan-start-review", args=[submitted.pk]), "ops"),
        "loan-request-supplement": (reverse("backoffice:loan-request-supplement", args=[submitted.pk]), "risk"),
        "loan-approve": (reverse("backoffice:loan-approve", args=[in_review.pk]), "risk"),
        "loan-reject": (reverse("backoffice:loan-reject", args=[in_review.pk]), "manager"),
        "loan-make-offer": (reverse("backoffice:loan-make-offer", args=[approved.pk]), "risk"),
        "loan-accept-offer": (reverse("backoffice:loan-accept-offer", args=[offered.pk]), "ops"),
        "loan-prepare-disbursement": (reverse("backoffice:loan-prepare-disbursement", args=[signed.pk]), "ops"),
        "loan-disburse": (reverse("backoffice:loan-disburse", args=[signed.pk]), "manager"),
        "loan-settle": (reverse("backoffice:loan-settle", args=[active.pk]), "ops"),
        "loan-archive": (reverse("backoffice:loan-archive", args=[settled.pk]), "ops"),
        "loan-withdraw": (reverse("backoffice:loan-withdraw", args=[draft.pk]), "manager"),
    }


PAGE_NAMES = [
    "queue",
    "loan-list",
    "loan-detail",
    "customer-list",
    "customer-detail",
    "customer-create",
    "loan-create",
    "loan-document-upload",
    "document-download",
    "loan-repayment",
    "loan-submit",
    "loan-start-review",
    "loan-request-supplement",
    "loan-approve",
    "loan-reject",
    "loan-make-offer",
    "loan-accept-offer",
    "loan-prepare-disbursement",
    "loan-disburse",
    "loan-settle",
    "loan-archive",
    "loan-withdraw",
]


@pytest.mark.parametrize("name", PAGE_NAMES)
def test_page_renders_for_its_role(client: Any, make_user: Callable[..., Any], pages: dict, name: str) -> None:
    url, role = pages[name]
    login(client, make_user(role))
    response = client.get(url)
    assert response.status_code == 200, response.content.decode()[:2000]


@pytest.mark.parametrize("name", PAGE_NAMES)
def test_page_is_403_for_a_customer(client: Any, customer_user: Any, pages: dict, name: str) -> None:
    url, _role = pages[name]
    login(client, customer_user)
    assert client.get(url).status_code == 403


@pytest.mark.parametrize("name", PAGE_NAMES)
def test_page_redirects_anonymous_to_login(client: Any, pages: dict, name: str) -> None:
    url, _role = pages[name]
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(
    ("name", "role"),
    [
        ("loan-approve", "ops"),  # approving is risk's (or a manager's) call
        ("loan-start-review", "risk"),
        ("loan-disburse", "ops"),  # the maker role never holds the checker permission
        ("customer-create", "service"),
        ("loan-repayment", "risk"),
    ],
)
def test_page_is_403_for_staff_without_its_permission(
    client: Any, make_user: Callable[..., Any], pages: dict, name: str, role: str
) -> None:
    url, _role = pages[name]
    login(client, make_user(role))
    assert client.get(url).status_code == 403


def test_staff_flag_is_required_even_with_the_permission(
    client: Any, make_user: Callable[..., Any], pages: dict
) -> None:
    login(client, make_user("ops", is_staff=False))
    assert client.get(pages["queue"][0]).status_code == 403


def test_document_download_returns_the_file(client: Any, pages: dict, risk: Any) -> None:
    login(client, risk)
    response = client.get(pages["document-download"][0])
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF_BYTES
    assert response["Content-Type"] == "application/pdf"
    assert "attachment" in response["Content-Disposition"]


def test_unknown_loan_is_404(client: Any, ops: Any) -> None:
    login(client, ops)
    assert client.get(reverse("backoffice:loan-detail", args=[999999])).status_code == 404
    assert client.get(reverse("backoffice:loan-approve", args=[999999])).status_code in (403, 404)
    assert client.get(reverse("backoffice:loan-start-review", args=[999999])).status_code == 404
