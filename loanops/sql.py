"""Bulk-statement helpers for set-based writers. `id_batches` slices id lists for ``pk IN (…)`` statements.

`insert_rows`: a multi-row ``INSERT … VALUES …`` (optionally ``ON CONFLICT DO NOTHING``) without the ORM's
per-value SQL compilation (which costs ~50 µs a value in `bulk_create`, most of a batch step's time).
For bulk writers that need no model instances back (the daily batch's events, audit rows, messages).

Values are prepared by each field's own `get_db_prep_save` (JSON, dates, decimals, times), so what is
stored is exactly what `bulk_create` would store. Works on SQLite (≥ 3.24) and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

from django.db import connection, models

T = TypeVar("T")

#: ids per ``pk IN (...)`` statement (well below SQLite's and PostgreSQL's parameter limits)
ID_BATCH = 1000


def id_batches(ids: Sequence[T], size: int = ID_BATCH) -> Iterator[Sequence[T]]:
    """``ids`` in slices of ``size``, for ``filter(pk__in=…)`` statements that stay under parameter limits."""
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


_PLAIN = (models.CharField, models.TextField, models.IntegerField, models.BigIntegerField, models.ForeignKey)


def insert_rows(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    batch_size: int = 1000,
    ignore_conflicts: bool = False,
) -> int:
    """Insert `rows` (values in the order of `fields`, attribute names such as ``loan_id``); returns how
    many rows were given. ``ignore_conflicts``: rows that violate a unique constraint are skipped."""
    meta = model._meta
    # attnames (``loan_id``) resolve to their fields
    concrete: list[models.Field[Any, Any]] = [meta.get_field(name) for name in fields]  # type: ignore[misc]
    prep = [
        None if isinstance(field, _PLAIN) and not isinstance(field, models.JSONField) else field for field in concrete
    ]
    columns = ", ".join(connection.ops.quote_name(str(field.column)) for field in concrete)
    one = "(" + ", ".join(["%s"] * len(fields)) + ")"
    table = connection.ops.quote_name(meta.db_table)
    limit = getattr(connection.features, "max_query_params", None) or 65535
    batch_size = max(1, min(batch_size, limit // len(fields)))
    batch: list[Any] = []
    count = total = 0
    conflict = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""

    def flush() -> None:
        nonlocal count
        if not count:
            return
        sql = f"INSERT INTO {table} ({columns}) VALUES {', '.join([one] * count)}{conflict}"  # noqa: S608
        with connection.cursor() as cursor:
            cursor.execute(sql, batch)
        batch.clear()
        count = 0

    for row in rows:
        for value, field in zip(row, prep, strict=True):
            batch.append(value if field is None or value is None else field.get_db_prep_save(value, connection))
        count += 1
        total += 1
        if count >= batch_size:
            flush()
    flush()
    return total
