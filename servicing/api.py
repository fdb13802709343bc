"""REST API of servicing (DESIGN.md §7): schedule preview, schedule, transactions, repayments, payoff quote,
business date, reversal. Views validate input, call one service or selector, and serialise the result.
"""

from __future__ import annotations

from typing import Any

from django.http import FileResponse, Http404, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from applications.selectors import loan_get_for_actor
from loanops.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS, RATE_DECIMAL_PLACES, RATE_MAX_DIGITS
from loanops.schedule import MAX_TERM_MONTHS, RepaymentMethod, build_schedule, summarize
from servicing.models import Installment, PrepaymentOption, Repayment, RepaymentChannel
from servicing.selectors import (
    loan_balances,
    loan_repayments,
    loan_transactions,
    payoff_quote,
    repayment_get_for_actor,
    schedule_current,
    schedule_version_current,
    settlement_certificate_get_for_actor,
)
from servicing.services import (
    business_date_get,
    business_date_set,
    idempotent_call,
    loan_payoff,
    overpayment_apply,
    overpayment_refund,
    prepayment_quote,
    prepayment_record,
    repayment_record,
    repayment_reverse,
    request_fingerprint,
)

TAG = "servicing"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def Money(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, **kwargs)


def Rate(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=RATE_MAX_DIGITS, decimal_places=RATE_DECIMAL_PLACES, **kwargs)


ERRORS = {
    400: OpenApiResponse(description="Bad input: {code, message, fields}"),
    401: OpenApiResponse(description="Not authenticated"),
    403: OpenApiResponse(description="Not allowed"),
    404: OpenApiResponse(description="Not found, or not yours"),
}


# --- schedule preview ----------------------------------------------------------------------


class ScheduleRowSerializer(serializers.Serializer):
    period = serializers.IntegerField()
    due_date = serializers.DateField()
    principal = Money()
    interest = Money()
    total = Money()
    remaining = Money()


class ScheduleSummarySerializer(serializers.Serializer):
    total_principal = Money()
    total_interest = Money()
    total_payment = Money()


class SchedulePreviewApi(APIView):
    """Compute a repayment schedule from terms (nothing is stored)."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "SchedulePreviewInput"

        principal = Money(min_value=0)
        annual_rate = Rate(min_value=0, max_value=1)
        term_months = serializers.IntegerField(min_value=1, max_value=MAX_TERM_MONTHS)
        method = serializers.ChoiceField(choices=RepaymentMethod.choices)
        first_due_date = serializers.DateField()

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "SchedulePreviewOutput"

        rows = ScheduleRowSerializer(many=True)
        summary = ScheduleSummarySerializer()

    @extend_schema(
        tags=[TAG],
        operation_id="schedule_preview",
        request=InputSerializer,
        responses={200: OutputSerializer, 422: OpenApiResponse(description="schedule_infeasible"), **ERRORS},
    )
    def post(self, request: Request) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        rows = build_schedule(**payload.validated_data)
        return Response(self.OutputSerializer({"rows": rows, "summary": summarize(rows)}).data)


# --- loan schedule and transactions --------------------------------------------------------


class InstallmentSerializer(serializers.Serializer):
    period = serializers.IntegerField()
    due_date = serializers.DateField()
    principal = Money(source="principal_due")
    interest = Money(source="interest_due")
    fee = Money(source="fee_due")
    penalty = Money(source="penalty_due")
    total = Money(source="total_due")
    remaining = Money(source="remaining_after")
    principal_paid = Money()
    interest_paid = Money()
    fee_paid = Money()
    penalty_paid = Money()
    outstanding = Money()
    status = serializers.CharField()
    overdue_since = serializers.DateField(allow_null=True)
    paid_on = serializers.DateField(allow_null=True)


class LoanScheduleApi(APIView):
    """The loan's current repayment schedule (installments, what is paid and outstanding)."""

    permission_classes = [IsAuthenticated]

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "LoanScheduleOutput"

        loan_id = serializers.IntegerField()
        version = serializers.IntegerField()
        repayment_method = serializers.CharField()
        principal = Money()
        annual_rate = Rate()
        apr = Rate(allow_null=True, help_text="Annualised rate (年化利率, IRR incl. fees) of the loan's offer")
        term_months = serializers.IntegerField()
        rows = InstallmentSerializer(many=True)
        summary = inline_serializer(
            "LoanScheduleSummary",
            {
                "total_principal": Money(),
                "total_interest": Money(),
                "total_payment": Money(),
                "total_paid": Money(),
                "outstanding": Money(),
            },
        )

    @extend_schema(tags=[TAG], operation_id="loan_schedule", responses={200: OutputSerializer, **ERRORS})
    def get(self, request: Request, loan_id: int) -> Response:
        loan = loan_get_for_actor(actor=request.user, loan_id=loan_id)
        version = schedule_version_current(loan)
        rows: list[Installment] = schedule_current(loan)
        summary = {
            "total_principal": sum((r.principal_due for r in rows), 0),
            "total_interest": sum((r.interest_due for r in rows), 0),
            "total_payment": sum((r.total_due for r in rows), 0),
            "total_paid": sum((r.total_paid for r in rows), 0),
            "outstanding": sum((r.outstanding for r in rows), 0),
        }
        data = {
            "loan_id": loan.pk,
            "version": version.version,
            "repayment_method": version.repayment_method,
            "principal": version.principal,
            "annual_rate": version.annual_rate,
            "apr": loan.apr,
            "term_months": version.term_months,
            "rows": rows,
            "summary": summary,
        }
        return Response(self.OutputSerializer(data).data)


