"""Back-office routes of the product stage (namespace `backoffice`, mounted at /backoffice/)."""

from django.urls import path

from underwriting import views

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
]
