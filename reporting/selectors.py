"""Read-only figures for the manager's dashboard and the monthly report.

Everything here is a set-based aggregate (a fixed number of queries whatever the number of loans) and
writes nothing — not even the business date row, which is why "this month" is the calendar month of the
wall clock in Asia/Shanghai rather than `servicing.business_date_get()` (that helper creates its row on
first read).

Month boundaries are Asia/Shanghai: a loan created at 2026-11-30 23:30 Beijing time (15:30 UTC) belongs to
November. Date columns (`disbursed_on`, `settled_on`, `paid_on`) are calendar dates already.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Final, TypedDict
from zoneinfo import ZoneInfo

from django.db.models import Count, DecimalField, F, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from applications.models import Loan, LoanStatus
from loanops.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS, ZERO
from servicing.models import Repayment

#: The reporting calendar: China Standard Time, whatever the active time zone of the request.
REPORT_TIMEZONE: Final = ZoneInfo("Asia/Shanghai")

#: Event types of the monthly report, in report order: code → Chinese label (the CSV's 事件 column).
EVENT_LABELS: Final[dict[str, str]] = {
    "originated": "申请受理",
    "disbursed": "放款",
    "repaid": "还款",
    "settled": "结清",
}
_EVENT_RANK: Final = {event: rank for rank, event in enumerate(EVENT_LABELS)}

_MONEY = DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES)
_ZERO = Value(ZERO, output_field=_MONEY)


def _money_sum(expression: Any, **kwargs: Any) -> Coalesce:
    return Coalesce(Sum(expression, output_field=_MONEY, **kwargs), _ZERO, output_field=_MONEY)


# --- months -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MonthBounds:
    """A calendar month as half-open ranges: dates ``[first, following)`` and instants ``[start, end)``."""

    first: date
    following: date
    start: datetime
    end: datetime


def report_today() -> date:
    """Today in Asia/Shanghai."""
    return timezone.localdate(timezone=REPORT_TIMEZONE)


def month_bounds(month: date) -> MonthBounds:
    """The month containing ``month`` (any day of it), with its instants at Asia/Shanghai midnight."""
    first = month.replace(day=1)
    following = date(first.year + 1, 1, 1) if first.month == 12 else date(first.year, first.month + 1, 1)
    return MonthBounds(
        first=first,
        following=following,
        start=datetime.combine(first, time.min, REPORT_TIMEZONE),
        end=datetime.combine(following, time.min, REPORT_TIMEZONE),
    )


# --- dashboard ----------------------------------------------------------------------------------


class StageRow(TypedDict):
    status: str
    label: str
    count: int
    requested: Decimal
    principal: Decimal


def stage_summary() -> list[StageRow]:
    """Count, Σ requested_amount and Σ principal (the offer; 0 before an offer) per status — one query.

    Every status appears, in lifecycle order, with zeros where there are no loans.
    """
    found = {
        row["status"]: row
        for row in Loan.objects.order_by()
        .values("status")
        .annotate(count=Count("id"), requested=_money_sum("requested_amount"), principal=_money_sum("principal"))
    }
    result: list[StageRow] = []
    for status in LoanStatus:
        row = found.get(status.value, {})
        result.append(
            {
                "status": status.value,
                "label": str(status.label),
                "count": row.get("count", 0),
                "requested": row.get("requested", ZERO),
                "principal": row.get("principal", ZERO),
            }
        )
    return result


class PortfolioSummary(TypedDict):
    active_count: int
    overdue_count: int
    outstanding_principal: Decimal
    overdue_principal: Decimal


def portfolio_summary() -> PortfolioSummary:
    """The loan book being serviced (active + overdue loans) — one query over the loans.

    Outstanding principal is each loan's ``principal_outstanding`` (Σ(principal_due − principal_paid) over its
    current schedule version, kept by the servicing services and proved by ``ledger_check``);
    `overdue_principal` is the part of it owed by overdue loans (all their remaining principal, not only the
    instalments past due).
    """
    servicing = [LoanStatus.ACTIVE, LoanStatus.OVERDUE]
    figures = Loan.objects.filter(status__in=servicing).aggregate(
        active_count=Count("id", filter=Q(status=LoanStatus.ACTIVE)),
        overdue_count=Count("id", filter=Q(status=LoanStatus.OVERDUE)),
        outstanding_principal=_money_sum(F("principal_outstanding")),
        overdue_principal=_money_sum(F("principal_outstanding"), filter=Q(status=LoanStatus.OVERDUE)),
    )
    return {
        "active_count": figures["active_count"],
        "overdue_count": figures["overdue_count"],
        "outstanding_principal": figures["outstanding_principal"],
        "overdue_principal": figures["overdue_principal"],
    }


class EventTotal(TypedDict):
    event: str
    label: str
    count: int
    amount: Decimal


def month_overview(month: date) -> list[EventTotal]:
    """Count and amount per event type of the month — two queries, the same figures as the totals of
    :func:`monthly_report` (see :func:`monthly_totals`) without loading the rows."""
    bounds = month_bounds(month)
    created = Q(created_at__gte=bounds.start, created_at__lt=bounds.end)
    disbursed = Q(disbursed_on__gte=bounds.first, disbursed_on__lt=bounds.following)
    settled = Q(settled_on__gte=bounds.first, settled_on__lt=bounds.following)
    loans = Loan.objects.filter(created | disbursed | settled).aggregate(
        originated_count=Count("id", filter=created),
        originated_amount=_money_sum("requested_amount", filter=created),
        disbursed_count=Count("id", filter=disbursed),
        disbursed_amount=_money_sum("principal", filter=disbursed),
        settled_count=Count("id", filter=settled),
        settled_amount=_money_sum("principal", filter=settled),
    )
    repaid = _repayments_in(bounds).aggregate(repaid_count=Count("id"), repaid_amount=_money_sum("amount"))
    figures = {**loans, **repaid}
    return [
        {
            "event": event,
            "label": label,
            "count": figures[f"{event}_count"],
            "amount": figures[f"{event}_amount"],
        }
        for event, label in EVENT_LABELS.items()
    ]


# --- monthly report -----------------------------------------------------------------------------


class MonthlyEvent(TypedDict):
    loan_id: int
    reference: str
    customer: str
    product: str
    event: str
    event_label: str
    date: date
    amount: Decimal


def _repayments_in(bounds: MonthBounds) -> Any:
    return Repayment.objects.filter(
        paid_on__gte=bounds.first, paid_on__lt=bounds.following, reversed_at__isnull=True
    ).order_by()


def monthly_report(month: date) -> list[MonthlyEvent]:
    """One row per loan event of the month containing ``month`` — four queries, whatever the volume:

    * ``originated`` 申请受理: loans created in the month (Asia/Shanghai), amount = requested amount;
    * ``disbursed`` 放款: loans with ``disbursed_on`` in the month, amount = principal;
    * ``repaid`` 还款: repayments with ``paid_on`` in the month that were not reversed, amount = repayment;
    * ``settled`` 结清: loans with ``settled_on`` in the month, amount = principal.

    Rows are ordered by date, then event type (as above), then loan reference. The totals section of
    the report is :func:`monthly_totals` of these rows.
    """
    bounds = month_bounds(month)
    loans = Loan.objects.select_related("customer", "product").order_by()
    rows: list[MonthlyEvent] = []
    created = loans.filter(created_at__gte=bounds.start, created_at__lt=bounds.end)
    rows.extend(
        _event(loan, "originated", timezone.localdate(loan.created_at, REPORT_TIMEZONE), loan.requested_amount)
        for loan in created
    )
    disbursed = loans.filter(disbursed_on__gte=bounds.first, disbursed_on__lt=bounds.following)
    rows.extend(_event(loan, "disbursed", loan.disbursed_on, loan.principal) for loan in disbursed)
    repayments = _repayments_in(bounds).select_related("loan__customer", "loan__product")
    rows.extend(_event(r.loan, "repaid", r.paid_on, r.amount) for r in repayments)
    settled = loans.filter(settled_on__gte=bounds.first, settled_on__lt=bounds.following)
    rows.extend(_event(loan, "settled", loan.settled_on, loan.principal) for loan in settled)
    rows.sort(key=lambda row: (row["date"], _EVENT_RANK[row["event"]], row["reference"], row["loan_id"]))
    return rows


def _event(loan: Loan, event: str, on: date | None, amount: Decimal | None) -> MonthlyEvent:
    assert on is not None  # the query filtered on this date
    return {
        "loan_id": loan.pk,
        "reference": loan.reference or "",
        "customer": loan.customer.name,
        "product": loan.product.name,
        "event": event,
        "event_label": EVENT_LABELS[event],
        "date": on,
        "amount": amount if amount is not None else ZERO,
    }


def monthly_totals(rows: list[MonthlyEvent]) -> list[EventTotal]:
    """Count and Σ amount per event type, every type listed (zeros included), in report order."""
    totals: dict[str, EventTotal] = {
        event: {"event": event, "label": label, "count": 0, "amount": ZERO} for event, label in EVENT_LABELS.items()
    }
    for row in rows:
        total = totals[row["event"]]
        total["count"] += 1
        total["amount"] += row["amount"]
    return list(totals.values())
