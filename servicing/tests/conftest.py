"""Fixtures for the money engine's tests: users per role, a loan awaiting disbursement, and an autouse
ledger check after every database test (the journal must always agree with the schedules)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from applications.models import Customer, Loan, LoanStatus, Product
from loanops.money import to_money
from servicing.models import Account, BusinessDate, EntryKind, Installment
from servicing.selectors import ledger_check
from servicing.services.ledger import Posting, journal_post

START = date(2025, 1, 15)
_seq = itertools.count(1)


@pytest.fixture(autouse=True)
def _ledger_stays_consistent(request: pytest.FixtureRequest) -> Iterator[None]:
    marker = request.node.get_closest_marker("django_db")
    if marker is None:
        yield
        return
    # Make sure the database fixture is set up first, so this check runs before its teardown.
    request.getfixturevalue("transactional_db" if marker.kwargs.get("transaction") else "db")
    yield
    problems = ledger_check()
    assert problems == [], "\n".join(map(str, problems))


def make_user(username: str, role: str | None, *, staff: bool = True) -> Any:
    user = get_user_model().objects.create_user(username=username, password="pw-test-123", is_staff=staff)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return get_user_model().objects.get(pk=user.pk)  # fresh permission cache


@pytest.fixture
def ops() -> Any:
    return make_user("ops1", "ops")


@pytest.fixture
def ops2() -> Any:
    return make_user("ops2", "ops")


@pytest.fixture
def manager() -> Any:
    return make_user("manager1", "manager")


@pytest.fixture
def manager2() -> Any:
    return make_user("manager2", "manager")


@pytest.fixture
def risk() -> Any:
    return make_user("risk1", "risk")


@pytest.fixture
def business_date() -> date:
    BusinessDate.objects.update_or_create(pk=1, defaults={"date": START})
    return START


def set_business_date(day: date) -> None:
    BusinessDate.objects.update_or_create(pk=1, defaults={"date": day})


def make_product(*, fee_rate: str = "0", prepayment_fee_rate: str = "0") -> Product:
    n = next(_seq)
    return Product.objects.create(
        code=f"p{n}",
        name=f"产品{n}",
        applicant_type="individual",
        min_amount=Decimal("1000.00"),
        max_amount=Decimal("1000000.00"),
        min_term_months=1,
        max_term_months=360,
        min_rate=Decimal("0"),
        max_rate=Decimal("0.240000"),
        origination_fee_rate=Decimal(fee_rate),
        prepayment_fee_rate=Decimal(prepayment_fee_rate),
    )


def make_customer(*, user: Any = None) -> Customer:
    n = next(_seq)
    return Customer.objects.create(kind="individual", name=f"借款人{n}", phone=f"139{n:08d}", industry="C", user=user)


def make_loan(
    *,
    maker: Any,
    principal: str = "12000.00",
    rate: str = "0.120000",
    term: int = 12,
    method: str = "equal_installment",
    first_due_date: date = date(2025, 2, 15),
    fee_rate: str = "0",
    customer: Customer | None = None,
    status: str = LoanStatus.DISBURSEMENT_PENDING,
) -> Loan:
    return Loan.objects.create(
        customer=customer or make_customer(),
        product=make_product(fee_rate=fee_rate),
        requested_amount=Decimal(principal),
        requested_term_months=term,
        purpose="经营周转",
        principal=Decimal(principal),
        annual_rate=Decimal(rate),
        term_months=term,
        repayment_method=method,
        first_due_date=first_due_date,
        prepared_by=maker,
        status=status,
    )


@pytest.fixture
def loan_factory(ops: Any) -> Callable[..., Loan]:
    def factory(**kwargs: Any) -> Loan:
        kwargs.setdefault("maker", ops)
        return make_loan(**kwargs)

    return factory


@pytest.fixture
def active_loan(business_date: date, loan_factory: Callable[..., Loan], manager: Any) -> Loan:
    """A disbursed 12 000.00 / 12 % / 12-month equal-installment loan (1 066.19 a month)."""
    from servicing.services import loan_disburse

    loan = loan_factory()
    return loan_disburse(actor=manager, loan_id=loan.pk)


def charge(installment: Installment, component: str, amount: str) -> None:
    """Test helper: put a fee or penalty on an installment together with its journal entry."""
    value = to_money(amount)
    receivable, income = {
        "fee": (Account.FEE_RECEIVABLE, Account.FEE_INCOME),
        "penalty": (Account.PENALTY_RECEIVABLE, Account.PENALTY_INCOME),
    }[component]
    setattr(installment, f"{component}_due", getattr(installment, f"{component}_due") + value)
    installment.save(update_fields=[f"{component}_due"])
    journal_post(
        loan=installment.loan,
        kind=EntryKind.PENALTY if component == "penalty" else EntryKind.FEE,
        business_date=installment.due_date,
        postings=[Posting(receivable, debit=value), Posting(income, credit=value)],
    )


@pytest.fixture
def api() -> APIClient:
    return APIClient()