class JournalLineSerializer(serializers.Serializer):
    account = serializers.CharField()
    debit = Money()
    credit = Money()


class JournalEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    business_date = serializers.DateField()
    memo = serializers.CharField()
    created_at = serializers.DateTimeField()
    reverses = serializers.IntegerField(source="reverses_id", allow_null=True)
    repayment_id = serializers.SerializerMethodField()
    lines = JournalLineSerializer(many=True, source="lines.all")

    def get_repayment_id(self, entry: Any) -> int | None:
        repayment = getattr(entry, "repayment", None)
        return repayment.pk if repayment is not None else None


class BalancesSerializer(serializers.Serializer):
    principal_receivable = Money()
    interest_receivable = Money()
    penalty_receivable = Money()
    fee_receivable = Money()
    overpayment = Money()
    total_receivable = Money()


class LoanTransactionsApi(APIView):
    """Money movements of a loan: its journal entries with their lines, and balances rebuilt from them."""

    permission_classes = [IsAuthenticated]

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "LoanTransactionsOutput"

        loan_id = serializers.IntegerField()
        balances = BalancesSerializer()
        entries = JournalEntrySerializer(many=True)

    @extend_schema(tags=[TAG], operation_id="loan_transactions", responses={200: OutputSerializer, **ERRORS})
    def get(self, request: Request, loan_id: int) -> Response:
        loan = loan_get_for_actor(actor=request.user, loan_id=loan_id)
        data = {"loan_id": loan.pk, "balances": loan_balances(loan), "entries": loan_transactions(loan)}
        return Response(self.OutputSerializer(data).data)


# --- repayments ----------------------------------------------------------------------------


class AllocationSerializer(serializers.Serializer):
    period = serializers.IntegerField(allow_null=True)
    component = serializers.CharField()
    amount = Money()


class RepaymentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    loan_id = serializers.IntegerField()
    amount = Money()
    paid_on = serializers.DateField()
    channel = serializers.CharField()
    reference = serializers.CharField()
    recorded_at = serializers.DateTimeField()
    reversed_at = serializers.DateTimeField(allow_null=True)
    reversal_reason = serializers.CharField()
    allocations = AllocationSerializer(many=True)
    loan_status = serializers.CharField()


