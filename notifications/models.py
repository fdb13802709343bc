"""The transactional outbox (发件箱): every customer or staff notification is a row written in the same
transaction as the business change that caused it, and delivered after the commit by a Celery relay
(`notifications.services.outbox_relay`). A broker that is down delays delivery; the row waits, pending.

This app sits directly above `compliance` in the import layers, so every stage may write to it; it knows
no loan model, only the loan id (for the per-loan log on the back-office loan page).
"""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    EMAIL = "email", _("电子邮件")
    SMS = "sms", _("短信")
    IN_APP = "in_app", _("站内消息")


class OutboxStatus(models.TextChoices):
    PENDING = "pending", _("待发送")
    SENT = "sent", _("已发送")
    FAILED = "failed", _("发送失败")


class OutboxMessage(models.Model):
    """One message to one recipient on one channel. `dedupe_key` (unique) makes every writer idempotent."""

    channel = models.CharField(_("渠道"), max_length=8, choices=Channel.choices)
    kind = models.CharField(_("类型"), max_length=40)  # not indexed: no page or worker selects by kind
    recipient = models.CharField(_("收件人"), max_length=254, blank=True)  # e-mail address or phone number
    recipient_user = models.ForeignKey(  # indexed by outbox_inbox_idx (recipient_user, channel, id)
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    subject = models.CharField(_("标题"), max_length=200, blank=True)
    body = models.TextField(_("内容"))
    template = models.CharField(_("模板"), max_length=80, blank=True)
    context = models.JSONField(_("模板参数"), default=dict, blank=True, encoder=DjangoJSONEncoder)
    dedupe_key = models.CharField(_("去重键"), max_length=200)  # unique by outbox_dedupe_key_unique
    status = models.CharField(_("状态"), max_length=8, choices=OutboxStatus.choices, default=OutboxStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    last_error = models.TextField(_("最近错误"), blank=True)
    loan_id = models.BigIntegerField(_("贷款"), null=True, blank=True)
    # A borrower's message may leave `recipient` blank: the relay reads the address from the borrower's
    # record when it delivers (`settings.LOANOPS_OUTBOX_CONTACT_RESOLVER`), so the outbox keeps no copy of
    # the phone number that is encrypted at rest on the customer, and set-based writers need not decrypt it.
    customer_id = models.BigIntegerField(_("借款人"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), db_default=Now())
    next_attempt_at = models.DateTimeField(_("下次尝试时间"), db_default=Now())
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)
    read_at = models.DateTimeField(_("阅读时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("通知发件箱")
        verbose_name_plural = _("通知发件箱")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at", "id"], name="outbox_pending_idx"),
            models.Index(fields=["loan_id", "id"], name="outbox_loan_idx"),
            # partial: only in-app messages have a user; the batch's reminders add no entry
            models.Index(
                fields=["recipient_user", "channel", "id"],
                condition=models.Q(recipient_user__isnull=False),
                name="outbox_inbox_idx",
            ),
        ]
        constraints = [
            # a constraint, not unique=True: ON CONFLICT (dedupe_key) works the same, with no LIKE-pattern index
            models.UniqueConstraint(fields=["dedupe_key"], name="outbox_dedupe_key_unique"),
            models.CheckConstraint(
                condition=~models.Q(channel="in_app") | models.Q(recipient_user__isnull=False),
                name="outbox_in_app_has_user",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.kind} → {self.recipient or self.recipient_user_id}"
