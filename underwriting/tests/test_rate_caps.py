"""The legal rate cap per licence type and date, and the LPR table kept under four eyes."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.test import override_settings
from django.utils import timezone

from compliance.models import AuditEvent
from loanops.exceptions import DomainError, InputError, InvalidTransition
from underwriting.lpr_data import SEEDED_LPRS
from underwriting.models import LoanPrimeRate
from underwriting.rate_caps import lpr_in_force, rate_cap_for
from underwriting.services import lpr_approve, lpr_propose, lpr_reject
from underwriting.tests.helpers import make_user

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def manager2(db: None) -> Any:
    return make_user("manager2", "manager")


# --- seeded history -------------------------------------------------------------------------------


def test_the_published_lprs_are_seeded_as_approved() -> None:
    approved = dict(LoanPrimeRate.objects.filter(status="approved").values_list("published_on", "one_year_rate"))
    assert approved == {day: rate for day, rate in SEEDED_LPRS}
    assert approved[date(2019, 8, 20)] == D("0.0425")
    assert approved[date(2024, 10, 21)] == D("0.0310")
    assert approved[date(2025, 5, 20)] == D("0.0300")


# --- private lending: 4 × the LPR published BEFORE the contract date ---------------------------------


@pytest.mark.parametrize(
    ("on", "lpr", "published_on", "cap"),
    [
        # an LPR published on the contract date is not "before" it: the previous one applies that day
        (date(2024, 10, 21), "0.033500", date(2024, 7, 22), "0.134000"),
        (date(2024, 10, 22), "0.031000", date(2024, 10, 21), "0.124000"),
        (date(2025, 5, 20), "0.031000", date(2024, 10, 21), "0.124000"),
        (date(2025, 5, 21), "0.030000", date(2025, 5, 20), "0.120000"),
        # the rule's first day: the LPR of 2020-04-20 (unchanged until 2021-12) × 4
        (date(2020, 8, 20), "0.038500", date(2020, 4, 20), "0.154000"),
        (date(2022, 8, 22), "0.037000", date(2022, 1, 20), "0.148000"),
    ],
)
def test_private_lending_cap_is_four_times_the_lpr_published_before_the_date(
    on: date, lpr: str, published_on: date, cap: str
) -> None:
    result = rate_cap_for(on=on, licence="private_lending")
    assert (result.cap, result.lpr, result.lpr_published_on) == (D(cap), D(lpr), published_on)
    assert f"{published_on:%Y-%m-%d}" in result.basis and "× 4" in result.basis


def test_private_lending_before_the_lpr_rule_is_the_former_24_percent_line() -> None:
    result = rate_cap_for(on=date(2020, 8, 19), licence="private_lending")
    assert (result.cap, result.lpr) == (D("0.24"), None)


def test_default_licence_is_private_lending() -> None:
    result = rate_cap_for(on=date(2025, 6, 1))
    assert (result.licence_type, result.cap) == ("private_lending", D("0.120000"))


def test_no_lpr_before_the_date_refuses() -> None:
    LoanPrimeRate.objects.all().delete()
    with pytest.raises(DomainError) as exc_info:
        rate_cap_for(on=date(2025, 6, 1), licence="private_lending")
    assert exc_info.value.code == "lpr_missing"


@pytest.mark.parametrize("status", ["proposed", "rejected"])
def test_only_approved_lprs_count(status: str, manager: Any) -> None:
    LoanPrimeRate.objects.create(
        published_on=date(2025, 6, 20), one_year_rate=D("0.0200"), status=status, proposed_by=manager
    )
    assert rate_cap_for(on=date(2025, 7, 1), licence="private_lending").lpr == D("0.030000")


# --- licensed lenders: the regulator's fixed cap, no LPR ---------------------------------------------


@pytest.mark.parametrize("licence", ["microcredit", "consumer_finance"])
@pytest.mark.parametrize("on", [date(2019, 1, 1), date(2024, 10, 21), date(2030, 1, 1)])
def test_licensed_lender_cap_is_fixed(licence: str, on: date) -> None:
    result = rate_cap_for(on=on, licence=licence)
    assert (result.cap, result.lpr, result.lpr_published_on) == (D("0.240000"), None, None)


@override_settings(LOANOPS_LICENCE_TYPE="microcredit", LOANOPS_LICENSED_RATE_CAPS={"microcredit": "0.18"})
def test_licence_and_its_cap_come_from_settings() -> None:
    result = rate_cap_for(on=date(2025, 6, 1))
    assert (result.licence_type, result.cap) == ("microcredit", D("0.180000"))


def test_unknown_licence_type_refuses() -> None:
    with pytest.raises(DomainError) as exc_info:
        rate_cap_for(on=date(2025, 6, 1), licence="pawnshop")
    assert exc_info.value.code == "licence_unknown"


# --- four eyes on the LPR table ---------------------------------------------------------------------


def test_a_proposal_counts_only_once_another_manager_approves_it(manager: Any, manager2: Any) -> None:
    day = timezone.localdate() - timedelta(days=1)
    row = lpr_propose(actor=manager, published_on=day.isoformat(), one_year_rate="0.0290", note="本月公布")
    assert row.status == "proposed"
    assert lpr_in_force(day + timedelta(days=1)).published_on != day  # type: ignore[union-attr]
    lpr_approve(actor=manager2, lpr_id=row.pk, note="已核对官网")
    row.refresh_from_db()
    assert (row.status, row.decided_by_id, row.decision_note) == ("approved", manager2.pk, "已核对官网")
    assert rate_cap_for(on=day + timedelta(days=1), licence="private_lending").cap == D("0.116000")
    assert rate_cap_for(on=day, licence="private_lending").lpr != D("0.029000")  # not before its own day
    actions = list(AuditEvent.objects.filter(subject_id=str(row.pk)).values_list("action", flat=True))
    assert actions == ["lpr.propose", "lpr.approve"]


def test_the_proposer_cannot_approve_or_reject_their_own_proposal(manager: Any) -> None:
    row = lpr_propose(actor=manager, published_on=timezone.localdate(), one_year_rate="0.0290")
    audit_before = AuditEvent.objects.count()
    for service, kwargs in ((lpr_approve, {}), (lpr_reject, {"note": "录错了"})):
        with pytest.raises(DomainError) as exc_info:
            service(actor=manager, lpr_id=row.pk, **kwargs)
        assert (exc_info.value.code, exc_info.value.http_status) == ("four_eyes", 422)
    row.refresh_from_db()
    assert (row.status, row.decided_by_id) == ("proposed", None)
    assert AuditEvent.objects.count() == audit_before


def test_the_database_refuses_a_self_approval_too(manager: Any) -> None:
    row = lpr_propose(actor=manager, published_on=timezone.localdate(), one_year_rate="0.0290")
    with pytest.raises(IntegrityError), transaction.atomic():
        LoanPrimeRate.objects.filter(pk=row.pk).update(status="approved", decided_by=manager)


def test_reject_needs_a_reason_and_frees_the_date(manager: Any, manager2: Any) -> None:
    day = timezone.localdate()
    row = lpr_propose(actor=manager, published_on=day, one_year_rate="0.0920")
    with pytest.raises(InputError) as exc_info:
        lpr_reject(actor=manager2, lpr_id=row.pk, note=" ")
    assert "note" in exc_info.value.fields
    lpr_reject(actor=manager2, lpr_id=row.pk, note="应为 2.90%")
    row.refresh_from_db()
    assert row.status == "rejected"
    with pytest.raises(InvalidTransition):
        lpr_approve(actor=manager2, lpr_id=row.pk)
    again = lpr_propose(actor=manager, published_on=day, one_year_rate="0.0290")
    assert again.status == "proposed"


@pytest.mark.parametrize(
    ("published_on", "rate", "field"),
    [
        ("2025-05-20", "0.0300", "published_on"),  # already approved that day
        (lambda: (timezone.localdate() + timedelta(days=1)).isoformat(), "0.0300", "published_on"),
        ("not-a-date", "0.0300", "published_on"),
        ("2025-06-20", "0", "one_year_rate"),
        ("2025-06-20", "0.25", "one_year_rate"),
        ("2025-06-20", "3.0", "one_year_rate"),  # a percentage typed as a fraction
        ("2025-06-20", "", "one_year_rate"),
    ],
)
def test_bad_proposals_write_nothing(manager: Any, published_on: Any, rate: str, field: str) -> None:
    before = (LoanPrimeRate.objects.count(), AuditEvent.objects.count())
    day = published_on() if callable(published_on) else published_on
    with pytest.raises(InputError) as exc_info:
        lpr_propose(actor=manager, published_on=day, one_year_rate=rate)
    assert field in exc_info.value.fields
    assert (LoanPrimeRate.objects.count(), AuditEvent.objects.count()) == before


def test_a_second_proposal_for_a_pending_date_is_refused(manager: Any, manager2: Any) -> None:
    lpr_propose(actor=manager, published_on="2025-06-20", one_year_rate="0.0300")
    with pytest.raises(InputError) as exc_info:
        lpr_propose(actor=manager2, published_on="2025-06-20", one_year_rate="0.0300")
    assert "待复核" in exc_info.value.fields["published_on"][0]


@pytest.mark.parametrize("role", ["risk", "ops", "product_manager", "service_user"])
def test_only_managers_keep_the_lpr_table(role: str, manager: Any, request: pytest.FixtureRequest) -> None:
    user = request.getfixturevalue(role)
    with pytest.raises(PermissionDenied):
        lpr_propose(actor=user, published_on="2025-06-20", one_year_rate="0.0300")
    row = lpr_propose(actor=manager, published_on="2025-06-20", one_year_rate="0.0300")
    with pytest.raises(PermissionDenied):
        lpr_approve(actor=user, lpr_id=row.pk)
    assert LoanPrimeRate.objects.get(pk=row.pk).status == "proposed"
