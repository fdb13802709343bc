"""Write side of notifications: put messages in the outbox (inside the caller's transaction) and relay them.

* `outbox_write` / `outbox_write_many` insert rows in the caller's transaction — the message exists if and
  only if the business change committed — and register one relay kick for after the commit. Rows whose
  `dedupe_key` already exists are skipped, so writers may run again without sending twice.
* `outbox_relay` claims pending rows (``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several relays
  never take the same row), delivers each on its channel and marks it sent, or counts the failure and
  retries it later with a growing delay, until `LOANOPS_OUTBOX_MAX_ATTEMPTS`, when it is marked failed.

In-app messages need no delivery: they are written as sent and shown in the recipient's message list.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.module_loading import import_string

from notifications.channels import EmailChannel, sms_provider
from notifications.models import Channel, OutboxMessage, OutboxStatus
from notifications.sql import insert_ignore_conflicts

logger = logging.getLogger(__name__)

DEFAULT_MAX_ATTEMPTS = 8
DEFAULT_RETRY_SECONDS = 60
_ERROR_MAX = 2000


@dataclass
class Message:
    """One message to write; `dedupe_key` identifies it for ever (e.g. ``reminder:<installment>:<date>:sms``)."""

    channel: str
    kind: str
    dedupe_key: str
    body: str
    subject: str = ""
    recipient: str = ""
    recipient_user_id: int | None = None
    loan_id: int | None = None
    customer_id: int | None = None  # with recipient "": the borrower's address is read at delivery
    template: str = ""
    context: dict[str, Any] = field(default_factory=dict)


_COLUMNS = (
    "channel",
    "kind",
    "recipient",
    "recipient_user_id",
    "subject",
    "body",
    "template",
    "context",
    "dedupe_key",
    "status",
    "attempts",
    "last_error",
    "loan_id",
    "customer_id",
    "next_attempt_at",
    "sent_at",
)
_STATUS = _COLUMNS.index("status")


def _values(message: Message, now: Any) -> tuple[Any, ...]:
    in_app = message.channel == Channel.IN_APP
    if in_app and message.recipient_user_id is None:
        raise ValueError("an in-app message needs recipient_user_id")
    return (
        message.channel,
        message.kind,
        message.recipient,
        message.recipient_user_id,
        message.subject[:200],
        message.body,
        message.template,
        message.context,
        message.dedupe_key,
        OutboxStatus.SENT.value if in_app else OutboxStatus.PENDING.value,
        0,
        "",
        message.loan_id,
        message.customer_id,
        now,
        now if in_app else None,
    )


def outbox_write_many(messages: Iterable[Message], *, batch_size: int = 2000) -> int:
    """Insert the messages in the caller's transaction (existing dedupe keys are skipped); returns the number
    of rows offered to the database. One INSERT per `batch_size` rows, never a query per message."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("outbox_write must run inside the business change's transaction.atomic()")
    now = timezone.now()
    rows = [_values(message, now) for message in messages]
    if not rows:
        return 0
    insert_ignore_conflicts(OutboxMessage, _COLUMNS, rows, batch_size=batch_size)
    if any(row[_STATUS] == OutboxStatus.PENDING for row in rows):
        outbox_kick_on_commit()
    return len(rows)


def outbox_write(message: Message) -> int:
    return outbox_write_many([message])


def outbox_kick_on_commit() -> None:
    """Ask a worker to run the relay right after the commit (once per transaction). If the broker is down
    the kick is lost, not the messages: the relay also runs every minute from Celery beat.

    ``settings.LOANOPS_OUTBOX_KICK_ON_COMMIT = False`` leaves delivery to beat alone (``bench cob`` uses it:
    delivery is the relay's work, not the close of business's)."""
    from notifications.tasks import outbox_relay as relay_task

    if not getattr(settings, "LOANOPS_OUTBOX_KICK_ON_COMMIT", True):
        return

    conn = transaction.get_connection()
    pending = getattr(conn, "run_on_commit", [])
    if any(getattr(entry[1], "_outbox_kick", False) for entry in pending if len(entry) > 1):
        return

    def kick() -> None:
        enqueue_now(relay_task)

    kick._outbox_kick = True  # type: ignore[attr-defined]
    transaction.on_commit(kick)


def enqueue_now(task: Any) -> None:
    """Publish `task` (no args); a broker failure is logged and swallowed (the beat relay catches up)."""
    from loanops.tasks import _publish

    _publish(task, ())


def _claim(batch_size: int) -> list[OutboxMessage]:
    queryset = OutboxMessage.objects.filter(status=OutboxStatus.PENDING, next_attempt_at__lte=timezone.now()).order_by(
        "id"
    )
    if connection.features.has_select_for_update_skip_locked:
        queryset = queryset.select_for_update(skip_locked=True)
    return list(queryset[:batch_size])


