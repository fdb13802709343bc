"""``bench cob`` keeps working (a small portfolio on PostgreSQL; the figures themselves are not asserted)."""

from __future__ import annotations

import os
import re
from datetime import date
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import F

pytestmark = pytest.mark.django_db

LAST = re.compile(
    r"^bench cob loans=200 steady_s=[0-9.]+ catchup_s=[0-9.]+ rerun_s=[0-9.]+ rerun_rows=0 floor_s=[0-9.]+$"
)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="bench cob seeds with COPY on PostgreSQL")
def test_bench_cob_runs_and_a_rerun_changes_nothing() -> None:
    out = StringIO()
    call_command("bench", "cob", "--loans", "200", stdout=out)
    lines = out.getvalue().strip().splitlines()
    assert LAST.match(lines[-1]), lines[-1]
    assert any(line.startswith("bench cob steady step=due ") for line in lines)
    assert any(line.startswith("bench cob catchup dates=2026-06-17,2026-06-18 ") for line in lines)
    assert any(line.startswith("bench cob rerun dates=2026-06-18 ") and line.endswith(" rows=0") for line in lines)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the refusal is for SQLite")
def test_bench_cob_refuses_sqlite() -> None:
    with pytest.raises(CommandError, match="PostgreSQL"):
        call_command("bench", "cob", "--loans", "10", stdout=StringIO())


@pytest.mark.skipif(connection.vendor != "postgresql", reason="bench cob seeds with COPY on PostgreSQL")
def test_bench_cob_phases_seed_then_run_on_the_seeded_book() -> None:
    with pytest.raises(CommandError, match="--phase seed"):
        call_command("bench", "cob", "--phase", "run", stdout=StringIO())
    out = StringIO()
    call_command("bench", "cob", "--loans", "120", "--phase", "seed", stdout=out)
    assert out.getvalue().startswith("bench cob seed loans=120 ")
    assert "steady" not in out.getvalue()
    out = StringIO()
    call_command("bench", "cob", "--phase", "run", stdout=out)
    last = out.getvalue().strip().splitlines()[-1]
    assert re.match(r"^bench cob loans=120 steady_s=[0-9.]+ .* rerun_rows=0 floor_s=[0-9.]+$", last), last


@pytest.mark.skipif(connection.vendor != "postgresql", reason="bench cob seeds with COPY on PostgreSQL")
def test_bench_cob_seed_keeps_current_loans_paying_through_the_bench_dates() -> None:
    from loan_collections.cob.bench import BUSINESS_DATE, HORIZON
    from servicing.models import Installment

    call_command("bench", "cob", "--loans", "240", "--phase", "seed", stdout=StringIO())
    ahead = Installment.objects.filter(due_date__gt=BUSINESS_DATE, due_date__lte=HORIZON)
    paid = ahead.filter(status="paid")
    assert paid.exists() and ahead.filter(status="pending").exists()
    # paid on B by the borrowers who are current; nobody in arrears pays ahead
    assert set(paid.values_list("paid_on", flat=True)) == {BUSINESS_DATE}
    assert not paid.filter(loan__days_past_due__gt=0).exists()
    assert not paid.exclude(principal_paid=F("principal_due")).exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="fillfactor is a PostgreSQL storage parameter")
def test_batch_rewritten_tables_leave_room_for_hot_updates() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, reloptions FROM pg_class WHERE relname IN ('applications_loan', 'servicing_installment')"
        )
        options = dict(cursor.fetchall())
    assert options == {"applications_loan": ["fillfactor=80"], "servicing_installment": ["fillfactor=80"]}


BROKER = os.environ.get("CELERY_BROKER_URL", "")


@pytest.mark.celery_worker
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the workers share the test database (PostgreSQL)")
@pytest.mark.skipif(not BROKER.startswith("redis"), reason="needs a real Redis broker (the test command starts one)")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_bench_cob_on_celery_workers_takes_the_distributed_path() -> None:
    """--workers 2: this process only dispatches (it is not eager), so every chunk ran on a worker."""
    from loan_collections.cob.models import CobRun, CobStepRun

    out = StringIO()
    call_command("bench", "cob", "--loans", "150", "--workers", "2", stdout=out)
    lines = out.getvalue().strip().splitlines()
    assert any(re.match(r"^bench cob workers=2 names=benchcob\d+-0@\S+,benchcob\d+-1@\S+$", x) for x in lines), lines
    last = lines[-1]
    assert re.match(r"^bench cob loans=150 steady_s=[0-9.]+ .* rerun_rows=0 floor_s=[0-9.]+$", last), last
    assert any(re.match(r"^bench cob steady step=penalty s=[0-9.]+ rows=\d+ wall_s=[0-9.]+$", x) for x in lines)
    assert sorted(
        CobRun.objects.filter(business_date__gt=date(2026, 6, 15)).values_list("business_date", "status")
    ) == [
        (date(2026, 6, 16), "completed"),
        (date(2026, 6, 17), "completed"),
        (date(2026, 6, 18), "completed"),
    ]
    assert not CobStepRun.objects.filter(completed_at__isnull=True).exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="on SQLite bench cob refuses earlier")
def test_bench_cob_workers_needs_a_redis_broker(settings) -> None:  # type: ignore[no-untyped-def]
    settings.CELERY_BROKER_URL = ""
    with pytest.raises(CommandError, match="CELERY_BROKER_URL"):
        call_command("bench", "cob", "--loans", "10", "--workers", "2", stdout=StringIO())


def test_bench_workers_must_not_be_negative() -> None:
    with pytest.raises(CommandError, match="--workers must not be negative"):
        call_command("bench", "cob", "--loans", "10", "--workers", "-1", stdout=StringIO())
