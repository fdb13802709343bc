"""Models of the risk-review stage: one `RiskReview` row per decision (approve or reject)."""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.translation import gettext_lazy as _

from applications.models import Loan
from loanops.money import money_field


class RiskReview(models.Model):
    """A risk manager's decision on a loan in `risk_review`. Append-only: written by underwriting.services."""

    class Outcome(models.TextChoices):
        APPROVE = "approve", _("通过")
        REJECT = "reject", _("拒绝")

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="risk_reviews", verbose_name=_("贷款"))
    outcome = models.CharField(_("审查结论"), max_length=8, choices=Outcome.choices)
    approved_amount = money_field(verbose_name=_("批准金额"), null=True, blank=True)
    reason_codes = models.JSONField(_("拒绝原因代码"), default=list, blank=True, encoder=DjangoJSONEncoder)
    note = models.TextField(_("审查意见"))
    score = models.IntegerField(_("评分"), null=True, blank=True)
    grade = models.CharField(_("风险等级"), max_length=1, blank=True)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("审查人")
    )
    created_at = models.DateTimeField(_("审查时间"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("风控审查记录")
        verbose_name_plural = _("风控审查记录")
        ordering = ["loan", "-created_at", "-id"]
        indexes = [models.Index(fields=["loan", "-id"], name="riskreview_loan_idx")]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(outcome="approve", approved_amount__gt=0)
                    | models.Q(outcome="reject", approved_amount__isnull=True)
                ),
                name="riskreview_amount_matches_outcome",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} {self.loan}"


from underwriting import industry_restrictions  # noqa: E402, F401  (industry restriction models)
from underwriting.assessment import *  # noqa: E402, F403  (risk assessment models; registered here)
from underwriting.pricing_models import LoanPrimeRate  # noqa: E402, F401  (registers the rate-cap models)
