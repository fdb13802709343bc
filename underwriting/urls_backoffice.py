from django.urls import path

from underwriting import views

urlpatterns = [
    path("calculator/", views.CalculatorView.as_view(), name="calculator"),
    path("products/", views.ProductListView.as_view(), name="product-list"),
]
