"""What the close of business recorded: one ``CobRun`` per business date, one ``CobStepRun`` per step and chunk.

A chunk's ``CobStepRun`` is written in the same transaction as the step's work for that chunk, so a
chunk is either done and recorded or not done at all: a COB killed half-way resumes at the first chunk
without a ``completed_at``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class CobRunStatus(models.TextChoices):
    RUNNING = "running", _("运行中")
    COMPLETED = "completed", _("已完成")
    FAILED = "failed", _("失败")


class CobRun(models.Model):
    """The close of business of one business date."""

    business_date = models.DateField(_("营业日"), unique=True)
    status = models.CharField(_("状态"), max_length=12, choices=CobRunStatus.choices, default=CobRunStatus.RUNNING)
    started_at = models.DateTimeField(_("开始时间"), default=timezone.now)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Steps × chunks planned when the date started (the progress bar's denominator).
    chunks_planned = models.PositiveIntegerField(default=0)
    # Distributed mode: the step whose chunks were handed to the workers, and the last date to catch up to.
    current_step = models.CharField(max_length=40, blank=True)
    target_date = models.DateField(null=True, blank=True)
    error = models.TextField(_("错误"), blank=True)

    class Meta:
        verbose_name = _("日终批处理")
        verbose_name_plural = _("日终批处理")
        ordering = ["-business_date"]

    def __str__(self) -> str:
        return f"COB {self.business_date.isoformat()} {self.status}"


class CobStepRun(models.Model):
    """One step of one date over one chunk of loan ids ``[chunk_lo, chunk_hi)`` (0, 0 = the whole book)."""

    run = models.ForeignKey(CobRun, on_delete=models.CASCADE, related_name="step_runs")
    business_date = models.DateField(_("营业日"))
    step = models.CharField(_("步骤"), max_length=40)
    position = models.PositiveSmallIntegerField(default=0)
    chunk_lo = models.BigIntegerField(default=0)
    chunk_hi = models.BigIntegerField(default=0)
    rows = models.PositiveBigIntegerField(_("处理行数"), default=0)
    duration_s = models.FloatField(_("耗时(秒)"), default=0)  # a duration, not money
    attempts = models.PositiveSmallIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(_("错误"), blank=True)

    class Meta:
        ordering = ["business_date", "position", "chunk_lo"]
        constraints = [
            models.UniqueConstraint(
                fields=["business_date", "step", "chunk_lo", "chunk_hi"], name="cob_step_run_chunk_unique"
            )
        ]
        indexes = [models.Index(fields=["run", "position"], name="cob_step_run_run_idx")]

    def __str__(self) -> str:
        return f"{self.business_date.isoformat()} {self.step} [{self.chunk_lo}, {self.chunk_hi})"
