"""The close-of-business runner (日终批处理).

**What "COB for D" means.** The business date B is the day that is open for online work (repayments are
dated B). COB for D is the batch that closes the day before D and opens D: every step evaluates the book
as of D (installments due on D fall due, those due before D and unpaid are overdue, DPD = D − due date,
penalty is accrued up to D), and when the last step of D has finished the business date becomes D
(``business_date_set``, audited, as the ``system`` user). So:

* ``run_cob`` with no date runs COB for B + 1 (close today, open tomorrow);
* ``run_cob --date D`` with D > B + 1 catches up the missed dates B + 1, …, D one by one, in order;
* a date that already completed is never run again (running D twice changes nothing); a date whose COB
  failed or was killed is resumed: each chunk of each step is recorded (``CobStepRun``) in the same
  transaction as its work, so the rerun starts at the first chunk that is not recorded;
* D ≤ B that has no COB yet runs for D without moving the business date (the first COB of a fresh
  install, or a replay); an older date than a completed one is refused (dates run in order);
* moving the business date by hand (``business_date_set``) runs no COB: it is for replays and repairs.

Beat (``loanops/celery.py``) runs :func:`cob_start` shortly after midnight Asia/Shanghai with D = today.

**Chunks.** Each chunked step runs over loan-id ranges ``[k·S, (k+1)·S)`` (S =
``settings.LOANOPS_COB_CHUNK_SIZE``, aligned so the ranges of a date are the same on a rerun). Each chunk
is one transaction with a bounded PostgreSQL ``lock_timeout`` (retried a few times), so online writers
wait at most that long. In-process (the command, tests, the embedded default with eager Celery) the
chunks run one after the other; with a broker, :func:`cob_start` hands each step's chunks to the Celery
workers as a group, and the last chunk of a step to finish dispatches the next step (a chord kept in the
database: no result backend needed, and a worker that dies only delays its chunk — ``acks_late``).
"""

from __future__ import annotations

import functools
import logging
import time
import traceback
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from applications.models import SERVICING_STATUSES, Loan
from applications.services import require_perm
from compliance.audit import audit_record
from loan_collections.cob.models import CobRun, CobRunStatus, CobStepRun
from loanops.cob import CobStep
from loanops.exceptions import DomainError
from servicing.services.business_date import business_date_get, business_date_set
from servicing.services.common import system_user

__all__ = [
    "chunk_ranges",
    "cob_advance",
    "cob_chunk_run",
    "cob_pending_dates",
    "cob_run",
    "cob_start",
    "cob_steps",
]

logger = logging.getLogger(__name__)

WHOLE_BOOK = (0, 0)  # CobStepRun's chunk for a step that is not chunked


class CobStepFailed(Exception):
    """A chunk of a step raised; the error is recorded on its CobStepRun and the date's CobRun."""


def cob_steps() -> list[CobStep]:
    steps = []
    for path in settings.LOANOPS_COB_STEPS:
        step = import_string(path)
        if not isinstance(step, CobStep):
            raise TypeError(f"{path} is not a loanops.cob.CobStep")
        steps.append(step)
    names = [step.name for step in steps]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate COB step names: {names}")
    return steps


