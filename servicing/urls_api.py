"""API routes of servicing (included under /api/v1/, namespace ``api``)."""

from django.urls import URLPattern, path

from servicing import api

urlpatterns: list[URLPattern] = [
    path("schedule-preview/", api.SchedulePreviewApi.as_view(), name="schedule-preview"),
    path("loans/<int:loan_id>/schedule/", api.LoanScheduleApi.as_view(), name="loan-schedule"),
    path("loans/<int:loan_id>/transactions/", api.LoanTransactionsApi.as_view(), name="loan-transactions"),
    path("loans/<int:loan_id>/repayments/", api.LoanRepaymentsApi.as_view(), name="loan-repayments"),
    path("loans/<int:loan_id>/payoff-quote/", api.LoanPayoffQuoteApi.as_view(), name="loan-payoff-quote"),
    path("loans/<int:loan_id>/prepayments/", api.LoanPrepaymentsApi.as_view(), name="loan-prepayments"),
    path("loans/<int:loan_id>/prepayment-quote/", api.LoanPrepaymentQuoteApi.as_view(), name="loan-prepayment-quote"),
    path("loans/<int:loan_id>/payoff/", api.LoanPayoffApi.as_view(), name="loan-payoff"),
    path(
        "loans/<int:loan_id>/settlement-certificate/",
        api.LoanSettlementCertificateApi.as_view(),
        name="loan-settlement-certificate",
    ),
    path(
        "loans/<int:loan_id>/overpayment/apply/", api.LoanOverpaymentApplyApi.as_view(), name="loan-overpayment-apply"
    ),
    path(
        "loans/<int:loan_id>/overpayment/refund/",
        api.LoanOverpaymentRefundApi.as_view(),
        name="loan-overpayment-refund",
    ),
    path("business-date/", api.BusinessDateApi.as_view(), name="business-date"),
    path("repayments/<int:repayment_id>/reverse/", api.RepaymentReverseApi.as_view(), name="repayment-reverse"),
]
