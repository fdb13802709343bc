"""Stage-change e-mails go through the outbox; the loan page shows the per-loan log; the inbox page."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.db import transaction
from django.test import Client
from django.urls import reverse

from applications.models import Loan
from applications.services import loan_submit
from notifications.models import Channel, OutboxMessage, OutboxStatus
from notifications.services import Message, outbox_relay, outbox_write_many
from tests.conftest import PASSWORD, pdf_upload

pytestmark = pytest.mark.django_db


def _complete(loan: Loan, actor: Any) -> None:
    from applications.services import document_upload

    for doc_type in loan.product.required_documents:
        document_upload(actor=actor, loan_id=loan.pk, doc_type=doc_type, upload=pdf_upload(f"{doc_type}.pdf"))


def test_stage_change_writes_the_email_in_the_transition_transaction(loan: Loan, customer_user: Any) -> None:
    _complete(loan, customer_user)
    loan_submit(actor=customer_user, loan_id=loan.pk)
    loan.refresh_from_db()
    row = OutboxMessage.objects.get(loan_id=loan.pk, kind="loan.stage")
    assert row.channel == Channel.EMAIL and row.status == OutboxStatus.PENDING
    assert row.recipient == loan.customer.email
    assert loan.reference in row.subject and "已提交" in row.subject
    assert outbox_relay().sent == 1
    assert mail.outbox[0].to == [loan.customer.email]


def test_a_refused_transition_writes_no_message(loan: Loan, ops_user: Any) -> None:
    from applications.services import loan_start_review

    with pytest.raises(Exception):  # noqa: B017 - draft cannot go to review
        loan_start_review(actor=ops_user, loan_id=loan.pk)
    assert OutboxMessage.objects.count() == 0


def test_stage_notification_delivered_after_commit(
    loan: Loan, customer_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    _complete(loan, customer_user)
    with django_capture_on_commit_callbacks(execute=True):
        loan_submit(actor=customer_user, loan_id=loan.pk)
    assert OutboxMessage.objects.get(kind="loan.stage").status == OutboxStatus.SENT
    assert len(mail.outbox) == 1


def test_loan_page_shows_the_message_log_masked(loan: Loan, ops_user: Any, django_assert_max_num_queries: Any) -> None:
    with transaction.atomic():
        outbox_write_many(
            Message(
                channel=Channel.SMS,
                kind="reminder",
                dedupe_key=f"k{i}",
                recipient="13812345678",
                body=f"提醒{i}",
                loan_id=loan.pk,
            )
            for i in range(5)
        )
    client = Client()
    client.login(username=ops_user.username, password=PASSWORD)
    url = reverse("backoffice:loan-detail", args=[loan.pk])
    client.get(url)
    with django_assert_max_num_queries(40):
        response = client.get(url)
    html = response.content.decode()
    assert "通知记录" in html and "提醒4" in html
    assert "138****5678" in html and "13812345678" not in html


def test_inbox_lists_only_my_messages(manager_user: Any, risk_user: Any, customer_user: Any) -> None:
    with transaction.atomic():
        outbox_write_many(
            [
                Message(
                    channel=Channel.IN_APP,
                    kind="t",
                    dedupe_key="m",
                    recipient_user_id=manager_user.pk,
                    subject="给经理",
                    body="x",
                ),
                Message(
                    channel=Channel.IN_APP,
                    kind="t",
                    dedupe_key="r",
                    recipient_user_id=risk_user.pk,
                    subject="给风控",
                    body="y",
                ),
            ]
        )
    client = Client()
    client.login(username=manager_user.username, password=PASSWORD)
    html = client.get(reverse("backoffice:inbox")).content.decode()
    assert "给经理" in html and "给风控" not in html and "未读" in html
    client.post(reverse("backoffice:inbox"))
    assert OutboxMessage.objects.get(dedupe_key="m").read_at is not None
    assert OutboxMessage.objects.get(dedupe_key="r").read_at is None
    # Customers are not staff.
    customer_client = Client()
    customer_client.force_login(customer_user)
    assert customer_client.get(reverse("backoffice:inbox")).status_code == 403
    assert Client().get(reverse("backoffice:inbox")).status_code == 302
