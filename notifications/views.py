"""Back-office page of the notifications app: a staff member's in-app messages (我的消息)."""

from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.views import View

from notifications.selectors import inbox_for
from notifications.services import inbox_mark_read


class InboxView(LoginRequiredMixin, View):
    """Any staff member sees only the messages addressed to them; marking read changes only their own."""

    def dispatch(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponseBase:
        if request.user.is_authenticated and not request.user.is_staff:
            raise PermissionDenied("仅限员工访问")
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest) -> HttpResponse:
        page = Paginator(inbox_for(request.user), 25).get_page(request.GET.get("page"))
        unread = sum(1 for message in page.object_list if message.read_at is None)
        return render(
            request,
            "notifications/inbox.html",
            {"page_title": "我的消息", "page_obj": page, "messages_page": page.object_list, "unread": unread},
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        ids = [int(value) for value in request.POST.getlist("message") if value.isdigit()]
        inbox_mark_read(actor=request.user, message_ids=ids or None)
        return redirect("backoffice:inbox")