def chunk_ranges(step: CobStep | None = None) -> list[tuple[int, int]]:
    """The loan-id ranges of a step: aligned ``[k·S, (k+1)·S)`` over the servicing loans (one when empty)."""
    if step is not None and not step.chunked:
        return [WHOLE_BOOK]
    size = max(int(settings.LOANOPS_COB_CHUNK_SIZE), 1)
    ids = Loan.objects.filter(status__in=SERVICING_STATUSES).order_by("pk").values_list("pk", flat=True)
    first, last = ids.first(), ids.last()
    if first is None or last is None:
        return [(0, size)]
    return [(k * size, (k + 1) * size) for k in range(first // size, last // size + 1)]


def _chunk_settings() -> None:
    """PostgreSQL, for this chunk's transaction: the bounded lock wait, no JIT, no parallel query.

    A chunk's statements each take milliseconds to tens of milliseconds, but their cost estimates over the
    big tables exceed ``jit_above_cost``, so PostgreSQL would spend 20–30 ms compiling each of them, and
    starting parallel workers costs more than they save on a chunk — and competes with the other Celery
    workers' chunks for the same cores (measured at 1M loans: 0.5–1 s a steady day, 1.5–2.5 s a catch-up).
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('lock_timeout', %s, true), set_config('jit', 'off', true), "
                "set_config('max_parallel_workers_per_gather', '0', true)",
                [f"{int(settings.LOANOPS_COB_LOCK_TIMEOUT_MS)}ms"],
            )


def _is_lock_timeout(exc: BaseException) -> bool:
    cause = getattr(exc, "__cause__", None)
    return isinstance(exc, OperationalError) and getattr(cause, "sqlstate", None) == "55P03"


@dataclass
class ChunkResult:
    step: str
    chunk: tuple[int, int]
    rows: int
    skipped: bool


def cob_chunk_run(*, business_date: date, step: CobStep, position: int, chunk: tuple[int, int]) -> ChunkResult:
    """Run one chunk of one step for D, unless it is recorded done; record it in the same transaction.

    Retries a chunk that hit the lock timeout; any other error is recorded (``CobStepRun.error`` and the
    date's ``CobRun`` marked failed) and raised as :class:`CobStepFailed`.
    """
    run = CobRun.objects.get(business_date=business_date)
    lo, hi = chunk
    key = {"business_date": business_date, "step": step.name, "chunk_lo": lo, "chunk_hi": hi}
    attempts = max(int(settings.LOANOPS_COB_CHUNK_ATTEMPTS), 1)
    for attempt in range(1, attempts + 1):
        try:
            with transaction.atomic():
                _chunk_settings()
                record = CobStepRun.objects.select_for_update().filter(**key).first()
                if record is None:
                    try:
                        with transaction.atomic():
                            record = CobStepRun.objects.create(run=run, position=position, **key)
                    except IntegrityError:  # another worker ran this chunk and committed meanwhile
                        record = CobStepRun.objects.select_for_update().get(**key)
                if record.completed_at is not None:
                    return ChunkResult(step.name, chunk, record.rows, skipped=True)
                started = time.perf_counter()
                record.started_at = timezone.now()
                rows = step.run(business_date=business_date, id_range=None if chunk == WHOLE_BOOK else chunk)
                record.rows = rows
                record.duration_s = time.perf_counter() - started
                record.attempts += 1
                record.completed_at = timezone.now()
                record.error = ""
                record.save()
                return ChunkResult(step.name, chunk, rows, skipped=False)
        except Exception as exc:
            if _is_lock_timeout(exc) and attempt < attempts:
                logger.warning("COB %s %s %s: lock timeout, retrying (%d)", business_date, step.name, chunk, attempt)
                continue
            _record_failure(run=run, key=key, position=position, exc=exc)
            raise CobStepFailed(f"{step.name} {chunk}: {exc}") from exc
    raise AssertionError("unreachable")  # pragma: no cover


def _record_failure(*, run: CobRun, key: dict[str, Any], position: int, exc: BaseException) -> None:
    message = "".join(traceback.format_exception_only(type(exc), exc)).strip()[:2000]
    with transaction.atomic():
        record, _ = CobStepRun.objects.select_for_update().get_or_create(
            **key, defaults={"run": run, "position": position}
        )
        record.error = message
        record.attempts += 1
        record.save(update_fields=["error", "attempts"])
        CobRun.objects.filter(pk=run.pk).update(
            status=CobRunStatus.FAILED, error=f"{key['step']} [{key['chunk_lo']}, {key['chunk_hi']}): {message}"
        )
    logger.error("COB %s step %s chunk [%s, %s) failed: %s", run.business_date, key["step"], key["chunk_lo"],
                 key["chunk_hi"], message)  # fmt: skip


def cob_pending_dates(*, until: date | None = None) -> list[date]:
    """The dates a COB up to ``until`` (default: the business date + 1) still has to run, in order."""
    current = business_date_get()
    target = until or current + timedelta(days=1)
    latest = (
        CobRun.objects.filter(status=CobRunStatus.COMPLETED).order_by("-business_date").values_list(
            "business_date", flat=True
        ).first()
    )  # fmt: skip
    if target <= current:
        if CobRun.objects.filter(business_date=target, status=CobRunStatus.COMPLETED).exists():
            return []
        if latest is not None and target < latest:
            raise DomainError(
                f"{target.isoformat()} 早于已完成的日终批处理 {latest.isoformat()}，日终批处理必须按日期顺序运行",
                code="cob_out_of_order",
                extra={"date": target, "latest": latest},
            )
        return [target]
    days = (target - current).days
    return [current + timedelta(days=n) for n in range(1, days + 1)]


def _open_run(*, business_date: date, actor: Any, target: date | None) -> CobRun:
    """Create (or reopen a failed or interrupted) CobRun for D, audited. Returns it locked-free."""
    steps = cob_steps()
    planned = sum(len(chunk_ranges(step)) for step in steps)
    with transaction.atomic():
        run, created = CobRun.objects.select_for_update().get_or_create(
            business_date=business_date,
            defaults={"requested_by": actor, "chunks_planned": planned, "target_date": target},
        )
        if not created and run.status != CobRunStatus.COMPLETED:
            run.status = CobRunStatus.RUNNING
            run.error = ""
            run.current_step = ""
            run.target_date = target
            run.chunks_planned = planned
            run.save(update_fields=["status", "error", "current_step", "target_date", "chunks_planned"])
        if run.status != CobRunStatus.COMPLETED:
            audit_record(
                actor=actor,
                action="collections.cob_start" if created else "collections.cob_resume",
                subject=run,
                after={"business_date": business_date},
            )
    return run


def _finish(run: CobRun) -> bool:
    """All steps of the date are done: mark it completed and move the business date to D. True if it did."""
    with transaction.atomic():
        locked = CobRun.objects.select_for_update().get(pk=run.pk)
        if locked.status == CobRunStatus.COMPLETED:
            return False
        locked.status = CobRunStatus.COMPLETED
        locked.finished_at = timezone.now()
        locked.current_step = ""
        locked.save(update_fields=["status", "finished_at", "current_step"])
        if locked.business_date > business_date_get():
            business_date_set(actor=system_user(), new_date=locked.business_date)
    return True


def _run_date_in_process(*, business_date: date, actor: Any) -> CobRun:
    run = _open_run(business_date=business_date, actor=actor, target=None)
    if run.status == CobRunStatus.COMPLETED:
        return run
    try:
        for position, step in enumerate(cob_steps()):
            for chunk in chunk_ranges(step):
                cob_chunk_run(business_date=business_date, step=step, position=position, chunk=chunk)
    except CobStepFailed:
        run.refresh_from_db()
        return run
    _finish(run)
    run.refresh_from_db()
    return run


def cob_run(*, actor: Any, until: date | None = None) -> list[CobRun]:
    """Run COB in this process for every pending date up to ``until`` (perm ``servicing.run_cob``).

    Stops at the first date that fails (its error is recorded; run again to resume). Each chunk is its own
    transaction — the unit of resumption — so this service deliberately is not one transaction.
    """
    require_perm(actor, "servicing.run_cob")
    runs: list[CobRun] = []
    for day in cob_pending_dates(until=until):
        run = _run_date_in_process(business_date=day, actor=actor)
        runs.append(run)
        if run.status != CobRunStatus.COMPLETED:
            break
    return runs


def cob_start(*, actor: Any, until: date | None = None) -> list[CobRun]:
    """Run COB up to ``until``: in this process when Celery is eager, else on the workers (returns at once).

    The API, the back office and beat call this. With workers, the first pending date is opened here and
    its first step is dispatched; the dates after it follow as each one finishes.
    """
    require_perm(actor, "servicing.run_cob")
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return cob_run(actor=actor, until=until)
    dates = cob_pending_dates(until=until)
    if not dates:
        return []
    run = _open_run(business_date=dates[0], actor=actor, target=dates[-1])
    cob_advance(business_date=run.business_date)
    return [run]


def cob_advance(*, business_date: date) -> None:
    """Distributed mode: dispatch the first step of D with chunks not done, or finish D and start D + 1.

    Called after the date is opened and by every chunk task when it finishes. The CobRun row lock makes
    exactly one caller dispatch a step; a step already handed out (``current_step``) is not handed out
    again until its chunks are done — a rerun (:func:`cob_start`) clears it to re-dispatch lost chunks.
    """
    from loan_collections.tasks import cob_advance_task, cob_chunk_task

    steps = cob_steps()
    with transaction.atomic():
        run = CobRun.objects.select_for_update().filter(business_date=business_date).first()
        if run is None or run.status != CobRunStatus.RUNNING:
            return
        done = set(
            CobStepRun.objects.filter(business_date=business_date, completed_at__isnull=False).values_list(
                "step", "chunk_lo", "chunk_hi"
            )
        )
        for position, step in enumerate(steps):
            missing = [c for c in chunk_ranges(step) if (step.name, *c) not in done]
            if not missing:
                continue
            if run.current_step == step.name:
                return  # handed out already; the last chunk to finish calls us again
            run.current_step = step.name
            run.save(update_fields=["current_step"])
            signatures = [
                cob_chunk_task.si(business_date.isoformat(), step.name, position, lo, hi) for lo, hi in missing
            ]
            transaction.on_commit(functools.partial(_dispatch, signatures))
            return
    if not _finish(run):
        return
    if run.target_date and run.target_date > business_date:
        following = business_date + timedelta(days=1)
        _open_run(business_date=following, actor=run.requested_by or system_user(), target=run.target_date)
        _dispatch([cob_advance_task.si(following.isoformat())])


def _dispatch(signatures: list[Any]) -> None:
    """Hand task signatures to the workers (one group: the chunks of a step run in parallel) on the COB queue."""
    from celery import group

    try:
        group(signatures).apply_async(queue=settings.LOANOPS_COB_QUEUE)
    except Exception:  # broker down: nothing is lost — running COB again re-dispatches the missing chunks
        logger.exception("COB: could not hand %d task(s) to the workers", len(signatures))


def cob_chunk_task_body(*, business_date: date, step_name: str, position: int, chunk: tuple[int, int]) -> None:
    """What a worker does with one chunk: run it (or skip it if done), then advance the date."""
    step = next(s for s in cob_steps() if s.name == step_name)
    try:
        cob_chunk_run(business_date=business_date, step=step, position=position, chunk=chunk)
    except CobStepFailed:
        return  # recorded; the date stays failed until someone runs COB again
    cob_advance(business_date=business_date)
