"""Document checklist defaults per applicant type, the supplement notification (which items and why) and the
supplement-rounds KPI."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from applications.models import (
    Loan,
    LoanStatus,
    SupplementRequest,
    default_enterprise_documents,
    default_individual_documents,
)
from applications.selectors import document_label, loan_outstanding_items, supplement_rounds_per_month
from applications.services import loan_request_supplement, loan_submit
from tests.conftest import pdf_upload

pytestmark = pytest.mark.django_db


def test_default_checklists_per_applicant_type() -> None:
    assert default_individual_documents() == ["id_front", "id_back", "income_proof", "bank_statement", "credit_auth"]
    assert default_enterprise_documents() == [
        "business_license",
        "financial_statements",
        "id_front",
        "id_back",
        "bank_statement",
        "credit_auth",
    ]
    assert document_label("id_front", "enterprise") == "法定代表人身份证人像面"
    assert document_label("id_front", "individual") == "身份证人像面"


def test_outstanding_lists_exactly_what_is_missing_for_this_product(loan: Loan, customer_user: Any) -> None:
    from applications.services import document_upload

    loan.product.required_documents = default_individual_documents()
    loan.product.save(update_fields=["required_documents"])
    document_upload(actor=customer_user, loan_id=loan.pk, doc_type="id_front", upload=pdf_upload())
    document_upload(actor=customer_user, loan_id=loan.pk, doc_type="bank_statement", upload=pdf_upload())
    assert loan_outstanding_items(loan) == ["id_back", "income_proof", "credit_auth"]


def _submitted(loan: Loan, customer_user: Any) -> Loan:
    from applications.services import document_upload

    for doc_type in loan.product.required_documents:
        document_upload(actor=customer_user, loan_id=loan.pk, doc_type=doc_type, upload=pdf_upload())
    return loan_submit(actor=customer_user, loan_id=loan.pk)


def test_supplement_notification_says_which_items_and_why(loan: Loan, customer_user: Any, ops_user: Any) -> None:
    from notifications.models import OutboxMessage

    _submitted(loan, customer_user)
    loan_request_supplement(
        actor=ops_user, loan_id=loan.pk, items=["bank_statement", "income_proof"], message="收入证明已过期"
    )
    message = OutboxMessage.objects.filter(loan_id=loan.pk, context__status="supplement_required").get()
    assert message.recipient == loan.customer.email
    body = message.body
    assert "第 1 次补充材料" in body
    assert "银行流水" in body and "收入证明" in body
    assert "原因：收入证明已过期" in body


def test_supplement_rounds_per_month(loan: Loan, customer_user: Any, ops_user: Any, other_loan: Loan) -> None:
    _submitted(loan, customer_user)
    first = loan_request_supplement(actor=ops_user, loan_id=loan.pk, items=["income_proof"], message="过期")
    loan.refresh_from_db()
    assert loan.supplement_rounds == 1
    other_user = other_loan.customer.user
    _submitted(other_loan, other_user)
    loan_request_supplement(actor=ops_user, loan_id=other_loan.pk, items=["id_back"], message="模糊")
    tz = timezone.get_current_timezone()
    SupplementRequest.objects.filter(pk=first.pk).update(requested_at=datetime(2025, 3, 10, 9, tzinfo=tz))
    SupplementRequest.objects.exclude(pk=first.pk).update(requested_at=datetime(2025, 5, 31, 23, 30, tzinfo=tz))
    rows = supplement_rounds_per_month(months=4, today=date(2025, 6, 2))
    assert rows == [
        {"month": "2025-03", "rounds": 1, "applications": 1},
        {"month": "2025-04", "rounds": 0, "applications": 0},
        {"month": "2025-05", "rounds": 1, "applications": 1},
        {"month": "2025-06", "rounds": 0, "applications": 0},
    ]
    assert supplement_rounds_per_month(months=2, today=date(2026, 1, 15))[0]["month"] == "2025-12"


def test_queue_page_shows_the_kpi(client: Any, ops_user: Any, loan: Loan, customer_user: Any) -> None:
    _submitted(loan, customer_user)
    loan_request_supplement(actor=ops_user, loan_id=loan.pk, items=["income_proof"], message="过期")
    client.force_login(ops_user)
    response = client.get(reverse("backoffice:queue"))
    assert response.status_code == 200
    assert 'id="supplement-kpi"' in response.content.decode()
    this_month = supplement_rounds_per_month(months=6)[-1]
    assert response.context["supplement_kpi"][-1] == this_month
    assert sum(row["rounds"] for row in response.context["supplement_kpi"]) == 1
    assert Loan.objects.get(pk=loan.pk).status == LoanStatus.SUPPLEMENT_REQUIRED
