"""API routes of risk review and product matching (included under /api/v1/, namespace "api")."""

from django.urls import URLPattern, path

from underwriting import api, risk_api

urlpatterns: list[URLPattern] = [
    path("products/", api.ProductListCreateApi.as_view(), name="product-list"),
    path("products/<int:product_id>/", api.ProductDetailApi.as_view(), name="product-detail"),
    api.LoanApproveApi.urlpattern(),
    api.LoanRejectApi.urlpattern(),
    api.LoanMakeOfferApi.urlpattern(),
    path("loans/<int:loan_id>/credit-report/", risk_api.CreditReportApi.as_view(), name="loan-credit-report"),
    path("loans/<int:loan_id>/assessments/", risk_api.LoanAssessmentsApi.as_view(), name="loan-assessments"),
]
