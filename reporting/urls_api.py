"""API routes of reporting (included under /api/v1/, namespace "api")."""

from django.urls import URLPattern, path

from reporting import api

urlpatterns: list[URLPattern] = [
    path("reports/monthly/", api.MonthlyReportApi.as_view(), name="report-monthly"),
]
