"""The OpenAPI schema is complete and valid: no warnings, and the fixed endpoint names are present."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from django.core.management import call_command


def test_schema_validates_without_warnings(tmp_path: Path) -> None:
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    paths = yaml.safe_load(target.read_text(encoding="utf-8"))["paths"]
    for path in (
        "/api/v1/auth/token/",
        "/api/v1/schedule-preview/",
        "/api/v1/customers/",
        "/api/v1/loans/",
        "/api/v1/loans/{id}/schedule/",
        "/api/v1/loans/{id}/repayments/",
        "/api/v1/loans/{id}/payoff-quote/",
        "/api/v1/business-date/",
    ):
        assert any(p.replace("{loan_id}", "{id}").replace("{pk}", "{id}") == path for p in paths), path


pytestmark = pytest.mark.django_db
