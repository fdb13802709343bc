"""Back-office pages: the case queue (我的案件 / 全部案件) and the case page with its forms."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse

from loan_collections.case_models import CollectionCase, ContactAttempt, PromiseToPay
from loan_collections.tests.cases.conftest import D, add_installments, days

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
LIST = reverse("backoffice:collections-case-list")


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def detail(case: CollectionCase) -> str:
    return reverse("backoffice:collections-case-detail", args=[case.pk])


def at_shanghai(hour: int, minute: int = 0) -> Any:
    return mock.patch(
        "loan_collections.services.timezone.now",
        return_value=datetime(2026, 3, 10, hour, minute, tzinfo=SH).astimezone(UTC),
    )


def test_my_cases_shows_only_mine_and_all_is_for_managers(
    make_case: Callable[..., Any], collector: Any, collector2: Any, boss: Any
) -> None:
    mine = make_case(assigned_to=collector)
    theirs = make_case(assigned_to=collector2)
    page = client_for(collector).get(LIST)
    assert page.status_code == 200
    body = page.content.decode()
    assert mine.loan.reference in body and theirs.loan.reference not in body
    assert "全部案件" not in body
    # asking for all without the permission still shows only one's own cases
    assert theirs.loan.reference not in client_for(collector).get(LIST, {"scope": "all"}).content.decode()
    everything = client_for(boss).get(LIST, {"scope": "all"}).content.decode()
    assert mine.loan.reference in everything and theirs.loan.reference in everything


def test_case_list_filters(make_case: Callable[..., Any], boss: Any) -> None:
    m1 = make_case(dpd=5, level="reminder")
    m3 = make_case(dpd=75, level="field_visit")
    CollectionCase.objects.filter(pk=m3.pk).update(priority=True, priority_reason="承诺还款未兑现")
    client = client_for(boss)
    body = client.get(LIST, {"scope": "all", "level": "field_visit"}).content.decode()
    assert m3.loan.reference in body and m1.loan.reference not in body
    body = client.get(LIST, {"scope": "all", "bucket": "M1"}).content.decode()
    assert m1.loan.reference in body and m3.loan.reference not in body
    body = client.get(LIST, {"scope": "all", "priority": "on"}).content.decode()
    assert m3.loan.reference in body and m1.loan.reference not in body
    body = client.get(LIST, {"scope": "all", "q": m1.customer.name}).content.decode()
    assert m1.loan.reference in body and m3.loan.reference not in body
    partial = client.get(LIST, {"scope": "all"}, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial and m1.loan.reference in partial


def test_case_list_has_no_n_plus_one(
    make_case: Callable[..., Any], boss: Any, collector: Any, django_assert_max_num_queries: Any
) -> None:
    from loan_collections.services import contact_attempt_log, promise_create

    for _ in range(12):
        case = make_case(assigned_to=collector)
        promise_create(actor=collector, case_id=case.pk, amount="100", promised_date=D + days(3))
        contact_attempt_log(
            actor=collector, case_id=case.pk, channel="phone", party="debtor", outcome="connected",
            at=datetime(2026, 3, 10, 10, tzinfo=SH),
        )  # fmt: skip
    client = client_for(boss)
    client.get(LIST, {"scope": "all"})  # warm caches (session, permissions)
    with django_assert_max_num_queries(10):
        response = client.get(LIST, {"scope": "all"})
    assert response.content.decode().count("backoffice/collections/") >= 12


def test_case_page_shows_loan_masked_customer_arrears_and_next_action(
    make_case: Callable[..., Any], collector: Any
) -> None:
    case = make_case(assigned_to=collector)
    add_installments(
        case.loan,
        [
            {"due_date": D - days(40), "principal_due": "1000.00", "interest_due": "120.00", "penalty_due": "18.50",
             "fee_due": "30.00", "principal_paid": "400.00"},
            {"due_date": D - days(10), "principal_due": "1000.00", "interest_due": "110.00", "penalty_due": "2.10"},
            {"due_date": D + days(20), "principal_due": "1000.00", "interest_due": "100.00"},
        ],
    )  # fmt: skip
    response = client_for(collector).get(detail(case))
    assert response.status_code == 200
    body = response.content.decode()
    customer = case.customer
    assert customer.phone not in body and customer.id_number not in body
    assert customer.phone[:3] + "****" + customer.phone[-4:] in body
    assert "600.00" in body and "18.50" in body and "30.00" in body  # period 1: unpaid principal, penalty, fee
    assert "768.50" in body and "1,112.10" in body  # line totals
    assert "1,880.60" in body  # arrears total; the installment not yet due is not arrears
    assert "电话催收，争取承诺还款" in body  # next action for the collector level


def test_case_page_is_404_for_someone_elses_case_and_403_without_role(
    make_case: Callable[..., Any], collector: Any, collector2: Any, product_user: Any
) -> None:
    case = make_case(assigned_to=collector)
    assert client_for(collector2).get(detail(case)).status_code == 404
    assert client_for(product_user).get(detail(case)).status_code == 403
    anonymous = Client().get(detail(case))
    assert anonymous.status_code == 302


def test_contact_form_records_and_redirects(make_case: Callable[..., Any], collector: Any) -> None:
    case = make_case(assigned_to=collector)
    url = reverse("backoffice:collections-contact-log", args=[case.pk])
    with at_shanghai(10):
        response = client_for(collector).post(
            url, {"channel": "phone", "party": "debtor", "outcome": "promised", "note": "周五还款"}
        )
    assert response.status_code == 302
    attempt = ContactAttempt.objects.get()
    assert (attempt.refused, attempt.effective, attempt.number) == (False, True, case.customer.phone)
    page = client_for(collector).get(detail(case)).content.decode()
    assert "2026-03-10 10:00" in page and "周五还款" in page


def test_contact_form_refusal_is_a_form_error_and_is_recorded(make_case: Callable[..., Any], collector: Any) -> None:
    case = make_case(assigned_to=collector)
    url = reverse("backoffice:collections-contact-log", args=[case.pk])
    with at_shanghai(22, 0):
        response = client_for(collector).post(url, {"channel": "phone", "party": "debtor", "outcome": "no_answer"})
    assert response.status_code == 422
    body = response.content.decode()
    assert "不得催收联系" in body and "22:00" in body and 'role="alert"' in body
    attempt = ContactAttempt.objects.get()
    assert attempt.refused and attempt.refusal_rule == "quiet_hours"
    assert "已拒绝" in body  # the refused attempt is already in the history on the re-rendered page


def test_contact_form_bad_input_is_400_and_writes_nothing(make_case: Callable[..., Any], collector: Any) -> None:
    case = make_case(assigned_to=collector)
    url = reverse("backoffice:collections-contact-log", args=[case.pk])
    response = client_for(collector).post(url, {"channel": "fax", "party": "debtor"})
    assert response.status_code == 400 and not ContactAttempt.objects.exists()


def test_promise_form(make_case: Callable[..., Any], collector: Any) -> None:
    case = make_case(assigned_to=collector)
    url = reverse("backoffice:collections-promise-create", args=[case.pk])
    bad = client_for(collector).post(url, {"amount": "500", "promised_date": (D - days(1)).isoformat()})
    assert bad.status_code == 400 and "不能早于营业日" in bad.content.decode()
    ok = client_for(collector).post(url, {"amount": "500.00", "promised_date": (D + days(5)).isoformat()})
    assert ok.status_code == 302
    assert PromiseToPay.objects.get().amount == Decimal("500.00")
    again = client_for(collector).post(url, {"amount": "100", "promised_date": (D + days(5)).isoformat()})
    assert again.status_code == 422 and "已有待兑现" in again.content.decode()


def test_named_contact_and_consent_forms(make_case: Callable[..., Any], collector: Any) -> None:
    case = make_case(assigned_to=collector)
    client = client_for(collector)
    add = reverse("backoffice:collections-named-contact-create", args=[case.pk])
    assert client.post(add, {"name": "王五", "relation": "spouse", "phone": "13912345678"}).status_code == 302
    assert client.post(add, {"name": "王五", "relation": "spouse", "phone": "13912345678"}).status_code == 400
    consent = reverse("backoffice:collections-consent", args=[case.pk])
    assert client.post(consent, {"granted": "1", "note": "录音 R-1"}).status_code == 302
    page = client.get(detail(case)).content.decode()
    assert "139****5678" in page and "已同意" in page


def test_manager_assigns_and_escalates(
    make_case: Callable[..., Any], collector: Any, collector2: Any, boss: Any
) -> None:
    case = make_case(assigned_to=collector, level="field_visit")
    client = client_for(boss)
    assign = reverse("backoffice:collections-case-assign", args=[case.pk])
    assert client.post(assign, {"assignee": collector2.pk, "reason": "调整工作量"}).status_code == 302
    case.refresh_from_db()
    assert case.assigned_to == collector2
    escalate = reverse("backoffice:collections-case-escalate", args=[case.pk])
    assert client.post(escalate, {"level": "outsourced", "reason": "委外机构回款率高"}).status_code == 302
    case.refresh_from_db()
    assert (case.level, case.responsible_role, case.assigned_to) == ("outsourced", "collector", collector2)
    # a collector may not assign
    assert client_for(collector2).post(assign, {"assignee": collector.pk}).status_code == 403


def test_nav_shows_collections_for_case_workers_only(collector: Any, product_user: Any) -> None:
    assert "催收案件" in client_for(collector).get(LIST).content.decode()
    assert "催收案件" not in client_for(product_user).get(reverse("backoffice:product-list")).content.decode()


def test_dates_here_use_the_business_date(make_case: Callable[..., Any], collector: Any) -> None:
    case = make_case(assigned_to=collector)
    assert date(2026, 3, 10).isoformat() in client_for(collector).get(detail(case)).content.decode()
