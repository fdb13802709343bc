"""Customer portal pages, namespace `portal`."""

from django.urls import include, path

urlpatterns = [
    path("", include("portal.urls")),
]
