"""Back-office pages of the post-loan steps: 我的任务 (return visits, post-loan reviews) and 行业预警.

Thin views: the selectors read, the services write (and check permissions again).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.views import View

from loan_collections.post_loan import StaffTask, StaffTaskKind, StaffTaskStatus
from loan_collections.staff_tasks import can_see_tasks, staff_task_complete, staff_task_queue, task_kinds_for
from loanops.exceptions import DomainError


class StaffOnlyView(View):
    """Staff only (anonymous → login page, others → 403); `allowed(user)` is the page's own permission."""

    def allowed(self, user: Any) -> bool:
        raise NotImplementedError

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        user = request.user
        if not user.is_authenticated:
            from django.contrib.auth.views import redirect_to_login

            return redirect_to_login(request.get_full_path())
        if not (user.is_active and user.is_staff and self.allowed(user)):
            raise PermissionDenied("您没有权限访问该页面")
        return super().dispatch(request, *args, **kwargs)


class TaskCompleteForm(forms.Form):
    note = forms.CharField(label="处理记录", max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class MyTasksView(StaffOnlyView):
    """我的任务: open tasks of the kinds this user works on, and the most recently completed ones."""

    def allowed(self, user: Any) -> bool:
        return can_see_tasks(user)

    def get(
        self,
        request: HttpRequest,
        form: TaskCompleteForm | None = None,
        form_task: int | None = None,
        status: int = 200,
    ) -> HttpResponse:
        show = request.GET.get("status", StaffTaskStatus.OPEN)
        if show not in StaffTaskStatus.values:
            show = StaffTaskStatus.OPEN
        page = Paginator(staff_task_queue(request.user, status=show), 25).get_page(request.GET.get("page"))
        kinds = set(task_kinds_for(request.user))
        for task in page.object_list:
            task.can_complete = task.kind in kinds and task.status == StaffTaskStatus.OPEN  # type: ignore[attr-defined]
        context = {
            "page_title": "我的任务",
            "page_obj": page,
            "tasks": page.object_list,
            "show": show,
            "statuses": StaffTaskStatus.choices,
            "kinds": [StaffTaskKind(kind).label for kind in sorted(kinds)],
            "form": form or TaskCompleteForm(),
            "form_task": form_task,
        }
        return render(request, "loan_collections/post_loan/my_tasks.html", context, status=status)


class TaskCompleteView(StaffOnlyView):
    def allowed(self, user: Any) -> bool:
        return bool(task_kinds_for(user))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        form = TaskCompleteForm(request.POST)
        if not form.is_valid():
            return MyTasksView().get(request, form=form, form_task=pk, status=400)
        try:
            task = staff_task_complete(actor=request.user, task_id=pk, note=form.cleaned_data["note"])
        except StaffTask.DoesNotExist as exc:
            from django.http import Http404

            raise Http404("任务不存在") from exc
        except DomainError as exc:
            form.add_error("note" if "note" in exc.fields else None, exc.message)
            return MyTasksView().get(request, form=form, form_task=pk, status=exc.http_status)
        messages.success(request, f"已完成：{task.get_kind_display()}（{task.loan}）")
        return redirect("backoffice:my-tasks")
