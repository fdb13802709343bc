"""Models of the industry restriction (行业限制) set by the COB's early-warning step.

While an industry's restriction is active, new offers to borrowers in it get at most the product's
maximum amount × `factor` and need a manager's approval (`RestrictedOfferApproval`) — enforced by
`underwriting.services.loan_make_offer`. Kept in its own module (imported at the end of
`underwriting/models.py`) so product matching can read it without touching the rest of the stage.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

from applications.models import Industry, Loan
from loanops.money import rate_field, to_money


class IndustryRestriction(models.Model):
    """Imposed automatically when an industry's overdue rate reaches the restriction threshold; lifted by a
    manager. At most one active (not lifted) restriction per industry."""

    industry = models.CharField(_("行业"), max_length=1, choices=Industry.choices)
    factor = models.DecimalField(_("最高金额系数"), max_digits=5, decimal_places=4)
    overdue_rate = rate_field(verbose_name=_("触发时逾期率"))
    threshold = rate_field(verbose_name=_("限制阈值"))
    imposed_on = models.DateField(_("生效营业日"))
    imposed_at = models.DateTimeField(db_default=Now())
    lifted_on = models.DateField(_("解除营业日"), null=True, blank=True)
    lifted_at = models.DateTimeField(_("解除时间"), null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    lift_reason = models.TextField(_("解除原因"), blank=True)

    class Meta:
        verbose_name = _("行业限制")
        verbose_name_plural = _("行业限制")
        ordering = ["-imposed_on", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["industry"], condition=Q(lifted_at__isnull=True), name="one_active_restriction_per_industry"
            ),
            models.CheckConstraint(condition=Q(factor__gt=0) & Q(factor__lte=1), name="restriction_factor_range"),
        ]
        permissions = [
            ("lift_industryrestriction", "Can lift an industry restriction"),
            ("approve_restricted_offer", "Can approve an offer in a restricted industry"),
        ]

    def __str__(self) -> str:
        return f"{self.get_industry_display()} ×{self.factor}"

    @property
    def is_active(self) -> bool:
        return self.lifted_at is None


class RestrictedOfferApproval(models.Model):
    """A manager's approval that an offer may be made to a loan in a restricted industry (four eyes)."""

    loan = models.OneToOneField(Loan, on_delete=models.PROTECT, related_name="restricted_offer_approval")
    restriction = models.ForeignKey(IndustryRestriction, on_delete=models.PROTECT, related_name="approvals")
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    note = models.TextField(_("审批意见"))
    approved_at = models.DateTimeField(db_default=Now())

    class Meta:
        verbose_name = _("受限行业要约审批")
        verbose_name_plural = _("受限行业要约审批")


# --- reads used by product matching and the offer (no writes here) ---------------------------------


def industry_restriction_active(industry: str) -> IndustryRestriction | None:
    """The active restriction of an industry, if any (one query)."""
    return IndustryRestriction.objects.filter(industry=industry, lifted_at__isnull=True).first()


def restricted_max_amount(max_amount: Decimal, restriction: IndustryRestriction | None) -> Decimal:
    """A product's maximum amount under a restriction: max × factor (rounded to cents), else unchanged."""
    if restriction is None:
        return max_amount
    return to_money(max_amount * restriction.factor)


def restricted_offer_approved(loan: Loan) -> bool:
    return RestrictedOfferApproval.objects.filter(loan=loan).exists()
