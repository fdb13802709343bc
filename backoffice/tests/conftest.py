"""Fixtures for the back-office page tests: role users, a product, a customer and loans in any status."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from itertools import count
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client

from applications.models import Customer, Loan, Product

PASSWORD = "test-pass-12345"
_seq = count(1)


@pytest.fixture
def make_user(db: Any) -> Callable[..., Any]:
    def make(*roles: str, is_staff: bool = True, username: str | None = None) -> Any:
        user = get_user_model().objects.create_user(
            username=username or f"{'-'.join(roles) or 'nobody'}-{next(_seq)}",
            password=PASSWORD,
            is_staff=is_staff,
            first_name="",
        )
        user.groups.add(*Group.objects.filter(name__in=roles))
        return user

    return make


@pytest.fixture
def ops(make_user: Callable[..., Any]) -> Any:
    return make_user("ops", username="ops-wang")


@pytest.fixture
def risk(make_user: Callable[..., Any]) -> Any:
    return make_user("risk", username="risk-li")


@pytest.fixture
def manager(make_user: Callable[..., Any]) -> Any:
    return make_user("manager", username="manager-zhao")


@pytest.fixture
def service(make_user: Callable[..., Any]) -> Any:
    return make_user("service", username="service-chen")


@pytest.fixture
def customer_user(make_user: Callable[..., Any]) -> Any:
    return make_user("customer", is_staff=False, username="13900000000")


def login(client: Client, user: Any) -> Client:
    client.force_login(user)
    return client


@pytest.fixture
def product(db: Any) -> Product:
    return Product.objects.create(
        code="consumer",
        name="个人消费贷",
        applicant_type="individual",
        min_amount=Decimal("1000.00"),
        max_amount=Decimal("200000.00"),
        min_term_months=3,
        max_term_months=36,
        min_rate=Decimal("0.072000"),
        max_rate=Decimal("0.180000"),
        repayment_methods=["equal_installment", "equal_principal"],
        required_documents=["id_front", "id_back", "income_proof", "credit_auth"],
        max_age=80,  # the fixture customer was born in 1949
    )


@pytest.fixture
def customer(db: Any) -> Customer:
    return Customer.objects.create(
        kind="individual",
        name="张三",
        id_number="110105199003070025",  # born 1990: inside the products' age range
        phone="13800138000",
        industry="F",
        annual_income=Decimal("240000.00"),
        years_in_business=5,
    )


@pytest.fixture
def make_loan(product: Product, customer: Customer) -> Callable[..., Loan]:
    def make(status: str = "draft", **kwargs: Any) -> Loan:
        kwargs.setdefault("customer", customer)
        kwargs.setdefault("product", product)
        kwargs.setdefault("requested_amount", Decimal("50000.00"))
        kwargs.setdefault("requested_term_months", 12)
        kwargs.setdefault("purpose", "家庭装修")
        kwargs.setdefault("repayment_source", "工资收入")
        loan = Loan.objects.create(status=status, **kwargs)
        loan.reference = f"LN20250101{loan.pk:06d}"
        loan.save(update_fields=["reference"])
        return loan

    return make


PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def active_loan(make_loan: Callable[..., Loan], ops: Any, manager: Any, customer_user: Any) -> Loan:
    """A loan taken from `offered` to `active` through the stage services (schedule and ledger written)."""
    from datetime import timedelta

    from contracts.services import contract_sign, loan_accept_offer, loan_prepare_disbursement
    from servicing.services import loan_disburse
    from underwriting.selectors import first_due_date_window

    earliest, _latest = first_due_date_window()
    loan = make_loan(
        "offered",
        principal=Decimal("12000.00"),
        annual_rate=Decimal("0.096000"),
        term_months=12,
        repayment_method="equal_installment",
        first_due_date=earliest + timedelta(days=20),
        apr=Decimal("0.096000"),
    )
    loan.customer.user = customer_user
    loan.customer.save(update_fields=["user"])
    loan_accept_offer(actor=ops, loan_id=loan.pk)
    contract_sign(actor=customer_user, loan_id=loan.pk, consent=True, ip_address="10.0.0.8", user_agent="pytest")
    loan_prepare_disbursement(actor=ops, loan_id=loan.pk, bank_name="中国建设银行", bank_account="6217000010001234567")
    loan_disburse(actor=manager, loan_id=loan.pk)
    return Loan.objects.get(pk=loan.pk)
