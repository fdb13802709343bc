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


# --- industry early warning ------------------------------------------------------------------------


class LiftForm(forms.Form):
    reason = forms.CharField(label="解除原因", max_length=2000)


class ApproveOfferForm(forms.Form):
    note = forms.CharField(label="审批意见", max_length=2000)


class IndustryWarningsView(StaffOnlyView):
    """行业预警: the latest overdue rate per industry, the active restrictions (a manager may lift them) and
    the approved loans in restricted industries waiting for a manager's approval of their offer."""

    def allowed(self, user: Any) -> bool:
        return bool(user.has_perm("collections.view_industryrisksnapshot"))

    def get(self, request: HttpRequest, status: int = 200, errors: dict[str, str] | None = None) -> HttpResponse:
        from loan_collections.early_warning import thresholds, warning_overview

        warning, restriction, factor = thresholds()
        context = {
            "page_title": "行业预警",
            **warning_overview(),
            "warning_threshold": warning,
            "restriction_threshold": restriction,
            "factor": factor,
            "can_lift": request.user.has_perm("underwriting.lift_industryrestriction"),
            "can_approve": request.user.has_perm("underwriting.approve_restricted_offer"),
            "errors": errors or {},
        }
        return render(request, "loan_collections/post_loan/industry_warnings.html", context, status=status)


class IndustryRestrictionLiftView(StaffOnlyView):
    def allowed(self, user: Any) -> bool:
        return bool(user.has_perm("underwriting.lift_industryrestriction"))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        from loan_collections.early_warning import industry_restriction_lift
        from underwriting.industry_restrictions import IndustryRestriction

        form = LiftForm(request.POST)
        if not form.is_valid():
            return IndustryWarningsView().get(request, status=400, errors={f"lift-{pk}": "请填写解除原因"})
        try:
            industry_restriction_lift(actor=request.user, restriction_id=pk, reason=form.cleaned_data["reason"])
        except IndustryRestriction.DoesNotExist as exc:
            from django.http import Http404

            raise Http404("行业限制不存在") from exc
        except DomainError as exc:
            return IndustryWarningsView().get(request, status=exc.http_status, errors={f"lift-{pk}": exc.message})
        messages.success(request, "已解除行业限制")
        return redirect("backoffice:industry-warnings")


class RestrictedOfferApproveView(StaffOnlyView):
    def allowed(self, user: Any) -> bool:
        return bool(user.has_perm("underwriting.approve_restricted_offer"))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        from applications.models import Loan
        from underwriting.restriction_services import restricted_offer_approve

        form = ApproveOfferForm(request.POST)
        if not form.is_valid():
            return IndustryWarningsView().get(request, status=400, errors={f"loan-{pk}": "请填写审批意见"})
        try:
            restricted_offer_approve(actor=request.user, loan_id=pk, note=form.cleaned_data["note"])
        except Loan.DoesNotExist as exc:
            from django.http import Http404

            raise Http404("贷款不存在") from exc
        except DomainError as exc:
            return IndustryWarningsView().get(request, status=exc.http_status, errors={f"loan-{pk}": exc.message})
        messages.success(request, "已审批，可出具要约")
        return redirect("backoffice:industry-warnings")
