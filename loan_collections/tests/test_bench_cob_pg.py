"""``bench cob`` keeps working (a small portfolio on PostgreSQL; the figures themselves are not asserted)."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

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
