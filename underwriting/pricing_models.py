"""Models of the legal rate cap: the dated one-year LPR table the managers keep under four eyes.

Imported at the end of `underwriting.models` so Django registers them. Written only by
`underwriting.services` (`lpr_propose`, `lpr_approve`, `lpr_reject`); read by `underwriting.rate_caps`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from loanops.money import rate_field


class LoanPrimeRate(models.Model):
    """One published one-year loan prime rate (一年期贷款市场报价利率, LPR).

    A manager proposes a row; a *different* manager approves it (four eyes). Only approved rows count
    for the rate cap. Rows seeded from the published history carry ``source`` and no proposer.
    """

    class Status(models.TextChoices):
        PROPOSED = "proposed", _("待复核")
        APPROVED = "approved", _("已生效")
        REJECTED = "rejected", _("已驳回")

    published_on = models.DateField(_("公布日期"))
    one_year_rate = rate_field(verbose_name=_("一年期LPR"))
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.PROPOSED)
    source = models.CharField(_("来源"), max_length=200, blank=True)
    note = models.TextField(_("说明"), blank=True)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("录入人"),
    )
    proposed_at = models.DateTimeField(_("录入时间"), auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("复核人"),
    )
    decided_at = models.DateTimeField(_("复核时间"), null=True, blank=True)
    decision_note = models.TextField(_("复核意见"), blank=True)

    class Meta:
        verbose_name = _("贷款市场报价利率")
        verbose_name_plural = _("贷款市场报价利率")
        ordering = ["-published_on", "-id"]
        permissions = [("approve_loanprimerate", "Can approve or reject a proposed LPR (four eyes)")]
        indexes = [models.Index(fields=["status", "-published_on"], name="lpr_status_published_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["published_on"],
                condition=models.Q(status="approved"),
                name="lpr_one_approved_per_date",
            ),
            models.UniqueConstraint(
                fields=["published_on"],
                condition=models.Q(status="proposed"),
                name="lpr_one_proposal_per_date",
            ),
            models.CheckConstraint(condition=models.Q(one_year_rate__gt=0, one_year_rate__lt=1), name="lpr_rate_range"),
            # four eyes, also in the database: the approver of a proposal is not its proposer
            models.CheckConstraint(
                condition=models.Q(proposed_by__isnull=True)
                | models.Q(decided_by__isnull=True)
                | ~models.Q(decided_by=models.F("proposed_by")),
                name="lpr_decider_not_proposer",
            ),
        ]

    def __str__(self) -> str:
        return f"LPR {self.published_on:%Y-%m-%d} {self.one_year_rate}"
