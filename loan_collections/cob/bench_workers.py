"""``bench cob --workers N``: time the close of business the way production runs it — on Celery workers.

:func:`celery_workers` starts N worker processes (``celery -A loanops worker --pool=solo``, one chunk
at a time each, no prefetch beyond it) on the broker ``CELERY_BROKER_URL`` names and the database this
process uses, consuming a queue of their own (``LOANOPS_COB_QUEUE``); it waits until each answers a
ping and stops them afterwards. :func:`cob_on_workers` hands the pending dates to them through
:func:`~loan_collections.cob.runner.cob_start` (the chord kept in the database: each step's chunks as
one group, the last chunk of a step dispatching the next) and waits until every date has completed or
one failed.

The workers never kick the outbox relay (``LOANOPS_OUTBOX_KICK_ON_COMMIT=0``): delivering the day's
reminders is the relay's work, not the close of business's, as in the in-process bench.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.db import connection
from django.test.utils import override_settings

from loan_collections.cob.models import CobRun, CobRunStatus
from loan_collections.cob.runner import cob_pending_dates, cob_start
from servicing.services.common import system_user

__all__ = ["celery_workers", "cob_on_workers", "workers_check"]

START_TIMEOUT_S = 60.0
RUN_TIMEOUT_S = 3600.0
POLL_S = 0.02


def _database_url() -> str:
    """This process's database as a URL the workers' settings read (``DATABASE_URL``)."""
    db = connection.settings_dict
    user = quote(str(db.get("USER") or ""), safe="")
    password = quote(str(db.get("PASSWORD") or ""), safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = db.get("HOST") or "localhost"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}{host}{port}/{quote(str(db['NAME']), safe='')}"


def _ping(prefix: str) -> set[str]:
    from loanops.celery import app

    replies = app.control.ping(timeout=0.5) or []
    return {name for reply in replies for name in reply if name.startswith(prefix)}


def workers_check(count: int) -> None:
    """Refuse, before any seeding, a worker run this machine cannot do."""
    if count < 1:
        raise ValueError("--workers must be positive")
    if not str(settings.CELERY_BROKER_URL).startswith(("redis://", "rediss://")):
        raise RuntimeError("bench cob --workers needs a Redis broker: set CELERY_BROKER_URL")
    if connection.vendor != "postgresql":
        raise RuntimeError("bench cob --workers needs PostgreSQL (the workers share its database)")


@contextmanager
def celery_workers(count: int) -> Iterator[list[str]]:
    """Run ``count`` Celery workers on this database for the duration; yields their names."""
    workers_check(count)
    from loanops.celery import app

    prefix = f"benchcob{os.getpid()}-"
    queue = f"{prefix}cob"  # its own queue: other workers on the broker never take the bench's chunks
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": str(settings.CELERY_BROKER_URL),
        "CELERY_TASK_ALWAYS_EAGER": "0",  # read by the test settings; the others are never eager with a broker
        "LOANOPS_OUTBOX_KICK_ON_COMMIT": "0",
        "LOANOPS_COB_QUEUE": queue,
    }
    logs = Path(tempfile.mkdtemp(prefix="loanops-bench-workers-"))
    procs: list[subprocess.Popen[bytes]] = []
    previous_eager = app.conf.task_always_eager
    try:
        for index in range(count):
            with (logs / f"worker{index}.log").open("wb") as log:
                procs.append(
                    subprocess.Popen(  # noqa: S603 — our own interpreter and arguments
                        [
                            sys.executable,
                            "-m",
                            "celery",
                            "-A",
                            "loanops",
                            "worker",
                            "--pool=solo",
                            "--prefetch-multiplier=1",
                            f"--hostname={prefix}{index}@%h",
                            f"--queues={queue}",
                            "-l",
                            "warning",
                            "--without-heartbeat",
                            "--without-gossip",
                            "--without-mingle",
                        ],
                        env=env,
                        cwd=settings.BASE_DIR,
                        stdout=subprocess.DEVNULL,
                        stderr=log,
                    )
                )
        deadline = time.monotonic() + START_TIMEOUT_S
        names: set[str] = set()
        while len(names) < count:
            dead = [p for p in procs if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                tail = "".join((logs / f"worker{i}.log").read_text(errors="replace")[-400:] for i in range(count))
                raise RuntimeError(f"bench cob: {count - len(names)} Celery worker(s) did not start: {tail}")
            names = _ping(prefix)
        app.conf.task_always_eager = False
        with override_settings(CELERY_TASK_ALWAYS_EAGER=False, LOANOPS_COB_QUEUE=queue):
            yield sorted(names)
    finally:
        app.conf.task_always_eager = previous_eager
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def cob_on_workers(*, until: date, timeout_s: float = RUN_TIMEOUT_S) -> list[CobRun]:
    """Hand COB up to ``until`` to the workers; return the dates' runs once all completed or one failed."""
    dates = cob_pending_dates(until=until)
    if not dates:
        return []
    cob_start(actor=system_user(), until=until)
    deadline = time.monotonic() + timeout_s
    while True:
        runs = list(CobRun.objects.filter(business_date__range=(dates[0], dates[-1])).order_by("business_date"))
        statuses: list[Any] = [run.status for run in runs]
        if CobRunStatus.FAILED in statuses:
            return runs
        if len(runs) == len(dates) and all(status == CobRunStatus.COMPLETED for status in statuses):
            return runs
        if time.monotonic() > deadline:
            raise RuntimeError(f"COB on the workers did not finish within {timeout_s:.0f} s: {statuses}")
        time.sleep(POLL_S)
