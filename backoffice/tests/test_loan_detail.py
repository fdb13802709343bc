"""The loan file: header, masked ID, document checklist, timeline and exactly the available action buttons."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.urls import reverse

from applications.lifecycle import available_transitions
from backoffice.tests.conftest import login
from backoffice.views.transitions import ACTIONS

pytestmark = pytest.mark.django_db


def detail(client: Any, loan: Any) -> str:
    response = client.get(reverse("backoffice:loan-detail", args=[loan.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_ops_sees_start_review_on_a_submitted_loan_and_risk_does_not(
    client: Any, make_loan: Callable[..., Any], ops: Any, risk: Any
) -> None:
    loan = make_loan("submitted")
    start_url = reverse("backoffice:loan-start-review", args=[loan.pk])

    html = detail(login(client, ops), loan)
    assert "提交风控" in html
    assert start_url in html

    html = detail(login(client, risk), loan)
    assert start_url not in html
    assert ">提交风控<" not in html
    # risk may still ask for supplements on a submitted file
    assert reverse("backoffice:loan-request-supplement", args=[loan.pk]) in html


@pytest.mark.parametrize(
    ("status", "role"),
    [
        ("draft", "ops"),
        ("submitted", "ops"),
        ("risk_review", "risk"),
        ("risk_review", "manager"),
        ("approved", "risk"),
        ("offered", "ops"),
        ("contract_signed", "ops"),
        ("active", "ops"),
        ("settled", "ops"),
        ("overdue", "manager"),
        ("archived", "ops"),
        ("active", "service"),
    ],
)
def test_buttons_match_available_transitions(
    client: Any, make_loan: Callable[..., Any], make_user: Callable[..., Any], status: str, role: str
) -> None:
    user = make_user(role)
    loan = make_loan(status)
    html = detail(login(client, user), loan)
    allowed = set(available_transitions(loan, user))
    for name, action in ACTIONS.items():
        if action.url_name is None:
            continue
        url = reverse(action.url_name, args=[loan.pk])
        if name in allowed:
            assert url in html, f"{name} should be offered to {role} on {status}"
        else:
            assert url not in html, f"{name} must not be offered to {role} on {status}"


def test_header_and_masked_customer(client: Any, make_loan: Callable[..., Any], service: Any) -> None:
    loan = make_loan("risk_review")
    html = detail(login(client, service), loan)
    assert loan.reference in html
    assert 'class="badge status-risk_review"' in html
    assert "张三" in html
    assert "110105********0025" in html
    assert "110105199003070025" not in html
    assert "13800138000" not in html
    assert "138****8000" in html
    assert "50,000.00" in html


def test_document_checklist_marks_missing_and_present(client: Any, make_loan: Callable[..., Any], ops: Any) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from applications.services import document_upload
    from backoffice.tests.conftest import PDF_BYTES

    loan = make_loan("draft")
    document = document_upload(
        actor=ops, loan_id=loan.pk, doc_type="id_front", upload=SimpleUploadedFile("front.pdf", PDF_BYTES)
    )
    html = detail(login(client, ops), loan)
    assert "✓ 已上传" in html
    assert html.count("✗ 缺少") == 3  # id_back, income_proof, credit_auth
    assert reverse("backoffice:document-download", args=[document.pk]) in html
    assert "front.pdf" in html


def test_timeline_shows_actor_reason_and_duration(
    client: Any, make_loan: Callable[..., Any], ops: Any, customer_user: Any
) -> None:
    from django.db import transaction

    from applications.lifecycle import loan_transition

    loan = make_loan("submitted")
    with transaction.atomic():
        loan_transition(loan, "withdraw", actor=ops, reason="借款人电话告知不再需要")
    html = detail(login(client, ops), loan)
    assert "借款人电话告知不再需要" in html
    assert "ops-wang" in html
    assert "已撤回" in html
    assert "停留" in html
    assert "创建申请" in html


def test_queue_groups_by_status_with_time_in_stage(
    client: Any, make_loan: Callable[..., Any], ops: Any, make_user: Callable[..., Any]
) -> None:
    submitted = make_loan("submitted")
    signed = make_loan("contract_signed")
    in_review = make_loan("risk_review")
    response = login(client, ops).get(reverse("backoffice:queue"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="queue-submitted"' in html
    assert 'id="queue-contract_signed"' in html
    assert submitted.reference in html
    assert signed.reference in html
    assert in_review.reference not in html  # waiting on risk, not on ops
    assert "分钟" in html  # time in stage (stage clock)

    response = login(client, make_user("risk")).get(reverse("backoffice:queue"))
    html = response.content.decode()
    assert in_review.reference in html
    assert submitted.reference not in html


def test_action_form_is_served_as_a_fragment_to_htmx(client: Any, make_loan: Callable[..., Any], ops: Any) -> None:
    loan = make_loan("submitted")
    login(client, ops)
    response = client.get(reverse("backoffice:loan-start-review", args=[loan.pk]), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert 'id="transition-start_review"' in html
    full = client.get(reverse("backoffice:loan-start-review", args=[loan.pk])).content.decode()
    assert "<html" in full
