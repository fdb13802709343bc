"""GET/POST /api/v1/loans/, GET /api/v1/loans/{id}/, GET /api/v1/loans/{id}/timeline/."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from applications.models import Customer, Loan, LoanStatus, Product
from applications.services import loan_create
from compliance.models import AuditEvent

pytestmark = pytest.mark.django_db
LIST = reverse("api:loan-list")
Client = Callable[[Any], APIClient]


def detail(loan: Loan | int) -> str:
    return reverse("api:loan-detail", kwargs={"loan_id": getattr(loan, "pk", loan)})


def timeline(loan: Loan | int) -> str:
    return reverse("api:loan-timeline", kwargs={"loan_id": getattr(loan, "pk", loan)})


def application(**overrides: Any) -> dict[str, Any]:
    data = {
        "requested_amount": "80000.00",
        "requested_term_months": 24,
        "purpose": "经营周转",
        "repayment_source": "经营收入",
    }
    data.update(overrides)
    return data


# --- list ------------------------------------------------------------------------------------


def test_staff_lists_every_loan(api_client_for: Client, ops_user: Any, loan: Loan, other_loan: Loan) -> None:
    response = api_client_for(ops_user).get(LIST)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    row = next(row for row in body["results"] if row["id"] == loan.pk)
    assert row["status"] == "draft"
    assert row["stage"] == "accepted"
    assert row["requested_amount"] == "50000.00"
    assert row["customer_name"] == "张三"


def test_customer_lists_only_own_loans(
    api_client_for: Client, customer_user: Any, loan: Loan, other_loan: Loan
) -> None:
    response = api_client_for(customer_user).get(LIST)
    assert [row["id"] for row in response.json()["results"]] == [loan.pk]
    # Filtering by someone else's customer id shows nothing rather than their loans.
    assert api_client_for(customer_user).get(LIST, {"customer": other_loan.customer_id}).json()["results"] == []


def test_list_filters(
    api_client_for: Client,
    ops_user: Any,
    loan: Loan,
    other_loan: Loan,
    advance_loan: Callable[[Loan, str], Loan],
) -> None:
    advance_loan(loan, LoanStatus.RISK_REVIEW)
    client = api_client_for(ops_user)

    def ids(**params: Any) -> set[int]:
        response = client.get(LIST, params)
        assert response.status_code == 200, response.json()
        return {row["id"] for row in response.json()["results"]}

    assert ids(status="risk_review") == {loan.pk}
    assert ids(status="draft") == {other_loan.pk}
    assert ids(stage="review") == {loan.pk}
    assert ids(stage="accepted") == {other_loan.pk}
    assert ids(stage="repaying") == set()
    assert ids(customer=other_loan.customer_id) == {other_loan.pk}
    assert ids(product=loan.product_id) == {loan.pk, other_loan.pk}
    assert ids(bucket="M0") == {loan.pk, other_loan.pk}
    assert ids(bucket="M1") == set()
    bad = client.get(LIST, {"status": "nonsense", "stage": "nope"})
    assert bad.status_code == 400
    assert {"status", "stage"} <= set(bad.json()["fields"])


def test_list_is_a_bounded_number_of_queries(
    api_client_for: Client,
    ops_user: Any,
    customer: Customer,
    customer_user: Any,
    product: Product,
    django_assert_max_num_queries: Any,
    settings: Any,
) -> None:
    settings.LOANOPS_DUPLICATE_APPLICATION = "flag"  # many open applications of one borrower
    for _ in range(15):
        loan_create(
            actor=customer_user,
            customer_id=customer.pk,
            product_id=product.pk,
            requested_amount="30000",
            requested_term_months=12,
            purpose="装修",
            repayment_source="工资",
        )
    client = api_client_for(ops_user)
    with django_assert_max_num_queries(6):  # auth, role checks, count, one page: not one per loan
        response = client.get(LIST)
    assert response.json()["count"] == 15


def test_list_needs_a_role(api_client_for: Client, outsider: Any) -> None:
    assert api_client_for(outsider).get(LIST).status_code == 403


def test_list_unauthenticated_is_401() -> None:
    assert APIClient().get(LIST).status_code == 401


# --- create ----------------------------------------------------------------------------------


def test_customer_applies_without_naming_themself(
    api_client_for: Client, customer_user: Any, customer: Customer, product: Product
) -> None:
    response = api_client_for(customer_user).post(LIST, application(product=product.pk), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    loan = Loan.objects.get(pk=body["id"])
    assert loan.customer_id == customer.pk
    assert body["status"] == "draft"
    assert body["reference"] == loan.reference
    assert body["missing_documents"] == ["id_front", "id_back", "income_proof", "credit_auth"]
    assert set(body["available_transitions"]) == {"submit", "withdraw"}
    assert AuditEvent.objects.filter(action="loan.create", subject_id=str(loan.pk)).exists()


def test_ops_applies_for_a_customer(
    api_client_for: Client, ops_user: Any, customer: Customer, product: Product
) -> None:
    response = api_client_for(ops_user).post(LIST, application(customer=customer.pk, product=product.pk), format="json")
    assert response.status_code == 201
    assert response.json()["customer"] == customer.pk


def test_staff_must_name_the_customer(api_client_for: Client, ops_user: Any, product: Product) -> None:
    response = api_client_for(ops_user).post(LIST, application(product=product.pk), format="json")
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["customer"]


def test_amount_outside_product_range_is_400_and_writes_nothing(
    api_client_for: Client, customer_user: Any, product: Product
) -> None:
    loans, events = Loan.objects.count(), AuditEvent.objects.count()
    response = api_client_for(customer_user).post(
        LIST, application(product=product.pk, requested_amount="5000000.00"), format="json"
    )
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["requested_amount"]
    assert (Loan.objects.count(), AuditEvent.objects.count()) == (loans, events)


def test_missing_fields_are_named(api_client_for: Client, customer_user: Any) -> None:
    response = api_client_for(customer_user).post(LIST, {}, format="json")
    assert response.status_code == 400
    assert {"product", "requested_amount", "requested_term_months", "purpose"} <= set(response.json()["fields"])


def test_customer_cannot_apply_for_someone_else(
    api_client_for: Client, customer_user: Any, other_customer: Customer, product: Product
) -> None:
    response = api_client_for(customer_user).post(
        LIST, application(customer=other_customer.pk, product=product.pk), format="json"
    )
    assert response.status_code == 404
    assert not Loan.objects.filter(customer=other_customer).exists()


def test_create_needs_add_loan(api_client_for: Client, risk_user: Any, customer: Customer, product: Product) -> None:
    response = api_client_for(risk_user).post(
        LIST, application(customer=customer.pk, product=product.pk), format="json"
    )
    assert response.status_code == 403
    assert not Loan.objects.exists()


def test_create_unauthenticated_is_401(product: Product) -> None:
    assert APIClient().post(LIST, application(product=product.pk), format="json").status_code == 401


# --- detail ----------------------------------------------------------------------------------


def test_detail_for_the_customer(api_client_for: Client, customer_user: Any, loan: Loan) -> None:
    response = api_client_for(customer_user).get(detail(loan))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "draft"
    assert body["status_display"] == "草稿"
    assert body["stage"] == "accepted"
    assert body["principal"] is None and body["annual_rate"] is None and body["apr"] is None
    assert body["missing_documents"] == ["id_front", "id_back", "income_proof", "credit_auth"]
    assert set(body["available_transitions"]) == {"submit", "withdraw"}


def test_detail_shows_offer_terms_and_staff_actions(
    api_client_for: Client, risk_user: Any, ops_user: Any, loan: Loan, advance_loan: Callable[[Loan, str], Loan]
) -> None:
    advance_loan(loan, LoanStatus.OFFERED)
    body = api_client_for(risk_user).get(detail(loan)).json()
    assert body["stage"] == "signing"
    assert body["principal"] == "50000.00"
    assert body["annual_rate"] == "0.072000"
    assert body["term_months"] == 12
    assert body["repayment_method"] == "equal_installment"
    assert body["first_due_date"]
    assert body["apr"] is not None
    assert body["missing_documents"] == []
    assert body["available_transitions"] == []  # risk has nothing to do on an offered loan
    assert set(api_client_for(ops_user).get(detail(loan)).json()["available_transitions"]) == {
        "accept-offer",
        "withdraw",
    }


def test_other_customers_loan_is_404(api_client_for: Client, customer_user: Any, other_loan: Loan) -> None:
    response = api_client_for(customer_user).get(detail(other_loan))
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": response.json()["message"], "fields": {}}


def test_detail_needs_a_role(api_client_for: Client, outsider: Any, loan: Loan) -> None:
    assert api_client_for(outsider).get(detail(loan)).status_code == 403


def test_detail_unauthenticated_is_401(loan: Loan) -> None:
    assert APIClient().get(detail(loan)).status_code == 401


# --- timeline --------------------------------------------------------------------------------


def test_timeline_lists_stage_events(
    api_client_for: Client, customer_user: Any, loan: Loan, advance_loan: Callable[[Loan, str], Loan]
) -> None:
    advance_loan(loan, LoanStatus.RISK_REVIEW)
    response = api_client_for(customer_user).get(timeline(loan))
    assert response.status_code == 200
    events = response.json()
    assert [(e["transition"], e["from_status"], e["to_status"]) for e in events] == [
        ("submit", "draft", "submitted"),
        ("start_review", "submitted", "risk_review"),
    ]
    # The customer sees 本人 for their own step, the institution (not a staff name) for staff steps,
    # and no internal staff notes.
    assert events[0]["actor_name"] == "本人"
    assert events[1]["actor_name"] == "贷款机构"
    assert events[1]["reason"] == ""
    assert events[1]["to_status_display"] == "风控审查中"
    assert events[0]["occurred_at"]


def test_staff_see_names_and_notes_in_the_timeline(
    api_client_for: Client, ops_user: Any, customer_user: Any, loan: Loan, advance_loan: Callable[[Loan, str], Loan]
) -> None:
    advance_loan(loan, LoanStatus.RISK_REVIEW)
    events = api_client_for(ops_user).get(timeline(loan)).json()
    assert events[0]["actor_name"] == loan.customer.name
    assert events[1]["reason"]
    assert events[1]["actor_name"] not in ("", "贷款机构")


def test_timeline_of_other_customers_loan_is_404(api_client_for: Client, customer_user: Any, other_loan: Loan) -> None:
    assert api_client_for(customer_user).get(timeline(other_loan)).status_code == 404


def test_timeline_needs_a_role(api_client_for: Client, outsider: Any, loan: Loan) -> None:
    assert api_client_for(outsider).get(timeline(loan)).status_code == 403


def test_timeline_unauthenticated_is_401(loan: Loan) -> None:
    assert APIClient().get(timeline(loan)).status_code == 401
