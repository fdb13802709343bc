"""The close-of-business run page (日终批处理): each date, each step, rows, seconds, errors, progress."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views import View

from backoffice.views.base import StaffPermissionMixin, is_htmx
from loan_collections.cob.models import CobRun, CobRunStatus
from loan_collections.cob.runner import cob_start
from loan_collections.selectors import cob_run_summaries, cob_step_summaries
from loanops.exceptions import DomainError
from servicing.services.business_date import business_date_get


class CobRunForm(forms.Form):
    date = forms.DateField(label=_("运行至营业日"), required=False, widget=forms.DateInput(attrs={"type": "date"}))


class CobRunListView(StaffPermissionMixin, View):
    """GET: the runs (newest first) and the steps of one run (``?date=``, default the newest).

    While a run is in progress the page polls its own fragment every two seconds (htmx).
    """

    permission_required = "servicing.run_cob"

    def get(self, request: HttpRequest) -> HttpResponse:
        runs = cob_run_summaries()
        selected = None
        wanted = request.GET.get("date")
        if wanted:
            selected = CobRun.objects.filter(business_date=forms.DateField().clean(wanted)).first()
        elif runs:
            selected = CobRun.objects.get(pk=runs[0].pk)
        context = {
            "page_title": _("日终批处理"),
            "runs": runs,
            "selected": selected,
            "steps": cob_step_summaries(run=selected) if selected else [],
            "running": any(run.status == CobRunStatus.RUNNING for run in runs),
            "business_date": business_date_get(),
            "form": CobRunForm(),
        }
        template = "backoffice/partials/cob_results.html" if is_htmx(request) else "backoffice/cob_runs.html"
        return render(request, template, context)

    def post(self, request: HttpRequest) -> HttpResponse:
        form = CobRunForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("请输入有效的日期"))
            return redirect("backoffice:cob-runs")
        try:
            runs = cob_start(actor=request.user, until=form.cleaned_data.get("date"))
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect("backoffice:cob-runs")
        if not runs:
            messages.info(request, _("没有需要运行的日终批处理"))
        elif runs[-1].status == CobRunStatus.FAILED:
            messages.error(request, _("日终批处理失败，请查看错误后重新运行（将从中断处继续）"))
        else:
            messages.success(request, _("日终批处理已启动或完成"))
        return redirect("backoffice:cob-runs")
