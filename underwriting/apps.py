from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _seed_risk_defaults(sender: Any, **kwargs: Any) -> None:
    """After every `migrate` (and test flush): the default scorecard and authority matrix, if none exist."""
    from underwriting.risk_services import ensure_risk_defaults

    ensure_risk_defaults()


class UnderwritingConfig(AppConfig):
    name = "underwriting"
    verbose_name = "风控审查与产品匹配"

    def ready(self) -> None:
        post_migrate.connect(_seed_risk_defaults, sender=self, dispatch_uid="loanops-risk-defaults")
