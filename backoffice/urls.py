"""Back-office pages (namespace `backoffice`, mounted at /backoffice/).

Only this app's own routes live here; the calculator, dashboard and product pages are added by their
owners (loanops/urls_backoffice.py).
"""

from django.urls import path

from backoffice.views import blacklist, cob, customers, loans, money, repayments, risk, transitions

urlpatterns = [
    path("", loans.QueueView.as_view(), name="queue"),
    path("loans/", loans.LoanListView.as_view(), name="loan-list"),
    path("loans/<int:pk>/", loans.LoanDetailView.as_view(), name="loan-detail"),
    path("loans/<int:pk>/documents/new/", loans.LoanDocumentUploadView.as_view(), name="loan-document-upload"),
    path("loans/<int:pk>/repayments/new/", repayments.RepaymentCreateView.as_view(), name="loan-repayment"),
    path("loans/<int:pk>/prepayments/new/", money.PrepaymentView.as_view(), name="loan-prepayment"),
    path("loans/<int:pk>/payoff/", money.PayoffView.as_view(), name="loan-payoff"),
    path("loans/<int:pk>/overpayment/", money.OverpaymentView.as_view(), name="loan-overpayment"),
    path(
        "loans/<int:pk>/settlement-certificate/",
        money.SettlementCertificateDownloadView.as_view(),
        name="loan-settlement-certificate",
    ),
    path("documents/<int:pk>/download/", loans.DocumentDownloadView.as_view(), name="document-download"),
    path("contracts/<int:pk>/download/", loans.ContractDownloadView.as_view(), name="contract-download"),
    # post-loan risk: classification, write-off (the write_off transition's page), recoveries, restructuring
    path("loans/<int:pk>/risk-class/", risk.LoanRiskClassView.as_view(), name="loan-risk-class"),
    path(
        "loans/<int:pk>/risk-class/upgrades/<int:request_id>/decide/",
        risk.RiskClassUpgradeDecideView.as_view(),
        name="risk-class-upgrade-decide",
    ),
    path("loans/<int:pk>/write-off/", risk.LoanWriteOffView.as_view(), name="loan-write-off"),
    path("loans/<int:pk>/recoveries/new/", risk.LoanRecoveryCreateView.as_view(), name="loan-recovery"),
    path("loans/<int:pk>/restructurings/new/", risk.LoanRestructuringCreateView.as_view(), name="loan-restructuring"),
    path(
        "loans/<int:pk>/restructurings/<int:restructuring_id>/decide/",
        risk.RestructuringDecideView.as_view(),
        name="restructuring-decide",
    ),
    path("customers/", customers.CustomerListView.as_view(), name="customer-list"),
    path("customers/new/", customers.CustomerCreateView.as_view(), name="customer-create"),
    path("customers/<int:pk>/", customers.CustomerDetailView.as_view(), name="customer-detail"),
    path("blacklist/", blacklist.BlacklistListView.as_view(), name="blacklist-list"),
    path("blacklist/new/", blacklist.BlacklistCreateView.as_view(), name="blacklist-create"),
    path("blacklist/import/", blacklist.BlacklistImportView.as_view(), name="blacklist-import"),
    path("blacklist/<int:pk>/deactivate/", blacklist.BlacklistDeactivateView.as_view(), name="blacklist-deactivate"),
    path("cob/", cob.CobRunListView.as_view(), name="cob-runs"),
    path("customers/<int:pk>/reveal/<slug:field>/", customers.CustomerRevealView.as_view(), name="customer-reveal"),
    path("blacklist/<int:pk>/reveal/<slug:field>/", blacklist.BlacklistRevealView.as_view(), name="blacklist-reveal"),
    path("customers/<int:pk>/loans/new/", loans.LoanCreateView.as_view(), name="loan-create"),
    # One URL per transition: loan-submit, loan-start-review, loan-request-supplement, loan-approve, ...
    *(
        path(
            f"loans/<int:pk>/{name.replace('_', '-')}/",
            view.as_view(),
            name=f"loan-{name.replace('_', '-')}",
        )
        for name, view in transitions.TRANSITION_VIEWS.items()
    ),
]
