"""COB step 6: reminders T−3, T−1, T0 and overdue notices D+1, D+3, D+7 — each exactly once, via the outbox."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.models import F

from applications.models import Loan
from loan_collections.post_loan import Reminder, ReminderKind
from loan_collections.reminders import REMINDERS_STEP, reminders_queue
from notifications.channels import LoggingSmsProvider
from notifications.models import Channel, OutboxMessage, OutboxStatus
from notifications.services import outbox_relay
from servicing.tests.conftest import START, set_business_date

pytestmark = pytest.mark.django_db

FIRST_DUE = date(2025, 2, 15)


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _disburse(loan_factory: Any, manager: Any, **kwargs: Any) -> Loan:
    from servicing.services import loan_disburse

    loan = loan_factory(**kwargs)
    return loan_disburse(actor=manager, loan_id=loan.pk)


def test_t_minus_3_reminder_with_amount_and_due_date(active_loan: Loan) -> None:
    assert reminders_queue(business_date=date(2025, 2, 12)) == 1
    reminder = Reminder.objects.get()
    assert (reminder.kind, reminder.offset_days, reminder.channel) == (ReminderKind.DUE_SOON, -3, Channel.SMS)
    message = OutboxMessage.objects.get(kind="reminder.due_soon")
    assert message.loan_id == active_loan.pk
    # The outbox names the borrower, not the number: the phone stays encrypted on the customer only.
    assert (message.recipient, message.customer_id) == ("", active_loan.customer_id)
    assert message.status == OutboxStatus.PENDING
    assert "1,066.19 元" in message.body and "2025年2月15日" in message.body and "第 1 期" in message.body
    assert message.dedupe_key == f"reminder:{reminder.installment_id}:2025-02-12:sms"
    # Raw multi-row INSERT stores what the ORM would: JSON, dates, decimals, database defaults.
    assert message.context == {
        "installment_id": reminder.installment_id,
        "period": 1,
        "due_date": "2025-02-15",
        "amount": "1066.19",
        "offset_days": -3,
    }
    assert message.created_at is not None and message.next_attempt_at is not None and message.sent_at is None
    assert (reminder.amount, reminder.due_date, reminder.reminder_date) == (
        Decimal("1066.19"),
        date(2025, 2, 15),
        date(2025, 2, 12),
    )


def test_same_date_twice_sends_nothing_more(active_loan: Loan) -> None:
    assert REMINDERS_STEP.run(business_date=FIRST_DUE, id_range=None) == 1
    assert REMINDERS_STEP.run(business_date=FIRST_DUE, id_range=None) == 0
    assert Reminder.objects.count() == 1 and OutboxMessage.objects.filter(kind__startswith="reminder").count() == 1


def test_every_offset_once_over_a_run_of_dates_and_a_rerun_of_them(active_loan: Loan) -> None:
    days = _days(date(2025, 2, 1), date(2025, 2, 28))
    assert sum(reminders_queue(business_date=day) for day in days) == 6
    # Overlapping catch-up: the same dates again (and beyond) add nothing for those dates.
    assert sum(reminders_queue(business_date=day) for day in days) == 0
    sent = list(Reminder.objects.order_by("reminder_date").values_list("reminder_date", "offset_days", "kind"))
    assert sent == [
        (date(2025, 2, 12), -3, "due_soon"),
        (date(2025, 2, 14), -1, "due_soon"),
        (date(2025, 2, 15), 0, "due_today"),
        (date(2025, 2, 16), 1, "overdue"),
        (date(2025, 2, 18), 3, "overdue"),
        (date(2025, 2, 22), 7, "overdue"),
    ]
    notice = OutboxMessage.objects.get(kind="reminder.overdue", dedupe_key__contains="2025-02-22")
    assert "已逾期 7 天" in notice.body and "尚欠 1,066.19 元" in notice.body


def test_email_too_when_the_customer_has_one(active_loan: Loan) -> None:
    customer = active_loan.customer
    customer.email = "borrower@example.com"
    customer.save(update_fields=["email"])
    assert reminders_queue(business_date=FIRST_DUE) == 2
    email = OutboxMessage.objects.get(channel=Channel.EMAIL)
    assert (email.recipient, email.customer_id) == ("", customer.pk) and "今日还款" in email.subject
    assert set(Reminder.objects.values_list("channel", flat=True)) == {"sms", "email"}


def test_paid_installments_and_closed_loans_get_nothing(
    active_loan: Loan, loan_factory: Any, manager: Any, ops: Any
) -> None:
    from servicing.services import repayment_record

    set_business_date(date(2025, 2, 10))
    repayment_record(
        actor=ops, loan_id=active_loan.pk, amount="1066.19", paid_on=date(2025, 2, 10), channel="bank_transfer"
    )
    assert reminders_queue(business_date=date(2025, 2, 12)) == 0
    # Period 2 is still reminded.
    assert reminders_queue(business_date=date(2025, 3, 12)) == 1
    other = _disburse(loan_factory, manager)
    Loan.objects.filter(pk=other.pk).update(status="settled")
    assert reminders_queue(business_date=date(2025, 4, 12)) == 1  # only active_loan's period 3
    assert not Reminder.objects.filter(loan=other).exists()


def test_chunks_touch_only_their_loan_id_range(active_loan: Loan, loan_factory: Any, manager: Any) -> None:
    second = _disburse(loan_factory, manager)
    lo, hi = sorted([active_loan.pk, second.pk])
    assert reminders_queue(business_date=FIRST_DUE, id_range=(lo, lo + 1)) == 1
    assert list(Reminder.objects.values_list("loan_id", flat=True)) == [lo]
    assert reminders_queue(business_date=FIRST_DUE, id_range=(lo + 1, hi + 1)) == 1
    assert reminders_queue(business_date=FIRST_DUE, id_range=(lo, hi + 1)) == 0
    # Reminder.loan has no FK of its own: it is the installment's loan, copied by the step
    assert Reminder.objects.count() == 2
    assert not Reminder.objects.exclude(loan_id=F("installment__loan_id")).exists()


def test_offsets_are_settings(active_loan: Loan, settings: Any) -> None:
    settings.LOANOPS_REMINDER_DAYS_BEFORE = [5]
    settings.LOANOPS_OVERDUE_NOTICE_DAYS = [2]
    days = _days(date(2025, 2, 1), date(2025, 2, 28))
    assert sum(reminders_queue(business_date=day) for day in days) == 2
    assert sorted(Reminder.objects.values_list("offset_days", flat=True)) == [-5, 2]


def test_set_based_query_count_does_not_grow_with_loans(
    active_loan: Loan, loan_factory: Any, manager: Any, django_assert_max_num_queries: Any
) -> None:
    for _ in range(5):
        _disburse(loan_factory, manager)
    with django_assert_max_num_queries(8):
        assert reminders_queue(business_date=FIRST_DUE) == 6


def test_relay_sends_the_reminders_once(active_loan: Loan) -> None:
    LoggingSmsProvider.sent.clear()
    reminders_queue(business_date=FIRST_DUE)
    reminders_queue(business_date=FIRST_DUE)
    assert outbox_relay().sent == 1
    assert outbox_relay().sent == 0
    assert [sms.phone for sms in LoggingSmsProvider.sent] == [active_loan.customer.phone]
    assert "今天（2025年2月15日）" in LoggingSmsProvider.sent[0].text


def test_business_date_fixture_is_the_disbursement_day(business_date: date) -> None:
    assert business_date == START


def _written() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    reminders = list(
        Reminder.objects.order_by("installment_id", "reminder_date", "channel").values_list(
            "installment_id", "loan_id", "reminder_date", "channel", "kind", "offset_days", "due_date", "amount"
        )
    )
    messages = list(
        OutboxMessage.objects.filter(kind__startswith="reminder.")
        .order_by("dedupe_key")
        .values_list(
            "dedupe_key", "channel", "kind", "recipient", "subject", "body", "template", "context", "status",
            "loan_id", "customer_id", "attempts", "last_error", "sent_at",
        )
    )  # fmt: skip
    return reminders, messages


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the SQL variant is PostgreSQL's")
def test_sql_variant_writes_exactly_what_the_python_reference_writes(
    active_loan: Loan, loan_factory: Any, manager: Any
) -> None:
    with_email = _disburse(loan_factory, manager, principal="1234567.89", first_due_date=date(2025, 2, 20))
    customer = with_email.customer
    customer.email = "borrower@example.com"
    customer.save(update_fields=["email"])
    Loan.objects.filter(pk=with_email.pk).update(reference="")  # falls back to the loan id, as in Python
    days = _days(date(2025, 2, 1), date(2025, 3, 31))  # due soon, due today and overdue notices, both loans
    results = []
    for variant in ("python", "sql"):
        with transaction.atomic():
            written = sum(reminders_queue(business_date=day, variant=variant) for day in days)
            results.append((written, _written()))
            transaction.set_rollback(True)
    (python_count, python_rows), (sql_count, sql_rows) = results
    assert python_count == sql_count > 12
    assert {row[4] for row in python_rows[0]} == {"due_soon", "due_today", "overdue"}
    assert sql_rows == python_rows


def test_the_relay_reads_the_borrowers_current_address(active_loan: Loan) -> None:
    from django.core import mail

    customer = active_loan.customer
    customer.email = "old@example.com"
    customer.save(update_fields=["email"])
    LoggingSmsProvider.sent.clear()
    reminders_queue(business_date=FIRST_DUE)
    customer.email = "new@example.com"
    customer.save(update_fields=["email"])
    assert outbox_relay().sent == 2
    assert [m.to for m in mail.outbox] == [["new@example.com"]]
    assert [sms.phone for sms in LoggingSmsProvider.sent] == [customer.phone]


def test_loan_message_log_masks_the_resolved_address(active_loan: Loan, django_assert_max_num_queries: Any) -> None:
    from notifications.selectors import loan_messages

    reminders_queue(business_date=date(2025, 2, 12))
    reminders_queue(business_date=FIRST_DUE)
    with django_assert_max_num_queries(2):  # the messages, then one lookup of the borrower's contacts
        rows = loan_messages(active_loan.pk)
    phone = active_loan.customer.phone
    assert [row.recipient_masked for row in rows] == [f"{phone[:3]}****{phone[-4:]}"] * 2
