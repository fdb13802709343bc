"""Shared fixtures for API tests: users per role, a product, customers with portal logins, token clients,
and `advance_loan` to bring a loan to a later stage through the real services (STYLE §7.9).

App test packages use them with `from tests.conftest import *` in their own conftest.py (a conftest only
reaches its own directory; this module is the one place they are defined).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from stdnum.cn import ric

from applications.models import ApplicantType, Customer, Loan, LoanStatus, Product
from loanops import roles

__all__ = [
    "PASSWORD",
    "advance_loan",
    "api_client_for",
    "customer",
    "customer_data",
    "customer_user",
    "loan",
    "make_customer",
    "make_id_number",
    "make_staff",
    "manager_user",
    "ops_user",
    "other_customer",
    "other_customer_user",
    "other_loan",
    "outsider",
    "pdf_upload",
    "png_upload",
    "product",
    "product_user",
    "risk_user",
    "service_user",
    "superuser",
]

PASSWORD = "Test-pass-2024"
PDF_BYTES = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32

_seq = itertools.count(1)


def make_id_number(birth: str = "19900101", region: str = "110105") -> str:
    """A valid 18-digit 居民身份证 number (GB 11643 check digit), different on every call."""
    body = f"{region}{birth}{next(_seq) % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")  # stdnum expects the 18-character form


def _phone() -> str:
    return f"139{next(_seq):08d}"


def customer_data(**overrides: Any) -> dict[str, Any]:
    """Valid input for an individual customer (fresh phone and ID number)."""
    data: dict[str, Any] = {
        "kind": ApplicantType.INDIVIDUAL.value,
        "name": "张三",
        "id_number": make_id_number(),
        "phone": _phone(),
        "email": "zhangsan@example.com",
        "address": "北京市朝阳区建国路 1 号",
        "industry": "I",
        "annual_income": "240000.00",
        "employer": "某某科技有限公司",
        "years_in_business": 5,
    }
    data.update(overrides)
    return data


def make_staff(role: str | None, username: str | None = None, **extra: Any) -> Any:
    """A staff user in one role group (`None`: a staff account with no role at all)."""
    user_model = get_user_model()
    user = user_model.objects.create_user(
        username=username or f"{role or 'norole'}{next(_seq)}", password=PASSWORD, is_staff=True, **extra
    )
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user_model.objects.get(pk=user.pk)  # fresh: no cached permissions


def make_customer(**overrides: Any) -> Customer:
    """An individual customer with a portal login (username = phone, password = PASSWORD)."""
    from applications.services import customer_create

    ops = make_staff(roles.OPS)
    return customer_create(actor=ops, data=customer_data(**overrides), portal_password=PASSWORD)


def pdf_upload(name: str = "document.pdf", content: bytes = PDF_BYTES) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def png_upload(name: str = "photo.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PNG_BYTES, content_type="image/png")


# --- users ---------------------------------------------------------------------------------


@pytest.fixture
def ops_user(db: None) -> Any:
    return make_staff(roles.OPS)


@pytest.fixture
def risk_user(db: None) -> Any:
    return make_staff(roles.RISK)


@pytest.fixture
def manager_user(db: None) -> Any:
    return make_staff(roles.MANAGER)


@pytest.fixture
def product_user(db: None) -> Any:
    return make_staff(roles.PRODUCT)


@pytest.fixture
def service_user(db: None) -> Any:
    return make_staff(roles.SERVICE)


@pytest.fixture
def outsider(db: None) -> Any:
    """Signed in, but neither a customer nor in any role."""
    return make_staff(None)


@pytest.fixture
def superuser(db: None) -> Any:
    return make_staff(None, is_superuser=True)


# --- catalogue and customers ----------------------------------------------------------------


@pytest.fixture
def product(db: None) -> Product:
    return Product.objects.create(
        code="personal-standard",
        name="个人消费贷",
        applicant_type=ApplicantType.INDIVIDUAL,
        min_amount=Decimal("10000.00"),
        max_amount=Decimal("200000.00"),
        min_term_months=3,
        max_term_months=36,
        min_rate=Decimal("0.045000"),
        max_rate=Decimal("0.180000"),
        repayment_methods=["equal_installment", "equal_principal"],
        required_documents=["id_front", "id_back", "income_proof", "credit_auth"],
    )


@pytest.fixture
def customer(db: None) -> Customer:
    return make_customer(name="张三")


@pytest.fixture
def customer_user(customer: Customer) -> Any:
    return get_user_model().objects.get(pk=customer.user_id)


@pytest.fixture
def other_customer(db: None) -> Customer:
    return make_customer(name="李四")


@pytest.fixture
def other_customer_user(other_customer: Customer) -> Any:
    return get_user_model().objects.get(pk=other_customer.user_id)


# --- clients -------------------------------------------------------------------------------


@pytest.fixture
def api_client_for(db: None) -> Callable[[Any], APIClient]:
    """`api_client_for(user)` → an APIClient sending `Authorization: Token <key>` for that user."""

    def build(user: Any) -> APIClient:
        token, _ = Token.objects.get_or_create(user=user)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return build


# --- loans ---------------------------------------------------------------------------------


@pytest.fixture
def loan(customer: Customer, customer_user: Any, product: Product) -> Loan:
    """A draft application by the customer: 50 000.00 over 12 months."""
    from applications.services import loan_create

    return loan_create(
        actor=customer_user,
        customer_id=customer.pk,
        product_id=product.pk,
        requested_amount="50000.00",
        requested_term_months=12,
        purpose="家庭装修",
        repayment_source="工资收入",
    )


@pytest.fixture
def other_loan(other_customer: Customer, other_customer_user: Any, product: Product) -> Loan:
    from applications.services import loan_create

    return loan_create(
        actor=other_customer_user,
        customer_id=other_customer.pk,
        product_id=product.pk,
        requested_amount="20000.00",
        requested_term_months=6,
        purpose="购车",
        repayment_source="经营收入",
    )


_ORDER = [
    LoanStatus.DRAFT,
    LoanStatus.SUBMITTED,
    LoanStatus.RISK_REVIEW,
    LoanStatus.APPROVED,
    LoanStatus.OFFERED,
    LoanStatus.CONTRACT_PENDING,
    LoanStatus.CONTRACT_SIGNED,
    LoanStatus.DISBURSEMENT_PENDING,
    LoanStatus.ACTIVE,
]


def _first_due_date() -> date:
    from django.utils import timezone

    from underwriting.selectors import add_months

    return add_months(timezone.localdate(), 1)


@pytest.fixture
def advance_loan(db: None) -> Callable[[Loan, str], Loan]:
    """`advance_loan(loan, status)` walks a loan forward through the real stage services, each step done by a
    user of the right role, and returns it refreshed. The customer signs; ops prepares; a manager disburses.
    """
    from applications import services as intake

    ops, risk, manager = make_staff(roles.OPS), make_staff(roles.RISK), make_staff(roles.MANAGER)

    def advance(loan: Loan, target: str) -> Loan:
        from contracts.services import contract_sign, loan_accept_offer, loan_prepare_disbursement
        from servicing.services import loan_disburse
        from underwriting.services import loan_approve, loan_make_offer

        borrower = get_user_model().objects.get(pk=loan.customer.user_id)
        steps: dict[str, Callable[[], object]] = {
            LoanStatus.SUBMITTED: lambda: intake.loan_submit(actor=borrower, loan_id=loan.pk),
            LoanStatus.RISK_REVIEW: lambda: intake.loan_start_review(actor=ops, loan_id=loan.pk),
            LoanStatus.APPROVED: lambda: loan_approve(
                actor=risk, loan_id=loan.pk, approved_amount=None, note="收入稳定，负债率低"
            ),
            LoanStatus.OFFERED: lambda: loan_make_offer(
                actor=risk,
                loan_id=loan.pk,
                principal=loan.requested_amount,
                annual_rate="0.072",
                term_months=loan.requested_term_months,
                repayment_method="equal_installment",
                first_due_date=_first_due_date(),
            ),
            LoanStatus.CONTRACT_PENDING: lambda: loan_accept_offer(actor=borrower, loan_id=loan.pk),
            LoanStatus.CONTRACT_SIGNED: lambda: contract_sign(
                actor=borrower, loan_id=loan.pk, consent=True, ip_address="127.0.0.1", user_agent="pytest"
            ),
            LoanStatus.DISBURSEMENT_PENDING: lambda: loan_prepare_disbursement(
                actor=ops, loan_id=loan.pk, bank_name="中国工商银行", bank_account="6222021234567890123"
            ),
            LoanStatus.ACTIVE: lambda: loan_disburse(actor=manager, loan_id=loan.pk),
        }
        loan.refresh_from_db()
        if loan.status == LoanStatus.DRAFT:
            present = set(loan.documents.values_list("doc_type", flat=True))
            for doc_type in loan.product.required_documents:
                if doc_type not in present:
                    intake.document_upload(
                        actor=borrower, loan_id=loan.pk, doc_type=doc_type, upload=pdf_upload(f"{doc_type}.pdf")
                    )
        for status in _ORDER[_ORDER.index(LoanStatus(loan.status)) + 1 : _ORDER.index(LoanStatus(target)) + 1]:
            steps[status]()
        loan.refresh_from_db()
        assert loan.status == target
        return loan

    return advance
