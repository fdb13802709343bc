"""Portal test data: customers who log in with their phone, products, and loans created directly."""

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
from django.test import Client
from django.utils import timezone

from applications.models import ApplicantType, Customer, Loan, LoanDocument, LoanStatus, Product
from loanops import roles
from tests.conftest import make_id_number

PASSWORD = "portal-pass-2024"
PDF = b"%PDF-1.4\n% portal test document\n"
_seq = itertools.count(1)


def pdf_upload(name: str = "doc.pdf", content: bytes = PDF) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def make_customer(*, phone: str | None = None, kind: str = ApplicantType.INDIVIDUAL, name: str = "李四") -> Customer:
    phone = phone or f"138{next(_seq):08d}"
    user = get_user_model().objects.create_user(username=phone, password=PASSWORD)
    user.groups.add(Group.objects.get(name=roles.CUSTOMER))
    return Customer.objects.create(
        user=user,
        phone=phone,
        kind=kind,
        name=name,
        id_number=make_id_number("19850315") if kind == ApplicantType.INDIVIDUAL else "",
        uscc="91350100M000100Y43" if kind == ApplicantType.ENTERPRISE else "",
        industry="F",
        annual_income=Decimal("180000.00"),
    )


def make_staff(*role_names: str) -> Any:
    user = get_user_model().objects.create_user(username=f"staff{next(_seq)}", password=PASSWORD, is_staff=True)
    for role in role_names:
        user.groups.add(Group.objects.get(name=role))
    return get_user_model().objects.get(pk=user.pk)


def make_product(**overrides: Any) -> Product:
    values: dict[str, Any] = {
        "code": f"consumer-{next(_seq)}",
        "name": "个人消费贷",
        "applicant_type": ApplicantType.INDIVIDUAL,
        "min_amount": Decimal("10000.00"),
        "max_amount": Decimal("300000.00"),
        "min_term_months": 3,
        "max_term_months": 36,
        "min_rate": Decimal("0.060000"),
        "max_rate": Decimal("0.180000"),
        "repayment_methods": ["equal_installment", "equal_principal"],
        "required_documents": ["id_front", "id_back", "income_proof", "credit_auth"],
    }
    values.update(overrides)
    return Product.objects.create(**values)


def make_loan(customer: Customer, product: Product, *, status: str = LoanStatus.DRAFT, **fields: Any) -> Loan:
    values: dict[str, Any] = {
        "customer": customer,
        "product": product,
        "requested_amount": Decimal("50000.00"),
        "requested_term_months": 12,
        "purpose": "店铺装修",
        "repayment_source": "经营收入",
        "status": status,
    }
    values.update(fields)
    loan = Loan(**values)
    loan.save()
    loan.reference = f"LN{timezone.localdate():%Y%m%d}{loan.pk:06d}"
    loan.save(update_fields=["reference"])
    return loan


def add_document(loan: Loan, doc_type: str, *, user: Any | None = None) -> LoanDocument:
    document = LoanDocument(
        loan=loan,
        doc_type=doc_type,
        original_name=f"{doc_type}.pdf",
        content_type="application/pdf",
        extension=".pdf",
        size=len(PDF),
        sha256="0" * 64,
        uploaded_by=user or loan.customer.user,
    )
    document.file.save(f"{doc_type}-{next(_seq)}.pdf", SimpleUploadedFile("x.pdf", PDF), save=False)
    document.save()
    return document


def offer_fields() -> dict[str, Any]:
    return {
        "principal": Decimal("12000.00"),
        "annual_rate": Decimal("0.072000"),
        "term_months": 12,
        "repayment_method": "equal_installment",
        "first_due_date": date(2031, 3, 15),
        "apr": Decimal("0.072000"),
    }


@pytest.fixture
def product() -> Product:
    return make_product()


@pytest.fixture
def customer() -> Customer:
    return make_customer(phone="13800138000", name="王小明")


@pytest.fixture
def other_customer() -> Customer:
    return make_customer(phone="13900139000", name="赵六")


@pytest.fixture
def ops_user() -> Any:
    return make_staff(roles.OPS)


@pytest.fixture
def customer_client(customer: Customer) -> Client:
    client = Client()
    client.force_login(customer.user)
    return client


@pytest.fixture
def loan_factory(customer: Customer, product: Product) -> Callable[..., Loan]:
    def factory(**kwargs: Any) -> Loan:
        owner = kwargs.pop("customer", customer)
        return make_loan(owner, kwargs.pop("product", product), **kwargs)

    return factory
