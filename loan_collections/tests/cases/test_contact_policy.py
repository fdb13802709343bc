"""The contact policy, enforced in Asia/Shanghai time whatever the server's zone; every attempt is recorded."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied
from django.test import override_settings

from compliance.models import AuditEvent
from loan_collections.case_models import CollectionCase, ContactAttempt, NamedContact
from loan_collections.services import (
    ContactRefused,
    contact_attempt_log,
    contact_consent_grant,
    contact_consent_revoke,
    named_contact_add,
)
from loan_collections.tests.cases.conftest import new_debtor
from loanops.exceptions import DomainError, InputError

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")


def sh(day: int, hour: int, minute: int = 0) -> datetime:
    """A Shanghai wall-clock time in March 2026, handed to the service as a UTC instant."""
    return datetime(2026, 3, day, hour, minute, tzinfo=SH).astimezone(UTC)


@pytest.fixture(params=["UTC", "America/Los_Angeles", "Asia/Shanghai"])
def server_zone(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run with Django's TIME_ZONE and the process zone (TZ) set to another zone than Shanghai."""
    zone = request.param
    previous = os.environ.get("TZ")
    os.environ["TZ"] = zone
    time.tzset()
    try:
        with override_settings(TIME_ZONE=zone):
            yield zone
    finally:
        if previous is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = previous
        time.tzset()


@pytest.fixture
def case(make_case: Callable[..., Any], collector: Any) -> CollectionCase:
    return make_case(assigned_to=collector)


def log(case: CollectionCase, by: Any, at: datetime, **kwargs: Any) -> ContactAttempt:
    kwargs.setdefault("channel", "phone")
    kwargs.setdefault("party", "debtor")
    kwargs.setdefault("outcome", "no_answer")
    return contact_attempt_log(actor=by, case_id=case.pk, at=at, **kwargs)


def refused_rule(case: CollectionCase, by: Any, at: datetime, **kwargs: Any) -> str:
    before = ContactAttempt.objects.count()
    with pytest.raises(ContactRefused) as info:
        log(case, by, at, **kwargs)
    assert ContactAttempt.objects.count() == before + 1  # the refused attempt is recorded
    attempt = ContactAttempt.objects.get(pk=info.value.attempt_id)
    assert attempt.refused and attempt.refusal_rule == info.value.rule and attempt.outcome == ""
    assert attempt.refusal_message == info.value.message and not attempt.effective
    assert info.value.http_status == 422 and info.value.code == "contact_policy"
    return info.value.rule


# --- quiet hours ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hour", "minute", "allowed"),
    [(21, 59, True), (22, 0, False), (7, 59, False), (8, 0, True), (3, 0, False), (12, 0, True)],
)
def test_quiet_hours_boundaries_in_shanghai_time(
    server_zone: str, case: CollectionCase, collector: Any, hour: int, minute: int, allowed: bool
) -> None:
    at = sh(10, hour, minute)
    if allowed:
        attempt = log(case, collector, at)
        assert not attempt.refused and attempt.local_date.isoformat() == "2026-03-10"
    else:
        assert refused_rule(case, collector, at) == "quiet_hours"
        message = ContactAttempt.objects.get(case=case).refusal_message
        assert "22:00–08:00" in message and f"{hour:02d}:{minute:02d}" in message


@pytest.mark.parametrize("channel", ["sms", "wechat", "visit"])
def test_quiet_hours_apply_to_every_live_channel(
    server_zone: str, case: CollectionCase, collector: Any, channel: str
) -> None:
    assert refused_rule(case, collector, sh(10, 22, 30), channel=channel, outcome="delivered") == "quiet_hours"


def test_a_letter_is_not_a_quiet_hours_contact(case: CollectionCase, collector: Any) -> None:
    assert not log(case, collector, sh(10, 23), channel="letter", outcome="delivered").refused


