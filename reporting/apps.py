from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_roles_after_migrate(sender: Any, **kwargs: Any) -> None:
    """Re-apply loanops.roles after every `migrate`, so a change to ROLE_PERMISSIONS needs no new data migration."""
    from loanops.roles import ensure_system_user, sync_roles

    sync_roles()
    ensure_system_user()


class ReportingConfig(AppConfig):
    name = "reporting"
    verbose_name = "报表"

    def ready(self) -> None:
        post_migrate.connect(_sync_roles_after_migrate, sender=self, dispatch_uid="loanops-sync-roles")
