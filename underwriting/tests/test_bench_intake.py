"""`python manage.py bench intake`: runs real assessments and leaves the database as it found it."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command

from applications.models import Customer, Loan
from compliance.models import AuditEvent
from underwriting.models import CreditReportSummary, RiskAssessment

pytestmark = pytest.mark.django_db


def test_bench_intake_prints_the_figure_and_rolls_back() -> None:
    before = (
        Loan.objects.count(),
        Customer.objects.count(),
        RiskAssessment.objects.count(),
        AuditEvent.objects.count(),
    )
    out = io.StringIO()
    call_command("bench", "intake", "--seconds", "0", stdout=out)
    lines = out.getvalue().strip().splitlines()
    assert re.fullmatch(r"bench intake assessments_per_s=\d+", lines[-1])
    first = dict(part.split("=", 1) for part in lines[0].split()[2:])
    assert first["applications"] == "300" and int(first["queries_per_assessment"]) <= 12
    second = dict(part.split("=", 1) for part in lines[1].split()[2:] if "=" in part)
    assert int(second["assessments"]) >= 1
    after = (Loan.objects.count(), Customer.objects.count(), RiskAssessment.objects.count(), AuditEvent.objects.count())
    assert after == before and not CreditReportSummary.objects.exists()
