"""API routes of the collections stage (included under /api/v1/, namespace ``api``)."""

from django.urls import URLPattern, path

from loan_collections import api

urlpatterns: list[URLPattern] = [
    path("cob/", api.CobApi.as_view(), name="cob"),
]
