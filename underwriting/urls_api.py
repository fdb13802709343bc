"""API routes of this stage (included under /api/v1/)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
