"""Fixtures for the reporting tests: the shared role users and API clients, plus loans made directly."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from applications.models import ApplicantType, Customer, Loan, LoanStatus, Product
from loanops import roles
from servicing.models import Installment, Repayment, ScheduleVersion
from servicing.services.common import principal_outstanding_refresh
from tests.conftest import *  # noqa: F403

SHANGHAI = ZoneInfo("Asia/Shanghai")
_seq = itertools.count(1)


def shanghai(*args: int) -> datetime:
    """An aware datetime in Beijing time: shanghai(2026, 11, 30, 23, 30)."""
    return datetime(*args, tzinfo=SHANGHAI)  # type: ignore[misc]


@pytest.fixture
def customer_login(db: None) -> Any:
    """A signed-in borrower (portal user, not staff)."""
    user = get_user_model().objects.create_user(username="13900009999", password="x" * 12)
    user.groups.add(Group.objects.get(name=roles.CUSTOMER))
    return user


@pytest.fixture
def report_product(db: None) -> Product:
    return Product.objects.create(
        code="report-consumer",
        name="消费贷",
        applicant_type=ApplicantType.INDIVIDUAL,
        min_amount=Decimal("1000.00"),
        max_amount=Decimal("500000.00"),
        min_term_months=3,
        max_term_months=36,
        min_rate=Decimal("0.050000"),
        max_rate=Decimal("0.180000"),
    )


@pytest.fixture
def make_loan(report_product: Product) -> Callable[..., Loan]:
    """`make_loan(status, created_at=..., **fields)`: a loan row made directly (setup only, STYLE §7.9)."""

    def make(status: str = LoanStatus.DRAFT, *, created_at: datetime | None = None, **fields: Any) -> Loan:
        n = next(_seq)
        customer = fields.pop("customer", None) or Customer.objects.create(
            kind=ApplicantType.INDIVIDUAL,
            name=fields.pop("customer_name", f"客户{n}"),
            phone=f"137{n:08d}",
            industry="F",
        )
        fields.setdefault("requested_amount", Decimal("10000.00"))
        fields.setdefault("requested_term_months", 12)
        fields.setdefault("purpose", "经营周转")
        fields.setdefault("reference", f"LNRPT{n:06d}")
        loan = Loan.objects.create(customer=customer, product=report_product, status=status, **fields)
        if created_at is not None:
            Loan.objects.filter(pk=loan.pk).update(created_at=created_at)
            loan.refresh_from_db()
        return loan

    return make


def add_schedule(loan: Loan, rows: list[tuple[str, str]], *, is_current: bool = True, version: int = 1) -> None:
    """A schedule version with one installment per (principal_due, principal_paid) pair."""
    schedule = ScheduleVersion.objects.create(
        loan=loan,
        version=version,
        is_current=is_current,
        principal=sum((Decimal(due) for due, _ in rows), Decimal(0)),
        annual_rate=Decimal("0.072"),
        term_months=len(rows),
        repayment_method="equal_principal",
        first_due_date=date(2027, 1, 15),
        reason="test",
    )
    remaining = schedule.principal
    for period, (due, paid) in enumerate(rows, start=1):
        remaining -= Decimal(due)
        Installment.objects.create(
            schedule=schedule,
            loan=loan,
            period=period,
            due_date=date(2027, period, 15),
            principal_due=Decimal(due),
            principal_paid=Decimal(paid),
            interest_due=Decimal("10.00"),
            remaining_after=remaining,
        )
    principal_outstanding_refresh(loan.pk)  # what the servicing services do after writing installments


def add_repayment(loan: Loan, amount: str, paid_on: date, *, by: Any, reversed_: bool = False) -> Repayment:
    return Repayment.objects.create(
        loan=loan,
        amount=Decimal(amount),
        paid_on=paid_on,
        channel="bank_transfer",
        recorded_by=by,
        reversed_at=shanghai(2026, 12, 1, 9, 0) if reversed_ else None,
    )
