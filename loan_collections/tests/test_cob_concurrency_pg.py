"""Repayments racing the close of business on real PostgreSQL (skipped on SQLite).

A repayment during COB lands before or after that loan's penalty step — never both — so penalty is
accrued once, on what was outstanding when the step ran; no deadlock; the ledger agrees.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from loan_collections.cob.models import CobRunStatus
from loan_collections.cob.runner import cob_run
from loanops.pricing import penalty_for_range
from servicing.models import Installment, JournalEntry
from servicing.selectors import ledger_check, schedule_current
from servicing.services import loan_disburse, repayment_record
from servicing.services.common import system_user
from servicing.tests.conftest import (
    _ledger_stays_consistent,  # noqa: F401  (autouse: ledger check)
    set_business_date,
)
from servicing.tests.test_concurrency_pg import race

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_repayments_during_cob_land_before_or_after_the_step_never_both(
    loan_factory: Any, manager: Any, ops: Any, business_date: date, settings: Any
) -> None:
    settings.LOANOPS_COB_CHUNK_SIZE = 3  # several chunks, so repayments interleave with them
    loans = [loan_disburse(actor=manager, loan_id=loan_factory().pk) for _ in range(8)]
    set_business_date(date(2025, 2, 14))
    cob_run(actor=system_user(), until=date(2025, 2, 20))  # period 1 five days overdue
    before = {loan.pk: schedule_current(loan)[0] for loan in loans}
    owed = {pk: item.outstanding for pk, item in before.items()}
    day = date(2025, 2, 21)

    def worker(i: int) -> Any:
        if i == 0:
            return cob_run(actor=system_user(), until=day)
        loan = loans[i - 1]
        return repayment_record(actor=ops, loan_id=loan.pk, amount=owed[loan.pk], paid_on=date(2025, 2, 20),
                                channel="counter")  # fmt: skip

    results = race(worker, len(loans) + 1)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert [r.status for r in results[0]] == [CobRunStatus.COMPLETED]
    assert ledger_check() == []
    for loan in loans:
        item = Installment.objects.get(pk=before[loan.pk].pk)
        posted = JournalEntry.objects.filter(loan=loan, kind="penalty", business_date=day).count()
        one_day = penalty_for_range(
            overdue_principal=before[loan.pk].principal_due - before[loan.pk].principal_paid,
            overdue_interest=Decimal(0),
            annual_rate=Decimal("0.12"),
            surcharge=Decimal("0.5"),
            compound=False,
            start=date(2025, 2, 20),
            end=day,
        )
        if posted:  # the repayment came after the step: one more day's penalty, left unpaid
            assert item.penalty_accrued == (before[loan.pk].penalty_accrued + one_day).quantize(Decimal("1e-10"))
            assert item.outstanding > 0
        else:  # the repayment came first: paid in full, no penalty for the 21st
            assert item.penalty_accrued == before[loan.pk].penalty_accrued
            assert item.outstanding == 0
