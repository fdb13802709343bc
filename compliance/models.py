"""Append-only, hash-chained audit trail (DESIGN.md §5). Imports no other LoanOps app."""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

from compliance.fields import EncryptedTextField, PiiHashField, PiiHashSyncMixin


class AuditEvent(models.Model):
    """One row per audited action. Never updated or deleted: `hash` chains each row to the previous one."""

    occurred_at = models.DateTimeField(db_default=Now(), db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=80, db_index=True)
    subject_type = models.CharField(max_length=80)
    subject_id = models.CharField(max_length=64)
    before = models.JSONField(default=dict, encoder=DjangoJSONEncoder, blank=True)
    after = models.JSONField(default=dict, encoder=DjangoJSONEncoder, blank=True)
    reason = models.TextField(blank=True)
    data = models.JSONField(default=dict, encoder=DjangoJSONEncoder, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["subject_type", "subject_id", "id"], name="audit_subject_idx")]
        permissions = [("view_pii", "Can see personal data unmasked (audited)")]

    def __str__(self) -> str:
        return f"{self.action} {self.subject_type}#{self.subject_id}"


class BlacklistSource(models.TextChoices):
    INTERNAL = "internal", _("内部记录（欺诈/恶意逾期）")
    COURT = "court", _("法院失信被执行人")
    REGULATOR = "regulator", _("监管通报")
    PARTNER = "partner", _("合作机构共享")
    OTHER = "other", _("其他")


class BlacklistEntry(PiiHashSyncMixin, models.Model):
    """One person or enterprise that may not apply. Kept by risk and the department manager.

    Matched by ID number, USCC or phone (`compliance.blacklist.blacklist_match`). The ID number and phone are
    encrypted like every other personal datum and found through their keyed hash; the USCC is a public
    business identifier (printed on the business licence, searchable in the national enterprise credit
    register), so it is stored as is. Entries are never deleted: deactivating keeps the history.
    """

    name = models.CharField(_("姓名/企业名称"), max_length=120, blank=True)
    id_number = EncryptedTextField(_("身份证号"), blank=True, default="")
    id_number_hash = PiiHashField(source="id_number", db_index=True)
    uscc = models.CharField(_("统一社会信用代码"), max_length=18, blank=True, default="", db_index=True)
    phone = EncryptedTextField(_("手机号"), blank=True, default="")
    phone_hash = PiiHashField(source="phone", db_index=True)
    reason = models.TextField(_("列入原因"))
    source = models.CharField(_("来源"), max_length=16, choices=BlacklistSource.choices)
    active = models.BooleanField(_("有效"), default=True, db_index=True)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    added_at = models.DateTimeField(_("列入时间"), auto_now_add=True)
    deactivated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    deactivated_at = models.DateTimeField(_("解除时间"), null=True, blank=True)
    deactivation_reason = models.TextField(_("解除原因"), blank=True)

    class Meta:
        verbose_name = _("黑名单")
        verbose_name_plural = _("黑名单")
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(id_number_hash="") | ~models.Q(uscc="") | ~models.Q(phone_hash=""),
                name="blacklist_has_identifier",
            )
        ]

    def __str__(self) -> str:
        return self.name or f"Blacklist #{self.pk}"
