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

import string
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import DecimalField, Exists, ExpressionWrapper, F, OuterRef

from applications.models import SERVICING_STATUSES, Customer, Loan
from loan_collections.post_loan import Reminder, ReminderKind
from loanops.cob import CobStep, IdRange
from loanops.money import format_money, to_money
from notifications.models import Channel, OutboxMessage, OutboxStatus
from notifications.services import Message, outbox_kick_on_commit, outbox_write_many
from notifications.sql import insert_ignore_conflicts
from servicing.models import Installment, InstallmentStatus

DEFAULT_DAYS_BEFORE: tuple[int, ...] = (3, 1, 0)
DEFAULT_DAYS_AFTER: tuple[int, ...] = (1, 3, 7)
FLUSH_EVERY = 2000
#: the statuses of a receivable installment: unpaid, of the current schedule version (a superseded version's
#: unpaid installments are "replaced"), so the SQL variant needs no join to the versions
RECEIVABLE_STATUSES = (InstallmentStatus.PENDING.value, InstallmentStatus.DUE.value, InstallmentStatus.OVERDUE.value)
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


#: kind → (e-mail subject, text) templates; the one source of the wording, rendered by Python
#: (:func:`reminder_text`) and compiled to SQL string concatenation for PostgreSQL (:func:`_sql_text`).
#: Fields: name, reference, period, due (Chinese date), money (1,234.50), days (|offset|).
TEMPLATES: dict[str, tuple[str, str]] = {
    ReminderKind.DUE_SOON: (
        "【LoanOps】还款提醒：贷款 {reference} 第 {period} 期",
        "【LoanOps】{name}您好，您的贷款 {reference} 第 {period} 期应还 {money} 元，还款日为{due}（{days} 天后），"
        "请提前备足资金按时还款。",
    ),
    ReminderKind.DUE_TODAY: (
        "【LoanOps】今日还款：贷款 {reference} 第 {period} 期",
        "【LoanOps】{name}您好，今天（{due}）是您的贷款 {reference} 第 {period} 期还款日，应还 {money} 元，"
        "请于今日按时还款。",
    ),
    ReminderKind.OVERDUE: (
        "【LoanOps】逾期通知：贷款 {reference} 第 {period} 期",
        "【LoanOps】{name}您好，您的贷款 {reference} 第 {period} 期（还款日{due}）已逾期 {days} 天，尚欠 {money} 元，"
        "请尽快还款，以免产生更多罚息并影响您的信用记录。如已还款，请忽略本通知。",
    ),
}


def reminder_kind(offset: int) -> str:
    if offset < 0:
        return ReminderKind.DUE_SOON
    return ReminderKind.DUE_TODAY if offset == 0 else ReminderKind.OVERDUE


def reminder_text(
    *, name: str, reference: str, period: int, due_date: date, amount: Decimal, offset: int
) -> tuple[str, str, str]:
    """(kind, subject, body) of a reminder in Chinese, with the amount and the due date."""
    kind = reminder_kind(offset)
    subject, body = TEMPLATES[kind]
    fields = {
        "name": name,
        "reference": reference,
        "period": period,
        "due": _cn_date(due_date),
        "money": format_money(amount),
        "days": abs(offset),
    }
    return kind, subject.format(**fields), body.format(**fields)


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
def reminders_queue(*, business_date: date, id_range: IdRange = None, variant: str | None = None) -> int:
    """Write D's reminders and notices (reminder rows + outbox messages); returns the reminder rows written.

    Every borrower gets an SMS, and an e-mail too when the record has an address. The outbox rows keep no
    address (``customer_id``, ``recipient`` blank): the relay reads it from the borrower's record when it
    delivers, so the phone number stays encrypted in one place. ``variant`` ``"sql"`` (PostgreSQL's
    default: two INSERT … SELECT in one statement, text built in SQL from :data:`TEMPLATES`) or
    ``"python"`` (SQLite's default and the reference the SQL is tested against).
    """
    if not reminder_plan(business_date):
        return 0
    chosen = variant or ("sql" if connection.vendor == "postgresql" else "python")
    if chosen == "sql":
        if connection.vendor != "postgresql":
            raise ValueError("the SQL reminders variant needs PostgreSQL")
        return _reminders_sql(business_date=business_date, id_range=id_range)
    return _reminders_python(business_date=business_date, id_range=id_range)


