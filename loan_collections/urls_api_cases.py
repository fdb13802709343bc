"""API routes of collections (included under /api/v1/, namespace ``api``)."""

from django.urls import URLPattern, path

from loan_collections import case_api as api

urlpatterns: list[URLPattern] = [
    path("collection-cases/", api.CaseListApi.as_view(), name="collection-case-list"),
    path("collection-cases/<int:case_id>/", api.CaseDetailApi.as_view(), name="collection-case-detail"),
    path("collection-cases/<int:case_id>/contacts/", api.CaseContactsApi.as_view(), name="collection-case-contacts"),
    path("collection-cases/<int:case_id>/promises/", api.CasePromisesApi.as_view(), name="collection-case-promises"),
    path("collection-cases/<int:case_id>/assign/", api.CaseAssignApi.as_view(), name="collection-case-assign"),
    path("collection-cases/<int:case_id>/escalate/", api.CaseEscalateApi.as_view(), name="collection-case-escalate"),
    path("customers/<int:customer_id>/named-contacts/", api.NamedContactsApi.as_view(), name="named-contacts"),
    path("customers/<int:customer_id>/contact-consent/", api.ContactConsentApi.as_view(), name="contact-consent"),
]
