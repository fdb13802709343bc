"""REST API of collections: cases (我的案件 / all), the contact log, promises to pay, named contacts, consent.

Permissions (reach; the services check again):
* reading cases — ``collections.view_collectioncase``; ``scope=all`` and other people's cases need
  ``collections.view_all_collectioncases`` (others' cases are 404 without it);
* logging a contact — ``collections.add_contactattempt``; a contact the policy refuses answers 422
  ``contact_policy`` with ``extra.rule`` and ``extra.attempt_id`` (the refused attempt is recorded);
* promises — ``collections.add_promisetopay``; named contacts — ``collections.add_namedcontact``;
  quiet-hours consent — ``collections.add_contactconsent``; assign / escalate —
  ``collections.assign_collectioncase``.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from applications.api import ActionPermission, Api, ErrorSerializer, GenericApi, error_responses
from applications.selectors import customer_get_for_actor
from compliance.pii import mask_phone
from loan_collections.case_models import (
    CaseStatus,
    CollectionCase,
    CollectionLevel,
    ContactAttempt,
    ContactChannel,
    ContactOutcome,
    ContactParty,
    ContactRelation,
    NamedContact,
    PromiseStatus,
    PromiseToPay,
)
from loan_collections.case_selectors import (
    case_arrears,
    case_contacts,
    case_events,
    case_get_for_actor,
    case_next_action,
    case_promises,
    case_queue,
    consent_active,
    may_see_all_cases,
    named_contacts_of,
)
from loan_collections.services import (
    case_assign,
    case_escalate,
    contact_attempt_log,
    contact_consent_grant,
    contact_consent_revoke,
    named_contact_add,
    promise_create,
)
from loanops.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from servicing.services.business_date import business_date_get

TAG = "collections"
VIEW = "collections.view_collectioncase"
BUCKETS = ("M0", "M1", "M2", "M3", "M3+")


def Money(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, **kwargs)


class MaskedPhoneField(serializers.CharField):
    def to_representation(self, value: Any) -> str:
        return mask_phone(str(value or ""))


# --- serializers ----------------------------------------------------------------------------


class CaseLoanSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    reference = serializers.CharField(allow_null=True)
    status = serializers.CharField()
    bucket = serializers.CharField()
    days_past_due = serializers.IntegerField()
    principal = Money(allow_null=True)


class CaseCustomerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    phone = MaskedPhoneField(help_text="脱敏显示")


class CaseSerializer(serializers.ModelSerializer):
    loan = CaseLoanSerializer()
    customer = CaseCustomerSerializer()
    level_display = serializers.CharField(source="get_level_display")
    outcome_display = serializers.CharField(source="get_outcome_display")
    assigned_to_name = serializers.SerializerMethodField()
    last_contact_at = serializers.DateTimeField(allow_null=True, required=False)
    pending_promise_date = serializers.DateField(allow_null=True, required=False)
    pending_promise_amount = Money(allow_null=True, required=False)

    class Meta:
        model = CollectionCase
        fields = [
            "id", "status", "level", "level_display", "responsible_role", "assigned_to", "assigned_to_name",
            "assigned_on", "priority", "priority_reason", "opened_on", "opened_dpd", "closed_on", "outcome",
            "outcome_display", "next_action", "next_action_on", "loan", "customer", "last_contact_at",
            "pending_promise_date", "pending_promise_amount",
        ]  # fmt: skip
        read_only_fields = fields

    def get_assigned_to_name(self, case: CollectionCase) -> str:
        user = case.assigned_to
        return (user.get_full_name() or user.get_username()) if user else ""


class ContactAttemptSerializer(serializers.ModelSerializer):
    number = MaskedPhoneField(help_text="脱敏显示")
    recorded_by_name = serializers.CharField(source="recorded_by.get_username")
    named_contact_name = serializers.CharField(source="named_contact.name", default="")

    class Meta:
        model = ContactAttempt
        fields = [
            "id", "channel", "number", "party", "named_contact", "named_contact_name", "outcome", "effective",
            "note", "attempted_at", "local_date", "refused", "refusal_rule", "refusal_message", "recorded_by_name",
        ]  # fmt: skip
        read_only_fields = fields


class PromiseSerializer(serializers.ModelSerializer):
    class Meta:
        model = PromiseToPay
        fields = ["id", "amount", "promised_date", "made_on", "status", "paid_amount", "evaluated_on", "note"]
        read_only_fields = fields


class NamedContactSerializer(serializers.ModelSerializer):
    phone = MaskedPhoneField(help_text="脱敏显示")

    class Meta:
        model = NamedContact
        fields = ["id", "name", "relation", "phone", "added_at"]
        read_only_fields = fields


class ArrearsLineSerializer(serializers.Serializer):
    period = serializers.IntegerField()
    due_date = serializers.DateField()
    days_overdue = serializers.IntegerField()
    principal = Money()
    interest = Money()
    penalty = Money()
    fees = Money()
    total = Money()


class ArrearsSerializer(serializers.Serializer):
    lines = ArrearsLineSerializer(many=True)
    principal = Money()
    interest = Money()
    penalty = Money()
    fees = Money()
    total = Money()


class CaseEventSerializer(serializers.Serializer):
    kind = serializers.CharField()
    business_date = serializers.DateField()
    from_level = serializers.CharField()
    to_level = serializers.CharField()
    role = serializers.CharField()
    assigned_to = serializers.IntegerField(source="assigned_to_id", allow_null=True)
    outcome = serializers.CharField()
    reason = serializers.CharField()


def _refusal_responses() -> dict[int, OpenApiResponse]:
    return {
        422: OpenApiResponse(
            ErrorSerializer,
            description="联系规则拒绝（code `contact_policy`，`extra.rule` 为规则、`extra.attempt_id` 为已记录的被拒记录）"
            "，或案件已结案（`case_closed`）",
        )
    }


# --- cases ----------------------------------------------------------------------------------


class CaseFilter(django_filters.FilterSet):
    scope = django_filters.ChoiceFilter(
        choices=[("mine", "我的案件"), ("all", "全部案件")], method="noop", help_text="默认 mine"
    )
    status = django_filters.ChoiceFilter(choices=CaseStatus.choices, method="noop", help_text="默认 open")
    level = django_filters.ChoiceFilter(choices=CollectionLevel.choices, method="noop")
    bucket = django_filters.ChoiceFilter(choices=[(b, b) for b in BUCKETS], method="noop")
    assigned_to = django_filters.NumberFilter(method="noop")
    priority = django_filters.BooleanFilter(method="noop")
    q = django_filters.CharFilter(method="noop", help_text="贷款编号或借款人姓名")

    class Meta:
        model = CollectionCase
        fields: list[str] = []

    def noop(self, queryset: QuerySet[CollectionCase], name: str, value: Any) -> QuerySet[CollectionCase]:
        return queryset  # the selector applies the filters (one place for the page and the API)


class CaseListApi(GenericApi):
    """催收案件列表: 我的案件 (``scope=mine``, default) or every case (``scope=all``, managers)."""

    permission_classes = [IsAuthenticated, ActionPermission]
    required_perms = {"GET": VIEW}
    filterset_class = CaseFilter
    OutputSerializer = CaseSerializer

    def get_queryset(self) -> QuerySet[CollectionCase]:
        return CollectionCase.objects.none()  # for the schema; `get` asks the selector

    @extend_schema(
        tags=[TAG],
        summary="催收案件列表",
        description="需要 `collections.view_collectioncase`；`scope=all` 需要 `collections.view_all_collectioncases`。",
        responses={200: CaseSerializer(many=True), **error_responses(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        filters = CaseFilter(request.query_params, queryset=self.get_queryset())
        if not filters.is_valid():
            raise serializers.ValidationError(filters.errors)
        data = filters.form.cleaned_data
        mine = (data.get("scope") or "mine") == "mine"
        if not mine and not may_see_all_cases(request.user):
            raise PermissionDenied("只有主管可以查看全部案件")
        queryset = case_queue(
            request.user,
            mine=mine,
            filters={
                "status": data.get("status") or CaseStatus.OPEN,
                "level": data.get("level"),
                "bucket": data.get("bucket"),
                "assigned_to": data.get("assigned_to"),
                "priority": data.get("priority"),
                "q": data.get("q"),
            },
        )
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(CaseSerializer(page, many=True).data)


class CaseDetailApi(Api):
    """One case with the arrears itemised, the next action, contacts, promises, history and named contacts."""

    permission_classes = [IsAuthenticated, ActionPermission]
    required_perms = {"GET": VIEW}

    class OutputSerializer(CaseSerializer):
        arrears = ArrearsSerializer()
        next_action_text = serializers.CharField()
        contacts = ContactAttemptSerializer(many=True)
        promises = PromiseSerializer(many=True)
        events = CaseEventSerializer(many=True)
        named_contacts = NamedContactSerializer(many=True)
        night_contact_consent = serializers.BooleanField()

        class Meta(CaseSerializer.Meta):
            fields = [
                *CaseSerializer.Meta.fields, "arrears", "next_action_text", "contacts", "promises", "events",
                "named_contacts", "night_contact_consent",
            ]  # fmt: skip
            read_only_fields = fields

    @extend_schema(
        tags=[TAG], summary="催收案件详情", responses={200: OutputSerializer, **error_responses(401, 403, 404)}
    )
    def get(self, request: Request, case_id: int) -> Response:
        case = case_get_for_actor(actor=request.user, case_id=case_id)
        promises = list(case_promises(case))
        pending = next((p for p in promises if p.status == PromiseStatus.PENDING), None)
        extra = {
            "arrears": ArrearsSerializer(case_arrears(case, on=business_date_get())).data,
            "next_action_text": case_next_action(case, pending=pending),
            "contacts": ContactAttemptSerializer(case_contacts(case), many=True).data,
            "promises": PromiseSerializer(promises, many=True).data,
            "events": CaseEventSerializer(case_events(case), many=True).data,
            "named_contacts": NamedContactSerializer(named_contacts_of(case.customer_id), many=True).data,
            "night_contact_consent": consent_active(case.customer_id) is not None,
        }
        return Response({**CaseSerializer(case).data, **extra})


class CaseContactsApi(Api):
    """The contact log of a case; POST records an attempt, checked against the contact policy."""

    permission_classes = [IsAuthenticated, ActionPermission]
    required_perms = {"GET": VIEW, "POST": "collections.add_contactattempt"}

    class InputSerializer(serializers.Serializer):
        channel = serializers.ChoiceField(choices=ContactChannel.choices)
        party = serializers.ChoiceField(choices=ContactParty.choices)
        outcome = serializers.ChoiceField(choices=ContactOutcome.choices)
        number = serializers.CharField(
            max_length=24, required=False, allow_blank=True, default="", help_text="电话/短信默认为对象的登记号码"
        )
        named_contact = serializers.IntegerField(required=False, allow_null=True, default=None)
        note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
        next_action = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
        next_action_on = serializers.DateField(required=False, allow_null=True, default=None)

    @extend_schema(
        tags=[TAG],
        operation_id="collection_case_contacts_list",
        summary="联系记录",
        responses={200: ContactAttemptSerializer(many=True), **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, case_id: int) -> Response:
        case = case_get_for_actor(actor=request.user, case_id=case_id)
        return Response(ContactAttemptSerializer(case_contacts(case), many=True).data)

    @extend_schema(
        tags=[TAG],
        operation_id="collection_case_contacts_create",
        summary="登记联系（催收联系规则：北京时间 22:00–08:00 不联系、每日有效通话与拨打次数上限、仅限指定联系人）",
        request=InputSerializer,
        responses={201: ContactAttemptSerializer, **error_responses(400, 401, 403, 404), **_refusal_responses()},
    )
    def post(self, request: Request, case_id: int) -> Response:
        case = case_get_for_actor(actor=request.user, case_id=case_id)
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        attempt = contact_attempt_log(
            actor=request.user, case_id=case.pk, named_contact_id=data.pop("named_contact"), **data
        )
        return Response(ContactAttemptSerializer(attempt).data, status=status.HTTP_201_CREATED)


class CasePromisesApi(Api):
    """Promises to pay of a case; POST records one (kept or broken is decided by the daily COB)."""

    permission_classes = [IsAuthenticated, ActionPermission]
    required_perms = {"GET": VIEW, "POST": "collections.add_promisetopay"}

    class InputSerializer(serializers.Serializer):
        amount = Money()
        promised_date = serializers.DateField()
        note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
        contact = serializers.IntegerField(required=False, allow_null=True, default=None)

    @extend_schema(
        tags=[TAG],
        operation_id="collection_case_promises_list",
        summary="承诺还款",
        responses={200: PromiseSerializer(many=True), **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, case_id: int) -> Response:
        case = case_get_for_actor(actor=request.user, case_id=case_id)
        return Response(PromiseSerializer(case_promises(case), many=True).data)

    @extend_schema(
        tags=[TAG],
        operation_id="collection_case_promises_create",
        summary="登记承诺还款",
        request=InputSerializer,
        responses={201: PromiseSerializer, **error_responses(400, 401, 403, 404, 422)},
    )
    def post(self, request: Request, case_id: int) -> Response:
        case = case_get_for_actor(actor=request.user, case_id=case_id)
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        promise = promise_create(actor=request.user, case_id=case.pk, contact_id=data.pop("contact"), **data)
        return Response(PromiseSerializer(promise).data, status=status.HTTP_201_CREATED)


class CaseAssignApi(Api):
    """Give the case to a member of staff of its responsible role (managers)."""

    permission_classes = [IsAuthenticated, ActionPermission]
    required_perms = {"POST": "collections.assign_collectioncase"}

    class InputSerializer(serializers.Serializer):
        assignee = serializers.IntegerField()
        reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    @extend_schema(
        tags=[TAG],
        summary="分案",
        request=InputSerializer,
        responses={200: CaseSerializer, **error_responses(400, 401, 403, 404, 422)},
    )
    def post(self, request: Request, case_id: int) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        case = case_assign(
            actor=request.user,
            case_id=case_id,
            assignee_id=payload.validated_data["assignee"],
            reason=payload.validated_data["reason"],
        )
        return Response(CaseSerializer(case_get_for_actor(actor=request.user, case_id=case.pk)).data)


class CaseEscalateApi(Api):
    """Move the case to another level by hand (e.g. M3+ outsourcing instead of legal action)."""

    permission_classes = [IsAuthenticated, ActionPermission]
    required_perms = {"POST": "collections.assign_collectioncase"}

    class InputSerializer(serializers.Serializer):
        level = serializers.ChoiceField(choices=CollectionLevel.choices)
        reason = serializers.CharField(max_length=200)

    @extend_schema(
        tags=[TAG],
        summary="调整催收阶段",
        request=InputSerializer,
        responses={200: CaseSerializer, **error_responses(400, 401, 403, 404, 422)},
    )
    def post(self, request: Request, case_id: int) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        case = case_escalate(actor=request.user, case_id=case_id, **payload.validated_data)
        return Response(CaseSerializer(case_get_for_actor(actor=request.user, case_id=case.pk)).data)


# --- debtor: named contacts and consent -----------------------------------------------------


class NamedContactsApi(Api):
    """The debtor's named contacts: the only third parties collections may contact."""

    permission_classes = [IsAuthenticated, ActionPermission]
    required_perms = {"GET": "applications.view_customer", "POST": "collections.add_namedcontact"}

    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=60)
        relation = serializers.ChoiceField(choices=ContactRelation.choices)
        phone = serializers.CharField(max_length=24)

    @extend_schema(
        tags=[TAG],
        operation_id="customer_named_contacts_list",
        summary="借款人指定联系人",
        responses={200: NamedContactSerializer(many=True), **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, customer_id: int) -> Response:
        customer = customer_get_for_actor(actor=request.user, customer_id=customer_id)
        return Response(NamedContactSerializer(named_contacts_of(customer), many=True).data)

    @extend_schema(
        tags=[TAG],
        operation_id="customer_named_contacts_create",
        summary="登记指定联系人",
        request=InputSerializer,
        responses={201: NamedContactSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request: Request, customer_id: int) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        contact = named_contact_add(actor=request.user, customer_id=customer_id, **payload.validated_data)
        return Response(NamedContactSerializer(contact).data, status=status.HTTP_201_CREATED)


class ContactConsentApi(Api):
    """The debtor's consent to be contacted in the quiet hours (22:00–08:00 Asia/Shanghai)."""

    permission_classes = [IsAuthenticated, ActionPermission]
    required_perms = {"POST": "collections.add_contactconsent"}

    class InputSerializer(serializers.Serializer):
        granted = serializers.BooleanField(help_text="true 登记同意；false 撤回")
        note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    class OutputSerializer(serializers.Serializer):
        customer = serializers.IntegerField()
        night_contact_consent = serializers.BooleanField()

    @extend_schema(
        tags=[TAG],
        summary="夜间联系同意（登记/撤回）",
        parameters=[OpenApiParameter("customer_id", int, OpenApiParameter.PATH)],
        request=InputSerializer,
        responses={200: OutputSerializer, **error_responses(400, 401, 403, 404, 422)},
    )
    def post(self, request: Request, customer_id: int) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        if payload.validated_data["granted"]:
            contact_consent_grant(actor=request.user, customer_id=customer_id, note=payload.validated_data["note"])
        else:
            contact_consent_revoke(actor=request.user, customer_id=customer_id, note=payload.validated_data["note"])
        granted = consent_active(customer_id) is not None
        return Response(self.OutputSerializer({"customer": customer_id, "night_contact_consent": granted}).data)
