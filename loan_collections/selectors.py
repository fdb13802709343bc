"""Reads of the collections stage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db.models import Count, Q, Sum

from loan_collections.cob.models import CobRun, CobStepRun


@dataclass(frozen=True)
class CobRunSummary:
    pk: int
    business_date: date
    status: str
    status_label: str
    started_at: datetime
    finished_at: datetime | None
    rows: int
    duration_s: float
    chunks_done: int
    chunks_planned: int
    error: str

    @property
    def percent(self) -> int:
        if self.status == "completed":
            return 100
        if not self.chunks_planned:
            return 0
        return min(100, self.chunks_done * 100 // self.chunks_planned)


def _summaries(runs: Any) -> list[CobRunSummary]:
    annotated = runs.annotate(
        total_rows=Sum("step_runs__rows"),
        total_s=Sum("step_runs__duration_s"),
        done=Count("step_runs", filter=Q(step_runs__completed_at__isnull=False)),
    )
    return [
        CobRunSummary(
            pk=run.pk,
            business_date=run.business_date,
            status=run.status,
            status_label=run.get_status_display(),
            started_at=run.started_at,
            finished_at=run.finished_at,
            rows=run.total_rows or 0,
            duration_s=run.total_s or 0.0,
            chunks_done=run.done,
            chunks_planned=run.chunks_planned,
            error=run.error,
        )
        for run in annotated
    ]


def cob_run_summaries(*, run_ids: Sequence[int] | None = None, limit: int = 60) -> list[CobRunSummary]:
    """COB runs, newest date first, with rows, seconds and chunks done (one query)."""
    runs = CobRun.objects.order_by("-business_date")
    if run_ids is not None:
        runs = runs.filter(pk__in=list(run_ids)).order_by("business_date")
        return _summaries(runs)
    return _summaries(runs[:limit])


@dataclass(frozen=True)
class CobStepSummary:
    position: int
    step: str
    chunks: int
    chunks_done: int
    rows: int
    duration_s: float
    errors: list[str]


def cob_step_summaries(*, run: CobRun) -> list[CobStepSummary]:
    """Per step of a run: chunks recorded and done, rows, seconds and errors (one query)."""
    by_step: dict[str, dict[str, Any]] = {}
    for record in CobStepRun.objects.filter(run=run).order_by("position", "chunk_lo"):
        entry = by_step.setdefault(
            record.step,
            {"position": record.position, "chunks": 0, "done": 0, "rows": 0, "seconds": 0.0, "errors": []},
        )
        entry["chunks"] += 1
        entry["done"] += record.completed_at is not None
        entry["rows"] += record.rows
        entry["seconds"] += record.duration_s
        if record.error and record.completed_at is None:
            entry["errors"].append(f"[{record.chunk_lo}, {record.chunk_hi}) {record.error}")
    return [
        CobStepSummary(
            position=v["position"],
            step=name,
            chunks=v["chunks"],
            chunks_done=v["done"],
            rows=v["rows"],
            duration_s=v["seconds"],
            errors=v["errors"],
        )
        for name, v in by_step.items()
    ]
