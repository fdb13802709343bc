"""The collection rules as settings: the contact policy and the escalation ladder (pure functions, no I/O).

Contact policy (2025 national standard for consumer-credit collection, 2026 banking-association guideline):
no contact from ``quiet_start`` to ``quiet_end`` unless the debtor consented, at most
``max_effective_calls_per_debtor_per_day`` effective calls per debtor and ``max_dials_per_number_per_day``
dial attempts per number a day, no third party other than the debtor's named contacts. Times and days are
always Asia/Shanghai, whatever ``settings.TIME_ZONE`` or the server's zone is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings

from loan_collections.case_models import LEVEL_RANK, CollectionLevel

CONTACT_TZ = ZoneInfo("Asia/Shanghai")

DEFAULT_POLICY: dict[str, Any] = {
    "quiet_start": "22:00",
    "quiet_end": "08:00",
    "quiet_hours_channels": ["phone", "sms", "wechat", "visit"],
    "max_effective_calls_per_debtor_per_day": 3,
    "max_dials_per_number_per_day": 6,
    "promise_max_days": 30,
}

DEFAULT_LEVELS: dict[str, Any] = {
    "buckets": {"M1": "reminder", "M2": "collector", "M3": "field_visit", "M3+": "legal"},
    "roles": {
        "reminder": "service",
        "collector": "collector",
        "field_visit": "collector",
        "legal": "risk",
        "outsourced": "collector",
    },
}


def _hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


@dataclass(frozen=True)
class ContactPolicy:
    quiet_start: time
    quiet_end: time
    quiet_hours_channels: frozenset[str]
    max_effective_calls: int
    max_dials_per_number: int
    promise_max_days: int

    def in_quiet_hours(self, moment: datetime) -> bool:
        """Is this instant inside the quiet hours, in Shanghai time? (22:00 inclusive, 08:00 exclusive)."""
        local = shanghai_time(moment)
        if self.quiet_start <= self.quiet_end:  # a window within one day
            return self.quiet_start <= local < self.quiet_end
        return local >= self.quiet_start or local < self.quiet_end

    @property
    def quiet_label(self) -> str:
        return f"{self.quiet_start:%H:%M}–{self.quiet_end:%H:%M}"


def contact_policy() -> ContactPolicy:
    raw = {**DEFAULT_POLICY, **getattr(settings, "LOANOPS_COLLECTION_POLICY", {})}
    return ContactPolicy(
        quiet_start=_hhmm(raw["quiet_start"]),
        quiet_end=_hhmm(raw["quiet_end"]),
        quiet_hours_channels=frozenset(raw["quiet_hours_channels"]),
        max_effective_calls=int(raw["max_effective_calls_per_debtor_per_day"]),
        max_dials_per_number=int(raw["max_dials_per_number_per_day"]),
        promise_max_days=int(raw["promise_max_days"]),
    )


def shanghai_time(moment: datetime) -> time:
    if moment.tzinfo is None:
        raise ValueError("contact times must be timezone-aware")
    return moment.astimezone(CONTACT_TZ).time()


def shanghai_date(moment: datetime) -> date:
    if moment.tzinfo is None:
        raise ValueError("contact times must be timezone-aware")
    return moment.astimezone(CONTACT_TZ).date()


# --- escalation ladder ----------------------------------------------------------------------


def levels_config() -> dict[str, Any]:
    raw = getattr(settings, "LOANOPS_COLLECTION_LEVELS", {})
    return {
        "buckets": {**DEFAULT_LEVELS["buckets"], **raw.get("buckets", {})},
        "roles": {**DEFAULT_LEVELS["roles"], **raw.get("roles", {})},
    }


def level_for_bucket(bucket: str) -> str:
    """The case level a bucket calls for (M0 with DPD ≥ 1 — bucket not yet set — counts as M1)."""
    buckets = levels_config()["buckets"]
    return str(buckets.get(bucket) or buckets["M1"])


def role_for_level(level: str) -> str:
    return str(levels_config()["roles"][level])


def levels_below(level: str) -> list[str]:
    """Levels a case may be escalated from to reach ``level`` (strictly lower rank)."""
    rank = LEVEL_RANK[level]
    return [value for value in CollectionLevel.values if LEVEL_RANK[value] < rank]


def next_level(level: str) -> str | None:
    """One step up the ladder (M3+ default for field visit); None at the top."""
    rank = LEVEL_RANK[level]
    if rank >= max(LEVEL_RANK.values()):
        return None
    buckets = levels_config()["buckets"]
    ladder = [buckets["M1"], buckets["M2"], buckets["M3"], buckets["M3+"]]
    for candidate in ladder:
        if LEVEL_RANK[candidate] == rank + 1:
            return candidate
    return None
