"""Masking of personal data for display (DESIGN.md §5). One implementation for pages, API and PDFs.

A leaf module: imports no other LoanOps app. (Encryption at rest and audited unmasking come with issue 4.)
"""

from __future__ import annotations


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
