"""Stage clocks: how long an application has been (and was) in each stage, against the per-stage target
``settings.LOANOPS_STAGE_SLA_HOURS`` (hours; a stage without a target is never late).

`stage_clock` works from the loan's own `status_changed_at` (no query: the queues call it per row);
`stage_durations` adds up a loan's `LoanStageEvent` history (one query for the loan).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from applications.models import Loan, LoanStageEvent, LoanStatus


def sla_hours(status: str) -> int | None:
    hours = getattr(settings, "LOANOPS_STAGE_SLA_HOURS", {}).get(str(status))
    return int(hours) if hours is not None else None


def format_duration(delta: timedelta) -> str:
    """ "2 天 3 小时", "5 小时 12 分", "8 分钟"."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} 天 {hours} 小时"
    if hours:
        return f"{hours} 小时 {minutes} 分"
    return f"{minutes} 分钟"


@dataclass(frozen=True)
class StageClock:
    status: str
    elapsed: timedelta
    target_hours: int | None

    @property
    def is_late(self) -> bool:
        return self.target_hours is not None and self.elapsed > timedelta(hours=self.target_hours)

    @property
    def elapsed_text(self) -> str:
        return format_duration(self.elapsed)

    @property
    def elapsed_hours(self) -> int:
        return int(self.elapsed.total_seconds() // 3600)


def stage_clock(loan: Loan, *, now: datetime | None = None) -> StageClock:
    """The clock of the loan's current stage (since `status_changed_at`)."""
    now = now or timezone.now()
    return StageClock(status=loan.status, elapsed=now - loan.status_changed_at, target_hours=sla_hours(loan.status))


def attach_stage_clocks(loans: list[Any], *, now: datetime | None = None) -> list[StageClock]:
    """Set ``loan.stage_clock`` on each loan of a page (no queries); returns the clocks."""
    now = now or timezone.now()
    clocks = []
    for loan in loans:
        loan.stage_clock = stage_clock(loan, now=now)
        clocks.append(loan.stage_clock)
    return clocks


def stage_durations(loan: Loan, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """Total time the loan spent in each stage it went through (repeat visits added up), in order of first
    entry, each with its target and whether the total exceeded it."""
    now = now or timezone.now()
    events = list(LoanStageEvent.objects.filter(loan=loan).order_by("id").values_list("to_status", "occurred_at"))
    spans: list[tuple[str, datetime]] = [(LoanStatus.DRAFT, loan.created_at), *events]
    totals: dict[str, timedelta] = {}
    for index, (status, started) in enumerate(spans):
        ended = spans[index + 1][1] if index + 1 < len(spans) else now
        totals[status] = totals.get(status, timedelta(0)) + max(ended - started, timedelta(0))
    rows = []
    for status, total in totals.items():
        target = sla_hours(status)
        rows.append(
            {
                "status": status,
                "label": LoanStatus(status).label,
                "total": total,
                "text": format_duration(total),
                "target_hours": target,
                "is_late": target is not None and total > timedelta(hours=target),
                "is_current": status == loan.status,
            }
        )
    return rows