def _reminders_python(*, business_date: date, id_range: IdRange) -> int:
    plan = reminder_plan(business_date)
    candidates = reminder_candidates(business_date=business_date, id_range=id_range).values_list(
        "pk", "loan_id", "period", "due_date", "reminder_amount", "loan__reference", "loan__customer_id",
        "loan__customer__name", "loan__customer__email",
    )  # fmt: skip
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

    for pk, loan_id, period, due_date, raw_amount, reference, customer_id, name, email in candidates.order_by(
        "pk"
    ).iterator(chunk_size=FLUSH_EVERY):
        offset = plan[due_date]
        amount = to_money(raw_amount)
        kind, subject, body = reminder_text(
            name=name, reference=reference or str(loan_id), period=period, due_date=due_date, amount=amount,
            offset=offset,
        )  # fmt: skip
        context = {
            "installment_id": pk,
            "period": period,
            "due_date": due_date.isoformat(),
            "amount": str(amount),
            "offset_days": offset,
        }
        channels = [Channel.SMS, Channel.EMAIL] if email else [Channel.SMS]
        for channel in channels:
            reminders.append((pk, loan_id, business_date, channel, kind, offset, due_date, amount))
            messages.append(
                Message(
                    channel=channel,
                    kind=f"reminder.{kind}",
                    dedupe_key=f"reminder:{pk}:{business_date.isoformat()}:{channel}",
                    subject=subject if channel == Channel.EMAIL else "",
                    body=body,
                    loan_id=loan_id,
                    customer_id=customer_id,
                    template=f"reminder.{kind}",
                    context=context,
                )
            )
        if len(reminders) >= FLUSH_EVERY:
            flush()
    flush()
    return written


def _sql_text(template: str, columns: dict[str, str]) -> tuple[str, list[Any]]:
    """A :data:`TEMPLATES` string as a SQL ``CONCAT(…)`` of its literal parts (parameters) and columns."""
    parts: list[str] = []
    params: list[Any] = []
    for literal, field, _spec, _conv in string.Formatter().parse(template):
        if literal:
            parts.append("%s")
            params.append(literal)
        if field is not None:
            parts.append(columns[field])
    return f"CONCAT({', '.join(parts)})", params


def _sql_by_kind(which: int, columns: dict[str, str]) -> tuple[str, list[Any]]:
    """``CASE x.kind WHEN … THEN <template> … END`` for the subject (0) or text (1)."""
    sql, params = ["CASE x.kind"], []
    for kind, pair in TEMPLATES.items():
        text, text_params = _sql_text(pair[which], columns)
        sql.append(f"WHEN %s THEN {text}")
        params += [str(kind), *text_params]
    sql.append("END")
    return " ".join(sql), params


_SQL_COLUMNS = {
    "name": "x.name",
    "reference": "x.reference",
    "period": "x.period",
    "due": "CONCAT(EXTRACT(YEAR FROM x.due_date)::int, '年', EXTRACT(MONTH FROM x.due_date)::int, '月', "
    "EXTRACT(DAY FROM x.due_date)::int, '日')",
    "money": "to_char(x.amount, 'FM999,999,999,999,999,990.00')",
    "days": "ABS(x.offset_days)",
}


