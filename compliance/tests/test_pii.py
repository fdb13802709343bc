from __future__ import annotations

import pytest

from compliance.pii import mask_account, mask_id_number, mask_phone


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("11010519491231002X", "110105********002X"),
        ("110105491231002", "110105*****1002"),  # 15-digit first-generation ID
        ("91110000600037341L", "911100********341L"),  # USCC
        ("1234567890", "**********"),  # too short to keep anything
        ("", ""),
        (None, ""),
    ],
)
def test_mask_id_number(value: str | None, expected: str) -> None:
    assert mask_id_number(value) == expected


def test_mask_phone() -> None:
    assert mask_phone("13912345678") == "139****5678"
    assert mask_phone("1391234") == "*******"


def test_mask_account() -> None:
    assert mask_account("6222021234567890123") == "6222***********0123"
    assert mask_account("12345678") == "********"
