"""API routes of risk review and product matching (included under /api/v1/, namespace "api")."""

from django.urls import URLPattern, path

from underwriting import api

urlpatterns: list[URLPattern] = [
    path("products/", api.ProductListCreateApi.as_view(), name="product-list"),
    path("products/<int:product_id>/", api.ProductDetailApi.as_view(), name="product-detail"),
    api.LoanApproveApi.urlpattern(),
    api.LoanRejectApi.urlpattern(),
    api.LoanMakeOfferApi.urlpattern(),
]
