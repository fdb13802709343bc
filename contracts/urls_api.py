"""API routes of the contract stage (included under /api/v1/, namespace "api")."""

from django.urls import URLPattern, path

from contracts import api

urlpatterns: list[URLPattern] = [
    path("loans/<int:loan_id>/contract/", api.LoanContractApi.as_view(), name="loan-contract"),
    path("contracts/<int:contract_id>/download/", api.ContractDownloadApi.as_view(), name="contract-download"),
    api.LoanAcceptOfferApi.urlpattern(),
    api.LoanSignContractApi.urlpattern(),
    api.LoanPrepareDisbursementApi.urlpattern(),
]
