"""Back-office routes of the product stage (namespace `backoffice`, mounted at /backoffice/)."""

from django.urls import path

from underwriting import risk_views, views

urlpatterns = [
    path("calculator/", views.CalculatorView.as_view(), name="calculator"),
    path("products/", views.ProductListView.as_view(), name="product-list"),
    path("products/new/", views.ProductCreateView.as_view(), name="product-create"),
    path("products/<int:pk>/", views.ProductDetailView.as_view(), name="product-detail"),
    path("products/<int:pk>/edit/", views.ProductEditView.as_view(), name="product-edit"),
    path("loans/<int:pk>/product-matching/", views.LoanProductMatchingView.as_view(), name="loan-product-matching"),
    path("lprs/", views.LprListView.as_view(), name="lpr-list"),
    path("lprs/<int:pk>/approve/", views.LprDecisionView.as_view(decision="approve"), name="lpr-approve"),
    path("lprs/<int:pk>/reject/", views.LprDecisionView.as_view(decision="reject"), name="lpr-reject"),
    # risk assessment
    path("loans/<int:pk>/credit-report/", risk_views.CreditReportView.as_view(), name="loan-credit-report"),
    path("loans/<int:pk>/assessment/", risk_views.LoanAssessmentView.as_view(), name="loan-assessment"),
    path("loans/<int:pk>/assessment/run/", risk_views.AssessmentRunView.as_view(), name="loan-assessment-run"),
    path("assessments/<int:pk>/", risk_views.AssessmentDetailView.as_view(), name="assessment-detail"),
    path("assessments/<int:pk>/pdf/", risk_views.AssessmentPdfView.as_view(), name="assessment-pdf"),
    path("assessments/<int:pk>/notes/", risk_views.AssessmentNotesView.as_view(), name="assessment-notes"),
    path("risk/scorecards/", risk_views.ScorecardListView.as_view(), name="scorecard-list"),
    path("risk/scorecards/<int:pk>/", risk_views.ScorecardDetailView.as_view(), name="scorecard-detail"),
    path(
        "risk/scorecards/<int:pk>/new-version/",
        risk_views.ScorecardNewVersionView.as_view(),
        name="scorecard-new-version",
    ),
    path("risk/authority/new/", risk_views.AuthorityFormView.as_view(), name="authority-create"),
    path("risk/authority/<int:pk>/edit/", risk_views.AuthorityFormView.as_view(), name="authority-edit"),
    path("risk/scorecards/<int:pk>/activate/", risk_views.ScorecardActivateView.as_view(), name="scorecard-activate"),
]
