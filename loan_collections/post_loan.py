"""Models of the post-loan COB steps 6–8 (reminders, industry early warning, staff tasks).

Kept out of `models.py` (other work touches that file); `models.py` imports this module at its end so
Django registers the models under the `collections` app label.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

from applications.models import Industry, Loan
from loanops.money import money_field, rate_field
from servicing.models import Installment


class ReminderKind(models.TextChoices):
    DUE_SOON = "due_soon", _("还款提醒")
    DUE_TODAY = "due_today", _("还款日提醒")
    OVERDUE = "overdue", _("逾期通知")


class Reminder(models.Model):
    """One reminder or overdue notice, sent at most once per (installment, date, channel).

    The unique constraint is what makes the step exactly-once; the message itself is in the outbox
    (`dedupe_key = reminder:<installment>:<date>:<channel>`), written in the same transaction.
    """

    # indexed by the unique (installment, date, channel) and by reminder_loan_idx (loan, -date)
    installment = models.ForeignKey(Installment, on_delete=models.PROTECT, related_name="reminders", db_index=False)
    # The installment's loan, copied for the per-loan log (reminder_loan_idx). No database constraint of its
    # own: the installment FK already proves the loan exists, and the reminders step copies the loan from the
    # installment in the same INSERT … SELECT; a second FK would cost one referential check per reminder
    # (tens of thousands a day at a million loans).
    loan = models.ForeignKey(
        Loan, on_delete=models.PROTECT, related_name="reminders", db_index=False, db_constraint=False
    )
    reminder_date = models.DateField(_("提醒日期"))
    channel = models.CharField(_("渠道"), max_length=8)
    kind = models.CharField(_("类型"), max_length=12, choices=ReminderKind.choices)
    offset_days = models.SmallIntegerField(_("相对还款日天数"))  # −3, −1, 0 before; 1, 3, 7 after
    due_date = models.DateField(_("还款日"))
    amount = money_field(verbose_name=_("提醒金额"))
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        verbose_name = _("还款提醒")
        verbose_name_plural = _("还款提醒")
        ordering = ["-reminder_date", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["installment", "reminder_date", "channel"], name="reminder_once_per_installment_date"
            )
        ]
        indexes = [models.Index(fields=["loan", "-reminder_date"], name="reminder_loan_idx")]


class WarningLevel(models.TextChoices):
    NORMAL = "normal", _("正常")
    WARNING = "warning", _("预警")
    RESTRICTION = "restriction", _("限制")


class IndustryRiskSnapshot(models.Model):
    """The overdue rate of one industry on one business date (行业预警), recomputed by the COB."""

    business_date = models.DateField(_("营业日"))
    industry = models.CharField(_("行业"), max_length=1, choices=Industry.choices)
    outstanding_principal = money_field(verbose_name=_("在贷余额（本金）"))
    overdue_principal = money_field(verbose_name=_("M1+ 余额（本金）"))
    loan_count = models.PositiveIntegerField(_("在贷笔数"))
    overdue_rate = rate_field(verbose_name=_("逾期率"))
    level = models.CharField(_("预警级别"), max_length=12, choices=WarningLevel.choices)
    warning_threshold = rate_field(verbose_name=_("预警阈值"))
    restriction_threshold = rate_field(verbose_name=_("限制阈值"))
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        verbose_name = _("行业预警")
        verbose_name_plural = _("行业预警")
        ordering = ["-business_date", "industry"]
        constraints = [
            models.UniqueConstraint(fields=["business_date", "industry"], name="industry_snapshot_once_per_date")
        ]


class StaffTaskKind(models.TextChoices):
    RETURN_VISIT = "return_visit", _("放款回访")
    POST_LOAN_REVIEW = "post_loan_review", _("贷后检查")


class StaffTaskStatus(models.TextChoices):
    OPEN = "open", _("待处理")
    DONE = "done", _("已完成")


class StaffTask(models.Model):
    """A task in a staff queue (我的任务): return visits for service staff, post-loan reviews for risk staff."""

    kind = models.CharField(_("任务类型"), max_length=20, choices=StaffTaskKind.choices)
    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="staff_tasks", verbose_name=_("贷款"))
    due_date = models.DateField(_("应处理日期"))
    status = models.CharField(_("状态"), max_length=8, choices=StaffTaskStatus.choices, default=StaffTaskStatus.OPEN)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(db_default=Now())
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(_("处理记录"), blank=True)

    class Meta:
        verbose_name = _("员工任务")
        verbose_name_plural = _("员工任务")
        ordering = ["due_date", "id"]
        constraints = [
            models.UniqueConstraint(fields=["loan", "kind", "due_date"], name="staff_task_once"),
            models.CheckConstraint(
                condition=Q(status="open", completed_at__isnull=True) | Q(status="done", completed_at__isnull=False),
                name="staff_task_done_has_time",
            ),
        ]
        indexes = [models.Index(fields=["kind", "status", "due_date"], name="staff_task_queue_idx")]
        permissions = [
            ("complete_return_visit", "Can complete post-disbursement return visits"),
            ("complete_post_loan_review", "Can complete post-loan reviews"),
        ]