def repayment_data(repayment: Repayment) -> dict[str, Any]:
    allocations = repayment.allocations.select_related("installment").order_by("id")
    return {
        "id": repayment.pk,
        "loan_id": repayment.loan_id,
        "amount": repayment.amount,
        "paid_on": repayment.paid_on,
        "channel": repayment.channel,
        "reference": repayment.reference,
        "recorded_at": repayment.recorded_at,
        "reversed_at": repayment.reversed_at,
        "reversal_reason": repayment.reversal_reason,
        "allocations": [
            {
                "period": a.installment.period if a.installment is not None else None,
                "component": a.component,
                "amount": a.amount,
            }
            for a in allocations
        ],
        "loan_status": repayment.loan.status,
    }


class LoanRepaymentsApi(APIView):
    """Record a repayment (idempotent by the ``Idempotency-Key`` header) or list a loan's repayments."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "LoanRepaymentsInput"

        amount = Money()
        paid_on = serializers.DateField()
        channel = serializers.ChoiceField(choices=RepaymentChannel.choices)
        reference = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")

    OutputSerializer = RepaymentSerializer

    @extend_schema(
        tags=[TAG], operation_id="loan_repayments_list", responses={200: RepaymentSerializer(many=True), **ERRORS}
    )
    def get(self, request: Request, loan_id: int) -> Response:
        loan = loan_get_for_actor(actor=request.user, loan_id=loan_id)
        return Response(RepaymentSerializer([repayment_data(r) for r in loan_repayments(loan)], many=True).data)

    @extend_schema(
        tags=[TAG],
        operation_id="loan_repayments_create",
        request=InputSerializer,
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_HEADER,
                str,
                OpenApiParameter.HEADER,
                required=True,
                description="Client-chosen unique key (≤ 128 chars). A replay returns the first response; "
                "the same key with a different body gets 422 idempotency_key_reused.",
            )
        ],
        responses={
            201: RepaymentSerializer,
            409: OpenApiResponse(description="loan_not_repayable"),
            422: OpenApiResponse(description="idempotency_key_reused or another business rule"),
            **ERRORS,
        },
    )
    def post(self, request: Request, loan_id: int) -> HttpResponse:
        key = idempotency_key(request)
        loan = loan_get_for_actor(actor=request.user, loan_id=loan_id)
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)

        def post_once() -> tuple[int, str]:
            repayment = repayment_record(actor=request.user, loan_id=loan.pk, **payload.validated_data)
            body = JSONRenderer().render(RepaymentSerializer(repayment_data(repayment)).data)
            return 201, body.decode()

        return idempotent_response(request, scope=f"repayment:{loan.pk}", key=key, call=post_once)


IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    str,
    OpenApiParameter.HEADER,
    required=True,
    description="Client-chosen unique key (≤ 128 chars). A replay returns the first response; "
    "the same key with a different body gets 422 idempotency_key_reused.",
)


def idempotency_key(request: Request) -> str:
    """The request's ``Idempotency-Key`` header (400 when missing or longer than 128 characters)."""
    key = (request.headers.get(IDEMPOTENCY_HEADER) or "").strip()
    if not key or len(key) > 128:
        raise ValidationError({IDEMPOTENCY_HEADER: ["请求头 Idempotency-Key 必填，且不超过 128 个字符"]})
    return key


def idempotent_response(request: Request, *, scope: str, key: str, call: Any) -> HttpResponse:
    """Run ``call`` once per (scope, key) via ``idempotent_call``; a replay gets the stored bytes."""
    result = idempotent_call(
        scope=scope, key=key, request_hash=request_fingerprint(request.data), actor=request.user, call=call
    )
    response = HttpResponse(result.body.encode(), status=result.status, content_type="application/json")
    if result.replayed:
        response["Idempotent-Replayed"] = "true"
    return response


