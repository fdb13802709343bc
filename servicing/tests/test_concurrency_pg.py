"""Races on real PostgreSQL (skipped on SQLite): idempotency keys and the loan row lock."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.urls import reverse
from rest_framework.test import APIClient

from servicing.models import IdempotencyKey, Repayment, RepaymentAllocation
from servicing.selectors import loan_balances, schedule_current

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

THREADS = 16


def race(worker: Callable[[int], Any], n: int = THREADS) -> list[Any]:
    """Run ``worker(i)`` in n threads released together; each closes its own DB connection."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        from django.db import connections

        try:
            barrier.wait()
            results[i] = worker(i)
        except Exception as exc:  # surfaced by the assertions below
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def post(user: Any, loan_id: int, key: str, body: dict[str, str]) -> tuple[int, bytes]:
    client = APIClient()
    client.force_authenticate(user)
    url = reverse("api:loan-repayments", kwargs={"loan_id": loan_id})
    response = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    return response.status_code, response.content


BODY = {"amount": "300.00", "paid_on": "2025-01-15", "channel": "bank_transfer", "reference": "race"}


def test_sixteen_requests_with_one_key_post_once(active_loan, ops):
    results = race(lambda i: post(ops, active_loan.pk, "same-key", BODY))
    assert all(isinstance(r, tuple) for r in results), results
    assert {status for status, _ in results} == {201}
    assert len({content for _, content in results}) == 1  # every caller got the identical bytes
    assert Repayment.objects.filter(loan=active_loan).count() == 1
    assert IdempotencyKey.objects.count() == 1
    assert loan_balances(active_loan)["principal_receivable"] == Decimal("12000.00") - Decimal("180.00")


def test_different_keys_on_one_loan_are_serialised(active_loan, ops):
    results = race(lambda i: post(ops, active_loan.pk, f"key-{i}", {**BODY, "amount": "100.00"}))
    assert [r[0] if isinstance(r, tuple) else r for r in results] == [201] * THREADS
    assert Repayment.objects.filter(loan=active_loan).count() == THREADS
    installments = schedule_current(active_loan)
    assert sum(
        RepaymentAllocation.objects.filter(repayment__loan=active_loan).values_list("amount", flat=True), Decimal(0)
    ) == Decimal("1600.00")
    # Sequential waterfall: period 1 fully paid (1 066.19) by the first 11 payments — the 11th pays its
    # last 66.19 and, being beyond the next installment, holds 33.81 in suspense —, the last 5 on period 2.
    first, second = installments[:2]
    assert first.total_paid == first.total_due
    assert (second.interest_paid, second.principal_paid) == (Decimal("110.54"), Decimal("389.46"))
    assert sum(i.total_paid for i in installments) == Decimal("1566.19")
    assert loan_balances(active_loan)["overpayment"] == Decimal("33.81")


def test_batch_and_repayments_book_interest_once(active_loan, ops):
    from servicing.services import installments_fall_due
    from servicing.tests.conftest import set_business_date

    set_business_date(date(2025, 3, 20))
    body = {**BODY, "amount": "50.00", "paid_on": "2025-03-20"}

    def worker(i: int) -> Any:
        if i % 4 == 0:
            return installments_fall_due(business_date=date(2025, 3, 20))
        return post(ops, active_loan.pk, f"mix-{i}", body)

    results = race(worker, 8)
    assert not [r for r in results if isinstance(r, Exception)], results
    # 6 × 50.00: interest of periods 1 and 2 (120.00 + 110.54) first, then 69.46 of period 1's principal
    balances = loan_balances(active_loan)
    assert balances["interest_receivable"] == Decimal("0.00")
    assert balances["principal_receivable"] == Decimal("12000.00") - Decimal("69.46")
