"""Portal pages (namespace `portal`, mounted at /portal/ by loanops.urls_portal)."""

from django.urls import path

from portal import restructuring, views

urlpatterns = [
    path("", views.LoanListView.as_view(), name="home"),
    path("login/", views.PortalLoginView.as_view(), name="login"),
    path("apply/", views.LoanApplyView.as_view(), name="apply"),
    path("loans/<int:loan_id>/", views.LoanDetailView.as_view(), name="loan-detail"),
    path(
        "loans/<int:loan_id>/documents/<slug:doc_type>/",
        views.DocumentUploadView.as_view(),
        name="document-upload",
    ),
    path("loans/<int:loan_id>/submit/", views.LoanSubmitView.as_view(), name="loan-submit"),
    path("loans/<int:loan_id>/withdraw/", views.LoanWithdrawView.as_view(), name="loan-withdraw"),
    path("loans/<int:loan_id>/accept-offer/", views.OfferAcceptView.as_view(), name="offer-accept"),
    path("loans/<int:loan_id>/sign/", views.ContractSignView.as_view(), name="contract-sign"),
    path("loans/<int:loan_id>/extension/", restructuring.LoanExtensionView.as_view(), name="loan-extension"),
    path("contracts/<int:contract_id>/pdf/", views.ContractDownloadView.as_view(), name="contract-download"),
    path(
        "loans/<int:loan_id>/settlement-certificate/",
        views.SettlementCertificateDownloadView.as_view(),
        name="settlement-certificate",
    ),
]
