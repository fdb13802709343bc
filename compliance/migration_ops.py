"""Data-migration helpers for personal data at rest: encrypt existing plaintext columns in place.

Raw SQL on purpose: a historical model would run the values through `EncryptedTextField.from_db_value`,
which expects ciphertext. Rows already holding a Fernet token are left alone, so a migration can re-run.
"""

from __future__ import annotations

from typing import Any

from compliance.pii import FERNET_PREFIX, pii_decrypt, pii_encrypt, pii_hash

BATCH = 1000


def _rows(schema_editor: Any, table: str, columns: list[str]) -> list[tuple[Any, ...]]:
    quote = schema_editor.quote_name
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"SELECT id, {', '.join(quote(c) for c in columns)} FROM {quote(table)} ORDER BY id")  # noqa: S608
        return list(cursor.fetchall())


def _update(schema_editor: Any, table: str, columns: list[str], rows: list[list[Any]]) -> None:
    quote = schema_editor.quote_name
    assignments = ", ".join(f"{quote(c)} = %s" for c in columns)
    sql = f"UPDATE {quote(table)} SET {assignments} WHERE id = %s"  # noqa: S608
    with schema_editor.connection.cursor() as cursor:
        for start in range(0, len(rows), BATCH):
            cursor.executemany(sql, rows[start : start + BATCH])


def encrypt_columns(schema_editor: Any, *, table: str, columns: dict[str, str | None]) -> int:
    """Encrypt each plaintext column of `table` (`{column: hash column or None}`); returns rows changed."""
    plain = list(columns)
    targets = [c for column in plain for c in (column, columns[column]) if c]
    changed: list[list[Any]] = []
    for pk, *values in _rows(schema_editor, table, plain):
        if all(not value or str(value).startswith(FERNET_PREFIX) for value in values):
            continue
        row: list[Any] = []
        for column, value in zip(plain, values, strict=True):
            text = str(value or "")
            encrypted = text if text.startswith(FERNET_PREFIX) else pii_encrypt(text)
            row.append(encrypted)
            if columns[column]:
                row.append(pii_hash(pii_decrypt(encrypted)))
        changed.append([*row, pk])
    _update(schema_editor, table, targets, changed)
    return len(changed)


def decrypt_columns(schema_editor: Any, *, table: str, columns: list[str]) -> int:
    """The reverse of `encrypt_columns` (for a migration rollback)."""
    changed = []
    for pk, *values in _rows(schema_editor, table, columns):
        plain = [pii_decrypt(v) if v and str(v).startswith(FERNET_PREFIX) else (v or "") for v in values]
        changed.append([*plain, pk])
    _update(schema_editor, table, columns, changed)
    return len(changed)
