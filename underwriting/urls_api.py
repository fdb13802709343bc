"""API routes of risk review and product matching (included under /api/v1/, namespace "api")."""

from django.urls import URLPattern, path

from underwriting import api, risk_api

urlpatterns: list[URLPattern] = [
    path("products/", api.ProductListCreateApi.as_view(), name="product-list"),
    path("products/<int:product_id>/", api.ProductDetailApi.as_view(), name="product-detail"),
    path("loans/<int:loan_id>/product-matches/", api.LoanProductMatchesApi.as_view(), name="loan-product-matches"),
    path("product-matching/", api.ProductMatchingApi.as_view(), name="product-matching"),
    path("lprs/", api.LprListCreateApi.as_view(), name="lpr-list"),
    path("lprs/<int:lpr_id>/approve/", api.LprApproveApi.as_view(), name="lpr-approve"),
    path("lprs/<int:lpr_id>/reject/", api.LprRejectApi.as_view(), name="lpr-reject"),
    path("rate-cap/", api.RateCapApi.as_view(), name="rate-cap"),
    api.LoanApproveApi.urlpattern(),
    api.LoanRejectApi.urlpattern(),
    api.LoanMakeOfferApi.urlpattern(),
    path("loans/<int:loan_id>/credit-report/", risk_api.CreditReportApi.as_view(), name="loan-credit-report"),
    path("loans/<int:loan_id>/assessments/", risk_api.LoanAssessmentsApi.as_view(), name="loan-assessments"),
]
