"""REST API of post-loan risk: five-category class (and upgrade decisions), write-off (the ``write-off``
transition endpoint: proposal / approval / rejection) and recoveries after write-off.

Views validate types and call one service or selector; the services check permissions and business rules.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from applications.api import ActionPermission, Api, error_responses, loan_detail_data
from applications.models import RISK_CLASS_RANK, RiskClass
from applications.selectors import loan_get_for_actor
from loanops.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS, RATE_DECIMAL_PLACES, RATE_MAX_DIGITS
from loanops.schedule import MAX_TERM_MONTHS
from loanops.types import RepaymentMethod
from servicing.models import Restructuring, RiskClassChange, RiskClassUpgradeRequest, WriteOff, WriteOffRecovery
from servicing.selectors import (
    loan_restructurings,
    loan_risk_class_history,
    loan_risk_class_upgrade_pending,
    loan_write_off_summary,
)
from servicing.services.business_date import business_date_get
from servicing.services.classification import (
    floor_class,
    risk_class_downgrade,
    risk_class_upgrade_decide,
    risk_class_upgrade_request,
)
from servicing.services.restructuring import restructuring_approve, restructuring_reject, restructuring_request
from servicing.services.write_off import WRITE_OFF_ACTIONS, loan_write_off, recovery_record

TAG = "post-loan risk"


def _money(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, **kwargs)


def _user_name(user: Any) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else ""


class RiskClassChangeSerializer(serializers.ModelSerializer):
    from_class_display = serializers.CharField(source="get_from_class_display", read_only=True)
    to_class_display = serializers.CharField(source="get_to_class_display", read_only=True)
    source_display = serializers.CharField(source="get_source_display", read_only=True)
    actor_name = serializers.SerializerMethodField()

    class Meta:
        model = RiskClassChange
        fields = [
            "id", "from_class", "from_class_display", "to_class", "to_class_display", "source", "source_display",
            "days_past_due", "actor_name", "reason", "business_date", "created_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_actor_name(self, row: RiskClassChange) -> str:
        return _user_name(row.actor)


class UpgradeRequestSerializer(serializers.ModelSerializer):
    requested_by_name = serializers.SerializerMethodField()

    class Meta:
        model = RiskClassUpgradeRequest
        fields = ["id", "loan", "from_class", "to_class", "reason", "status", "requested_by_name", "requested_at",
                  "decided_at", "decision_note"]  # fmt: skip
        read_only_fields = fields

    def get_requested_by_name(self, row: RiskClassUpgradeRequest) -> str:
        return _user_name(row.requested_by)


class LoanRiskClassApi(Api):
    """五级分类: the class, its floor today, history and a pending upgrade; POST downgrades (immediately) or
    requests an upgrade (202, approved by a manager who is not the requester)."""

    permission_classes = [IsAuthenticated, ActionPermission]
    required_perms = {"GET": "applications.view_loan", "POST": "servicing.classify_loan"}

    class InputSerializer(serializers.Serializer):
        risk_class = serializers.ChoiceField(choices=RiskClass.choices)
        reason = serializers.CharField(max_length=2000)

    class OutputSerializer(serializers.Serializer):
        loan_id = serializers.IntegerField()
        risk_class = serializers.ChoiceField(choices=RiskClass.choices)
        risk_class_display = serializers.CharField()
        risk_class_manual = serializers.BooleanField()
        floor = serializers.ChoiceField(choices=RiskClass.choices, allow_null=True)
        days_past_due = serializers.IntegerField()
        history = RiskClassChangeSerializer(many=True)
        upgrade_request = UpgradeRequestSerializer(allow_null=True)

    def _data(self, loan_id: int, request: Request) -> dict[str, Any]:
        loan = loan_get_for_actor(actor=request.user, loan_id=loan_id)
        floor = floor_class(loan=loan, on=business_date_get()) if loan.status in ("active", "overdue") else None
        return self.OutputSerializer(
            {
                "loan_id": loan.pk,
                "risk_class": loan.risk_class,
                "risk_class_display": loan.get_risk_class_display(),
                "risk_class_manual": loan.risk_class_manual,
                "floor": floor,
                "days_past_due": loan.days_past_due,
                "history": loan_risk_class_history(loan),
                "upgrade_request": loan_risk_class_upgrade_pending(loan),
            }
        ).data

    @extend_schema(
        tags=[TAG], summary="五级分类与变动记录", responses={200: OutputSerializer, **error_responses(401, 403, 404)}
    )
    def get(self, request: Request, loan_id: int) -> Response:
        return Response(self._data(loan_id, request))

    @extend_schema(
        tags=[TAG],
        summary="下调五级分类（立即生效）或申请上调（待经理审批）",
        request=InputSerializer,
        responses={200: OutputSerializer, 202: OutputSerializer, **error_responses(400, 401, 403, 404, 409, 422)},
    )
    def post(self, request: Request, loan_id: int) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        loan = loan_get_for_actor(actor=request.user, loan_id=loan_id)
        target = payload.validated_data["risk_class"]
        if RISK_CLASS_RANK[target] > RISK_CLASS_RANK[loan.risk_class]:
            risk_class_downgrade(actor=request.user, loan_id=loan.pk, **payload.validated_data)
            return Response(self._data(loan_id, request))
        risk_class_upgrade_request(actor=request.user, loan_id=loan.pk, **payload.validated_data)
        return Response(self._data(loan_id, request), status=status.HTTP_202_ACCEPTED)


class RiskClassUpgradeDecideApi(Api):
    """Approve or reject a class upgrade request (four eyes: not the requester)."""

    permission_classes = [IsAuthenticated, ActionPermission]
    required_perms = {"POST": "servicing.approve_risk_class_upgrade"}

    class InputSerializer(serializers.Serializer):
        approve = serializers.BooleanField()
        note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")

    @extend_schema(
        tags=[TAG],
        summary="审批五级分类上调申请",
        request=InputSerializer,
        responses={200: UpgradeRequestSerializer, **error_responses(400, 401, 403, 404, 409, 422)},
    )
    def post(self, request: Request, request_id: int) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        row = risk_class_upgrade_decide(actor=request.user, request_id=request_id, **payload.validated_data)
        return Response(UpgradeRequestSerializer(row).data)


class WriteOffSerializer(serializers.ModelSerializer):
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    proposed_by_name = serializers.SerializerMethodField()
    decided_by_name = serializers.SerializerMethodField()
    total = _money(read_only=True)

    class Meta:
        model = WriteOff
        fields = [
            "id", "status", "status_display", "reason", "proposed_by_name", "proposed_at", "decided_by_name",
            "decided_at", "decision_note", "business_date", "principal", "interest", "penalty", "fee", "total",
        ]  # fmt: skip
        read_only_fields = fields

    def get_proposed_by_name(self, row: WriteOff) -> str:
        return _user_name(row.proposed_by)

    def get_decided_by_name(self, row: WriteOff) -> str:
        return _user_name(row.decided_by)


class LoanWriteOffApi(Api):
    """核销 (the ``write_off`` transition): ``action`` propose (risk) / approve / reject (a manager who is not the
    proposer); without ``action``: approve a pending proposal, otherwise propose. Answers with the loan
    detail plus the write-off record under ``write_off``."""

    permission_classes = [IsAuthenticated, ActionPermission]
    required_perms = {"POST": None}  # propose and approve need different permissions: the services decide

    class InputSerializer(serializers.Serializer):
        action = serializers.ChoiceField(choices=WRITE_OFF_ACTIONS, required=False, allow_blank=True, default="")
        reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")

    @extend_schema(
        tags=[TAG],
        summary="核销：风控申请，经理审批（四眼原则）",
        request=InputSerializer,
        responses={200: WriteOffSerializer, **error_responses(400, 401, 403, 404, 409, 422)},
    )
    def post(self, request: Request, loan_id: int) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        row = loan_write_off(actor=request.user, loan_id=loan_id, **payload.validated_data)
        loan = loan_get_for_actor(actor=request.user, loan_id=loan_id)
        return Response({**loan_detail_data(loan, request), "write_off": WriteOffSerializer(row).data})


class RecoverySerializer(serializers.ModelSerializer):
    channel_display = serializers.CharField(source="get_channel_display", read_only=True)
    recorded_by_name = serializers.SerializerMethodField()

    class Meta:
        model = WriteOffRecovery
        fields = ["id", "amount", "recovered_on", "channel", "channel_display", "reference", "note",
                  "recorded_by_name", "recorded_at", "journal_entry"]  # fmt: skip
        read_only_fields = fields

    def get_recorded_by_name(self, row: WriteOffRecovery) -> str:
        return _user_name(row.recorded_by)


class LoanRecoveriesApi(Api):
    """核销后收回: list the write-off and its recoveries, or record one (Dr cash_clearing / Cr recovery_income)."""

    permission_classes = [IsAuthenticated, ActionPermission]
    required_perms = {"GET": "applications.view_loan", "POST": "servicing.add_writeoffrecovery"}

    class InputSerializer(serializers.Serializer):
        amount = _money()
        recovered_on = serializers.DateField()
        channel = serializers.ChoiceField(choices=WriteOffRecovery.Channel.choices)
        reference = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
        note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")

        def validate_amount(self, value: Any) -> Any:
            if value <= 0:
                raise serializers.ValidationError("收回金额须大于 0")
            return value

    class OutputSerializer(serializers.Serializer):
        write_off = WriteOffSerializer(allow_null=True)
        recoveries = RecoverySerializer(many=True)
        recovered_total = _money()

    @extend_schema(
        tags=[TAG], summary="核销与核销后收回记录", responses={200: OutputSerializer, **error_responses(401, 403, 404)}
    )
    def get(self, request: Request, loan_id: int) -> Response:
        loan = loan_get_for_actor(actor=request.user, loan_id=loan_id)
        return Response(self.OutputSerializer(loan_write_off_summary(loan)).data)

    @extend_schema(
        tags=[TAG],
        summary="登记核销后收回",
        request=InputSerializer,
        responses={201: RecoverySerializer, **error_responses(400, 401, 403, 404, 422)},
    )
    def post(self, request: Request, loan_id: int) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        row = recovery_record(actor=request.user, loan_id=loan_id, **payload.validated_data)
        return Response(RecoverySerializer(row).data, status=status.HTTP_201_CREATED)


# --- extension / restructuring -------------------------------------------------------------------------


class RestructuringSerializer(serializers.ModelSerializer):
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    schedule_version = serializers.SerializerMethodField()

    class Meta:
        model = Restructuring
        fields = [
            "id", "loan", "kind", "kind_display", "status", "status_display", "term_months", "annual_rate",
            "repayment_method", "first_due_date", "outstanding_principal", "needs_manager", "reason",
            "requested_at", "risk_approved_at", "manager_approved_at", "decided_at", "decision_note",
            "schedule_version",
        ]  # fmt: skip
        read_only_fields = fields

    def get_schedule_version(self, row: Restructuring) -> int | None:
        return row.schedule_version.version if row.schedule_version is not None else None


class LoanRestructuringsApi(Api):
    """展期/重组 of one loan: list the requests, or request one (ops, or the customer for their own loan)."""

    permission_classes = [IsAuthenticated, ActionPermission]
    required_perms = {"GET": "applications.view_loan", "POST": "servicing.request_restructuring"}
    customer_methods = ("GET", "POST")

    class InputSerializer(serializers.Serializer):
        kind = serializers.ChoiceField(choices=Restructuring.Kind.choices)
        term_months = serializers.IntegerField(min_value=1, max_value=MAX_TERM_MONTHS, help_text="新的剩余期数（月）")
        annual_rate = serializers.DecimalField(
            max_digits=RATE_MAX_DIGITS, decimal_places=RATE_DECIMAL_PLACES, required=False, allow_null=True,
            min_value=Decimal(0), help_text="仅重组：新年利率（如 0.085），不填则不变",
        )  # fmt: skip
        repayment_method = serializers.ChoiceField(
            choices=RepaymentMethod.choices, required=False, allow_blank=True, default="", help_text="仅重组"
        )
        reason = serializers.CharField(max_length=2000)

    @extend_schema(
        tags=[TAG],
        summary="展期/重组申请记录",
        responses={200: RestructuringSerializer(many=True), **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, loan_id: int) -> Response:
        loan = loan_get_for_actor(actor=request.user, loan_id=loan_id)
        return Response(RestructuringSerializer(loan_restructurings(loan), many=True).data)

    @extend_schema(
        tags=[TAG],
        summary="申请展期/重组",
        request=InputSerializer,
        responses={201: RestructuringSerializer, **error_responses(400, 401, 403, 404, 409, 422)},
    )
    def post(self, request: Request, loan_id: int) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        row = restructuring_request(actor=request.user, loan_id=loan_id, **payload.validated_data)
        return Response(RestructuringSerializer(row).data, status=status.HTTP_201_CREATED)


class RestructuringApproveApi(Api):
    """Approve a request: risk (not the requester), then a manager above the limit (not the risk approver)."""

    permission_classes = [IsAuthenticated, ActionPermission]
    required_perms = {"POST": None}  # risk or manager depending on the stage: the service decides

    class InputSerializer(serializers.Serializer):
        note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")

    @extend_schema(
        tags=[TAG],
        summary="审批展期/重组",
        request=InputSerializer,
        responses={200: RestructuringSerializer, **error_responses(400, 401, 403, 404, 409, 422)},
    )
    def post(self, request: Request, restructuring_id: int) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        row = restructuring_approve(actor=request.user, restructuring_id=restructuring_id, **payload.validated_data)
        return Response(RestructuringSerializer(row).data)


class RestructuringRejectApi(Api):
    """Reject a request (the same people who may approve it at its stage)."""

    permission_classes = [IsAuthenticated, ActionPermission]
    required_perms = {"POST": None}

    class InputSerializer(serializers.Serializer):
        note = serializers.CharField(max_length=2000)

    @extend_schema(
        tags=[TAG],
        summary="驳回展期/重组",
        request=InputSerializer,
        responses={200: RestructuringSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request, restructuring_id: int) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        row = restructuring_reject(actor=request.user, restructuring_id=restructuring_id, **payload.validated_data)
        return Response(RestructuringSerializer(row).data)