def test_consent_allows_the_debtor_at_night_not_third_parties(
    server_zone: str, case: CollectionCase, collector: Any
) -> None:
    contact = named_contact_add(
        actor=collector, customer_id=case.customer_id, name="王五", relation="spouse", phone="13912345678"
    )
    assert refused_rule(case, collector, sh(10, 23)) == "quiet_hours"
    contact_consent_grant(actor=collector, customer_id=case.customer_id, note="2026-03-09 通话录音 R-88 中本人同意")
    assert not log(case, collector, sh(10, 23)).refused
    assert not log(case, collector, sh(11, 7, 59)).refused
    assert (
        refused_rule(case, collector, sh(10, 23, 30), party="named_contact", named_contact_id=contact.pk)
        == "quiet_hours"
    )
    contact_consent_revoke(actor=collector, customer_id=case.customer_id, note="借款人撤回")
    assert refused_rule(case, collector, sh(11, 23)) == "quiet_hours"


def test_policy_times_are_settings(case: CollectionCase, collector: Any) -> None:
    policy = {"quiet_start": "21:00", "quiet_end": "09:00"}
    with override_settings(LOANOPS_COLLECTION_POLICY=policy):
        assert refused_rule(case, collector, sh(10, 21, 0)) == "quiet_hours"
        assert refused_rule(case, collector, sh(10, 8, 30)) == "quiet_hours"
        assert not log(case, collector, sh(10, 9, 0)).refused


# --- daily limits -----------------------------------------------------------------------------


def test_third_effective_call_allowed_fourth_refused(server_zone: str, case: CollectionCase, collector: Any) -> None:
    log(case, collector, sh(10, 9), outcome="no_answer")  # not effective: does not count
    for hour in (10, 11, 12):
        assert log(case, collector, sh(10, hour), outcome="connected").effective
    assert refused_rule(case, collector, sh(10, 15), outcome="no_answer") == "daily_effective_calls"
    message = ContactAttempt.objects.filter(refused=True).get().refusal_message
    assert "3 次有效通话" in message
    # an SMS is not a call
    assert not log(case, collector, sh(10, 16), channel="sms", outcome="delivered").refused
    # the next Shanghai day starts afresh
    assert log(case, collector, sh(11, 8), outcome="connected").effective


def test_effective_calls_count_per_debtor_across_cases(
    make_case: Callable[..., Any], collector: Any, case: CollectionCase
) -> None:
    second = make_case(assigned_to=collector, customer=case.customer)  # another loan of the same debtor
    log(case, collector, sh(10, 9), outcome="connected")
    log(second, collector, sh(10, 10), outcome="promised")
    log(case, collector, sh(10, 11), outcome="refused_to_pay")
    assert refused_rule(second, collector, sh(10, 12)) == "daily_effective_calls"


def test_the_day_is_the_shanghai_date_not_the_servers(server_zone: str, case: CollectionCase, collector: Any) -> None:
    """With consent, 3 calls at 07:00 Shanghai (23:00 UTC the day before) use up the Shanghai day of the 11th."""
    contact_consent_grant(actor=collector, customer_id=case.customer_id, note="书面同意书 2026-03-01")
    for minute in (0, 10, 20):
        attempt = log(case, collector, sh(11, 7, minute), outcome="connected")
        assert attempt.local_date.isoformat() == "2026-03-11"
    assert refused_rule(case, collector, sh(11, 9)) == "daily_effective_calls"
    assert log(case, collector, sh(10, 21), outcome="connected").effective  # the 10th is another day


def test_sixth_dial_to_a_number_allowed_seventh_refused(server_zone: str, case: CollectionCase, collector: Any) -> None:
    for hour in range(9, 15):  # six dials, nobody answers
        assert not log(case, collector, sh(10, hour), outcome="no_answer").refused
    assert refused_rule(case, collector, sh(10, 16)) == "daily_dials_per_number"
    assert "已拨打 6 次" in ContactAttempt.objects.get(refused=True).refusal_message
    # another number of the debtor may still be dialled
    assert not log(case, collector, sh(10, 17), number="010-6512 3456").refused
    assert set(ContactAttempt.objects.values_list("number", flat=True)) == {case.customer.phone, "01065123456"}


