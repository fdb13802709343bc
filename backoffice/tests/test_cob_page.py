"""The COB run page: each date, each step, rows, seconds, errors; progress polled while running."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from backoffice.tests.conftest import login
from loan_collections.cob.models import CobRun, CobRunStatus, CobStepRun
from servicing.models import BusinessDate

pytestmark = pytest.mark.django_db
URL = "/backoffice/cob/"


def make_run(day: date, status: str, steps: list[tuple[str, int, bool, str]], planned: int = 3) -> CobRun:
    run = CobRun.objects.create(business_date=day, status=status, chunks_planned=planned)
    for position, (name, rows, done, error) in enumerate(steps):
        CobStepRun.objects.create(
            run=run, business_date=day, step=name, position=position, rows=rows, duration_s=0.25,
            completed_at=timezone.now() if done else None, error=error,
        )  # fmt: skip
    return run


def test_manager_sees_dates_steps_rows_and_errors(
    client: Any, manager: Any, django_assert_max_num_queries: Any
) -> None:
    assert reverse("backoffice:cob-runs") == URL
    for n in range(5):
        make_run(
            date(2025, 3, 1) + timedelta(days=n),
            CobRunStatus.COMPLETED,
            [("due", 10, True, ""), ("penalty", 4, True, "")],
        )
    make_run(date(2025, 3, 6), CobRunStatus.FAILED, [("due", 7, True, ""), ("penalty", 0, False, "Boom: disk full")])
    login(client, manager)
    with django_assert_max_num_queries(15):
        response = client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "2025-03-06" in html and "2025-03-01" in html
    assert "Boom: disk full" in html
    assert 'id="cob-step-penalty"' in html
    assert "hx-trigger" not in html  # nothing running: no polling
    detail = client.get(URL, {"date": "2025-03-02"}).content.decode()
    assert "2025-03-02 的步骤" in detail


def test_a_running_cob_shows_a_progress_bar_that_polls(client: Any, manager: Any) -> None:
    make_run(date(2025, 3, 1), CobRunStatus.RUNNING, [("due", 10, True, ""), ("penalty", 0, False, "")], planned=4)
    login(client, manager)
    html = client.get(URL).content.decode()
    assert 'hx-trigger="every 2s"' in html
    assert 'aria-valuenow="25"' in html  # 1 of 4 chunks done
    fragment = client.get(URL, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in fragment and 'aria-valuenow="25"' in fragment


def test_manager_runs_cob_from_the_page(client: Any, manager: Any) -> None:
    BusinessDate.objects.update_or_create(pk=1, defaults={"date": date(2025, 3, 1)})
    login(client, manager)
    response = client.post(URL, {"date": "2025-03-03"})
    assert response.status_code == 302
    assert list(CobRun.objects.order_by("business_date").values_list("business_date", "status")) == [
        (date(2025, 3, 2), CobRunStatus.COMPLETED),
        (date(2025, 3, 3), CobRunStatus.COMPLETED),
    ]
    assert BusinessDate.objects.get(pk=1).date == date(2025, 3, 3)


@pytest.mark.parametrize("role", ["ops", "risk", "service"])
def test_other_roles_get_403_and_change_nothing(client: Any, make_user: Any, role: str) -> None:
    login(client, make_user(role))
    assert client.get(URL).status_code == 403
    assert client.post(URL, {"date": "2025-03-03"}).status_code == 403
    assert CobRun.objects.count() == 0
