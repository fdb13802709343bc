from typing import Any

from django.core.management.base import BaseCommand, CommandError

from compliance.audit import audit_verify_chain


class Command(BaseCommand):
    help = "Verify the hash chain of the audit trail; exits non-zero if any row was changed or deleted."

    def handle(self, *args: Any, **options: Any) -> None:
        broken = audit_verify_chain()
        if broken:
            raise CommandError(f"audit chain broken at rows: {broken[:50]}")
        self.stdout.write(self.style.SUCCESS("audit chain intact"))
