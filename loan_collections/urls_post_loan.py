"""Back-office routes of the post-loan steps (namespace `backoffice`, mounted at /backoffice/)."""

from django.urls import path

from loan_collections import post_loan_views as views

urlpatterns = [
    path("tasks/", views.MyTasksView.as_view(), name="my-tasks"),
    path("tasks/<int:pk>/complete/", views.TaskCompleteView.as_view(), name="staff-task-complete"),
    path("industry-warnings/", views.IndustryWarningsView.as_view(), name="industry-warnings"),
    path(
        "industry-restrictions/<int:pk>/lift/",
        views.IndustryRestrictionLiftView.as_view(),
        name="industry-restriction-lift",
    ),
    path(
        "loans/<int:pk>/restricted-offer-approval/",
        views.RestrictedOfferApproveView.as_view(),
        name="restricted-offer-approve",
    ),
]
