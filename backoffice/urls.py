"""Back-office pages (namespace backoffice)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
