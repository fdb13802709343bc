"""A superseded schedule version's unpaid installments are "replaced", and the close of business, which finds
receivable installments by status alone (no join to the schedule versions), leaves them alone."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from applications.models import Loan, LoanStatus
from loan_collections.early_warning import industry_overdue_rates
from loan_collections.post_loan import Reminder
from loan_collections.reminders import reminders_queue
from servicing.cob_steps import step_due, step_penalty
from servicing.models import Installment, InstallmentStatus, ScheduleVersion
from servicing.selectors import ledger_check
from servicing.services import installments_fall_due, penalties_accrue
from servicing.services.restructuring import restructuring_approve, restructuring_request
from servicing.tests.conftest import set_business_date

pytestmark = pytest.mark.django_db

LATE = date(2025, 4, 20)  # installments 1–3 (due 15 Feb, Mar, Apr) due and unpaid


def _restructured(loan: Loan, ops: Any, risk: Any) -> tuple[ScheduleVersion, ScheduleVersion]:
    set_business_date(LATE)
    installments_fall_due(business_date=LATE)
    penalties_accrue(business_date=LATE)
    Loan.objects.filter(pk=loan.pk).update(status=LoanStatus.OVERDUE, days_past_due=64)
    request_row = restructuring_request(
        actor=ops, loan_id=loan.pk, kind="restructuring", term_months=24, annual_rate="0.090000",
        repayment_method="equal_principal", reason="重组",
    )  # fmt: skip
    restructuring_approve(actor=risk, restructuring_id=request_row.pk)
    return ScheduleVersion.objects.get(loan=loan, version=1), ScheduleVersion.objects.get(loan=loan, is_current=True)


def _expected_dpd(loan: Loan, day: date) -> int:
    unpaid = Installment.objects.filter(
        loan=loan, schedule__is_current=True, status__in=[InstallmentStatus.DUE, InstallmentStatus.OVERDUE],
        due_date__lt=day,
    ).order_by("due_date")  # fmt: skip
    first = unpaid.first()
    return 0 if first is None else (day - first.due_date).days


def test_superseding_a_version_replaces_its_unpaid_installments(active_loan: Loan, ops: Any, risk: Any) -> None:
    old, new = _restructured(active_loan, ops, risk)
    assert set(old.installments.values_list("status", flat=True)) == {InstallmentStatus.REPLACED}
    assert InstallmentStatus.REPLACED not in set(new.installments.values_list("status", flat=True))
    assert InstallmentStatus(InstallmentStatus.REPLACED).label == "已被新计划取代"
    assert ledger_check() == []


def test_the_close_of_business_ignores_replaced_installments(active_loan: Loan, ops: Any, risk: Any) -> None:
    old, new = _restructured(active_loan, ops, risk)
    frozen = list(old.installments.order_by("pk").values_list("pk", "status", "penalty_accrued", "penalty_accrued_to"))
    for offset in range(1, 30):
        day = LATE + timedelta(days=offset)
        set_business_date(day)
        step_due(business_date=day, id_range=None)
        step_penalty(business_date=day, id_range=None)
        reminders_queue(business_date=day)
        assert Loan.objects.get(pk=active_loan.pk).days_past_due == _expected_dpd(active_loan, day)
    # nothing on the old version moved: no status, no penalty, no reminder
    assert (
        list(old.installments.order_by("pk").values_list("pk", "status", "penalty_accrued", "penalty_accrued_to"))
        == frozen
    )
    assert not Reminder.objects.filter(installment__schedule=old).exists()
    # the old version falls due on 15 May too: only the new version's installment is reminded
    assert Reminder.objects.filter(installment__schedule=new, due_date=date(2025, 5, 15)).exists()
    # the industry's outstanding is the current version's principal only
    outstanding = sum((i.principal_due - i.principal_paid for i in new.installments.all()), Decimal("0"))
    rates = industry_overdue_rates()
    assert sum((row["outstanding"] for row in rates.values()), Decimal("0")) == outstanding == Decimal("12000.00")
    assert ledger_check() == []