class RepaymentReverseApi(APIView):
    """Reverse (冲正) a wrongly recorded repayment; managers only; a reason is required."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "RepaymentReverseInput"

        reason = serializers.CharField(max_length=2000)

    @extend_schema(
        tags=[TAG],
        operation_id="repayment_reverse",
        request=InputSerializer,
        responses={
            200: RepaymentSerializer,
            422: OpenApiResponse(description="already_reversed, loan_closed"),
            **ERRORS,
        },
    )
    def post(self, request: Request, repayment_id: int) -> Response:
        repayment_get_for_actor(actor=request.user, repayment_id=repayment_id)
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        repayment = repayment_reverse(actor=request.user, repayment_id=repayment_id, **payload.validated_data)
        return Response(RepaymentSerializer(repayment_data(repayment)).data)


# --- payoff quote and business date ---------------------------------------------------------


class LoanPayoffQuoteApi(APIView):
    """Amount to settle the loan early on a date (default: the business date), itemised."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "LoanPayoffQuoteInput"

        on = serializers.DateField(required=False)

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "LoanPayoffQuoteOutput"

        loan_id = serializers.IntegerField()
        on = serializers.DateField()
        items = inline_serializer(
            "PayoffQuoteItems",
            {
                "principal": Money(),
                "interest_due": Money(),
                "interest_accrued": Money(),
                "penalty": Money(),
                "fees": Money(),
                "prepayment_fee": Money(),
                "overpayment": Money(),
            },
        )
        total = Money()

    @extend_schema(
        tags=[TAG],
        operation_id="loan_payoff_quote",
        parameters=[OpenApiParameter("on", str, OpenApiParameter.QUERY, description="YYYY-MM-DD")],
        responses={200: OutputSerializer, 422: OpenApiResponse(description="loan_not_repayable"), **ERRORS},
    )
    def get(self, request: Request, loan_id: int) -> Response:
        loan = loan_get_for_actor(actor=request.user, loan_id=loan_id)
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        on = params.validated_data.get("on") or business_date_get()
        return Response(self.OutputSerializer(payoff_quote(loan=loan, on=on)).data)


class BusinessDateApi(APIView):
    """Read (any signed-in user) or move (perm servicing.change_businessdate) the business date."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "BusinessDateInput"

        date = serializers.DateField()

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "BusinessDateOutput"

        date = serializers.DateField()

    @extend_schema(tags=[TAG], operation_id="business_date_get", responses={200: OutputSerializer, **ERRORS})
    def get(self, request: Request) -> Response:
        return Response(self.OutputSerializer({"date": business_date_get()}).data)

    @extend_schema(
        tags=[TAG],
        operation_id="business_date_set",
        request=InputSerializer,
        responses={200: OutputSerializer, 422: OpenApiResponse(description="business_date_backwards"), **ERRORS},
    )
    def put(self, request: Request) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        row = business_date_set(actor=request.user, new_date=payload.validated_data["date"])
        return Response(self.OutputSerializer({"date": row.date}).data)


# --- partial prepayment ---------------------------------------------------------------------


class PrepaymentInputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "PrepaymentInput"

    amount = Money(help_text="Principal to prepay (less than the principal not yet due)")
    option = serializers.ChoiceField(choices=PrepaymentOption.choices)


class PrepaymentQuoteSerializer(serializers.Serializer):
    class Meta:
        ref_name = "PrepaymentQuote"

    loan_id = serializers.IntegerField()
    on = serializers.DateField()
    option = serializers.CharField()
    principal = Money()
    interest = Money()
    interest_days = serializers.IntegerField()
    fee = Money()
    total = Money()
    remaining_principal = Money()
    old_installment = Money(allow_null=True)
    new_installment = Money(allow_null=True)
    old_periods = serializers.IntegerField()
    new_periods = serializers.IntegerField()
    interest_saved = Money()
    rows = ScheduleRowSerializer(many=True)


def prepayment_quote_data(loan_id: int, plan: Any) -> dict[str, Any]:
    start = plan.tail.kept_periods
    rows = [row._replace(period=start + index) for index, row in enumerate(plan.rows, start=1)]
    return {
        "loan_id": loan_id,
        "on": plan.on,
        "option": plan.option,
        "principal": plan.principal,
        "interest": plan.interest,
        "interest_days": plan.interest_days,
        "fee": plan.fee,
        "total": plan.total,
        "remaining_principal": plan.remaining_principal,
        "old_installment": plan.old_installment,
        "new_installment": plan.new_installment,
        "old_periods": plan.old_periods,
        "new_periods": plan.new_periods,
        "interest_saved": plan.interest_saved,
        "rows": rows,
    }


class PrepaymentSerializer(serializers.Serializer):
    class Meta:
        ref_name = "Prepayment"

    id = serializers.IntegerField()
    loan_id = serializers.IntegerField()
    option = serializers.CharField()
    effective_on = serializers.DateField()
    principal = Money()
    interest = Money()
    fee = Money()
    total = Money(source="repayment.amount")
    repayment_id = serializers.IntegerField()
    schedule_version = serializers.IntegerField(source="new_version.version")


class LoanPrepaymentQuoteApi(APIView):
    """Preview a partial prepayment on the business date: what to pay and the new schedule (nothing stored)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=[TAG],
        operation_id="loan_prepayment_quote",
        parameters=[
            OpenApiParameter("amount", str, OpenApiParameter.QUERY, required=True),
            OpenApiParameter("option", str, OpenApiParameter.QUERY, required=True, enum=PrepaymentOption.values),
        ],
        responses={
            200: PrepaymentQuoteSerializer,
            409: OpenApiResponse(description="loan_not_active"),
            422: OpenApiResponse(description="arrears_outstanding, prepayment_is_payoff, option_not_applicable"),
            **ERRORS,
        },
    )
    def get(self, request: Request, loan_id: int) -> Response:
        loan = loan_get_for_actor(actor=request.user, loan_id=loan_id)
        params = PrepaymentInputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        plan = prepayment_quote(actor=request.user, loan_id=loan.pk, **params.validated_data)
        return Response(PrepaymentQuoteSerializer(prepayment_quote_data(loan.pk, plan)).data)


