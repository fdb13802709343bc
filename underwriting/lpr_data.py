"""The published one-year LPR history the rate-cap table is seeded with (a data migration and test setup).

Values as published by the National Interbank Funding Center on behalf of the PBoC (reformed LPR, first
published 2019-08-20). Only the publications at which the one-year rate CHANGED are listed: the months in
between repeated the previous value, so "the latest LPR published before a date" is the same with or without
them. Later publications are entered by a manager and approved by another (four eyes).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Final

SOURCE: Final = "全国银行间同业拆借中心受权公布（初始数据）"

#: (publication date, one-year LPR) at every change since the LPR reform
SEEDED_LPRS: Final[tuple[tuple[date, Decimal], ...]] = (
    (date(2019, 8, 20), Decimal("0.0425")),
    (date(2019, 9, 20), Decimal("0.0420")),
    (date(2019, 11, 20), Decimal("0.0415")),
    (date(2020, 2, 20), Decimal("0.0405")),
    (date(2020, 4, 20), Decimal("0.0385")),
    (date(2021, 12, 20), Decimal("0.0380")),
    (date(2022, 1, 20), Decimal("0.0370")),
    (date(2022, 8, 22), Decimal("0.0365")),
    (date(2023, 6, 20), Decimal("0.0355")),
    (date(2023, 8, 21), Decimal("0.0345")),
    (date(2024, 7, 22), Decimal("0.0335")),
    (date(2024, 10, 21), Decimal("0.0310")),
    (date(2025, 5, 20), Decimal("0.0300")),
)


def seed_lprs(apps: Any = None, schema_editor: Any = None) -> None:
    """Insert the seeded rows as approved (idempotent: dates that already have an approved row are skipped)."""
    from django.apps import apps as global_apps

    model = (apps or global_apps).get_model("underwriting", "LoanPrimeRate")
    existing = set(model.objects.filter(status="approved").values_list("published_on", flat=True))
    model.objects.bulk_create(
        [
            model(published_on=day, one_year_rate=rate, status="approved", source=SOURCE)
            for day, rate in SEEDED_LPRS
            if day not in existing
        ]
    )
