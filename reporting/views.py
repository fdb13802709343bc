"""Manager pages: the dashboard and the monthly CSV download."""

from __future__ import annotations

import csv
from datetime import date, datetime
from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.utils import timezone
from django.views import View
from django.views.generic import TemplateView

from reporting import selectors


def parse_month(value: str | None) -> date | None:
    if not value:
        return timezone.localdate().replace(day=1)
    try:
        return datetime.strptime(value, "%Y-%m").date()  # noqa: DTZ007 - a calendar month, no time
    except ValueError:
        return None


class DashboardView(LoginRequiredMixin, PermissionRequiredMixin, TemplateView):
    permission_required = "applications.view_reports"
    template_name = "reporting/dashboard.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        stages = selectors.stage_summary()
        by_status = {row["status"]: row for row in stages}
        month = timezone.localdate().replace(day=1)
        context.update(
            stages=stages,
            in_review=by_status["risk_review"]["count"],
            awaiting_disbursement=by_status["disbursement_pending"]["count"],
            active=by_status["active"]["count"] + by_status["overdue"]["count"],
            overdue=by_status["overdue"]["count"],
            outstanding=selectors.outstanding_principal(),
            month=month.strftime("%Y-%m"),
            nav_active="dashboard",
        )
        return context


class MonthlyReportCsvView(LoginRequiredMixin, PermissionRequiredMixin, View):
    permission_required = "applications.view_reports"

    def get(self, request: HttpRequest) -> HttpResponse:
        month = parse_month(request.GET.get("month"))
        if month is None:
            return HttpResponseBadRequest("月份格式应为 YYYY-MM（例如 2026-11）".encode())
        return monthly_csv_response(month)


def monthly_csv_response(month: date) -> HttpResponse:
    rows = selectors.monthly_report(month)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="loanops-monthly-{month:%Y-%m}.csv"'
    response.write("\ufeff")  # BOM: Excel opens UTF-8 Chinese correctly
    writer = csv.writer(response)
    writer.writerow(["贷款编号", "借款人", "产品", "事件", "日期", "金额"])
    for row in rows:
        writer.writerow(
            [row["reference"], row["customer"], row["product"], row["event_label"], row["date"], f"{row['amount']:.2f}"]
        )
    writer.writerow([])
    for total in selectors.month_totals(rows).values():
        writer.writerow(["合计", "", "", total["label"], total["count"], f"{total['amount']:.2f}"])
    return response
