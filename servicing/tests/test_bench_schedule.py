"""`bench schedule` prints its figure lines and ends with the agreed summary line."""

from __future__ import annotations

import re

from servicing.benchmarks import bench_schedule


def test_bench_schedule_reports_its_rate() -> None:
    lines: list[str] = []
    rate = bench_schedule(seconds=0.05, write=lines.append)
    assert rate > 0
    assert len(lines) >= 2
    assert re.fullmatch(r"bench schedule schedules_per_s=\d+", lines[-1])
    assert int(lines[-1].rsplit("=", 1)[1]) == int(rate)
