"""Servicing API: shapes, error format, ownership (404), permissions and idempotent repayments."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse

from compliance.models import AuditEvent
from servicing.models import BusinessDate, IdempotencyKey, JournalEntry, Repayment
from servicing.tests.conftest import make_customer, make_user, set_business_date

pytestmark = pytest.mark.django_db


def url(name: str, **kwargs: int) -> str:
    return reverse(f"api:{name}", kwargs=kwargs)


PREVIEW = {
    "principal": "12000.00",
    "annual_rate": "0.12",
    "term_months": 12,
    "method": "equal_installment",
    "first_due_date": "2025-02-15",
}


def test_schedule_preview(api, ops):
    api.force_authenticate(ops)
    response = api.post(url("schedule-preview"), PREVIEW, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["rows"][0] == {
        "period": 1,
        "due_date": "2025-02-15",
        "principal": "946.19",
        "interest": "120.00",
        "total": "1066.19",
        "remaining": "11053.81",
    }
    assert len(body["rows"]) == 12
    assert body["summary"]["total_principal"] == "12000.00"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"principal": "abc"}, "principal"),
        ({"principal": "100.001"}, "principal"),
        ({"annual_rate": "1.5"}, "annual_rate"),
        ({"term_months": 0}, "term_months"),
        ({"method": "balloon"}, "method"),
        ({"first_due_date": "2025-02-30"}, "first_due_date"),
    ],
)
def test_schedule_preview_input_errors(api, ops, change, field):
    api.force_authenticate(ops)
    response = api.post(url("schedule-preview"), {**PREVIEW, **change}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and field in body["fields"]


def test_schedule_preview_infeasible_is_422(api, ops):
    api.force_authenticate(ops)
    data = {**PREVIEW, "principal": "0.05", "annual_rate": "0", "term_months": 10}
    response = api.post(url("schedule-preview"), data, format="json")
    assert response.status_code == 422
    assert response.json()["code"] == "schedule_infeasible"


def test_anonymous_is_refused(api):
    response = api.post(url("schedule-preview"), PREVIEW, format="json")
    assert response.status_code in (401, 403)
    assert api.get(url("business-date")).status_code in (401, 403)


def test_schedule_and_transactions(api, active_loan, ops):
    api.force_authenticate(ops)
    response = api.get(url("loan-schedule", loan_id=active_loan.pk))
    assert response.status_code == 200
    body = response.json()
    assert body["version"] == 1 and len(body["rows"]) == 12
    assert body["rows"][0]["principal"] == "946.19" and body["rows"][0]["status"] == "pending"
    assert body["summary"]["outstanding"] == body["summary"]["total_payment"]

    response = api.get(url("loan-transactions", loan_id=active_loan.pk))
    assert response.status_code == 200
    body = response.json()
    assert body["balances"]["principal_receivable"] == "12000.00"
    assert body["entries"][0]["kind"] == "disbursement"
    assert {line["account"] for line in body["entries"][0]["lines"]} == {"principal_receivable", "cash_clearing"}


def test_schedule_of_an_undisbursed_loan_is_404(api, loan_factory, ops, business_date):
    loan = loan_factory()
    api.force_authenticate(ops)
    assert api.get(url("loan-schedule", loan_id=loan.pk)).status_code == 404


def test_customer_sees_own_loan_only_and_cannot_post(api, active_loan):
    owner = make_user("owner", "customer", staff=False)
    active_loan.customer.user = owner
    active_loan.customer.save(update_fields=["user"])
    stranger = make_user("stranger", "customer", staff=False)
    make_customer(user=stranger)

    api.force_authenticate(owner)
    assert api.get(url("loan-schedule", loan_id=active_loan.pk)).status_code == 200
    assert api.get(url("loan-transactions", loan_id=active_loan.pk)).status_code == 200
    assert api.get(url("loan-payoff-quote", loan_id=active_loan.pk)).status_code == 200
    response = api.post(
        url("loan-repayments", loan_id=active_loan.pk),
        {"amount": "10.00", "paid_on": "2025-01-15", "channel": "wechat"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-owner",
    )
    assert response.status_code == 403
    assert not IdempotencyKey.objects.exists() and not Repayment.objects.exists()

    api.force_authenticate(stranger)
    for name in ("loan-schedule", "loan-transactions", "loan-payoff-quote", "loan-repayments"):
        response = api.get(url(name, loan_id=active_loan.pk))
        assert response.status_code == 404, name
        assert response.json()["code"] == "not_found"
    response = api.post(
        url("loan-repayments", loan_id=active_loan.pk),
        {"amount": "10.00", "paid_on": "2025-01-15", "channel": "wechat"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-stranger",
    )
    assert response.status_code == 404


REPAYMENT = {"amount": "500.00", "paid_on": "2025-01-15", "channel": "bank_transfer", "reference": "B-1"}


def test_repayment_post_and_replay_byte_for_byte(api, active_loan, ops):
    api.force_authenticate(ops)
    first = api.post(
        url("loan-repayments", loan_id=active_loan.pk), REPAYMENT, format="json", HTTP_IDEMPOTENCY_KEY="key-1"
    )
    assert first.status_code == 201, first.content
    body = first.json()
    assert body["amount"] == "500.00" and body["loan_status"] == "active"
    assert body["allocations"] == [
        {"period": 1, "component": "interest", "amount": "120.00"},
        {"period": 1, "component": "principal", "amount": "380.00"},
    ]
    replay = api.post(
        url("loan-repayments", loan_id=active_loan.pk), REPAYMENT, format="json", HTTP_IDEMPOTENCY_KEY="key-1"
    )
    assert replay.status_code == 201
    assert replay.content == first.content
    assert replay["Idempotent-Replayed"] == "true"
    assert Repayment.objects.count() == 1

    # same key, different body
    other = api.post(
        url("loan-repayments", loan_id=active_loan.pk),
        {**REPAYMENT, "amount": "600.00"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="key-1",
    )
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert Repayment.objects.count() == 1

    # a new key posts again
    again = api.post(
        url("loan-repayments", loan_id=active_loan.pk), REPAYMENT, format="json", HTTP_IDEMPOTENCY_KEY="key-2"
    )
    assert again.status_code == 201
    assert Repayment.objects.count() == 2
    listed = api.get(url("loan-repayments", loan_id=active_loan.pk)).json()
    assert [r["amount"] for r in listed] == ["500.00", "500.00"]


def test_repayment_needs_the_idempotency_key(api, active_loan, ops):
    api.force_authenticate(ops)
    response = api.post(url("loan-repayments", loan_id=active_loan.pk), REPAYMENT, format="json")
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["fields"]
    assert not Repayment.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": "0.001"}, "amount"),
        ({"amount": "x"}, "amount"),
        ({"amount": "0"}, "amount"),
        ({"paid_on": "2025-13-01"}, "paid_on"),
        ({"paid_on": "2025-01-20"}, "paid_on"),  # after the business date (service check)
        ({"channel": "cash"}, "channel"),
    ],
)
def test_repayment_input_errors_write_nothing(api, active_loan, ops, change, field):
    api.force_authenticate(ops)
    entries = JournalEntry.objects.count()
    response = api.post(
        url("loan-repayments", loan_id=active_loan.pk),
        {**REPAYMENT, **change},
        format="json",
        HTTP_IDEMPOTENCY_KEY="bad-1",
    )
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]
    assert not Repayment.objects.exists()
    assert not IdempotencyKey.objects.exists()
    assert JournalEntry.objects.count() == entries


def test_payoff_quote(api, active_loan, ops):
    api.force_authenticate(ops)
    response = api.get(url("loan-payoff-quote", loan_id=active_loan.pk), {"on": "2025-02-01"})
    assert response.status_code == 200
    body = response.json()
    assert body["items"]["principal"] == "12000.00"
    assert body["items"]["interest_accrued"] == "68.00"  # 12000 × 12 % × 17 / 360
    assert body["total"] == "12068.00"
    assert api.get(url("loan-payoff-quote", loan_id=active_loan.pk), {"on": "soon"}).status_code == 400


def test_business_date_get_and_put(api, business_date, ops, manager):
    api.force_authenticate(ops)
    assert api.get(url("business-date")).json() == {"date": "2025-01-15"}
    assert api.put(url("business-date"), {"date": "2025-01-16"}, format="json").status_code == 403
    api.force_authenticate(manager)
    response = api.put(url("business-date"), {"date": "2025-01-16"}, format="json")
    assert response.status_code == 200 and response.json() == {"date": "2025-01-16"}
    assert BusinessDate.objects.get(pk=1).date == date(2025, 1, 16)
    assert AuditEvent.objects.filter(action="servicing.business_date_set").exists()
    assert api.put(url("business-date"), {"date": "nope"}, format="json").status_code == 400


def test_business_date_cannot_go_back_before_postings(api, active_loan, manager):
    api.force_authenticate(manager)
    response = api.put(url("business-date"), {"date": "2025-01-10"}, format="json")
    assert response.status_code == 422
    assert response.json()["code"] == "business_date_backwards"


def test_reverse_api(api, active_loan, ops, manager):
    set_business_date(date(2025, 1, 15))
    api.force_authenticate(ops)
    created = api.post(
        url("loan-repayments", loan_id=active_loan.pk), REPAYMENT, format="json", HTTP_IDEMPOTENCY_KEY="r-1"
    ).json()
    response = api.post(url("repayment-reverse", repayment_id=created["id"]), {"reason": "x"}, format="json")
    assert response.status_code == 403
    api.force_authenticate(manager)
    response = api.post(url("repayment-reverse", repayment_id=created["id"]), {}, format="json")
    assert response.status_code == 400 and "reason" in response.json()["fields"]
    response = api.post(url("repayment-reverse", repayment_id=created["id"]), {"reason": "重复"}, format="json")
    assert response.status_code == 200
    assert response.json()["reversed_at"] is not None
    response = api.post(url("repayment-reverse", repayment_id=created["id"]), {"reason": "重复"}, format="json")
    assert response.status_code == 422 and response.json()["code"] == "already_reversed"
    assert api.post(url("repayment-reverse", repayment_id=99999), {"reason": "x"}, format="json").status_code == 404


def test_schema_documents_the_servicing_endpoints(api, ops):
    api.force_authenticate(ops)
    response = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/v1/schedule-preview/",
        "/api/v1/loans/{loan_id}/schedule/",
        "/api/v1/loans/{loan_id}/transactions/",
        "/api/v1/loans/{loan_id}/repayments/",
        "/api/v1/loans/{loan_id}/payoff-quote/",
        "/api/v1/business-date/",
        "/api/v1/repayments/{repayment_id}/reverse/",
    ):
        assert path in paths, path
    params = paths["/api/v1/loans/{loan_id}/repayments/"]["post"]["parameters"]
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in params)


def test_disburse_endpoint_enforces_four_eyes(api, business_date, loan_factory, manager, manager2):
    loan = loan_factory(maker=manager)
    api.force_authenticate(manager)
    response = api.post(url("loan-disburse", loan_id=loan.pk), {"reason": "自己复核"}, format="json")
    assert response.status_code == 422
    assert response.json()["code"] == "four_eyes_required"
    assert not JournalEntry.objects.filter(loan=loan).exists()
    api.force_authenticate(manager2)
    response = api.post(url("loan-disburse", loan_id=loan.pk), {"reason": "复核通过"}, format="json")
    assert response.status_code == 200, response.content
    assert api.get(url("loan-schedule", loan_id=loan.pk)).json()["version"] == 1
