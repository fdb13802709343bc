"""Portal pages (namespace portal)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
