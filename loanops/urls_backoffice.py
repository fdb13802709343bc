"""Back office (staff) pages, namespace `backoffice`."""

from django.urls import include, path

urlpatterns = [
    path("", include("backoffice.urls")),
    path("", include("reporting.urls_backoffice")),
    path("", include("underwriting.urls_backoffice")),
    path("", include("loan_collections.urls_backoffice")),
    path("", include("notifications.urls_backoffice")),
    path("", include("loan_collections.urls_post_loan")),
]