def customer_contacts(messages: Iterable[OutboxMessage]) -> dict[int, dict[str, str]]:
    """Borrower id → {channel: address} for the messages that leave ``recipient`` blank (one call per batch).

    The lookup is ``settings.LOANOPS_OUTBOX_CONTACT_RESOLVER`` (a dotted path, so this layer imports no
    stage): ``resolver(customer_ids) -> {customer_id: {"sms": phone, "email": address}}``.
    """
    ids = sorted({m.customer_id for m in messages if not m.recipient and m.customer_id is not None})
    if not ids:
        return {}
    resolver = import_string(settings.LOANOPS_OUTBOX_CONTACT_RESOLVER)
    return dict(resolver(ids))


def message_recipient(message: OutboxMessage, contacts: dict[int, dict[str, str]]) -> str:
    """The address a message goes to: its own ``recipient``, else its borrower's current one for the channel."""
    if message.recipient or message.customer_id is None:
        return message.recipient
    return contacts.get(message.customer_id, {}).get(message.channel, "")


def _deliver(
    message: OutboxMessage, email: EmailChannel | None, contacts: dict[int, dict[str, str]]
) -> EmailChannel | None:
    recipient = message_recipient(message, contacts)
    if message.channel == Channel.EMAIL:
        email = email or EmailChannel()
        email.send(to=recipient, subject=message.subject, body=message.body)
    elif message.channel == Channel.SMS:
        sms_provider().send(phone=recipient, text=message.body)
    elif message.channel != Channel.IN_APP:
        raise ValueError(f"unknown channel {message.channel!r}")
    return email


def _retry_delay(attempts: int) -> timedelta:
    base = int(getattr(settings, "LOANOPS_OUTBOX_RETRY_SECONDS", DEFAULT_RETRY_SECONDS))
    return timedelta(seconds=base * (2 ** min(attempts - 1, 10)))


@dataclass
class RelayResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0

    @property
    def attempted(self) -> int:
        return self.sent + self.retried + self.failed


def outbox_relay(*, batch_size: int = 200, max_batches: int = 50) -> RelayResult:
    """Deliver pending messages, one locked batch per transaction. A delivered message is marked sent in the
    same transaction that claimed it; a failure is counted and the message retried after a delay."""
    result = RelayResult()
    max_attempts = int(getattr(settings, "LOANOPS_OUTBOX_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS))
    for _ in range(max_batches):
        with transaction.atomic():
            batch = _claim(batch_size)
            if not batch:
                break
            sent_ids: list[int] = []
            email: EmailChannel | None = None
            contacts = customer_contacts(batch)
            try:
                for message in batch:
                    try:
                        email = _deliver(message, email, contacts)
                    except Exception as exc:
                        logger.warning("Outbox message %s (%s) not delivered: %s", message.pk, message.channel, exc)
                        attempts = message.attempts + 1
                        given_up = attempts >= max_attempts
                        OutboxMessage.objects.filter(pk=message.pk).update(
                            attempts=attempts,
                            last_error=f"{type(exc).__name__}: {exc}"[:_ERROR_MAX],
                            status=OutboxStatus.FAILED if given_up else OutboxStatus.PENDING,
                            next_attempt_at=timezone.now() + _retry_delay(attempts),
                        )
                        if given_up:
                            result.failed += 1
                        else:
                            result.retried += 1
                    else:
                        sent_ids.append(message.pk)
            finally:
                if email is not None:
                    email.close()
            if sent_ids:
                OutboxMessage.objects.filter(pk__in=sent_ids).update(
                    status=OutboxStatus.SENT, sent_at=timezone.now(), attempts=F("attempts") + 1, last_error=""
                )
                result.sent += len(sent_ids)
    return result


@transaction.atomic
def outbox_retry(*, actor: Any, message_id: int) -> OutboxMessage:
    """Put a failed message back in the queue (perm ``notifications.change_outboxmessage``)."""
    if not actor.has_perm("notifications.change_outboxmessage"):
        raise PermissionDenied("您没有权限重发通知")
    message = OutboxMessage.objects.select_for_update().get(pk=message_id)
    if message.status == OutboxStatus.FAILED:
        message.status = OutboxStatus.PENDING
        message.attempts = 0
        message.next_attempt_at = timezone.now()
        message.save(update_fields=["status", "attempts", "next_attempt_at"])
        outbox_kick_on_commit()
    return message


@transaction.atomic
def inbox_mark_read(*, actor: Any, message_ids: list[int] | None = None) -> int:
    """Mark the actor's own in-app messages read (all of them when `message_ids` is None)."""
    queryset = OutboxMessage.objects.filter(channel=Channel.IN_APP, recipient_user_id=actor.pk, read_at=None)
    if message_ids is not None:
        queryset = queryset.filter(pk__in=message_ids)
    return queryset.update(read_at=timezone.now())
