from __future__ import annotations

import pytest

from compliance.audit import audit_record


def test_audit_must_run_in_a_transaction() -> None:
    """No database marker: outside any atomic block the writer refuses before touching the table."""
    with pytest.raises(RuntimeError):
        audit_record(actor=None, action="x", subject_type="t", subject_id="1")
