"""Read side of notifications: the per-loan message log and a staff member's in-app message list."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from compliance.pii import mask_phone
from notifications.models import Channel, OutboxMessage
from notifications.services import customer_contacts, message_recipient


def mask_recipient(channel: str, recipient: str) -> str:
    """Phone ``138****5678``; e-mail ``z***@example.com``."""
    if channel == Channel.SMS:
        return mask_phone(recipient)
    if channel == Channel.EMAIL and "@" in recipient:
        local, _, domain = recipient.partition("@")
        return f"{local[:1]}***@{domain}"
    return recipient


def loan_messages(loan_id: int, *, limit: int = 200) -> list[OutboxMessage]:
    """Every message written about a loan, newest first (one query), recipients masked for display."""
    rows = list(OutboxMessage.objects.filter(loan_id=loan_id).order_by("-id")[:limit])
    contacts = customer_contacts(rows)  # one lookup for the borrower's messages that keep no address
    for row in rows:
        row.recipient_masked = mask_recipient(row.channel, message_recipient(row, contacts))  # type: ignore[attr-defined]
    return rows


def inbox_for(user: Any) -> QuerySet[OutboxMessage]:
    return OutboxMessage.objects.filter(channel=Channel.IN_APP, recipient_user_id=user.pk).order_by("-id")


def inbox_unread_count(user: Any) -> int:
    return inbox_for(user).filter(read_at=None).count()
