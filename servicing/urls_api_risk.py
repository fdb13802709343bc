"""Routes of post-loan risk (five-category class, write-off, recoveries, restructuring), under /api/v1/."""

from django.urls import URLPattern, path

from servicing import api_risk as api

urlpatterns: list[URLPattern] = [
    path("loans/<int:loan_id>/risk-class/", api.LoanRiskClassApi.as_view(), name="loan-risk-class"),
    path(
        "risk-class-upgrades/<int:request_id>/decide/",
        api.RiskClassUpgradeDecideApi.as_view(),
        name="risk-class-upgrade-decide",
    ),
    path("loans/<int:loan_id>/write-off/", api.LoanWriteOffApi.as_view(), name="loan-write-off"),
    path("loans/<int:loan_id>/recoveries/", api.LoanRecoveriesApi.as_view(), name="loan-recoveries"),
    path("loans/<int:loan_id>/restructurings/", api.LoanRestructuringsApi.as_view(), name="loan-restructurings"),
    path(
        "restructurings/<int:restructuring_id>/approve/",
        api.RestructuringApproveApi.as_view(),
        name="restructuring-approve",
    ),
    path(
        "restructurings/<int:restructuring_id>/reject/",
        api.RestructuringRejectApi.as_view(),
        name="restructuring-reject",
    ),
]
