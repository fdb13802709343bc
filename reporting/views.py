"""Manager pages: the dashboard (经营看板) and the monthly CSV download (月报).

Both need `applications.view_reports` (the manager role). Anonymous users are sent to the login page; a
signed-in user without the permission gets 403. The figures come from `reporting.selectors`.
"""

from __future__ import annotations

import csv
import re
from datetime import date
from typing import Any, Final

from django.contrib.auth.mixins import PermissionRequiredMixin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views import View

from applications.models import NPL_CLASSES, LoanStatus, RiskClass
from loanops.money import ZERO
from reporting import selectors

REPORT_PERMISSION: Final = "applications.view_reports"
CSV_HEADER: Final = ("贷款编号", "借款人", "产品", "事件", "日期", "金额")
TOTALS_HEADER: Final = ("合计", "", "", "事件", "笔数", "金额")

_MONTH_RE: Final = re.compile(r"(\d{4})-(\d{2})")
MONTH_FORMAT_MESSAGE: Final = "月份格式应为 YYYY-MM（例如 2026-11）"
MIN_YEAR: Final = 1900
MAX_YEAR: Final = 2999


def parse_month(value: str) -> date:
    """``"2026-11"`` → ``date(2026, 11, 1)``; raises ValueError with a Chinese message for anything else."""
    match = _MONTH_RE.fullmatch(value.strip())
    if match is None:
        raise ValueError(MONTH_FORMAT_MESSAGE)
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12:
        raise ValueError(f"月份应在 01 至 12 之间（收到 {value.strip()}）；{MONTH_FORMAT_MESSAGE}")
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError(f"年份应在 {MIN_YEAR} 至 {MAX_YEAR} 之间")
    return date(year, month, 1)


# --- CSV ----------------------------------------------------------------------------------------

_FORMULA_PREFIXES: Final = ("=", "+", "-", "@", "\t", "\r")


def _text(value: str) -> str:
    """Neutralise a text cell Excel would run as a formula (CSV injection): prefix it with an apostrophe."""
    return f"'{value}" if value.startswith(_FORMULA_PREFIXES) else value


def monthly_csv_filename(month: date) -> str:
    return f"loanops-monthly-{month:%Y-%m}.csv"


def monthly_csv_response(month: date) -> HttpResponse:
    """The monthly report as CSV: UTF-8 with a BOM (so Excel reads the Chinese), one row per event, then a
    totals section (one row per event type: count and Σ amount). Amounts are plain ``1234.50``."""
    rows = selectors.monthly_report(month)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{monthly_csv_filename(month)}"'
    response.write("\ufeff")
    writer = csv.writer(response)
    writer.writerow(CSV_HEADER)
    for row in rows:
        writer.writerow(
            [
                _text(row["reference"]),
                _text(row["customer"]),
                _text(row["product"]),
                row["event_label"],
                row["date"].isoformat(),
                f"{row['amount']:.2f}",
            ]
        )
    writer.writerow([])
    writer.writerow(TOTALS_HEADER)
    for total in selectors.monthly_totals(rows):
        writer.writerow(["", "", "", total["label"], total["count"], f"{total['amount']:.2f}"])
    return response


# --- pages --------------------------------------------------------------------------------------


class StaffPermissionRequiredMixin(PermissionRequiredMixin):
    """Staff only, plus the page's permission: anonymous → login page, others without it → 403."""

    request: HttpRequest

    def has_permission(self) -> bool:
        user = self.request.user
        return bool(user.is_authenticated and user.is_active and user.is_staff) and super().has_permission()


def render_dashboard(
    request: HttpRequest, *, month: date, month_value: str = "", month_error: str = "", status: int = 200
) -> HttpResponse:
    """The dashboard with the monthly section for ``month``; a bounded number of queries (about 6)."""
    this_month = selectors.report_today().replace(day=1)
    stages = selectors.stage_summary()
    by_status = {row["status"]: row for row in stages}
    portfolio = selectors.portfolio_summary()
    this_month_overview = selectors.month_overview(this_month)
    overview = this_month_overview if month == this_month else selectors.month_overview(month)
    originated = next(total for total in this_month_overview if total["event"] == "originated")
    from servicing.selectors import npl_ratio

    npl = npl_ratio()
    quality = [
        {"label": RiskClass(code).label, "principal": npl["by_class"][code], "is_npl": code in NPL_CLASSES}
        for code in RiskClass.values
    ]
    context: dict[str, Any] = {
        "page_title": _("经营看板"),
        "nav_active": "dashboard",
        "today": selectors.report_today(),
        "this_month": this_month,
        "applications_this_month": originated["count"],
        "applications_amount_this_month": originated["amount"],
        "submitted": by_status[LoanStatus.SUBMITTED]["count"] + by_status[LoanStatus.SUPPLEMENT_REQUIRED]["count"],
        "in_review": by_status[LoanStatus.RISK_REVIEW]["count"],
        "awaiting_disbursement": by_status[LoanStatus.CONTRACT_SIGNED]["count"]
        + by_status[LoanStatus.DISBURSEMENT_PENDING]["count"],
        "awaiting_checker": by_status[LoanStatus.DISBURSEMENT_PENDING]["count"],
        "portfolio": portfolio,
        "loans_in_service": portfolio["active_count"] + portfolio["overdue_count"],
        "stages": stages,
        "stage_totals": {
            "count": sum(row["count"] for row in stages),
            "requested": sum((row["requested"] for row in stages), ZERO),
            "principal": sum((row["principal"] for row in stages), ZERO),
        },
        "month": month,
        "month_value": month_value or f"{month:%Y-%m}",
        "month_error": month_error,
        "overview": overview,
        "csv_filename": monthly_csv_filename(month),
        "npl": npl,
        "quality": quality,
    }
    return render(request, "reporting/dashboard.html", context, status=status)


class DashboardView(StaffPermissionRequiredMixin, View):
    """经营看板: pipeline per stage, the loan book, and a month picker for the monthly report."""

    permission_required = REPORT_PERMISSION

    def get(self, request: HttpRequest) -> HttpResponse:
        this_month = selectors.report_today().replace(day=1)
        value = request.GET.get("month", "").strip()
        if not value:
            return render_dashboard(request, month=this_month)
        try:
            month = parse_month(value)
        except ValueError as exc:
            return render_dashboard(request, month=this_month, month_value=value, month_error=str(exc), status=400)
        return render_dashboard(request, month=month)


class MonthlyReportCsvView(StaffPermissionRequiredMixin, View):
    """月报 CSV: ``?month=YYYY-MM`` (default: this month). A bad month re-renders the dashboard with the
    error on the month picker, status 400."""

    permission_required = REPORT_PERMISSION

    def get(self, request: HttpRequest) -> HttpResponse:
        value = request.GET.get("month", "").strip()
        if not value:
            return monthly_csv_response(selectors.report_today().replace(day=1))
        try:
            month = parse_month(value)
        except ValueError as exc:
            this_month = selectors.report_today().replace(day=1)
            return render_dashboard(request, month=this_month, month_value=value, month_error=str(exc), status=400)
        return monthly_csv_response(month)
