"""Fixtures for the contracts tests (the same cast as the underwriting tests)."""

from __future__ import annotations

from typing import Any

import pytest

from applications.models import Customer, Loan, Product
from contracts.tests.helpers import drive
from loanops import roles
from underwriting.tests.helpers import make_customer_with_login, make_loan, make_product, make_user


@pytest.fixture
def ops(db: None) -> Any:
    return make_user("ops1", roles.OPS)


@pytest.fixture
def risk(db: None) -> Any:
    return make_user("risk1", roles.RISK)


@pytest.fixture
def manager(db: None) -> Any:
    return make_user("manager1", roles.MANAGER)


@pytest.fixture
def product_manager(db: None) -> Any:
    return make_user("product1", roles.PRODUCT)


@pytest.fixture
def service_user(db: None) -> Any:
    return make_user("service1", roles.SERVICE)


@pytest.fixture
def product(db: None) -> Product:
    return make_product()


@pytest.fixture
def customer(db: None) -> Customer:
    return make_customer_with_login()


@pytest.fixture
def other_customer(db: None) -> Customer:
    return make_customer_with_login(name="李四")


@pytest.fixture
def draft_loan(customer: Customer, product: Product) -> Loan:
    return make_loan(customer=customer, product=product)


@pytest.fixture
def review_loan(draft_loan: Loan, ops: Any, risk: Any) -> Loan:
    return drive(draft_loan, "risk_review", ops=ops, risk=risk)


@pytest.fixture
def approved_loan(draft_loan: Loan, ops: Any, risk: Any) -> Loan:
    return drive(draft_loan, "approved", ops=ops, risk=risk)


@pytest.fixture
def offered_loan(draft_loan: Loan, ops: Any, risk: Any) -> Loan:
    return drive(draft_loan, "offered", ops=ops, risk=risk)


@pytest.fixture
def pending_loan(draft_loan: Loan, ops: Any, risk: Any) -> Loan:
    return drive(draft_loan, "contract_pending", ops=ops, risk=risk)


@pytest.fixture
def signed_loan(draft_loan: Loan, ops: Any, risk: Any) -> Loan:
    return drive(draft_loan, "contract_signed", ops=ops, risk=risk)
