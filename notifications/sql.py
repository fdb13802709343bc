"""`insert_ignore_conflicts`: the kernel's fast multi-row insert (:func:`loanops.sql.insert_rows`) with
``ON CONFLICT DO NOTHING`` — the outbox's and the reminders' exactly-once writes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import models

from loanops.sql import insert_rows


def insert_ignore_conflicts(
    model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence[Any]], *, batch_size: int = 1000
) -> None:
    """Insert `rows` (values in the order of `fields`, attribute names such as ``loan_id``); rows that
    violate a unique constraint are skipped."""
    insert_rows(model, fields, rows, batch_size=batch_size, ignore_conflicts=True)
