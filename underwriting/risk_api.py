"""REST API of the risk assessment: the credit-report summary and the assessments of a loan.

`GET/PUT /api/v1/loans/{id}/credit-report/` and `GET/POST /api/v1/loans/{id}/assessments/`. Thin views: the
serializers check types, `underwriting.risk_services` checks permission, state and values. Staff only
(customers are refused by `ActionPermission`: no `customer_methods`).
"""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from applications.api import ActionPermission, Api, error_responses
from applications.selectors import loan_get_for_actor
from loanops.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from underwriting.assessment import CreditReportSummary, RiskAssessment
from underwriting.risk_selectors import loan_assessments, loan_credit_report
from underwriting.risk_services import assessment_run, credit_report_save


def _money(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, min_value=0, **kwargs
    )


class CreditReportApi(Api):
    """征信摘要 of an application."""

    permission_classes = [IsAuthenticated, ActionPermission]
    required_perms = {"GET": "underwriting.view_creditreportsummary", "PUT": "underwriting.view_creditreportsummary"}

    class InputSerializer(serializers.Serializer):
        report_date = serializers.DateField()
        current_overdue_count = serializers.IntegerField(min_value=0, max_value=999)
        overdue_count_24m = serializers.IntegerField(min_value=0, max_value=999)
        max_dpd_24m = serializers.IntegerField(min_value=0, max_value=9999)
        inquiries_6m = serializers.IntegerField(min_value=0, max_value=999)
        total_debt = _money()
        monthly_debt_payment = _money()
        verified_annual_income = _money(required=False, allow_null=True, default=None, help_text="按材料核实的年收入")
        collateral_value = _money(required=False, default="0.00")

    class OutputSerializer(serializers.ModelSerializer):
        class Meta:
            model = CreditReportSummary
            fields = [
                "report_date", "current_overdue_count", "overdue_count_24m", "max_dpd_24m", "inquiries_6m",
                "total_debt", "monthly_debt_payment", "verified_annual_income", "collateral_value", "updated_at",
            ]  # fmt: skip
            read_only_fields = fields

    @extend_schema(summary="征信摘要", responses={200: OutputSerializer, **error_responses(401, 403, 404)})
    def get(self, request: Request, loan_id: int) -> Response:
        loan = loan_get_for_actor(actor=request.user, loan_id=loan_id)
        report = loan_credit_report(loan)
        if report is None:
            raise Http404("尚未录入征信摘要")
        return Response(self.OutputSerializer(report).data)

    @extend_schema(
        summary="录入或更正征信摘要",
        request=InputSerializer,
        responses={200: OutputSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def put(self, request: Request, loan_id: int) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        report = credit_report_save(actor=request.user, loan_id=loan_id, data=dict(payload.validated_data))
        return Response(self.OutputSerializer(report).data)


class RuleResultSerializer(serializers.Serializer):
    code = serializers.CharField()
    kind = serializers.ChoiceField(choices=["knockout", "warning"])
    hit = serializers.BooleanField()
    message = serializers.CharField()
    reject_reason = serializers.CharField(allow_blank=True)


class PointsSerializer(serializers.Serializer):
    code = serializers.CharField()
    value = serializers.CharField(allow_null=True)
    bin = serializers.CharField()
    points = serializers.IntegerField()


class AssessmentSerializer(serializers.ModelSerializer):
    scorecard_version = serializers.IntegerField(source="scorecard.version", read_only=True)
    points = PointsSerializer(many=True, read_only=True)
    rule_results = RuleResultSerializer(many=True, read_only=True)
    reason_codes = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = RiskAssessment
        fields = [
            "id", "scorecard_version", "score", "grade", "knocked_out", "reason_codes", "points", "rule_results",
            "notes", "trigger", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class LoanAssessmentsApi(Api):
    """Risk assessments of a loan, newest first; POST runs a new one (运行评估)."""

    permission_classes = [IsAuthenticated, ActionPermission]
    required_perms = {"GET": "underwriting.view_riskassessment", "POST": "underwriting.add_riskassessment"}

    class InputSerializer(serializers.Serializer):
        notes = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")

    @extend_schema(
        summary="风险评估列表", responses={200: AssessmentSerializer(many=True), **error_responses(401, 403, 404)}
    )
    def get(self, request: Request, loan_id: int) -> Response:
        loan = loan_get_for_actor(actor=request.user, loan_id=loan_id)
        return Response(AssessmentSerializer(loan_assessments(loan)[:50], many=True).data)

    @extend_schema(
        summary="运行风险评估",
        request=InputSerializer,
        responses={201: AssessmentSerializer, **error_responses(400, 401, 403, 404, 409, 422)},
    )
    def post(self, request: Request, loan_id: int) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        assessment = assessment_run(actor=request.user, loan_id=loan_id, **payload.validated_data)
        return Response(AssessmentSerializer(assessment).data, status=status.HTTP_201_CREATED)
