"""CI must exercise the real production database and broker, not the embedded defaults."""

from __future__ import annotations

import os

import pytest
from django.conf import settings
from django.db import connection

pytestmark = pytest.mark.django_db


@pytest.mark.skipif(not os.environ.get("CI"), reason="only CI insists on PostgreSQL and Redis")
def test_ci_runs_on_postgresql_and_redis() -> None:
    assert connection.vendor == "postgresql"
    assert settings.CELERY_BROKER_URL.startswith("redis://")


def test_healthz_reports_database_and_broker(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/healthz")
    body = response.json()
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["database"]["vendor"] == connection.vendor
    assert response.status_code == (200 if body["checks"]["broker"]["ok"] else 503)
