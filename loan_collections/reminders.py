"""COB step 6 `reminders`: repayment reminders before a due date and overdue notices after it (催告).

For business date D, an unpaid installment of the current schedule of an active or overdue loan gets
* a reminder on D when its due date is D + k for k in `LOANOPS_REMINDER_DAYS_BEFORE` (default 3, 1, 0);
* an overdue notice on D when its due date is D − k for k in `LOANOPS_OVERDUE_NOTICE_DAYS` (default 1, 3, 7);
by SMS to the borrower's phone and, when the borrower has one, by e-mail.

Exactly once: a `Reminder` row per (installment, date, channel) under a unique constraint, and the message
in the outbox (same transaction, its own unique dedupe key). Installments that already have their
reminder for D are excluded in SQL, so a rerun of D inserts nothing. Set-based: one streamed query per
chunk and bulk INSERTs (… ON CONFLICT DO NOTHING); no query per loan or installment. Contact data is read
through the `Customer` model's attributes (they may become encrypted fields).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import DecimalField, Exists, ExpressionWrapper, F, OuterRef

from applications.models import SERVICING_STATUSES
from loan_collections.post_loan import Reminder, ReminderKind
from loanops.cob import CobStep, IdRange
from loanops.money import format_money, to_money
from notifications.models import Channel
from notifications.services import Message, outbox_write_many
from notifications.sql import insert_ignore_conflicts
from servicing.models import Installment, InstallmentStatus

DEFAULT_DAYS_BEFORE: tuple[int, ...] = (3, 1, 0)
DEFAULT_DAYS_AFTER: tuple[int, ...] = (1, 3, 7)
FLUSH_EVERY = 2000
_REMINDER_COLUMNS = (
    "installment_id",
    "loan_id",
    "reminder_date",
    "channel",
    "kind",
    "offset_days",
    "due_date",
    "amount",
)


def reminder_plan(business_date: date) -> dict[date, int]:
    """Due date → signed offset of D from it (−3 … 0 before, 1 … 7 after) for reminders sent on D."""
    before: Sequence[int] = getattr(settings, "LOANOPS_REMINDER_DAYS_BEFORE", DEFAULT_DAYS_BEFORE)
    after: Sequence[int] = getattr(settings, "LOANOPS_OVERDUE_NOTICE_DAYS", DEFAULT_DAYS_AFTER)
    plan: dict[date, int] = {}
    for days in before:
        plan[business_date + timedelta(days=int(days))] = -int(days)
    for days in after:
        if int(days) > 0:
            plan[business_date - timedelta(days=int(days))] = int(days)
    return plan


def _cn_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def reminder_text(
    *, name: str, reference: str, period: int, due_date: date, amount: Decimal, offset: int
) -> tuple[str, str, str]:
    """(kind, subject, body) of a reminder in Chinese, with the amount and the due date."""
    money = format_money(amount)
    if offset < 0:
        return (
            ReminderKind.DUE_SOON,
            f"【LoanOps】还款提醒：贷款 {reference} 第 {period} 期",
            f"【LoanOps】{name}您好，您的贷款 {reference} 第 {period} 期应还 {money} 元，还款日为"
            f"{_cn_date(due_date)}（{-offset} 天后），请提前备足资金按时还款。",
        )
    if offset == 0:
        return (
            ReminderKind.DUE_TODAY,
            f"【LoanOps】今日还款：贷款 {reference} 第 {period} 期",
            f"【LoanOps】{name}您好，今天（{_cn_date(due_date)}）是您的贷款 {reference} 第 {period} 期还款日，"
            f"应还 {money} 元，请于今日按时还款。",
        )
    return (
        ReminderKind.OVERDUE,
        f"【LoanOps】逾期通知：贷款 {reference} 第 {period} 期",
        f"【LoanOps】{name}您好，您的贷款 {reference} 第 {period} 期（还款日{_cn_date(due_date)}）已逾期 {offset} 天，"
        f"尚欠 {money} 元，请尽快还款，以免产生更多罚息并影响您的信用记录。如已还款，请忽略本通知。",
    )


def _outstanding() -> ExpressionWrapper:
    return ExpressionWrapper(
        F("principal_due")
        + F("interest_due")
        + F("fee_due")
        + F("penalty_due")
        - F("principal_paid")
        - F("interest_paid")
        - F("fee_paid")
        - F("penalty_paid"),
        output_field=DecimalField(max_digits=18, decimal_places=2),
    )


def reminder_candidates(*, business_date: date, id_range: IdRange = None) -> Any:
    """Unpaid installments due on one of the plan's dates that have no reminder for D yet."""
    plan = reminder_plan(business_date)
    already = Reminder.objects.filter(installment_id=OuterRef("pk"), reminder_date=business_date)
    queryset = (
        Installment.objects.filter(
            schedule__is_current=True, due_date__in=list(plan), loan__status__in=SERVICING_STATUSES
        )
        .exclude(status=InstallmentStatus.PAID)
        .annotate(reminder_amount=_outstanding())
        .filter(reminder_amount__gt=0)
        .filter(~Exists(already))
    )
    if id_range is not None:
        queryset = queryset.filter(loan_id__gte=id_range[0], loan_id__lt=id_range[1])
    return queryset


@transaction.atomic
def reminders_queue(*, business_date: date, id_range: IdRange = None) -> int:
    """Write D's reminders and notices (reminder rows + outbox messages); returns the reminder rows written."""
    plan = reminder_plan(business_date)
    candidates = reminder_candidates(business_date=business_date, id_range=id_range).select_related(
        "loan", "loan__customer"
    )
    reminders: list[tuple[Any, ...]] = []
    messages: list[Message] = []
    written = 0

    def flush() -> None:
        nonlocal written
        insert_ignore_conflicts(Reminder, _REMINDER_COLUMNS, reminders, batch_size=FLUSH_EVERY)
        outbox_write_many(messages, batch_size=FLUSH_EVERY)
        written += len(reminders)
        reminders.clear()
        messages.clear()

    for installment in candidates.order_by("pk").iterator(chunk_size=FLUSH_EVERY):
        loan = installment.loan
        customer = loan.customer
        offset = plan[installment.due_date]
        amount = to_money(installment.reminder_amount)
        reference = loan.reference or str(loan.pk)
        kind, subject, body = reminder_text(
            name=customer.name,
            reference=reference,
            period=installment.period,
            due_date=installment.due_date,
            amount=amount,
            offset=offset,
        )
        context = {
            "installment_id": installment.pk,
            "period": installment.period,
            "due_date": installment.due_date.isoformat(),
            "amount": str(amount),
            "offset_days": offset,
        }
        for channel, address in ((Channel.SMS, customer.phone), (Channel.EMAIL, customer.email)):
            if not address:
                continue
            reminders.append(
                (installment.pk, loan.pk, business_date, channel, kind, offset, installment.due_date, amount)
            )
            messages.append(
                Message(
                    channel=channel,
                    kind=f"reminder.{kind}",
                    dedupe_key=f"reminder:{installment.pk}:{business_date.isoformat()}:{channel}",
                    recipient=address,
                    subject=subject if channel == Channel.EMAIL else "",
                    body=body,
                    loan_id=loan.pk,
                    template=f"reminder.{kind}",
                    context=context,
                )
            )
        if len(reminders) >= FLUSH_EVERY:
            flush()
    flush()
    return written


REMINDERS_STEP = CobStep(name="reminders", label="还款提醒与逾期通知", func=reminders_queue)
