"""Prepayment API: quote, idempotent booking, refusals (409/422/400) write nothing, ownership."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse

from servicing.models import IdempotencyKey, Prepayment, ScheduleVersion
from servicing.services import repayment_record
from servicing.tests.conftest import make_customer, make_user, set_business_date

pytestmark = pytest.mark.django_db


def url(name: str, **kwargs: int) -> str:
    return reverse(f"api:{name}", kwargs=kwargs)


@pytest.fixture
def paid_first(active_loan, ops):
    set_business_date(date(2025, 2, 15))
    repayment_record(
        actor=ops, loan_id=active_loan.pk, amount="1066.19", paid_on=date(2025, 2, 15), channel="bank_transfer"
    )
    return active_loan


def test_quote_then_book_then_replay(api, paid_first, ops):
    loan = paid_first
    api.force_authenticate(ops)
    quote = api.get(url("loan-prepayment-quote", loan_id=loan.pk), {"amount": "5000.00", "option": "keep_term"})
    assert quote.status_code == 200, quote.content
    body = quote.json()
    assert (body["principal"], body["total"], body["old_periods"], body["new_periods"]) == (
        "5000.00",
        "5000.00",
        11,
        11,
    )
    assert body["rows"][0]["period"] == 2 and body["rows"][0]["due_date"] == "2025-03-15"
    assert ScheduleVersion.objects.count() == 1

    data = {"amount": "5000.00", "option": "keep_term", "channel": "bank_transfer"}
    first = api.post(url("loan-prepayments", loan_id=loan.pk), data, format="json", HTTP_IDEMPOTENCY_KEY="pp-1")
    assert first.status_code == 201, first.content
    assert first.json()["schedule_version"] == 2
    again = api.post(url("loan-prepayments", loan_id=loan.pk), data, format="json", HTTP_IDEMPOTENCY_KEY="pp-1")
    assert again.status_code == 201 and again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    assert Prepayment.objects.count() == 1
    other = api.post(
        url("loan-prepayments", loan_id=loan.pk),
        {**data, "amount": "10.00"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="pp-1",
    )
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    schedule = api.get(url("loan-schedule", loan_id=loan.pk)).json()
    assert schedule["version"] == 2 and schedule["rows"][1]["principal"] != "955.65"
    listed = api.get(url("loan-prepayments", loan_id=loan.pk)).json()
    assert [p["principal"] for p in listed] == ["5000.00"]


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        ({"amount": "0", "option": "keep_term"}, 400, None),
        ({"amount": "-3", "option": "keep_term"}, 400, None),
        ({"amount": "100.00", "option": "bogus"}, 400, None),
        ({"amount": "11053.81", "option": "keep_term"}, 422, "prepayment_is_payoff"),
        ({"amount": "99999.00", "option": "keep_term"}, 422, "prepayment_is_payoff"),
    ],
)
def test_refusals_write_nothing(api, paid_first, ops, data, status, code):
    api.force_authenticate(ops)
    response = api.post(url("loan-prepayments", loan_id=paid_first.pk), data, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == status, response.content
    if code:
        assert response.json()["code"] == code
    assert not Prepayment.objects.exists() and not IdempotencyKey.objects.exists()
    assert ScheduleVersion.objects.count() == 1


def test_not_active_is_409_and_strangers_get_404(api, loan_factory, active_loan, ops, business_date):
    pending = loan_factory()
    api.force_authenticate(ops)
    response = api.post(
        url("loan-prepayments", loan_id=pending.pk),
        {"amount": "100.00", "option": "keep_term"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k2",
    )
    assert response.status_code == 409 and response.json()["code"] == "loan_not_active"
    stranger = make_user("stranger", "customer", staff=False)
    make_customer(user=stranger)
    api.force_authenticate(stranger)
    assert api.get(url("loan-prepayments", loan_id=active_loan.pk)).status_code == 404
    quote = api.get(url("loan-prepayment-quote", loan_id=active_loan.pk), {"amount": "1.00", "option": "keep_term"})
    assert quote.status_code == 404
    assert not IdempotencyKey.objects.exists()


def test_payoff_api_settles_and_the_certificate_is_downloadable(api, active_loan, ops):
    from applications.models import LoanStatus
    from servicing.models import SettlementCertificate

    set_business_date(date(2025, 1, 30))
    api.force_authenticate(ops)
    assert api.get(url("loan-settlement-certificate", loan_id=active_loan.pk)).status_code == 404  # not settled yet
    short = api.post(
        url("loan-payoff", loan_id=active_loan.pk),
        {"amount": "100.00", "channel": "bank_transfer"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="po-0",
    )
    assert short.status_code == 422 and short.json()["code"] == "payoff_amount_short"
    assert not IdempotencyKey.objects.exists()
    data = {"amount": "12060.00", "channel": "bank_transfer"}
    first = api.post(url("loan-payoff", loan_id=active_loan.pk), data, format="json", HTTP_IDEMPOTENCY_KEY="po-1")
    assert first.status_code == 201, first.content
    assert first.json()["loan_status"] == LoanStatus.SETTLED
    again = api.post(url("loan-payoff", loan_id=active_loan.pk), data, format="json", HTTP_IDEMPOTENCY_KEY="po-1")
    assert again.content == first.content and SettlementCertificate.objects.count() == 1

    response = api.get(url("loan-settlement-certificate", loan_id=active_loan.pk))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content).startswith(b"%PDF-")

    owner = make_user("owner", "customer", staff=False)
    active_loan.customer.user = owner
    active_loan.customer.save(update_fields=["user"])
    api.force_authenticate(owner)
    assert api.get(url("loan-settlement-certificate", loan_id=active_loan.pk)).status_code == 200
    stranger = make_user("stranger2", "customer", staff=False)
    make_customer(user=stranger)
    api.force_authenticate(stranger)
    assert api.get(url("loan-settlement-certificate", loan_id=active_loan.pk)).status_code == 404


def test_overpayment_apply_and_refund_api(api, active_loan, ops, manager):
    repayment_record(
        actor=ops, loan_id=active_loan.pk, amount="3000.00", paid_on=date(2025, 1, 15), channel="bank_transfer"
    )
    api.force_authenticate(ops)
    assert (
        api.post(url("loan-overpayment-refund", loan_id=active_loan.pk), {"amount": "1.00", "reason": "x"}).status_code
        == 403
    )
    api.force_authenticate(manager)
    refund = api.post(
        url("loan-overpayment-refund", loan_id=active_loan.pk),
        {"amount": "933.81", "reason": "客户申请"},
        format="json",
    )
    assert refund.status_code == 201, refund.content
    assert refund.json()["overpayment"] == "1000.00" and refund.json()["entry"]["kind"] == "refund"
    too_much = api.post(
        url("loan-overpayment-refund", loan_id=active_loan.pk), {"amount": "1000.01", "reason": "x"}, format="json"
    )
    assert too_much.status_code == 422 and too_much.json()["code"] == "refund_exceeds_overpayment"
    applied = api.post(url("loan-overpayment-apply", loan_id=active_loan.pk), {}, format="json")
    assert applied.status_code == 201, applied.content
    assert applied.json()["channel"] == "suspense" and applied.json()["amount"] == "1000.00"
    again = api.post(url("loan-overpayment-apply", loan_id=active_loan.pk), {}, format="json")
    assert again.status_code == 422 and again.json()["code"] == "nothing_to_apply"
