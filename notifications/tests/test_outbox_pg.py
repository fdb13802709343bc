"""PostgreSQL: two relays never take the same message (FOR UPDATE SKIP LOCKED), and neither waits."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.core import mail
from django.db import connection, connections, transaction

from notifications.models import Channel, OutboxMessage, OutboxStatus
from notifications.services import Message, outbox_relay, outbox_write_many

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_row_claimed_by_another_relay_is_skipped_not_waited_for() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SKIP LOCKED is a PostgreSQL feature (SQLite serialises writers)")
    # Rows as a committed business change left them (written directly: the service's commit kick would
    # deliver them at once, Celery being in-process in the tests).
    OutboxMessage.objects.bulk_create(
        OutboxMessage(channel=Channel.EMAIL, kind="t", dedupe_key=f"k{i}", recipient=f"u{i}@example.com", body="x")
        for i in range(2)
    )
    first = OutboxMessage.objects.order_by("id").first()
    assert first is not None
    locked, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def other_relay() -> None:  # holds the first row as a relay in another worker would
        try:
            with transaction.atomic():
                list(OutboxMessage.objects.select_for_update().filter(pk=first.pk))
                locked.set()
                release.wait(timeout=30)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
            locked.set()
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_relay)
    thread.start()
    try:
        assert locked.wait(timeout=30)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '5s'")  # a waiting relay would fail here instead of skipping
        result = outbox_relay()
        assert result.sent == 1
        assert OutboxMessage.objects.get(pk=first.pk).status == OutboxStatus.PENDING
    finally:
        release.set()
        thread.join(timeout=30)
    assert not errors
    assert outbox_relay().sent == 1
    assert sorted(m.to[0] for m in mail.outbox) == ["u0@example.com", "u1@example.com"]
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {OutboxStatus.SENT}


def test_a_real_commit_kicks_the_relay_which_delivers_in_id_order(settings: Any) -> None:
    with transaction.atomic():
        outbox_write_many(
            Message(channel=Channel.EMAIL, kind="t", dedupe_key=f"o{i}", recipient=f"o{i}@example.com", body="x")
            for i in range(5)
        )
    # Celery runs in-process in the tests: the commit's kick already ran the relay.
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {OutboxStatus.SENT}
    assert [m.to[0] for m in mail.outbox] == [f"o{i}@example.com" for i in range(5)]
    assert outbox_relay(batch_size=2).attempted == 0