def test_dial_limit_counts_the_number_across_debtors(
    make_case: Callable[..., Any], collector: Any, case: CollectionCase
) -> None:
    """Two debtors named the same person: six dials to that number in all."""
    other = make_case(assigned_to=collector, customer=new_debtor())
    ids = []
    for target in (case, other):
        contact = named_contact_add(
            actor=collector, customer_id=target.customer_id, name="赵六", relation="friend", phone="13700001111"
        )
        ids.append(contact.pk)
    for i in range(6):
        target, contact_id = ((case, ids[0]), (other, ids[1]))[i % 2]
        log(target, collector, sh(10, 9 + i), party="named_contact", named_contact_id=contact_id)
    assert refused_rule(other, collector, sh(10, 16), party="named_contact", named_contact_id=ids[1]) == (
        "daily_dials_per_number"
    )


def test_limits_are_settings(case: CollectionCase, collector: Any) -> None:
    with override_settings(LOANOPS_COLLECTION_POLICY={"max_effective_calls_per_debtor_per_day": 1}):
        log(case, collector, sh(10, 9), outcome="connected")
        assert refused_rule(case, collector, sh(10, 10)) == "daily_effective_calls"
    with override_settings(LOANOPS_COLLECTION_POLICY={"max_dials_per_number_per_day": 2}):
        log(case, collector, sh(12, 9), number="13100000000")
        log(case, collector, sh(12, 10), number="13100000000")
        assert refused_rule(case, collector, sh(12, 11), number="13100000000") == "daily_dials_per_number"


def test_refused_attempts_do_not_count_as_dials(case: CollectionCase, collector: Any) -> None:
    for _ in range(3):
        refused_rule(case, collector, sh(10, 23))
    for hour in range(9, 15):
        assert not log(case, collector, sh(10, hour)).refused


# --- third parties ----------------------------------------------------------------------------


def test_named_contact_allowed_unnamed_third_party_refused(case: CollectionCase, collector: Any) -> None:
    contact = named_contact_add(
        actor=collector, customer_id=case.customer_id, name="王五", relation="parent", phone="139 1234 5678"
    )
    attempt = log(case, collector, sh(10, 10), party="named_contact", named_contact_id=contact.pk, outcome="connected")
    assert (attempt.refused, attempt.number, attempt.named_contact) == (False, "13912345678", contact)
    assert refused_rule(case, collector, sh(10, 11), party="third_party", number="13655556666") == (
        "third_party_not_named"
    )


def test_another_debtors_contact_or_a_removed_one_is_a_third_party(case: CollectionCase, collector: Any) -> None:
    from loan_collections.services import named_contact_remove

    stranger = new_debtor()
    foreign = named_contact_add(
        actor=collector, customer_id=stranger.pk, name="钱七", relation="friend", phone="13611112222"
    )
    assert refused_rule(case, collector, sh(10, 10), party="named_contact", named_contact_id=foreign.pk) == (
        "third_party_not_named"
    )
    own = named_contact_add(
        actor=collector, customer_id=case.customer_id, name="孙八", relation="friend", phone="13622223333"
    )
    named_contact_remove(actor=collector, contact_id=own.pk)
    assert refused_rule(case, collector, sh(10, 11), party="named_contact", named_contact_id=own.pk) == (
        "third_party_not_named"
    )


# --- recording and refusals -------------------------------------------------------------------


