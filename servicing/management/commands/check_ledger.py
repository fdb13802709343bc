"""``python manage.py check_ledger``: prove the journal (balanced entries, zero trial balance, journal =
schedule per loan). Exits non-zero and lists the disagreeing loans/entries when anything is off."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from servicing.selectors import ledger_check, trial_balance


class Command(BaseCommand):
    help = "Check the ledger: every entry balances, debits = credits, journal = schedule for every loan."

    def handle(self, *args: Any, **options: Any) -> None:
        balances = trial_balance()
        for account, balance in sorted(balances.items()):
            self.stdout.write(f"{account:<24} {balance:>20}")
        problems = ledger_check()
        if problems:
            for problem in problems:
                self.stderr.write(str(problem))
            loans = sorted({p.loan_id for p in problems if p.loan_id is not None})
            raise CommandError(
                f"ledger check failed: {len(problems)} problem(s); loans: {', '.join(map(str, loans)) or '-'}"
            )
        self.stdout.write(self.style.SUCCESS("ledger OK: entries balance, trial balance zero, journal = schedule"))
