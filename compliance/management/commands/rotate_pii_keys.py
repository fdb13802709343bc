"""Re-encrypt every encrypted personal-data column with the current key (the first of LOANOPS_PII_KEYS).

Rotation: put the new key first in LOANOPS_PII_KEYS (keep the old ones after it), deploy, run this command,
then remove the old keys. Rows already under the current key are rewritten too (Fernet tokens carry no key
id); the command is idempotent and works in batches, one transaction per batch.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import connection, transaction

from compliance.fields import EncryptedTextField
from compliance.pii import pii_rotate

BATCH = 500


def encrypted_columns() -> list[tuple[str, list[str]]]:
    """(table, [encrypted columns]) for every model that has one."""
    found = []
    for model in apps.get_models():
        columns = [str(f.column) for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
        if columns and not model._meta.proxy and model._meta.managed:
            found.append((model._meta.db_table, columns))
    return sorted(found)


def rotate_table(table: str, columns: list[str], *, batch: int = BATCH) -> int:
    quote = connection.ops.quote_name
    select = f"SELECT id, {', '.join(quote(c) for c in columns)} FROM {quote(table)} WHERE id > %s ORDER BY id"  # noqa: S608
    update = f"UPDATE {quote(table)} SET {', '.join(f'{quote(c)} = %s' for c in columns)} WHERE id = %s"  # noqa: S608
    last, total = 0, 0
    while True:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(select + f" LIMIT {int(batch)}", [last])
                rows = cursor.fetchall()
            if not rows:
                return total
            changed = [[pii_rotate(value or "") for value in values] + [pk] for pk, *values in rows]
            with connection.cursor() as cursor:
                cursor.executemany(update, changed)
        total += len(rows)
        last = rows[-1][0]


class Command(BaseCommand):
    help = "Re-encrypt personal data (ID numbers, phones, bank accounts) with the current LOANOPS_PII_KEYS key."

    def handle(self, *args: Any, **options: Any) -> None:
        for table, columns in encrypted_columns():
            count = rotate_table(table, columns)
            self.stdout.write(f"{table}: {count} rows re-encrypted ({', '.join(columns)})")
        self.stdout.write(self.style.SUCCESS("rotate_pii_keys done"))