class LoanPrepaymentsApi(APIView):
    """Book a partial prepayment (idempotent by ``Idempotency-Key``) or list the loan's prepayments."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(PrepaymentInputSerializer):
        class Meta:
            ref_name = "LoanPrepaymentsInput"

        channel = serializers.ChoiceField(choices=RepaymentChannel.choices, default=RepaymentChannel.BANK_TRANSFER)
        reference = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")

    @extend_schema(
        tags=[TAG], operation_id="loan_prepayments_list", responses={200: PrepaymentSerializer(many=True), **ERRORS}
    )
    def get(self, request: Request, loan_id: int) -> Response:
        loan = loan_get_for_actor(actor=request.user, loan_id=loan_id)
        rows = loan.prepayments.select_related("repayment", "new_version").order_by("id")
        return Response(PrepaymentSerializer(rows, many=True).data)

    @extend_schema(
        tags=[TAG],
        operation_id="loan_prepayments_create",
        request=InputSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={
            201: PrepaymentSerializer,
            409: OpenApiResponse(description="loan_not_active"),
            422: OpenApiResponse(
                description="arrears_outstanding, prepayment_is_payoff, option_not_applicable, idempotency_key_reused"
            ),
            **ERRORS,
        },
    )
    def post(self, request: Request, loan_id: int) -> HttpResponse:
        key = idempotency_key(request)
        loan = loan_get_for_actor(actor=request.user, loan_id=loan_id)
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)

        def post_once() -> tuple[int, str]:
            prepayment = prepayment_record(actor=request.user, loan_id=loan.pk, **payload.validated_data)
            return 201, JSONRenderer().render(PrepaymentSerializer(prepayment).data).decode()

        return idempotent_response(request, scope=f"prepayment:{loan.pk}", key=key, call=post_once)


# --- payoff and settlement certificate -------------------------------------------------------


class LoanPayoffApi(APIView):
    """Pay off the loan on the business date (idempotent by ``Idempotency-Key``): at least the payoff quote's
    total; the loan is settled and the settlement certificate issued. A surplus is held as overpayment."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "LoanPayoffInput"

        amount = Money()
        channel = serializers.ChoiceField(choices=RepaymentChannel.choices)
        reference = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")

    @extend_schema(
        tags=[TAG],
        operation_id="loan_payoff",
        request=InputSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={
            201: RepaymentSerializer,
            409: OpenApiResponse(description="loan_not_repayable"),
            422: OpenApiResponse(description="payoff_amount_short, idempotency_key_reused"),
            **ERRORS,
        },
    )
    def post(self, request: Request, loan_id: int) -> HttpResponse:
        key = idempotency_key(request)
        loan = loan_get_for_actor(actor=request.user, loan_id=loan_id)
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)

        def post_once() -> tuple[int, str]:
            repayment = loan_payoff(actor=request.user, loan_id=loan.pk, **payload.validated_data)
            repayment.loan.refresh_from_db(fields=["status"])
            return 201, JSONRenderer().render(RepaymentSerializer(repayment_data(repayment)).data).decode()

        return idempotent_response(request, scope=f"payoff:{loan.pk}", key=key, call=post_once)


