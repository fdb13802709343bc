"""Routes of the servicing transitions (disburse, settle, archive), included under /api/v1/ (namespace "api")."""

from django.urls import URLPattern

from servicing import api_transitions as api

urlpatterns: list[URLPattern] = [
    api.LoanDisburseApi.urlpattern(),
    api.LoanSettleApi.urlpattern(),
    api.LoanArchiveApi.urlpattern(),
]