def test_an_allowed_attempt_is_recorded_with_next_action_and_audited(case: CollectionCase, collector: Any) -> None:
    from datetime import date

    attempt = log(
        case, collector, sh(10, 10), outcome="promised", note="答应周五还 500 元",
        next_action="周五确认到账", next_action_on=date(2026, 3, 13),
    )  # fmt: skip
    assert (attempt.channel, attempt.party, attempt.number) == ("phone", "debtor", case.customer.phone)
    assert attempt.effective and attempt.recorded_by == collector and attempt.local_date.isoformat() == "2026-03-10"
    case.refresh_from_db()
    assert (case.next_action, case.next_action_on) == ("周五确认到账", date(2026, 3, 13))
    event = AuditEvent.objects.get(action="collection_contact.logged")
    assert event.data["local_time"] == "2026-03-10 10:00" and event.data["attempt_id"] == attempt.pk


def test_a_refusal_is_recorded_and_audited_but_changes_nothing_else(case: CollectionCase, collector: Any) -> None:
    from datetime import date

    with pytest.raises(ContactRefused):
        log(case, collector, sh(10, 23), next_action="明早再打", next_action_on=date(2026, 3, 11))
    case.refresh_from_db()
    assert case.next_action == ""
    event = AuditEvent.objects.get(action="collection_contact.refused")
    assert event.data["rule"] == "quiet_hours" and "22:00–08:00" in event.reason


def test_bad_input_changes_nothing(case: CollectionCase, collector: Any) -> None:
    before = (ContactAttempt.objects.count(), AuditEvent.objects.count())
    with pytest.raises(InputError) as info:
        log(case, collector, sh(10, 10), channel="fax", outcome="unknown", number="abc")
    assert set(info.value.fields) == {"channel", "outcome", "number"}
    with pytest.raises(InputError) as info:
        log(case, collector, sh(10, 10), party="named_contact")
    assert "named_contact" in info.value.fields
    assert (ContactAttempt.objects.count(), AuditEvent.objects.count()) == before


def test_closed_case_refuses_and_writes_nothing(case: CollectionCase, collector: Any) -> None:
    CollectionCase.objects.filter(pk=case.pk).update(status="closed", outcome="cured", closed_on=case.opened_on)
    with pytest.raises(DomainError) as info:
        log(case, collector, sh(10, 10))
    assert info.value.code == "case_closed" and not ContactAttempt.objects.exists()


def test_permission_and_visibility(case: CollectionCase, collector2: Any, outsider: Any, boss: Any) -> None:
    with pytest.raises(PermissionDenied):
        log(case, outsider, sh(10, 10))
    with pytest.raises(CollectionCase.DoesNotExist):  # another collector's case: 404
        log(case, collector2, sh(10, 10))
    assert not log(case, boss, sh(10, 10)).refused  # managers see every case
    assert not NamedContact.objects.exists()


def test_collections_phone_numbers_are_encrypted_at_rest(case: CollectionCase, collector: Any) -> None:
    """A named contact's phone and the number on each log line are Fernet tokens; lookups go by the hash."""
    from django.db import connection

    from compliance.pii import FERNET_PREFIX, pii_hash

    contact = named_contact_add(
        actor=collector, customer_id=case.customer_id, name="王五", relation="parent", phone="139 1234 5678"
    )
    attempt = log(case, collector, sh(10, 10), party="named_contact", named_contact_id=contact.pk, outcome="connected")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT phone, phone_hash FROM {NamedContact._meta.db_table} WHERE id = %s",
            [contact.pk],
        )
        raw_phone, phone_hash = cursor.fetchone()
        cursor.execute(
            f"SELECT number, number_hash FROM {ContactAttempt._meta.db_table} WHERE id = %s",
            [attempt.pk],
        )
        raw_number, number_hash = cursor.fetchone()
    for raw in (raw_phone, raw_number):
        assert raw.startswith(FERNET_PREFIX) and "13912345678" not in raw and "5678" not in raw
    assert phone_hash == number_hash == pii_hash("13912345678")
    assert NamedContact.objects.get(pk=contact.pk).phone == "13912345678"
    # the same number again for this debtor is refused through the hash
    with pytest.raises(InputError) as info:
        named_contact_add(
            actor=collector, customer_id=case.customer_id, name="王五", relation="parent", phone="13912345678"
        )
    assert "phone" in info.value.fields
