"""Append-only, hash-chained audit trail (DESIGN.md §5). Imports no other LoanOps app."""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.functions import Now


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
