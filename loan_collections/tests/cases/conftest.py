"""Fixtures for the collections tests: staff per role, loans put straight into overdue states (factories may
create rows in any status, STYLE §7.9), installments with arrears, and repayments for promise evaluation."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from applications.models import ApplicantType, Customer, Loan, LoanStatus, Product
from loanops import roles
from servicing.models import Installment, InstallmentStatus, Repayment, ScheduleVersion
from tests.conftest import *  # noqa: F403
from tests.conftest import make_staff

D = date(2026, 3, 10)  # the business date most tests run the step for
_seq = itertools.count(1)


@pytest.fixture
def collector(db: None) -> Any:
    return make_staff(roles.COLLECTOR)


@pytest.fixture
def collector2(db: None) -> Any:
    return make_staff(roles.COLLECTOR)


@pytest.fixture
def service_staff(db: None) -> Any:
    return make_staff(roles.SERVICE)


@pytest.fixture
def risk_staff(db: None) -> Any:
    return make_staff(roles.RISK)


@pytest.fixture
def boss(db: None) -> Any:
    return make_staff(roles.MANAGER)


@pytest.fixture
def coll_product(db: None) -> Product:
    return Product.objects.create(
        code=f"coll-{next(_seq)}",
        name="个人消费贷",
        applicant_type=ApplicantType.INDIVIDUAL,
        min_amount=Decimal("1000.00"),
        max_amount=Decimal("500000.00"),
        min_term_months=1,
        max_term_months=36,
        min_rate=Decimal("0"),
        max_rate=Decimal("0.240000"),
    )


def new_debtor(**overrides: Any) -> Customer:
    n = next(_seq)
    data: dict[str, Any] = {
        "kind": "individual",
        "name": f"债务人{n}",
        "id_number": f"110105199001{n:06d}"[:18],
        "phone": f"137{n:08d}",
        "industry": "F",
    }
    data.update(overrides)
    return Customer.objects.create(**data)


@pytest.fixture
def make_overdue_loan(coll_product: Product) -> Callable[..., Loan]:
    """`make_overdue_loan(dpd=5, bucket="M1", status="overdue", customer=None)`: a disbursed loan in that state."""

    def make(
        *, dpd: int = 5, bucket: str | None = None, status: str = LoanStatus.OVERDUE, customer: Customer | None = None
    ) -> Loan:
        if bucket is None:
            bucket = "M0" if dpd == 0 else "M1" if dpd <= 30 else "M2" if dpd <= 60 else "M3" if dpd <= 90 else "M3+"
        n = next(_seq)
        return Loan.objects.create(
            reference=f"LN2026{n:08d}",
            customer=customer or new_debtor(),
            product=coll_product,
            requested_amount=Decimal("12000.00"),
            requested_term_months=12,
            purpose="经营周转",
            principal=Decimal("12000.00"),
            annual_rate=Decimal("0.120000"),
            term_months=12,
            repayment_method="equal_installment",
            first_due_date=date(2026, 1, 10),
            disbursed_on=date(2025, 12, 10),
            status=status,
            days_past_due=dpd,
            bucket=bucket,
        )

    return make


def add_installments(loan: Loan, rows: list[dict[str, Any]]) -> list[Installment]:
    """Installments of a current schedule version: each dict has due_date and *_due / *_paid amounts."""
    schedule = ScheduleVersion.objects.create(
        loan=loan,
        version=1,
        principal=loan.principal,
        annual_rate=loan.annual_rate,
        term_months=len(rows),
        repayment_method=loan.repayment_method,
        first_due_date=rows[0]["due_date"],
        reason="放款",
    )
    made = []
    for period, row in enumerate(rows, start=1):
        values = {key: Decimal(str(value)) if key != "due_date" else value for key, value in row.items()}
        values.setdefault("principal_due", Decimal("1000.00"))
        values.setdefault("interest_due", Decimal("100.00"))
        made.append(
            Installment.objects.create(
                schedule=schedule,
                loan=loan,
                period=period,
                remaining_after=Decimal("0"),
                status=InstallmentStatus.OVERDUE if values["due_date"] < D else InstallmentStatus.PENDING,
                **values,
            )
        )
    return made


def pay(loan: Loan, amount: str, paid_on: date, *, by: Any, reversed_: bool = False) -> Repayment:
    """A repayment row (promise evaluation reads repayments; the money engine's postings are not needed here)."""
    from django.utils import timezone

    return Repayment.objects.create(
        loan=loan,
        amount=Decimal(amount),
        paid_on=paid_on,
        channel="bank_transfer",
        recorded_by=by,
        reversed_at=timezone.now() if reversed_ else None,
    )


def days(n: int) -> timedelta:
    return timedelta(days=n)


@pytest.fixture
def business_day(db: None) -> date:
    from servicing.models import BusinessDate

    BusinessDate.objects.update_or_create(pk=1, defaults={"date": D})
    return D


@pytest.fixture
def make_case(make_overdue_loan: Callable[..., Loan], business_day: date) -> Callable[..., Any]:
    """`make_case(assigned_to=user, dpd=10, level="reminder", customer=None)`: an open case (a factory row)."""
    from loan_collections.case_models import CollectionCase

    def make(*, assigned_to: Any = None, dpd: int = 10, level: str = "collector", customer: Any = None) -> Any:
        loan = make_overdue_loan(dpd=dpd, customer=customer)
        return CollectionCase.objects.create(
            loan=loan,
            customer=loan.customer,
            level=level,
            responsible_role="collector" if level != "reminder" else "service",
            assigned_to=assigned_to,
            assigned_on=D if assigned_to else None,
            opened_on=D,
            opened_dpd=dpd,
        )

    return make
