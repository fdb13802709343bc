"""Back-office routes of the notifications app (namespace `backoffice`, mounted at /backoffice/)."""

from django.urls import path

from notifications import views

urlpatterns = [
    path("inbox/", views.InboxView.as_view(), name="inbox"),
]
