"""A blacklisted applicant is stopped at intake: no application is created or submitted; the refusal is
audited; the customer sees a non-revealing message, staff the real reason."""

from __future__ import annotations

from typing import Any

import pytest

from applications.models import Customer, Loan, LoanStatus, Product
from applications.services import BLACKLISTED_CUSTOMER_MESSAGE, loan_create, loan_submit
from compliance.models import AuditEvent
from compliance.services import blacklist_add
from loanops.exceptions import DomainError
from tests.conftest import pdf_upload

pytestmark = pytest.mark.django_db


def _create(actor: Any, customer: Customer, product: Product) -> Loan:
    return loan_create(
        actor=actor,
        customer_id=customer.pk,
        product_id=product.pk,
        requested_amount="50000.00",
        requested_term_months=12,
        purpose="经营周转",
        repayment_source="经营收入",
    )


def test_customer_cannot_open_an_application_and_is_not_told_why(
    customer: Customer, customer_user: Any, product: Product, risk_user: Any
) -> None:
    entry = blacklist_add(actor=risk_user, id_number=customer.id_number, reason="伪造收入证明", source="internal")
    with pytest.raises(DomainError) as info:
        _create(customer_user, customer, product)
    assert info.value.code == "blacklisted"
    assert info.value.message == BLACKLISTED_CUSTOMER_MESSAGE
    assert "伪造" not in info.value.message and not info.value.extra
    assert not Loan.objects.exists()
    event = AuditEvent.objects.get(action="intake.blacklisted")
    assert (event.actor, event.data["blacklist_entry"], event.data["attempt"]) == (
        customer_user,
        entry.pk,
        "loan_create",
    )


def test_staff_see_the_source_and_reason(customer: Customer, ops_user: Any, product: Product, risk_user: Any) -> None:
    blacklist_add(actor=risk_user, phone=customer.phone, reason="团伙欺诈", source="partner")
    with pytest.raises(DomainError) as info:
        _create(ops_user, customer, product)
    assert info.value.code == "blacklisted"
    assert "团伙欺诈" in info.value.message
    assert info.value.extra["reason"] == "团伙欺诈"
    assert not Loan.objects.exists()


def test_a_draft_cannot_be_submitted_once_listed(
    loan: Loan, customer: Customer, customer_user: Any, risk_user: Any
) -> None:
    for doc_type in loan.product.required_documents:
        from applications.services import document_upload

        document_upload(actor=customer_user, loan_id=loan.pk, doc_type=doc_type, upload=pdf_upload())
    blacklist_add(actor=risk_user, id_number=customer.id_number, reason="法院失信", source="court")
    with pytest.raises(DomainError) as info:
        loan_submit(actor=customer_user, loan_id=loan.pk)
    assert info.value.code == "blacklisted"
    loan.refresh_from_db()
    assert loan.status == LoanStatus.DRAFT
    assert not loan.stage_events.exists()
    assert AuditEvent.objects.filter(action="intake.blacklisted", data__attempt="loan_submit").count() == 1


def test_deactivated_entry_lets_the_applicant_in(
    customer: Customer, customer_user: Any, product: Product, risk_user: Any
) -> None:
    from compliance.services import blacklist_deactivate

    entry = blacklist_add(actor=risk_user, id_number=customer.id_number, reason="误报", source="internal")
    blacklist_deactivate(actor=risk_user, entry_id=entry.pk, reason="核实后解除")
    assert _create(customer_user, customer, product).status == LoanStatus.DRAFT


def test_api_answers_422_blacklisted(
    api_client_for: Any, customer: Customer, customer_user: Any, product: Product, risk_user: Any
) -> None:
    blacklist_add(actor=risk_user, id_number=customer.id_number, reason="内部欺诈记录", source="internal")
    response = api_client_for(customer_user).post(
        "/api/v1/loans/",
        {
            "product": product.pk,
            "requested_amount": "50000.00",
            "requested_term_months": 12,
            "purpose": "装修",
            "repayment_source": "工资",
        },
        format="json",
    )
    assert response.status_code == 422
    assert response.json()["code"] == "blacklisted"
    assert "内部欺诈" not in response.content.decode()
    assert not Loan.objects.exists()
