"""API routes of the intake stage (included under /api/v1/, namespace "api")."""

from django.urls import URLPattern, path

from applications import api

urlpatterns: list[URLPattern] = [
    path("auth/token/", api.AuthTokenApi.as_view(), name="auth-token"),
    path("customers/", api.CustomerListCreateApi.as_view(), name="customer-list"),
    path("customers/<int:customer_id>/", api.CustomerDetailApi.as_view(), name="customer-detail"),
    path("loans/", api.LoanListCreateApi.as_view(), name="loan-list"),
    path("loans/<int:loan_id>/", api.LoanDetailApi.as_view(), name="loan-detail"),
    path("loans/<int:loan_id>/timeline/", api.LoanTimelineApi.as_view(), name="loan-timeline"),
    path("loans/<int:loan_id>/documents/", api.LoanDocumentListCreateApi.as_view(), name="loan-documents"),
    path("documents/<int:document_id>/download/", api.DocumentDownloadApi.as_view(), name="document-download"),
    api.LoanSubmitApi.urlpattern(),
    api.LoanStartReviewApi.urlpattern(),
    api.LoanRequestSupplementApi.urlpattern(),
    api.LoanWithdrawApi.urlpattern(),
]
