"""Personal data (DESIGN.md §5): masking for display, encryption at rest, keyed-hash lookup.

One implementation for pages, API and PDFs. A leaf module: imports no other LoanOps app. The model field
that uses it is `compliance.fields.EncryptedTextField`; the audited unmasking is `compliance.services`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def _mask(value: str | None, *, keep_start: int, keep_end: int) -> str:
    value = (value or "").strip()
    if len(value) <= keep_start + keep_end:
        return "*" * len(value)
    return f"{value[:keep_start]}{'*' * (len(value) - keep_start - keep_end)}{value[-keep_end:]}"


def mask_id_number(value: str | None) -> str:
    """ID number or USCC: first 6 and last 4 kept — ``110105194912310021`` → ``110105********0021``."""
    return _mask(value, keep_start=6, keep_end=4)


def mask_phone(value: str | None) -> str:
    """Mobile number: first 3 and last 4 kept — ``13812345678`` → ``138****5678``."""
    return _mask(value, keep_start=3, keep_end=4)


def mask_account(value: str | None) -> str:
    """Bank account: first 4 and last 4 kept — ``6222021234567890123`` → ``6222***********0123``."""
    return _mask(value, keep_start=4, keep_end=4)


# --- encryption at rest and keyed-hash lookup ------------------------------------------------------
#
# Keys come from settings (env in production, see loanops.settings): LOANOPS_PII_KEYS is a list of Fernet
# keys, the first one current (new values are encrypted with it), the others still decrypt, so keys can
# rotate (`manage.py rotate_pii_keys` re-encrypts every row with the current key). LOANOPS_PII_HASH_KEY is
# a separate secret for the HMAC-SHA256 lookup hashes, so a stolen hash column cannot be brute-forced
# without it (an ID number has only ~10^9 plausible values, a phone ~10^10).

FERNET_PREFIX = "gAAAAA"  # every Fernet token starts with version byte 0x80 + timestamp → "gAAAAA" in base64


class PiiDecryptError(Exception):
    """A stored value could not be decrypted with any configured key."""


@lru_cache(maxsize=8)
def _multifernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("LOANOPS_PII_KEYS is empty: set at least one Fernet key")
    return MultiFernet([Fernet(key.encode() if isinstance(key, str) else key) for key in keys])


def _keys() -> tuple[str, ...]:
    return tuple(settings.LOANOPS_PII_KEYS)


def pii_encrypt(value: str) -> str:
    """Fernet token (text) for a non-empty value; "" stays "" (nothing stored, nothing to hide)."""
    if not value:
        return ""
    return _multifernet(_keys()).encrypt(value.encode()).decode("ascii")


def pii_decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _multifernet(_keys()).decrypt(token.encode("ascii")).decode()
    except (InvalidToken, UnicodeError) as exc:
        raise PiiDecryptError("personal data could not be decrypted with the configured LOANOPS_PII_KEYS") from exc


def pii_rotate(token: str) -> str:
    """Re-encrypt a token with the current (first) key; "" stays ""."""
    if not token:
        return ""
    try:
        return _multifernet(_keys()).rotate(token.encode("ascii")).decode("ascii")
    except InvalidToken as exc:
        raise PiiDecryptError("personal data could not be decrypted with the configured LOANOPS_PII_KEYS") from exc


def normalise_identifier(value: str | None) -> str:
    """The canonical form that is hashed: spaces and dashes removed, letters upper-case (ID's X, USCC)."""
    return re.sub(r"[\s-]", "", str(value or "")).upper()


def pii_hash(value: str | None) -> str:
    """HMAC-SHA256 (hex) of the normalised value with LOANOPS_PII_HASH_KEY; "" for an empty value.

    Equal identifiers give equal hashes, so `filter(phone_hash=pii_hash(phone))` is the lookup.
    """
    normalised = normalise_identifier(value)
    if not normalised:
        return ""
    key = settings.LOANOPS_PII_HASH_KEY
    if not key:
        raise ImproperlyConfigured("LOANOPS_PII_HASH_KEY is empty")
    return hmac.new(str(key).encode(), normalised.encode(), hashlib.sha256).hexdigest()
