"""Model fields for personal data at rest (DESIGN.md §5). A leaf module: imports no other LoanOps app.

`EncryptedTextField` stores a Fernet token (compliance.pii) and gives back the plaintext, so code that
reads `customer.phone` keeps working. The token is different on every save, so the column cannot be
searched: the field refuses every lookup except `isnull`, and `PiiHashField(source=...)` keeps a keyed
hash (HMAC-SHA256) of the same value next to it for equality lookups (`phone_hash=pii_hash(phone)`).
Models with a hash column inherit `PiiHashSyncMixin`, which also saves the hash when `update_fields`
names only the source field. `QuerySet.update()`/`bulk_update()` bypass the sync: don't use them on
these fields.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from compliance.pii import pii_decrypt, pii_encrypt, pii_hash


class EncryptedTextField(models.TextField):
    description = "Text encrypted at rest (Fernet, keys from LOANOPS_PII_KEYS)"

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None:
            return value
        return pii_decrypt(value)

    def to_python(self, value: Any) -> Any:
        return value if value is None else str(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None:
            return value
        return pii_encrypt(str(value))

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name == "isnull":
            return super().get_lookup(lookup_name)
        return None  # → FieldError "Unsupported lookup": search through the *_hash column instead


class PiiHashField(models.CharField):
    """HMAC-SHA256 (hex) of another field's value, computed on save; "" when that value is empty."""

    description = "Keyed lookup hash of a personal-data field"

    def __init__(self, *args: Any, source: str = "", **kwargs: Any) -> None:
        self.source = source
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("editable", False)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["source"] = self.source
        for key, value in (("max_length", 64), ("editable", False), ("blank", True), ("default", "")):
            if kwargs.get(key, value) == value:
                kwargs.pop(key, None)
        return name, path, args, kwargs

    def pre_save(self, model_instance: Any, add: bool) -> Any:
        value = pii_hash(getattr(model_instance, self.source))
        setattr(model_instance, self.attname, value)
        return value


class PiiHashSyncMixin:
    """`save(update_fields=[...])` naming a source field also saves its hash column."""

    def save(self, *args: Any, **kwargs: Any) -> None:
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            names = list(update_fields)
            for field in self._meta.concrete_fields:  # type: ignore[attr-defined]
                if isinstance(field, PiiHashField) and field.source in names and field.name not in names:
                    names.append(field.name)
            kwargs["update_fields"] = names
        super().save(*args, **kwargs)  # type: ignore[misc]
