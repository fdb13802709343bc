"""Celery tasks of the notifications app: thin wrappers over services (STYLE §7.8)."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True, ignore_result=True)
def outbox_relay() -> int:
    """Deliver pending outbox messages. Run by beat every minute and kicked after each commit that wrote one."""
    from notifications.services import outbox_relay as relay

    return relay().sent
