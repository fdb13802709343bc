"""Read-only figures for dashboards and reports. Set-based aggregates; never writes domain tables."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, DecimalField, F, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from applications.models import Loan, LoanStatus
from servicing.models import Installment, Repayment

_ZERO = Value(Decimal("0.00"), output_field=DecimalField(max_digits=18, decimal_places=2))


def stage_summary() -> list[dict[str, Any]]:
    """Count and amounts per status, in lifecycle order (one query)."""
    rows = {
        row["status"]: row
        for row in Loan.objects.values("status").annotate(
            count=Count("id"),
            requested=Coalesce(Sum("requested_amount"), _ZERO),
            principal=Coalesce(Sum("principal"), _ZERO),
        )
    }
    return [
        {
            "status": status.value,
            "label": status.label,
            "count": rows.get(status.value, {}).get("count", 0),
            "requested": rows.get(status.value, {}).get("requested", Decimal("0.00")),
            "principal": rows.get(status.value, {}).get("principal", Decimal("0.00")),
        }
        for status in LoanStatus
    ]


def outstanding_principal() -> Decimal:
    total = Installment.objects.filter(
        schedule__is_current=True, loan__status__in=[LoanStatus.ACTIVE, LoanStatus.OVERDUE]
    ).aggregate(total=Coalesce(Sum(F("principal_due") - F("principal_paid")), _ZERO))["total"]
    return Decimal(total)


def _month_bounds(month: date) -> tuple[date, date, datetime, datetime]:
    first = month.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    zone = timezone.get_current_timezone()
    return first, following, datetime.combine(first, time.min, zone), datetime.combine(following, time.min, zone)


def monthly_report(month: date) -> list[dict[str, Any]]:
    """Loans originated, disbursed, repaid and settled in a month (Asia/Shanghai), one row per event."""
    first, following, start, end = _month_bounds(month)
    rows: list[dict[str, Any]] = []
    base = Loan.objects.select_related("customer", "product")
    for loan in base.filter(created_at__gte=start, created_at__lt=end).order_by("created_at"):
        rows.append(_row(loan, "originated", "申请受理", timezone.localdate(loan.created_at), loan.requested_amount))
    for loan in base.filter(disbursed_on__gte=first, disbursed_on__lt=following).order_by("disbursed_on"):
        rows.append(_row(loan, "disbursed", "放款", loan.disbursed_on, loan.principal))
    repayments = (
        Repayment.objects.select_related("loan__customer", "loan__product")
        .filter(paid_on__gte=first, paid_on__lt=following, reversed_at__isnull=True)
        .order_by("paid_on", "id")
    )
    for repayment in repayments:
        rows.append(_row(repayment.loan, "repaid", "还款", repayment.paid_on, repayment.amount))
    for loan in base.filter(settled_on__gte=first, settled_on__lt=following).order_by("settled_on"):
        rows.append(_row(loan, "settled", "结清", loan.settled_on, loan.principal))
    return rows


def _row(loan: Loan, event: str, label: str, on: date | None, amount: Decimal | None) -> dict[str, Any]:
    return {
        "reference": loan.reference,
        "customer": loan.customer.name,
        "product": loan.product.name,
        "event": event,
        "event_label": label,
        "date": on,
        "amount": amount if amount is not None else Decimal("0.00"),
    }


def month_totals(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    totals: dict[str, dict[str, Any]] = {}
    for row in rows:
        bucket = totals.setdefault(row["event"], {"label": row["event_label"], "count": 0, "amount": Decimal("0.00")})
        bucket["count"] += 1
        bucket["amount"] += row["amount"]
    return totals


def overdue_count() -> int:
    return Loan.objects.filter(Q(status=LoanStatus.OVERDUE)).count()
