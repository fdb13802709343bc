"""``python manage.py run_cob [--date YYYY-MM-DD]``: close of business in this process.

Without ``--date`` it runs COB for the business date + 1 (closes the open day); with a later date it
catches up every missed date in order. Exits non-zero if a step fails (run it again to resume).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from loan_collections.cob.models import CobRunStatus, CobStepRun
from loan_collections.cob.runner import cob_run
from loanops.exceptions import DomainError
from servicing.services.business_date import business_date_get
from servicing.services.common import system_user


class Command(BaseCommand):
    help = "Run close of business (日终批处理) up to a date (default: the business date + 1)"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", type=date.fromisoformat, default=None, help="YYYY-MM-DD")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            runs = cob_run(actor=system_user(), until=options["date"])
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        if not runs:
            self.stdout.write("nothing to do: COB already completed")
        for run in runs:
            steps = CobStepRun.objects.filter(run=run).order_by("position", "chunk_lo")
            total = sum(s.rows for s in steps)
            seconds = sum(s.duration_s for s in steps)
            self.stdout.write(f"COB {run.business_date.isoformat()} {run.status} rows={total} seconds={seconds:.2f}")
            if run.status != CobRunStatus.COMPLETED:
                raise CommandError(f"COB {run.business_date.isoformat()} failed: {run.error}")
        self.stdout.write(f"business date {business_date_get().isoformat()}")
