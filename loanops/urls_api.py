"""REST API v1, namespace `api`. Each stage contributes its own routes."""

from django.urls import include, path

urlpatterns = [
    path("", include("applications.urls_api")),
    path("", include("underwriting.urls_api")),
    path("", include("contracts.urls_api")),
    path("", include("servicing.urls_api")),
    path("", include("servicing.urls_api_transitions")),
    path("", include("servicing.urls_api_risk")),
    path("", include("reporting.urls_api")),
    path("", include("loan_collections.urls_api_cases")),
]
