from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction

from compliance.audit import audit_record, audit_verify_chain
from compliance.models import AuditEvent

pytestmark = pytest.mark.django_db


def _write(n: int) -> list[AuditEvent]:
    actor = get_user_model().objects.get(username="system")
    with transaction.atomic():
        return [
            audit_record(
                actor=actor,
                action="test.event",
                subject_type="t",
                subject_id=str(i),
                data={"i": i, "金额": "1.00"},
            )
            for i in range(n)
        ]


def test_chain_verifies_when_untouched() -> None:
    _write(5)
    assert audit_verify_chain() == []


def test_changed_row_is_detected() -> None:
    events = _write(5)
    AuditEvent.objects.filter(pk=events[2].pk).update(reason="tampered")
    assert audit_verify_chain() == [events[2].pk]


def test_deleted_row_is_detected() -> None:
    events = _write(5)
    AuditEvent.objects.filter(pk=events[1].pk).delete()
    assert audit_verify_chain() == [events[2].pk]
