"""The demo seed (command 1) drives loans through the real services into every pre-COB stage, and is idempotent."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command

from applications.models import Loan
from compliance.audit import audit_verify_chain
from loanops import roles
from servicing.selectors import ledger_check

pytestmark = pytest.mark.django_db

EXPECTED_STATUSES = {
    "draft", "submitted", "supplement_required", "risk_review", "approved", "rejected", "offered",
    "contract_pending", "contract_signed", "disbursement_pending", "active", "settled", "archived", "withdrawn",
}  # fmt: skip


def test_seed_demo_covers_the_stages_and_is_idempotent() -> None:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert set(Loan.objects.values_list("status", flat=True)) == EXPECTED_STATUSES
    assert ledger_check() == []
    assert audit_verify_chain() == []
    count = Loan.objects.count()

    call_command("seed_demo", stdout=StringIO())
    assert Loan.objects.count() == count

    text = out.getvalue()
    for role in roles.STAFF_ROLES:
        user = get_user_model().objects.get(groups__name=role, username=role)
        assert f"loanops-{user.username}" in text
        assert authenticate(username=user.username, password=f"loanops-{user.username}") == user
    assert authenticate(phone="13800000001", password="loanops-customer") is not None
