"""API: /api/v1/collection-cases/ (+ contacts, promises, assign, escalate), named contacts and consent."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.test import override_settings

from loan_collections.case_models import CollectionCase, ContactAttempt, NamedContact, PromiseToPay
from loan_collections.tests.cases.conftest import D, add_installments, days

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
BASE = "/api/v1/collection-cases/"


def at_shanghai(hour: int, minute: int = 0) -> Any:
    return mock.patch(
        "loan_collections.services.timezone.now",
        return_value=datetime(2026, 3, 10, hour, minute, tzinfo=SH).astimezone(UTC),
    )


def test_list_mine_and_all(
    make_case: Callable[..., Any], collector: Any, collector2: Any, boss: Any, api_client_for: Callable[..., Any]
) -> None:
    mine = make_case(assigned_to=collector)
    make_case(assigned_to=collector2)
    response = api_client_for(collector).get(BASE)
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [mine.pk]
    row = response.json()["results"][0]
    assert row["customer"]["phone"] == mine.customer.phone[:3] + "****" + mine.customer.phone[-4:]
    assert row["loan"]["bucket"] == "M1" and row["level"] == "collector"
    assert api_client_for(collector).get(BASE, {"scope": "all"}).status_code == 403
    assert api_client_for(boss).get(BASE, {"scope": "all"}).json()["count"] == 2
    assert api_client_for(boss).get(BASE, {"scope": "bogus"}).status_code == 400


def test_list_has_no_n_plus_one(
    make_case: Callable[..., Any], boss: Any, collector: Any, api_client_for: Callable[..., Any],
    django_assert_max_num_queries: Any,
) -> None:  # fmt: skip
    for _ in range(15):
        make_case(assigned_to=collector)
    client = api_client_for(boss)
    with django_assert_max_num_queries(8):
        response = client.get(BASE, {"scope": "all"})
    assert response.json()["count"] == 15


def test_detail_itemises_arrears_and_is_404_for_others(
    make_case: Callable[..., Any], collector: Any, collector2: Any, api_client_for: Callable[..., Any]
) -> None:
    case = make_case(assigned_to=collector)
    add_installments(case.loan, [{"due_date": D - days(10), "principal_due": "1000.00", "interest_due": "100.00",
                                   "penalty_due": "3.30"}])  # fmt: skip
    body = api_client_for(collector).get(f"{BASE}{case.pk}/").json()
    assert body["arrears"]["total"] == "1103.30"
    assert body["arrears"]["lines"][0] == {
        "period": 1, "due_date": (D - days(10)).isoformat(), "days_overdue": 10, "principal": "1000.00",
        "interest": "100.00", "penalty": "3.30", "fees": "0.00", "total": "1103.30",
    }  # fmt: skip
    assert body["next_action_text"] and body["night_contact_consent"] is False
    assert api_client_for(collector2).get(f"{BASE}{case.pk}/").status_code == 404


def test_contact_post_ok_and_refused_422_with_the_record(
    make_case: Callable[..., Any], collector: Any, api_client_for: Callable[..., Any]
) -> None:
    case = make_case(assigned_to=collector)
    client = api_client_for(collector)
    with at_shanghai(21, 59):
        ok = client.post(f"{BASE}{case.pk}/contacts/", {"channel": "phone", "party": "debtor", "outcome": "connected"})
    assert ok.status_code == 201 and ok.json()["effective"] is True and ok.json()["refused"] is False
    with at_shanghai(22, 0):
        refused = client.post(f"{BASE}{case.pk}/contacts/", {"channel": "phone", "party": "debtor", "outcome": "busy"})
    assert refused.status_code == 422
    body = refused.json()
    assert body["code"] == "contact_policy" and body["extra"]["rule"] == "quiet_hours" and "22:00" in body["message"]
    assert ContactAttempt.objects.get(pk=body["extra"]["attempt_id"]).refused
    listed = client.get(f"{BASE}{case.pk}/contacts/").json()
    assert [row["refused"] for row in listed] == [True, False]


@override_settings(TIME_ZONE="UTC")
def test_contact_policy_through_the_api_with_a_utc_server(
    make_case: Callable[..., Any], collector: Any, api_client_for: Callable[..., Any]
) -> None:
    case = make_case(assigned_to=collector)
    with at_shanghai(7, 59):
        refused = api_client_for(collector).post(
            f"{BASE}{case.pk}/contacts/", {"channel": "sms", "party": "debtor", "outcome": "delivered"}
        )
    assert refused.status_code == 422
    with at_shanghai(8, 0):
        ok = api_client_for(collector).post(
            f"{BASE}{case.pk}/contacts/", {"channel": "sms", "party": "debtor", "outcome": "delivered"}
        )
    assert ok.status_code == 201 and ok.json()["local_date"] == "2026-03-10"


def test_contact_bad_input_is_400_and_writes_nothing(
    make_case: Callable[..., Any], collector: Any, api_client_for: Callable[..., Any]
) -> None:
    case = make_case(assigned_to=collector)
    response = api_client_for(collector).post(f"{BASE}{case.pk}/contacts/", {"channel": "fax"})
    assert response.status_code == 400
    assert set(response.json()["fields"]) >= {"channel", "party", "outcome"}
    assert not ContactAttempt.objects.exists()


def test_third_party_through_named_contacts_api(
    make_case: Callable[..., Any], collector: Any, api_client_for: Callable[..., Any]
) -> None:
    case = make_case(assigned_to=collector)
    client = api_client_for(collector)
    created = client.post(
        f"/api/v1/customers/{case.customer_id}/named-contacts/",
        {"name": "王五", "relation": "sibling", "phone": "13912345678"},
    )
    assert created.status_code == 201 and created.json()["phone"] == "139****5678"
    contact_id = created.json()["id"]
    with at_shanghai(10):
        named = client.post(f"{BASE}{case.pk}/contacts/", {"channel": "phone", "party": "named_contact",
                                                            "named_contact": contact_id, "outcome": "connected"})  # fmt: skip
        other = client.post(f"{BASE}{case.pk}/contacts/", {"channel": "phone", "party": "third_party",
                                                            "number": "13800009999", "outcome": "connected"})  # fmt: skip
    assert named.status_code == 201 and other.status_code == 422
    assert other.json()["extra"]["rule"] == "third_party_not_named"
    assert client.get(f"/api/v1/customers/{case.customer_id}/named-contacts/").json()[0]["name"] == "王五"
    assert NamedContact.objects.count() == 1


def test_consent_api(make_case: Callable[..., Any], collector: Any, api_client_for: Callable[..., Any]) -> None:
    case = make_case(assigned_to=collector)
    url = f"/api/v1/customers/{case.customer_id}/contact-consent/"
    client = api_client_for(collector)
    assert client.post(url, {"granted": True}).status_code == 400  # the note is the evidence
    assert client.post(url, {"granted": True, "note": "录音 R-9"}).json()["night_contact_consent"] is True
    with at_shanghai(23):
        ok = client.post(f"{BASE}{case.pk}/contacts/", {"channel": "phone", "party": "debtor", "outcome": "connected"})
    assert ok.status_code == 201
    assert client.post(url, {"granted": False}).json()["night_contact_consent"] is False
    assert client.post(url, {"granted": False}).status_code == 422


def test_promise_api(make_case: Callable[..., Any], collector: Any, api_client_for: Callable[..., Any]) -> None:
    case = make_case(assigned_to=collector)
    client = api_client_for(collector)
    url = f"{BASE}{case.pk}/promises/"
    bad = client.post(url, {"amount": "100.00", "promised_date": (D + days(60)).isoformat()})
    assert bad.status_code == 400 and "promised_date" in bad.json()["fields"]
    ok = client.post(url, {"amount": "100.00", "promised_date": (D + days(3)).isoformat()})
    assert ok.status_code == 201 and ok.json()["status"] == "pending" and ok.json()["made_on"] == D.isoformat()
    again = client.post(url, {"amount": "50.00", "promised_date": (D + days(3)).isoformat()})
    assert again.status_code == 422 and again.json()["code"] == "promise_pending"
    assert [row["amount"] for row in client.get(url).json()] == ["100.00"]
    assert PromiseToPay.objects.count() == 1


def test_assign_and_escalate_api(
    make_case: Callable[..., Any], collector: Any, collector2: Any, boss: Any, service_staff: Any,
    api_client_for: Callable[..., Any],
) -> None:  # fmt: skip
    case = make_case(assigned_to=collector, level="collector")
    assert api_client_for(collector).post(f"{BASE}{case.pk}/assign/", {"assignee": collector2.pk}).status_code == 403
    wrong_role = api_client_for(boss).post(f"{BASE}{case.pk}/assign/", {"assignee": service_staff.pk})
    assert wrong_role.status_code == 400 and "assignee" in wrong_role.json()["fields"]
    ok = api_client_for(boss).post(f"{BASE}{case.pk}/assign/", {"assignee": collector2.pk, "reason": "休假"})
    assert ok.status_code == 200 and ok.json()["assigned_to"] == collector2.pk
    up = api_client_for(boss).post(f"{BASE}{case.pk}/escalate/", {"level": "legal", "reason": "起诉"})
    assert up.status_code == 200 and up.json()["level"] == "legal" and up.json()["assigned_to"] is None
    case.refresh_from_db()
    assert list(case.events.values_list("kind", flat=True)) == ["assigned", "escalated"]
    assert CollectionCase.objects.get(pk=case.pk).responsible_role == "risk"


def test_schema_lists_the_collections_endpoints(tmp_path: Any) -> None:
    import yaml
    from django.core.management import call_command

    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    paths = yaml.safe_load(target.read_text(encoding="utf-8"))["paths"]
    for path in (
        "/api/v1/collection-cases/",
        "/api/v1/collection-cases/{case_id}/",
        "/api/v1/collection-cases/{case_id}/contacts/",
        "/api/v1/collection-cases/{case_id}/promises/",
        "/api/v1/collection-cases/{case_id}/assign/",
        "/api/v1/collection-cases/{case_id}/escalate/",
        "/api/v1/customers/{customer_id}/named-contacts/",
        "/api/v1/customers/{customer_id}/contact-consent/",
    ):
        assert path in paths, path
    assert "collections.view_collectioncase" in paths["/api/v1/collection-cases/"]["get"]["description"]