def _reminders_sql(*, business_date: date, id_range: IdRange) -> int:
    plan = reminder_plan(business_date)
    lo, hi = (0, 2**62) if id_range is None else id_range
    inst, loan = Installment._meta.db_table, Loan._meta.db_table
    customer, reminder, outbox = Customer._meta.db_table, Reminder._meta.db_table, OutboxMessage._meta.db_table
    values = ", ".join(["(%s::date, %s::smallint, %s)"] * len(plan))
    plan_params: list[Any] = [x for due, offset in plan.items() for x in (due, offset, str(reminder_kind(offset)))]
    statuses = ", ".join(["%s"] * len(SERVICING_STATUSES))
    subject_sql, subject_params = _sql_by_kind(0, _SQL_COLUMNS)
    body_sql, body_params = _sql_by_kind(1, _SQL_COLUMNS)
    day = business_date.isoformat()
    sql = f"""
WITH plan (due_date, offset_days, kind) AS (VALUES {values}),
cand AS (
    SELECT i.id AS installment_id, i.loan_id, i.period, i.due_date, p.offset_days, p.kind,
           i.principal_due + i.interest_due + i.fee_due + i.penalty_due
           - i.principal_paid - i.interest_paid - i.fee_paid - i.penalty_paid AS amount,
           COALESCE(NULLIF(l.reference, ''), l.id::text) AS reference, c.id AS customer_id, c.name, c.email
      FROM plan p
      JOIN {inst} i ON i.due_date = p.due_date
      JOIN {loan} l ON l.id = i.loan_id AND l.status IN ({statuses}) AND l.id >= %s AND l.id < %s
      JOIN {customer} c ON c.id = l.customer_id
     WHERE i.status IN (%s, %s, %s) AND i.loan_id >= %s AND i.loan_id < %s
       AND NOT EXISTS (SELECT 1 FROM {reminder} r WHERE r.installment_id = i.id AND r.reminder_date = %s)
),
x AS (
    SELECT cand.*, ch.channel FROM cand
      JOIN (VALUES (%s), (%s)) ch (channel) ON ch.channel = %s OR cand.email <> ''
     WHERE cand.amount > 0
),
rem AS (
    INSERT INTO {reminder} (installment_id, loan_id, reminder_date, channel, kind, offset_days, due_date, amount)
    SELECT installment_id, loan_id, %s, channel, kind, offset_days, due_date, amount
      FROM x ORDER BY installment_id, channel
    ON CONFLICT DO NOTHING
    RETURNING installment_id, channel
),
msg AS (
    INSERT INTO {outbox} (channel, kind, recipient, subject, body, template, context, dedupe_key, status,
                          attempts, last_error, loan_id, customer_id, next_attempt_at, created_at)
    SELECT x.channel, 'reminder.' || x.kind, '', CASE WHEN x.channel = %s THEN {subject_sql} ELSE '' END,
           {body_sql}, 'reminder.' || x.kind,
           jsonb_build_object('installment_id', x.installment_id, 'period', x.period,
                              'due_date', to_char(x.due_date, 'YYYY-MM-DD'), 'amount', x.amount::text,
                              'offset_days', x.offset_days),
           CONCAT('reminder:', x.installment_id, ':', %s::text, ':', x.channel), %s, 0, '', x.loan_id,
           x.customer_id, now(), now()
      FROM x JOIN rem ON rem.installment_id = x.installment_id AND rem.channel = x.channel
     ORDER BY x.installment_id, x.channel
    ON CONFLICT (dedupe_key) DO NOTHING
    RETURNING 1
)
SELECT (SELECT COUNT(*) FROM rem), (SELECT COUNT(*) FROM msg)
"""  # noqa: S608
    params: list[Any] = [
        *plan_params, *(str(status) for status in SERVICING_STATUSES), lo, hi, *RECEIVABLE_STATUSES,
        lo, hi, business_date, Channel.SMS.value, Channel.EMAIL.value, Channel.SMS.value, business_date,
        Channel.EMAIL.value, *subject_params, *body_params, day, OutboxStatus.PENDING.value,
    ]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        written, messages = cursor.fetchone()
    if messages:
        outbox_kick_on_commit()
    return int(written)


REMINDERS_STEP = CobStep(name="reminders", label="还款提醒与逾期通知", func=reminders_queue)
