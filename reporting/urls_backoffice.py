"""Back-office routes of reporting (namespace `backoffice`, mounted at /backoffice/)."""

from django.urls import path

from reporting import views

urlpatterns = [
    path("dashboard/", views.DashboardView.as_view(), name="dashboard"),
    path("reports/monthly/", views.MonthlyReportCsvView.as_view(), name="report-monthly"),
]
