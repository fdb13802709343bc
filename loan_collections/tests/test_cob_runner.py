"""The COB runner: order, catch-up, idempotence, crash-resume, permissions, API, distributed dispatch."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction

from applications.models import Loan, LoanStageEvent, LoanStatus
from compliance.audit import audit_verify_chain
from compliance.models import AuditEvent
from loan_collections.cob.models import CobRun, CobRunStatus, CobStepRun
from loan_collections.cob.runner import cob_pending_dates, cob_run, cob_start, cob_steps
from loanops.exceptions import DomainError
from servicing.models import Installment, JournalEntry, JournalLine
from servicing.services.business_date import business_date_get
from servicing.services.common import system_user
from servicing.tests.conftest import (
    _ledger_stays_consistent,  # noqa: F401  (autouse: ledger check)
    make_user,
    set_business_date,
)

pytestmark = pytest.mark.django_db


def disburse_many(loan_factory: Any, manager: Any, n: int) -> list[Loan]:
    from servicing.services import loan_disburse

    return [loan_disburse(actor=manager, loan_id=loan_factory().pk) for _ in range(n)]


def snapshot() -> dict[str, Any]:
    """Everything COB writes, without ids and timestamps."""
    return {
        "installments": list(
            Installment.objects.order_by("loan_id", "period").values_list(
                "loan_id",
                "period",
                "status",
                "interest_booked",
                "penalty_accrued",
                "penalty_due",
                "penalty_accrued_to",
                "overdue_since",
            )
        ),
        "loans": list(Loan.objects.order_by("pk").values_list("pk", "status", "days_past_due", "bucket")),
        "entries": sorted(JournalEntry.objects.values_list("loan_id", "kind", "business_date", "source_key")),
        "lines": sorted(JournalLine.objects.values_list("entry__source_key", "account", "debit", "credit")),
        "stage_events": sorted(LoanStageEvent.objects.values_list("loan_id", "transition", "from_status")),
        "business_date": business_date_get(),
    }


def test_cob_for_next_date_closes_the_day_and_moves_the_business_date(active_loan: Loan) -> None:
    set_business_date(date(2025, 2, 15))  # period 1 is due today
    runs = cob_run(actor=system_user())
    assert [(r.business_date, r.status) for r in runs] == [(date(2025, 2, 16), CobRunStatus.COMPLETED)]
    assert business_date_get() == date(2025, 2, 16)
    steps = list(CobStepRun.objects.filter(run=runs[0]).order_by("position").values_list("step", "completed_at"))
    assert [s for s, _ in steps] == [step.name for step in cob_steps()]
    assert [s for s, _ in steps][:3] == ["due", "penalty", "bucket"]
    assert all(done is not None for _, done in steps)
    active_loan.refresh_from_db()
    assert (active_loan.status, active_loan.days_past_due, active_loan.bucket) == (LoanStatus.OVERDUE, 1, "M1")
    assert audit_verify_chain() == []


def test_same_date_twice_changes_nothing(loan_factory: Any, manager: Any, business_date: date) -> None:
    disburse_many(loan_factory, manager, 3)
    set_business_date(date(2025, 3, 1))
    cob_run(actor=system_user(), until=date(2025, 3, 20))
    before = snapshot()
    audits = AuditEvent.objects.count()
    assert cob_run(actor=system_user(), until=date(2025, 3, 20)) == []
    # Running a completed date explicitly again does nothing either.
    assert cob_pending_dates(until=date(2025, 3, 20)) == []
    assert snapshot() == before
    assert AuditEvent.objects.count() == audits


def test_catch_up_runs_missed_dates_one_by_one_in_order(active_loan: Loan) -> None:
    set_business_date(date(2025, 2, 15))
    runs = cob_run(actor=system_user(), until=date(2025, 2, 18))
    assert [r.business_date for r in runs] == [date(2025, 2, 16), date(2025, 2, 17), date(2025, 2, 18)]
    assert list(CobRun.objects.order_by("pk").values_list("business_date", flat=True)) == [
        date(2025, 2, 16),
        date(2025, 2, 17),
        date(2025, 2, 18),
    ]
    # one penalty posting per day, each day's own date
    penalty_dates = list(
        JournalEntry.objects.filter(loan=active_loan, kind="penalty")
        .order_by("pk")
        .values_list("business_date", flat=True)
    )
    assert penalty_dates == [date(2025, 2, 16), date(2025, 2, 17), date(2025, 2, 18)]
    active_loan.refresh_from_db()
    assert active_loan.days_past_due == 3
    assert business_date_get() == date(2025, 2, 18)


def test_an_older_date_than_a_completed_one_is_refused(active_loan: Loan) -> None:
    set_business_date(date(2025, 2, 15))
    cob_run(actor=system_user(), until=date(2025, 2, 17))
    with pytest.raises(DomainError) as exc_info:
        cob_run(actor=system_user(), until=date(2025, 2, 10))
    assert exc_info.value.code == "cob_out_of_order"
    assert CobRun.objects.count() == 2


def test_cob_needs_the_permission(active_loan: Loan) -> None:
    clerk = make_user("clerk1", "ops")
    with pytest.raises(PermissionDenied):
        cob_run(actor=clerk)
    assert CobRun.objects.count() == 0


class Boom(RuntimeError):
    pass


def test_a_cob_killed_half_way_finishes_like_an_uninterrupted_one(
    loan_factory: Any, manager: Any, business_date: date, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    loans = disburse_many(loan_factory, manager, 5)
    settings.LOANOPS_COB_CHUNK_SIZE = 2  # several chunks per step
    set_business_date(date(2025, 2, 14))
    until = date(2025, 2, 20)

    with transaction.atomic():  # the uninterrupted run, rolled back after the snapshot
        cob_run(actor=system_user(), until=until)
        expected = snapshot()
        transaction.set_rollback(True)
    assert CobRun.objects.count() == 0

    import servicing.cob_steps as steps

    real = steps.penalties_accrue
    failing_chunk = (loans[2].pk // 2) * 2

    def crash(**kwargs: Any) -> Any:
        if kwargs["business_date"] == date(2025, 2, 17) and kwargs["id_range"][0] == failing_chunk:
            raise Boom("disk full")
        return real(**kwargs)

    monkeypatch.setattr(steps, "penalties_accrue", crash)
    runs = cob_run(actor=system_user(), until=until)
    assert [r.status for r in runs] == [CobRunStatus.COMPLETED, CobRunStatus.COMPLETED, CobRunStatus.FAILED]
    failed = runs[-1]
    assert "disk full" in failed.error
    assert business_date_get() == date(2025, 2, 16)
    record = CobStepRun.objects.get(run=failed, step="penalty", chunk_lo=failing_chunk)
    assert record.completed_at is None and "disk full" in record.error
    # the chunk before it is done and recorded; bucket has not started
    assert CobStepRun.objects.filter(run=failed, step="penalty", completed_at__isnull=False).exists()
    assert not CobStepRun.objects.filter(run=failed, step="bucket").exists()

    monkeypatch.setattr(steps, "penalties_accrue", real)
    resumed = cob_run(actor=system_user(), until=until)
    assert [r.business_date for r in resumed] == [date(2025, 2, 17) + timedelta(days=n) for n in range(4)]
    assert all(r.status == CobRunStatus.COMPLETED for r in resumed)
    assert snapshot() == expected
    assert audit_verify_chain() == []


def test_distributed_mode_dispatches_each_step_after_the_previous_one(
    loan_factory: Any,
    manager: Any,
    business_date: date,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    disburse_many(loan_factory, manager, 3)
    settings.LOANOPS_COB_CHUNK_SIZE = 2
    set_business_date(date(2025, 2, 15))
    with transaction.atomic():
        cob_run(actor=system_user(), until=date(2025, 2, 17))
        expected = snapshot()
        transaction.set_rollback(True)

    import loan_collections.cob.runner as runner

    handed_out: list[list[str]] = []

    def workers(signatures: list[Any]) -> None:  # stand-in for the broker: run each task as a worker would
        handed_out.append([f"{s.task.rsplit('.', 1)[-1]}{tuple(s.args)}" for s in signatures])
        for signature in signatures:
            signature.apply()

    monkeypatch.setattr(runner, "_dispatch", workers)
    settings.CELERY_TASK_ALWAYS_EAGER = False  # the runner now hands chunks out instead of running them
    with django_capture_on_commit_callbacks(execute=True):
        runs = cob_start(actor=system_user(), until=date(2025, 2, 17))
    assert [r.business_date for r in runs] == [date(2025, 2, 16)]
    assert list(CobRun.objects.order_by("business_date").values_list("business_date", "status")) == [
        (date(2025, 2, 16), CobRunStatus.COMPLETED),
        (date(2025, 2, 17), CobRunStatus.COMPLETED),
    ]
    assert snapshot() == expected
    steps = [batch[0].split("(")[1].split(",")[1].strip(" '") for batch in handed_out if "chunk" in batch[0]]
    names = [step.name for step in cob_steps()]
    assert steps == names + names  # one group per step, in order, for each date
    chunked = {step.name for step in cob_steps() if step.chunked}
    for batch in handed_out:
        if "chunk" in batch[0]:  # loans 1–3: chunks [0,2) [2,4); a step that is not chunked: one task
            step = batch[0].split("(")[1].split(",")[1].strip(" '")
            assert len(batch) == (2 if step in chunked else 1)


def test_api_runs_cob_for_a_manager_and_refuses_others(active_loan: Loan, api: Any, ops: Any) -> None:
    set_business_date(date(2025, 2, 15))
    api.force_authenticate(ops)
    assert api.post("/api/v1/cob/", {}, format="json").status_code == 403
    assert CobRun.objects.count() == 0
    assert api.post("/api/v1/cob/", {"date": "2025-02-31"}, format="json").status_code in (400, 403)

    boss = make_user("boss1", "manager")
    api.force_authenticate(boss)
    assert api.post("/api/v1/cob/", {"date": "not-a-date"}, format="json").status_code == 400
    assert CobRun.objects.count() == 0
    response = api.post("/api/v1/cob/", {"date": "2025-02-17"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["business_date"] == "2025-02-17"
    assert [(r["business_date"], r["status"]) for r in body["runs"]] == [
        ("2025-02-16", "completed"),
        ("2025-02-17", "completed"),
    ]
    assert body["runs"][0]["chunks_done"] == body["runs"][0]["chunks_planned"] == len(cob_steps())


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL settings")
def test_a_chunk_runs_with_the_bounded_lock_wait_and_without_jit_or_parallel_query(settings: Any) -> None:
    """PostgreSQL: each chunk's transaction sets lock_timeout, turns JIT and parallel query off."""
    from loan_collections.cob.runner import cob_chunk_run
    from loanops.cob import CobStep

    seen: dict[str, str] = {}

    def probe(*, business_date: date, id_range: Any) -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT current_setting('lock_timeout'), current_setting('jit'), "
                "current_setting('max_parallel_workers_per_gather')"
            )
            seen["lock_timeout"], seen["jit"], seen["parallel"] = cursor.fetchone()
        return 0

    settings.LOANOPS_COB_LOCK_TIMEOUT_MS = 1234
    day = date(2025, 3, 1)
    CobRun.objects.create(business_date=day)
    cob_chunk_run(business_date=day, step=CobStep(name="probe", label="probe", func=probe), position=0, chunk=(0, 10))
    assert seen == {"lock_timeout": "1234ms", "jit": "off", "parallel": "0"}
