"""Back-office routes of collections (namespace ``backoffice``, mounted at /backoffice/)."""

from django.urls import path

from loan_collections import views

urlpatterns = [
    path("collections/", views.CaseListView.as_view(), name="collections-case-list"),
    path("collections/<int:pk>/", views.CaseDetailView.as_view(), name="collections-case-detail"),
    path("collections/<int:pk>/contacts/new/", views.ContactLogView.as_view(), name="collections-contact-log"),
    path("collections/<int:pk>/promises/new/", views.PromiseCreateView.as_view(), name="collections-promise-create"),
    path(
        "collections/<int:pk>/named-contacts/new/",
        views.NamedContactCreateView.as_view(),
        name="collections-named-contact-create",
    ),
    path("collections/<int:pk>/consent/", views.ConsentView.as_view(), name="collections-consent"),
    path("collections/<int:pk>/assign/", views.CaseAssignView.as_view(), name="collections-case-assign"),
    path("collections/<int:pk>/escalate/", views.CaseEscalateView.as_view(), name="collections-case-escalate"),
]
