"""Root pytest configuration shared by every app's tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _seeded_roles(request: pytest.FixtureRequest) -> None:
    """Role groups, the `system` user and the seeded LPRs come from data migrations; a transactional test's
    flush removes them.

    Re-seed (idempotently) for database tests that run after such a flush.
    """
    if request.node.get_closest_marker("django_db") is None:
        return
    request.getfixturevalue("db" if not _is_transactional(request) else "transactional_db")
    from django.contrib.auth import get_user_model

    if not get_user_model().objects.filter(username="system").exists():
        from loanops.roles import ensure_system_user, sync_roles
        from underwriting.lpr_data import seed_lprs

        sync_roles()
        ensure_system_user()
        seed_lprs()  # the published LPRs behind the rate cap (also seeded by a data migration)
    from underwriting.risk_services import ensure_risk_defaults

    ensure_risk_defaults()  # the default scorecard and authority matrix (seeded after migrate; gone after a flush)


def _is_transactional(request: pytest.FixtureRequest) -> bool:
    marker = request.node.get_closest_marker("django_db")
    return bool(marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])))