class LoanSettlementCertificateApi(APIView):
    """The settlement certificate (结清证明) PDF of a settled loan (404 before settlement or if not yours)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=[TAG],
        operation_id="loan_settlement_certificate",
        responses={(200, "application/pdf"): OpenApiTypes.BINARY, **ERRORS},
    )
    def get(self, request: Request, loan_id: int) -> FileResponse:
        certificate = settlement_certificate_get_for_actor(actor=request.user, loan_id=loan_id)
        try:
            handle = certificate.file.open("rb")
        except (FileNotFoundError, ValueError) as exc:
            raise Http404("结清证明文件不存在") from exc
        return FileResponse(
            handle, content_type="application/pdf", as_attachment=True, filename=f"{certificate.number}.pdf"
        )


# --- overpayment (溢缴款) -------------------------------------------------------------------


class LoanOverpaymentApplyApi(APIView):
    """Apply the loan's held overpayment to its installments (manager's decision)."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "LoanOverpaymentApplyInput"

        reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    @extend_schema(
        tags=[TAG],
        operation_id="loan_overpayment_apply",
        request=InputSerializer,
        responses={
            201: RepaymentSerializer,
            409: OpenApiResponse(description="loan_not_repayable"),
            422: OpenApiResponse(description="nothing_to_apply"),
            **ERRORS,
        },
    )
    def post(self, request: Request, loan_id: int) -> Response:
        loan = loan_get_for_actor(actor=request.user, loan_id=loan_id)
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        repayment = overpayment_apply(actor=request.user, loan_id=loan.pk, **payload.validated_data)
        repayment.loan.refresh_from_db(fields=["status"])
        return Response(RepaymentSerializer(repayment_data(repayment)).data, status=201)


class LoanOverpaymentRefundApi(APIView):
    """Refund (part of) the loan's held overpayment to the borrower (manager's decision, reason required)."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "LoanOverpaymentRefundInput"

        amount = Money()
        reason = serializers.CharField(max_length=2000)

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "LoanOverpaymentRefundOutput"

        loan_id = serializers.IntegerField()
        entry = JournalEntrySerializer()
        overpayment = Money()

    @extend_schema(
        tags=[TAG],
        operation_id="loan_overpayment_refund",
        request=InputSerializer,
        responses={201: OutputSerializer, 422: OpenApiResponse(description="refund_exceeds_overpayment"), **ERRORS},
    )
    def post(self, request: Request, loan_id: int) -> Response:
        loan = loan_get_for_actor(actor=request.user, loan_id=loan_id)
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        entry = overpayment_refund(actor=request.user, loan_id=loan.pk, **payload.validated_data)
        data = {"loan_id": loan.pk, "entry": entry, "overpayment": loan_balances(loan)["overpayment"]}
        return Response(self.OutputSerializer(data).data, status=201)
