"""Test data helpers shared by the underwriting and contracts tests.

Rows are created directly for setup (users, products, customers, a draft loan); every change of a loan's
status goes through the real services (STYLE §7.9).
"""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from applications import services as intake
from applications.models import ApplicantType, Customer, Loan, LoanStageEvent, LoanStatus, Product
from compliance.models import AuditEvent
from loanops import roles
from underwriting.models import RiskReview
from underwriting.selectors import add_months

_seq = itertools.count(1)
PASSWORD = "test-password-123"
#: a valid 居民身份证 number (GB 11643), born 1990-03-07 (inside the default product age range)
ID_NUMBER = "110105199003070025"


def make_user(username: str | None = None, *role_names: str) -> Any:
    """A user in the named role groups; staff unless the only role is customer."""
    username = username or f"user{next(_seq)}"
    user = get_user_model().objects.create_user(username=username, password=PASSWORD)
    user.is_staff = any(role != roles.CUSTOMER for role in role_names)
    user.save(update_fields=["is_staff"])
    for role in role_names:
        user.groups.add(Group.objects.get(name=role))
    return get_user_model().objects.get(pk=user.pk)  # fresh: no cached permissions


def make_product(**overrides: Any) -> Product:
    values: dict[str, Any] = {
        "code": f"p{next(_seq)}",
        "name": "个人消费贷（测试）",
        "applicant_type": ApplicantType.INDIVIDUAL,
        "min_amount": Decimal("10000.00"),
        "max_amount": Decimal("500000.00"),
        "min_term_months": 3,
        "max_term_months": 36,
        "min_rate": Decimal("0.040000"),
        "max_rate": Decimal("0.200000"),
        "repayment_methods": ["equal_installment", "equal_principal", "interest_only", "bullet"],
        "required_documents": [],
        "penalty_surcharge": Decimal("0.500000"),
        "origination_fee_rate": Decimal("0"),
    }
    values.update(overrides)
    return Product.objects.create(**values)


def make_customer(*, user: Any = None, **overrides: Any) -> Customer:
    n = next(_seq)
    values: dict[str, Any] = {
        "kind": ApplicantType.INDIVIDUAL,
        "name": "张三",
        "id_number": ID_NUMBER,
        "phone": f"139{n:08d}",
        "industry": "I",
        "address": "北京市朝阳区建国路 88 号",
        "annual_income": Decimal("240000.00"),
        "user": user,
    }
    values.update(overrides)
    return Customer.objects.create(**values)


def make_customer_with_login(**overrides: Any) -> Customer:
    return make_customer(user=make_user(None, roles.CUSTOMER), **overrides)


def make_loan(*, customer: Customer, product: Product, amount: str = "100000", term: int = 12) -> Loan:
    loan = Loan.objects.create(
        customer=customer,
        product=product,
        requested_amount=Decimal(amount),
        requested_term_months=term,
        purpose="家庭装修",
        repayment_source="工资收入",
    )
    loan.reference = f"LN{timezone.localdate():%Y%m%d}{loan.pk:06d}"
    loan.save(update_fields=["reference"])
    return loan


def next_month() -> date:
    return add_months(timezone.localdate(), 1)


def offer_terms(**overrides: Any) -> dict[str, Any]:
    terms: dict[str, Any] = {
        "principal": "100000",
        "annual_rate": "0.12",
        "term_months": 12,
        "repayment_method": "equal_installment",
        "first_due_date": next_month(),
    }
    terms.update(overrides)
    return terms


ORDER = [
    LoanStatus.SUBMITTED,
    LoanStatus.RISK_REVIEW,
    LoanStatus.APPROVED,
    LoanStatus.OFFERED,
]


def drive(loan: Loan, target: str, *, ops: Any, risk: Any, offer: dict[str, Any] | None = None) -> Loan:
    """Move a draft loan up to `target` (at most `offered`) through the real services.

    The borrower submits when they have a portal login. Later stages: contracts.tests.helpers.drive.
    """
    from underwriting import services as underwriting_services

    borrower = loan.customer.user
    steps = ORDER[: ORDER.index(LoanStatus(target)) + 1]
    for step in steps:
        if step == LoanStatus.SUBMITTED:
            intake.loan_submit(actor=borrower or ops, loan_id=loan.pk)
        elif step == LoanStatus.RISK_REVIEW:
            intake.loan_start_review(actor=ops, loan_id=loan.pk)
        elif step == LoanStatus.APPROVED:
            underwriting_services.loan_approve(actor=risk, loan_id=loan.pk, approved_amount=None, note="征信良好")
        elif step == LoanStatus.OFFERED:
            underwriting_services.loan_make_offer(actor=risk, loan_id=loan.pk, **(offer or offer_terms()))
    loan.refresh_from_db()
    assert loan.status == target
    return loan


def snapshot(loan: Loan) -> dict[str, Any]:
    """What a refused service must leave unchanged."""
    fresh = Loan.objects.get(pk=loan.pk)
    return {
        "status": fresh.status,
        "offer": (fresh.principal, fresh.annual_rate, fresh.term_months, fresh.repayment_method, fresh.apr),
        "cap": (fresh.product_id, fresh.rate_cap, fresh.lpr_used),
        "prepared_by": fresh.prepared_by_id,
        "audit": AuditEvent.objects.count(),
        "stage_events": LoanStageEvent.objects.filter(loan=fresh).count(),
        "reviews": RiskReview.objects.filter(loan=fresh).count(),
    }


__all__ = [
    "PASSWORD",
    "drive",
    "make_customer",
    "make_customer_with_login",
    "make_loan",
    "make_product",
    "make_user",
    "next_month",
    "offer_terms",
    "snapshot",
]
