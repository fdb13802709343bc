"""The kernel's bulk-statement helpers: id batches, and the multi-row insert against bulk_create."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, transaction

from loanops.sql import id_batches, insert_rows
from notifications.models import OutboxMessage


def test_id_batches_cover_every_id_once_in_order() -> None:
    assert [list(b) for b in id_batches([1, 2, 3, 4, 5], size=2)] == [[1, 2], [3, 4], [5]]
    assert list(id_batches([], size=2)) == []


@pytest.mark.django_db
def test_insert_rows_stores_what_bulk_create_stores_and_conflicts_are_refused_unless_ignored() -> None:
    when = datetime(2026, 6, 15, 8, 30, tzinfo=UTC)
    fields = ("channel", "kind", "recipient", "subject", "body", "template", "context", "status", "attempts",
              "last_error", "next_attempt_at", "created_at", "dedupe_key")  # fmt: skip
    row = (
        "sms",
        "reminder.t0",
        "",
        "",
        "请按时还款",
        "",
        {"amount": "12.30", "period": 3},
        "pending",
        0,
        "",
        when,
        when,
        "k:1",
    )
    assert insert_rows(OutboxMessage, fields, [row], batch_size=1) == 1
    stored = OutboxMessage.objects.get(dedupe_key="k:1")
    assert (stored.body, stored.context, stored.next_attempt_at) == (
        "请按时还款",
        {"amount": "12.30", "period": 3},
        when,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_rows(OutboxMessage, fields, [row])
    insert_rows(OutboxMessage, fields, [row, (*row[:-1], "k:2")], ignore_conflicts=True)
    assert sorted(OutboxMessage.objects.values_list("dedupe_key", flat=True)) == ["k:1", "k:2"]
