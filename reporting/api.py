"""REST API of reporting: the manager's monthly report (DESIGN.md §7).

`GET /api/v1/reports/monthly/?month=YYYY-MM&format=csv` — the same CSV as the back-office download.
PDF and XLSX are named in DESIGN.md but come with the monthly-report feature; until then any format but
csv is a 400 on the `format` field.
"""

from __future__ import annotations

from typing import Any, Final

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request

from applications.api import ActionPermission, Api, FileDownloadNegotiation, error_responses
from reporting.views import REPORT_PERMISSION, monthly_csv_response, parse_month

SUPPORTED_FORMATS: Final = ("csv",)
FORMAT_MESSAGE: Final = "暂只支持 csv（pdf、xlsx 在月报功能中提供）"


class MonthlyReportApi(Api):
    """The monthly report of loans originated, disbursed, repaid and settled (Asia/Shanghai months)."""

    permission_classes = [IsAuthenticated, ActionPermission]
    required_perms = {"GET": REPORT_PERMISSION}
    # `format` is this endpoint's own parameter (the file type), not DRF's `?format=` renderer override,
    # which would answer 404 for "csv"; errors stay JSON whatever the Accept header.
    content_negotiation_class = FileDownloadNegotiation

    class InputSerializer(serializers.Serializer):  # type: ignore[type-arg]
        month = serializers.CharField(help_text="YYYY-MM，例如 2026-11（北京时间的自然月）")
        format = serializers.CharField(required=False, default="csv", help_text="文件格式；暂只支持 csv")

        def validate_month(self, value: str) -> Any:
            try:
                return parse_month(value)
            except ValueError as exc:
                raise serializers.ValidationError(str(exc)) from exc

        def validate_format(self, value: str) -> str:
            value = value.strip().lower()
            if value not in SUPPORTED_FORMATS:
                raise serializers.ValidationError(FORMAT_MESSAGE)
            return value

    @extend_schema(
        summary="下载月报",
        description=(
            "当月（北京时间）受理、放款、还款（未冲正）、结清的逐笔明细及按事件汇总。CSV 为带 BOM 的 UTF-8，"
            "表头：贷款编号, 借款人, 产品, 事件, 日期, 金额；文件名 `loanops-monthly-YYYY-MM.csv`。"
            "需要权限 `applications.view_reports`（部门经理）。"
        ),
        parameters=[
            OpenApiParameter("month", OpenApiTypes.STR, OpenApiParameter.QUERY, required=True, description="YYYY-MM"),
            OpenApiParameter(
                "format",
                OpenApiTypes.STR,
                OpenApiParameter.QUERY,
                required=False,
                enum=list(SUPPORTED_FORMATS),
                default="csv",
                description="文件格式（pdf、xlsx 将在月报功能中提供）",
            ),
        ],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="月报 CSV（UTF-8 with BOM）"),
            **error_responses(400, 401, 403),
        },
    )
    def get(self, request: Request) -> HttpResponse:
        payload = self.InputSerializer(data=request.query_params)
        payload.is_valid(raise_exception=True)
        return monthly_csv_response(payload.validated_data["month"])
