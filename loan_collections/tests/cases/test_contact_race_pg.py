"""Concurrent contact attempts on real PostgreSQL (skipped on SQLite, which serialises writers anyway):
the daily limits hold when several collectors log at the same moment."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from compliance.pii import pii_hash
from loan_collections.case_models import ContactAttempt
from loan_collections.services import ContactRefused, contact_attempt_log

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

THREADS = 10
AT = datetime(2026, 3, 10, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(UTC)


def race(worker: Callable[[int], Any], n: int = THREADS) -> list[Any]:
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        from django.db import connections

        try:
            barrier.wait()
            results[i] = worker(i)
        except Exception as exc:  # counted below
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_concurrent_effective_calls_stop_at_three(make_case: Callable[..., Any], boss: Any) -> None:
    case = make_case(assigned_to=None)

    def call(i: int) -> Any:
        return contact_attempt_log(
            actor=boss, case_id=case.pk, channel="phone", party="debtor", outcome="connected",
            number=f"1390000{i:04d}", at=AT,
        )  # fmt: skip

    results = race(call)
    refused = [r for r in results if isinstance(r, ContactRefused)]
    assert len(refused) == THREADS - 3, results
    assert ContactAttempt.objects.filter(refused=False, effective=True).count() == 3
    assert ContactAttempt.objects.filter(refused=True, refusal_rule="daily_effective_calls").count() == THREADS - 3


def test_concurrent_dials_to_one_number_stop_at_six(make_case: Callable[..., Any], boss: Any) -> None:
    from loan_collections.tests.cases.conftest import new_debtor

    cases = [make_case(customer=new_debtor()) for _ in range(THREADS)]

    def call(i: int) -> Any:
        return contact_attempt_log(
            actor=boss, case_id=cases[i].pk, channel="phone", party="debtor", outcome="no_answer",
            number="13800001234", at=AT,
        )  # fmt: skip

    results = race(call)
    assert sum(isinstance(r, ContactRefused) for r in results) == THREADS - 6, results
    assert ContactAttempt.objects.filter(refused=False, number_hash=pii_hash("13800001234")).count() == 6
