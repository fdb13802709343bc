"""`audit_record` — the one way to write an AuditEvent. A leaf module: imports no other LoanOps app.

Each row stores `prev_hash` and `hash = sha256(prev_hash + canonical JSON of the row)`, so changing or
deleting any row breaks the chain from there on; `audit_verify_chain()` finds the first broken row.
Writers serialise on the chain head (a PostgreSQL advisory lock; SQLite serialises writes anyway).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from compliance.models import AuditEvent
from loanops.sql import insert_rows

GENESIS = "0" * 64
_CHAIN_LOCK_KEY = 7_202_611  # arbitrary, fixed advisory-lock key for the audit chain head


def _canonical(payload: dict[str, Any]) -> str:
    return json.dumps(payload, cls=DjangoJSONEncoder, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _normalise(value: Any) -> Any:
    """Round-trip through JSON so the hashed form equals what the JSON column gives back."""
    return json.loads(_canonical(value)) if value else {}


def _row_payload(
    *,
    occurred_at: datetime,
    actor_id: int | None,
    action: str,
    subject_type: str,
    subject_id: str,
    before: Any,
    after: Any,
    reason: str,
    data: Any,
) -> dict[str, Any]:
    return {
        "occurred_at": occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor_id": actor_id,
        "action": action,
        "subject_type": subject_type,
        "subject_id": str(subject_id),
        "before": before or {},
        "after": after or {},
        "reason": reason or "",
        "data": data or {},
    }


def _digest(prev_hash: str, payload: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + _canonical(payload)).encode()).hexdigest()


def _lock_chain_head() -> str:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
    last = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
    return last or GENESIS


@dataclass
class AuditEntry:
    """One row for `audit_record_many` (bulk writers such as the daily batch)."""

    action: str
    subject_type: str
    subject_id: str
    actor: Any = None
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    ip_address: str | None = None


def subject_label(subject: Any) -> tuple[str, str]:
    meta = subject._meta
    return f"{meta.app_label}.{meta.model_name}", str(subject.pk)


def audit_record(
    *,
    actor: Any,
    action: str,
    subject: Any = None,
    subject_type: str = "",
    subject_id: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
    data: dict[str, Any] | None = None,
    ip_address: str | None = None,
) -> AuditEvent:
    if subject is not None:
        subject_type, subject_id = subject_label(subject)
    entry = AuditEntry(
        action=action,
        subject_type=subject_type,
        subject_id=str(subject_id),
        actor=actor,
        before=before or {},
        after=after or {},
        reason=reason,
        data=data or {},
        ip_address=ip_address,
    )
    return _audit_one(entry)


_COLUMNS = (
    "occurred_at", "actor_id", "actor_name", "action", "subject_type", "subject_id", "before", "after", "reason",
    "data", "ip_address", "prev_hash", "hash",
)  # fmt: skip


def _chain(entries: Iterable[AuditEntry]) -> list[tuple[Any, ...]]:
    """The rows (values in ``_COLUMNS`` order) appended to the chain head, hashed; locks the head."""
    prev = _lock_chain_head()
    now = timezone.now()
    rows: list[tuple[Any, ...]] = []
    for entry in entries:
        actor = entry.actor
        actor_id = getattr(actor, "pk", None) if actor is not None else None
        before, after, data = _normalise(entry.before), _normalise(entry.after), _normalise(entry.data)
        payload = _row_payload(
            occurred_at=now,
            actor_id=actor_id,
            action=entry.action,
            subject_type=entry.subject_type,
            subject_id=entry.subject_id,
            before=before,
            after=after,
            reason=entry.reason,
            data=data,
        )
        digest = _digest(prev, payload)
        actor_name = getattr(actor, "username", "") if actor is not None else ""
        rows.append(
            (now, actor_id, actor_name, entry.action, entry.subject_type, entry.subject_id, before, after,
             entry.reason, data, entry.ip_address, prev, digest)
        )  # fmt: skip
        prev = digest
    return rows


def _require_transaction() -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_record must run inside transaction.atomic()")


def _audit_one(entry: AuditEntry) -> AuditEvent:
    _require_transaction()
    (row,) = _chain([entry])
    return AuditEvent.objects.create(**dict(zip(_COLUMNS, row, strict=True)))


def audit_record_many(entries: Iterable[AuditEntry]) -> int:
    """Append rows to the chain in multi-row INSERTs (no model instances back); must run inside the
    caller's transaction. Returns how many rows were written."""
    _require_transaction()
    return insert_rows(AuditEvent, _COLUMNS, _chain(entries), batch_size=1000)


def audit_verify_chain(*, batch_size: int = 5000) -> list[int]:
    """Return the ids of rows whose hash or link does not verify (empty list: the chain is intact)."""
    broken: list[int] = []
    prev = GENESIS
    queryset = AuditEvent.objects.order_by("id").values_list(
        "id",
        "occurred_at",
        "actor_id",
        "action",
        "subject_type",
        "subject_id",
        "before",
        "after",
        "reason",
        "data",
        "prev_hash",
        "hash",
    )
    for row in queryset.iterator(chunk_size=batch_size):
        (
            pk,
            occurred_at,
            actor_id,
            action,
            subject_type,
            subject_id,
            before,
            after,
            reason,
            data,
            prev_hash,
            digest,
        ) = row
        payload = _row_payload(
            occurred_at=occurred_at,
            actor_id=actor_id,
            action=action,
            subject_type=subject_type,
            subject_id=subject_id,
            before=before,
            after=after,
            reason=reason,
            data=data,
        )
        if prev_hash != prev or _digest(prev_hash, payload) != digest:
            broken.append(pk)
        prev = digest
    return broken
