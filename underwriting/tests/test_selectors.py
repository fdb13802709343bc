"""Underwriting selectors: offer defaults, decisions, month arithmetic (matching: test_matching.py)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest

from applications.models import Loan
from underwriting.selectors import (
    add_months,
    first_due_date_window,
    loan_approved_amount,
    loan_reviews,
    offer_defaults,
)
from underwriting.services import loan_approve

D = Decimal


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2027, 1, 31), 1, date(2027, 2, 28)),
        (date(2028, 12, 15), 1, date(2029, 1, 15)),
        (date(2028, 3, 31), -1, date(2028, 2, 29)),
        (date(2028, 1, 15), -1, date(2027, 12, 15)),
        (date(2028, 12, 31), 2, date(2029, 2, 28)),
    ],
)
def test_add_months_clamps_to_month_end(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


def test_first_due_date_window() -> None:
    assert first_due_date_window(date(2028, 12, 31)) == (date(2029, 1, 1), date(2029, 2, 28))


@pytest.mark.django_db
def test_offer_defaults_before_and_after_approval(review_loan: Loan, risk: Any) -> None:
    with mock.patch("underwriting.selectors.timezone.localdate", return_value=date(2028, 1, 31)):
        defaults = offer_defaults(review_loan)
    assert defaults == {
        "product": review_loan.product,
        "principal": D("100000.00"),
        "annual_rate": D("0.040000"),
        "term_months": 12,
        "repayment_method": "equal_installment",
        "first_due_date": date(2028, 2, 29),
    }
    loan_approve(actor=risk, loan_id=review_loan.pk, approved_amount="70000", note="降额")
    assert offer_defaults(review_loan)["principal"] == D("70000.00")
    assert loan_approved_amount(review_loan) == D("70000.00")
    assert [r.approved_amount for r in loan_reviews(review_loan)] == [D("70000.00")]
