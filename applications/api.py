"""REST API of the intake stage (DESIGN.md §7), plus the building blocks the other stages' APIs share.

One APIView per operation (STYLE §7, snippet 4): validate the body with the nested `InputSerializer`, call
one service or selector, answer with the nested `OutputSerializer`. Services re-check permissions and do
all business validation; `permission_classes` here only decide what a user can reach, and serializers
only check types. Errors take the shape of `loanops.api.exception_handler`.

Shared here (later stages import them; this module imports no later stage):
`Api`/`GenericApi` (base views whose schema names nested serializers after their view),
`ActionPermission`, `TransitionPermission`, `LoanTransitionApi` (one subclass per transition),
`ErrorSerializer`/`error_responses`, `FileDownloadNegotiation`, `loan_detail_data`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import django_filters
from django import forms
from django.contrib.auth import authenticate
from django.db.models import QuerySet
from django.http import FileResponse
from django.urls import URLPattern, path, reverse
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.generics import GenericAPIView
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from applications import selectors
from applications.lifecycle import available_transitions
from applications.models import (
    ApplicantType,
    Customer,
    DocumentType,
    Industry,
    Loan,
    LoanDocument,
    LoanStageEvent,
    LoanStatus,
)
from applications.selectors import (
    PORTAL_STAGES,
    customer_get_for_actor,
    customers_visible_to,
    document_get_for_actor,
    is_customer,
    loan_get_for_actor,
    loan_missing_documents,
    loans_visible_to,
    portal_stage_key,
)
from applications.services import (
    customer_create,
    customer_update,
    document_upload,
    loan_create,
    loan_request_supplement,
    loan_start_review,
    loan_submit,
    loan_withdraw,
)
from compliance.pii import mask_id_number, mask_phone, pii_hash
from loanops.exceptions import InputError

BUCKETS = ("M0", "M1", "M2", "M3", "M3+")

# --- shared building blocks -------------------------------------------------------------------


class ApiSchema(AutoSchema):
    """Names a nested serializer after its view: `LoanApproveApi.InputSerializer` → component `LoanApproveInput`.

    Every view nests classes called `InputSerializer`/`OutputSerializer` (STYLE snippet 4); without this
    they would all become the components `Input`/`Output` and collide.
    """

    def get_serializer_name(self, serializer: serializers.BaseSerializer, direction: Any) -> str:
        owner, _, name = type(serializer).__qualname__.rpartition(".")
        if not owner:
            return super().get_serializer_name(serializer, direction)  # type: ignore[arg-type]
        return owner.rpartition(".")[2].removesuffix("Api") + name


class Api(APIView):
    """Base of every LoanOps API view."""

    schema = ApiSchema()


class GenericApi(GenericAPIView):
    """Base of list views (django-filter FilterSet + pagination, documented by the schema)."""

    schema = ApiSchema()


class ErrorSerializer(serializers.Serializer):
    """The one error shape (loanops.api.exception_handler)."""

    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))  # type: ignore[assignment]


_ERROR_TEXT = {
    400: "输入有误：`fields` 列出每个有问题的字段",
    401: "未登录（Authorization: Token …）",
    403: "无权执行此操作",
    404: "不存在，或不属于您",
    409: "当前状态不允许此操作（非法的状态转换或并发修改），未做任何修改",
    422: "业务规则拒绝",
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: OpenApiResponse(ErrorSerializer, description=_ERROR_TEXT[code]) for code in codes}


def _method(request: Request) -> str:
    return "GET" if request.method in ("HEAD", "OPTIONS") else str(request.method)


class ActionPermission(BasePermission):
    """Reach check from the view's `required_perms`, e.g. `{"GET": "applications.view_loan", "POST": None}`.

    `None` lets any authenticated user in; a method missing from the map is refused (fail closed).
    Customers reach only the methods in `customer_methods`; the selectors then show them only their own
    rows (404 for anything else). Services check permissions again.
    """

    message = "您没有权限执行此操作"

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        method = _method(request)
        if is_customer(user):
            return method in getattr(view, "customer_methods", ())
        perms: Mapping[str, str | None] = getattr(view, "required_perms", {})
        if method not in perms:
            return False
        perm = perms[method]
        return perm is None or user.has_perm(perm)


class TransitionPermission(BasePermission):
    """Reach check for `POST /loans/{id}/<transition>/`: the user holds `applications.<transition>_loan`.

    `loan_transition` enforces the transition's own (authoritative) permission again, e.g. checker ≠ maker.
    """

    message = "您没有权限对贷款执行此操作"

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm(f"applications.{view.transition}_loan"))


class FileDownloadNegotiation(BaseContentNegotiation):
    """File downloads ignore `Accept` (a browser asking for application/pdf must not get 406); errors stay JSON."""

    def select_parser(self, request: Request, parsers: Any) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: Any = None) -> Any:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


def _filename(stem_source: str, extension: str) -> str:
    """A download name that always carries the extension of the stored bytes."""
    stem = Path(stem_source).stem or "document"
    return f"{stem}{extension}"


# --- auth ------------------------------------------------------------------------------------


class AuthTokenApi(Api):
    """Username + password → API token. Customers log in with their phone number as the username."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    class InputSerializer(serializers.Serializer):
        username = serializers.CharField(max_length=150, help_text="用户名；借款人为手机号")
        password = serializers.CharField(max_length=128, trim_whitespace=False, style={"input_type": "password"})

    class OutputSerializer(serializers.Serializer):
        token = serializers.CharField(help_text="请求头 `Authorization: Token <token>`")

    @extend_schema(
        summary="取得 API 令牌",
        auth=[],
        request=InputSerializer,
        responses={200: OutputSerializer, **error_responses(400)},
    )
    def post(self, request: Request) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        user = authenticate(
            request=request._request,
            username=payload.validated_data["username"].strip(),
            password=payload.validated_data["password"],
        )
        if user is None:
            message = "用户名或密码错误"
            raise InputError(message, code="invalid_credentials", fields={"non_field_errors": [message]})
        token, _ = Token.objects.get_or_create(user=user)
        return Response(self.OutputSerializer({"token": token.key}).data)


# --- customers -------------------------------------------------------------------------------


class MaskedIdNumberField(serializers.CharField):
    def to_representation(self, value: Any) -> str:
        return mask_id_number(str(value or ""))


class MaskedPhoneField(serializers.CharField):
    def to_representation(self, value: Any) -> str:
        return mask_phone(str(value or ""))


class CustomerFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=ApplicantType.choices)
    name = django_filters.CharFilter(lookup_expr="icontains")
    phone = django_filters.CharFilter(method="filter_phone", label="手机号（完整 11 位，按密钥哈希查找）")

    class Meta:
        model = Customer
        fields = ["kind", "name"]

    def filter_phone(self, queryset: QuerySet[Customer], name: str, value: str) -> QuerySet[Customer]:
        return queryset.filter(phone_hash=pii_hash(value))


class CustomerListCreateApi(GenericApi):
    """Borrowers. Staff with `view_customer` see all; a customer sees only themself."""

    permission_classes = [IsAuthenticated, ActionPermission]
    required_perms = {"GET": "applications.view_customer", "POST": "applications.add_customer"}
    customer_methods = ("GET",)
    filterset_class = CustomerFilter

    class InputSerializer(serializers.Serializer):
        # Types only: `customer_create` validates content (ID checksum, USCC, phone, uniqueness…).
        kind = serializers.ChoiceField(choices=ApplicantType.choices)
        name = serializers.CharField(max_length=120)
        id_number = serializers.CharField(max_length=18, required=False, allow_blank=True)
        uscc = serializers.CharField(max_length=18, required=False, allow_blank=True)
        legal_representative = serializers.CharField(max_length=60, required=False, allow_blank=True)
        phone = serializers.CharField(max_length=20)
        email = serializers.EmailField(required=False, allow_blank=True)
        address = serializers.CharField(max_length=200, required=False, allow_blank=True)
        industry = serializers.ChoiceField(choices=Industry.choices)
        annual_income = serializers.DecimalField(max_digits=18, decimal_places=2, required=False)
        employer = serializers.CharField(max_length=120, required=False, allow_blank=True)
        years_in_business = serializers.IntegerField(required=False)
        registered_capital = serializers.DecimalField(
            max_digits=18, decimal_places=2, required=False, help_text="注册资本（元），企业必填"
        )
        portal_password = serializers.CharField(
            write_only=True,
            required=False,
            min_length=8,
            max_length=128,
            trim_whitespace=False,
            help_text="给出时开通借款人门户账号（用户名为手机号）",
        )

    class OutputSerializer(serializers.ModelSerializer):
        kind_display = serializers.CharField(source="get_kind_display", read_only=True)
        industry_display = serializers.CharField(source="get_industry_display", read_only=True)
        id_number = MaskedIdNumberField(read_only=True, help_text="脱敏显示：前 6 位 + ******** + 后 4 位")
        phone = MaskedPhoneField(read_only=True, help_text="脱敏显示：前 3 位 + **** + 后 4 位")
        has_portal_account = serializers.SerializerMethodField()

        class Meta:
            model = Customer
            fields = [
                "id", "kind", "kind_display", "name", "id_number", "uscc", "legal_representative", "phone",
                "email", "address", "industry", "industry_display", "annual_income", "employer",
                "years_in_business", "registered_capital", "has_portal_account", "created_at", "updated_at",
            ]  # fmt: skip
            read_only_fields = fields

        def get_has_portal_account(self, customer: Customer) -> bool:
            return customer.user_id is not None

    def get_queryset(self) -> QuerySet[Customer]:
        return customers_visible_to(self.request.user)

    @extend_schema(
        summary="借款人列表",
        responses={200: OutputSerializer(many=True), **error_responses(401, 403)},
    )
    def get(self, request: Request) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.OutputSerializer(page, many=True).data)

    @extend_schema(
        summary="登记借款人",
        request=InputSerializer,
        responses={201: OutputSerializer, **error_responses(400, 401, 403)},
    )
    def post(self, request: Request) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        password = data.pop("portal_password", None)
        customer = customer_create(actor=request.user, data=data, portal_password=password)
        return Response(self.OutputSerializer(customer).data, status=status.HTTP_201_CREATED)


class CustomerDetailApi(Api):
    """One borrower; a customer may read only their own record (others → 404)."""

    permission_classes = [IsAuthenticated, ActionPermission]
    required_perms = {"GET": "applications.view_customer", "PATCH": "applications.change_customer"}
    customer_methods = ("GET",)

    class InputSerializer(CustomerListCreateApi.InputSerializer):
        portal_password = None  # type: ignore[assignment]  # the portal account is opened at creation

    OutputSerializer = CustomerListCreateApi.OutputSerializer

    @extend_schema(
        summary="借款人详情",
        responses={200: OutputSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, customer_id: int) -> Response:
        customer = customer_get_for_actor(actor=request.user, customer_id=customer_id)
        return Response(self.OutputSerializer(customer).data)

    @extend_schema(
        summary="修改借款人信息",
        request=InputSerializer(partial=True),
        responses={200: OutputSerializer, **error_responses(400, 401, 403, 404)},
    )
    def patch(self, request: Request, customer_id: int) -> Response:
        customer_get_for_actor(actor=request.user, customer_id=customer_id)
        payload = self.InputSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        customer = customer_update(actor=request.user, customer_id=customer_id, data=dict(payload.validated_data))
        return Response(self.OutputSerializer(customer).data)


# --- loans -----------------------------------------------------------------------------------


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField


def _statuses_of_stage(stage: str) -> list[str]:
    return [value for value in LoanStatus.values if portal_stage_key(value) == stage]


class LoanFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=LoanStatus.choices)
    stage = django_filters.ChoiceFilter(
        choices=[(stage.key, stage.label) for stage in PORTAL_STAGES],
        method="filter_stage",
        label="借款人看到的阶段",
    )
    customer = IdFilter(field_name="customer_id")
    product = IdFilter(field_name="product_id")
    bucket = django_filters.ChoiceFilter(choices=[(bucket, bucket) for bucket in BUCKETS])

    class Meta:
        model = Loan
        fields = ["status", "stage", "customer", "product", "bucket"]

    def filter_stage(self, queryset: QuerySet[Loan], name: str, value: str) -> QuerySet[Loan]:
        return queryset.filter(status__in=_statuses_of_stage(value))


class LoanListCreateApi(GenericApi):
    """Loans in every stage. Staff with `view_loan` see all; a customer sees only their own."""

    permission_classes = [IsAuthenticated, ActionPermission]
    required_perms = {"GET": "applications.view_loan", "POST": "applications.add_loan"}
    customer_methods = ("GET", "POST")
    filterset_class = LoanFilter

    class InputSerializer(serializers.Serializer):
        customer = serializers.IntegerField(required=False, help_text="借款人 ID；借款人本人申请时可省略")
        product = serializers.IntegerField()
        requested_amount = serializers.DecimalField(max_digits=18, decimal_places=2)
        requested_term_months = serializers.IntegerField()
        purpose = serializers.CharField(max_length=200)
        repayment_source = serializers.CharField(max_length=200, help_text="还款来源，例如工资收入、经营收入")

    class OutputSerializer(serializers.ModelSerializer):
        status_display = serializers.CharField(source="get_status_display", read_only=True)
        stage = serializers.SerializerMethodField(help_text="借款人看到的阶段（终态如拒绝、撤回为 null）")
        customer_name = serializers.CharField(source="customer.name", read_only=True)
        product_name = serializers.CharField(source="product.name", read_only=True)

        class Meta:
            model = Loan
            fields = [
                "id", "reference", "status", "status_display", "stage", "customer", "customer_name", "product",
                "product_name", "requested_amount", "requested_term_months", "principal", "bucket",
                "days_past_due", "status_changed_at", "created_at",
            ]  # fmt: skip
            read_only_fields = fields

        def get_stage(self, loan: Loan) -> str | None:
            return portal_stage_key(loan.status)

    def get_queryset(self) -> QuerySet[Loan]:
        return loans_visible_to(self.request.user)

    @extend_schema(
        summary="贷款列表",
        responses={200: OutputSerializer(many=True), **error_responses(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.OutputSerializer(page, many=True).data)

    def post(self, request: Request) -> Response:  # @extend_schema applied at the end of the module
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        customer_id = data.pop("customer", None)
        if customer_id is None:
            own = getattr(request.user, "customer", None) if is_customer(request.user) else None
            if own is None:
                raise InputError("请选择借款人", fields={"customer": ["请选择借款人"]})
            customer_id = own.pk
        loan = loan_create(actor=request.user, customer_id=customer_id, product_id=data.pop("product"), **data)
        return Response(loan_detail_data(loan, request), status=status.HTTP_201_CREATED)


class LoanDetailApi(Api):
    """One loan with its offer terms, missing documents and the actions open to the requesting user."""

    permission_classes = [IsAuthenticated, ActionPermission]
    required_perms = {"GET": "applications.view_loan"}
    customer_methods = ("GET",)

    class OutputSerializer(LoanListCreateApi.OutputSerializer):
        repayment_method_display = serializers.CharField(source="get_repayment_method_display", read_only=True)
        required_documents = serializers.SerializerMethodField()
        missing_documents = serializers.SerializerMethodField(help_text="尚未上传的必备材料类型")
        available_transitions = serializers.SerializerMethodField(
            help_text="当前用户现在可执行的操作（即 `POST /loans/{id}/<transition>/` 的路径名，如 `start-review`）"
        )
        next_step = serializers.SerializerMethodField()

        class Meta(LoanListCreateApi.OutputSerializer.Meta):
            fields = [
                *LoanListCreateApi.OutputSerializer.Meta.fields,
                "purpose", "repayment_source", "annual_rate", "term_months", "repayment_method",
                "repayment_method_display", "first_due_date", "apr", "supplement_rounds", "disbursed_on",
                "settled_on", "risk_class", "updated_at", "required_documents", "missing_documents",
                "available_transitions", "next_step",
            ]  # fmt: skip
            read_only_fields = fields

        def get_required_documents(self, loan: Loan) -> list[str]:
            return selectors.required_documents(loan)

        def get_missing_documents(self, loan: Loan) -> list[str]:
            return loan_missing_documents(loan)

        def get_available_transitions(self, loan: Loan) -> list[str]:
            user = self.context["request"].user
            return [name.replace("_", "-") for name in available_transitions(loan, user)]

        def get_next_step(self, loan: Loan) -> str:
            return str(selectors.NEXT_STEP.get(LoanStatus(loan.status), ""))

    @extend_schema(
        summary="贷款详情",
        responses={200: OutputSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, loan_id: int) -> Response:
        loan = loan_get_for_actor(actor=request.user, loan_id=loan_id)
        return Response(loan_detail_data(loan, request))


def loan_detail_data(loan: Loan, request: Request) -> Any:
    """The loan detail representation (also the answer of every transition endpoint)."""
    return LoanDetailApi.OutputSerializer(loan, context={"request": request}).data


class LoanTimelineApi(Api):
    """Stage history: one entry per transition, oldest first."""

    permission_classes = [IsAuthenticated, ActionPermission]
    required_perms = {"GET": "applications.view_loan"}
    customer_methods = ("GET",)

    class OutputSerializer(serializers.ModelSerializer):
        from_status_display = serializers.CharField(source="get_from_status_display", read_only=True)
        to_status_display = serializers.CharField(source="get_to_status_display", read_only=True)
        actor_name = serializers.SerializerMethodField()

        class Meta:
            model = LoanStageEvent
            fields = [
                "id", "transition", "from_status", "from_status_display", "to_status", "to_status_display",
                "actor_name", "reason", "occurred_at",
            ]  # fmt: skip
            read_only_fields = fields

        def get_actor_name(self, event: LoanStageEvent) -> str:
            actor = event.actor
            if actor is None:
                return ""
            if self.context.get("for_customer"):
                # A customer sees 本人 for their own steps and the department for staff steps, never names.
                return "本人" if actor.pk == self.context["viewer_id"] else "贷款机构"
            return actor.get_full_name() or actor.get_username()

        def to_representation(self, instance: LoanStageEvent) -> dict[str, Any]:
            data = super().to_representation(instance)
            if self.context.get("for_customer") and instance.actor_id != self.context["viewer_id"]:
                data["reason"] = ""  # staff notes (e.g. risk's reasoning) are internal
            return data

    @extend_schema(
        summary="贷款阶段记录",
        responses={200: OutputSerializer(many=True), **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, loan_id: int) -> Response:
        loan = loan_get_for_actor(actor=request.user, loan_id=loan_id)
        events = loan.stage_events.select_related("actor").order_by("id")
        context = {"for_customer": is_customer(request.user), "viewer_id": request.user.pk}
        return Response(self.OutputSerializer(events, many=True, context=context).data)


class LoanDocumentListCreateApi(Api):
    """Application documents of one loan. Upload is multipart: `doc_type` + `file` (PDF, JPG or PNG)."""

    permission_classes = [IsAuthenticated, ActionPermission]
    required_perms = {"GET": "applications.view_loandocument", "POST": "applications.add_loandocument"}
    customer_methods = ("GET", "POST")
    parser_classes = [MultiPartParser, FormParser]

    class InputSerializer(serializers.Serializer):
        # Types only: `document_upload` decides the file type by its bytes and checks the size.
        doc_type = serializers.ChoiceField(choices=DocumentType.choices)
        file = serializers.FileField()

    class OutputSerializer(serializers.ModelSerializer):
        doc_type_display = serializers.CharField(source="get_doc_type_display", read_only=True)
        download_url = serializers.SerializerMethodField()

        class Meta:
            model = LoanDocument
            fields = [
                "id", "doc_type", "doc_type_display", "original_name", "content_type", "size", "sha256",
                "uploaded_at", "download_url",
            ]  # fmt: skip
            read_only_fields = fields

        def get_download_url(self, document: LoanDocument) -> str:
            return reverse("api:document-download", kwargs={"document_id": document.pk})

    @extend_schema(
        summary="申请材料列表",
        responses={200: OutputSerializer(many=True), **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, loan_id: int) -> Response:
        loan = loan_get_for_actor(actor=request.user, loan_id=loan_id)
        return Response(self.OutputSerializer(loan.documents.order_by("id"), many=True).data)

    @extend_schema(
        summary="上传申请材料",
        request={"multipart/form-data": InputSerializer},
        responses={201: OutputSerializer, **error_responses(400, 401, 403, 404, 422)},
    )
    def post(self, request: Request, loan_id: int) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        document = document_upload(
            actor=request.user,
            loan_id=loan_id,
            doc_type=payload.validated_data["doc_type"],
            upload=payload.validated_data["file"],
        )
        return Response(self.OutputSerializer(document).data, status=status.HTTP_201_CREATED)


class DocumentDownloadApi(Api):
    """The stored bytes of one application document (others' documents → 404)."""

    permission_classes = [IsAuthenticated, ActionPermission]
    required_perms = {"GET": "applications.view_loandocument"}
    customer_methods = ("GET",)
    content_negotiation_class = FileDownloadNegotiation

    @extend_schema(
        summary="下载申请材料",
        responses={
            (200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY, description="PDF、JPG 或 PNG"),
            **error_responses(401, 403, 404),
        },
    )
    def get(self, request: Request, document_id: int) -> FileResponse:
        document = document_get_for_actor(actor=request.user, document_id=document_id)
        return FileResponse(
            document.file.open("rb"),
            as_attachment=True,
            filename=_filename(document.original_name, document.extension),
            content_type=document.content_type,
        )


# --- transitions -----------------------------------------------------------------------------


class LoanTransitionApi(Api):
    """`POST /loans/{id}/<transition>/`: validate the body, run the stage's service, answer with the loan detail.

    A subclass sets `transition` (the `Loan` method name), `service` (`staticmethod(<stage service>)`, called
    with `actor`, `loan_id` and the validated body as keyword arguments) and, when the body carries more
    than a `reason`, its own `InputSerializer`. `service_kwargs` adds request facts (e.g. the signer's IP).
    The schema, URL (`loans/<id>/<transition-with-dashes>/`) and URL name (`loan-<transition-with-dashes>`)
    follow from `transition`.
    """

    transition: ClassVar[str]
    service: ClassVar[Callable[..., Any]]
    permission_classes = [IsAuthenticated, TransitionPermission]

    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "transition" not in cls.__dict__:
            return
        extend_schema(
            summary=(cls.__doc__ or cls.transition).strip().splitlines()[0],
            request=cls.InputSerializer,
            responses={200: LoanDetailApi.OutputSerializer, **error_responses(400, 401, 403, 404, 409, 422)},
        )(cls)

    @classmethod
    def slug(cls) -> str:
        return cls.transition.replace("_", "-")

    @classmethod
    def urlpattern(cls) -> URLPattern:
        return path(f"loans/<int:loan_id>/{cls.slug()}/", cls.as_view(), name=f"loan-{cls.slug()}")

    def service_kwargs(self, request: Request, data: dict[str, Any]) -> dict[str, Any]:
        return data

    def post(self, request: Request, loan_id: int) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        self.service(actor=request.user, loan_id=loan_id, **self.service_kwargs(request, dict(payload.validated_data)))
        loan = loan_get_for_actor(actor=request.user, loan_id=loan_id)
        return Response(loan_detail_data(loan, request))


class LoanSubmitApi(LoanTransitionApi):
    """提交申请（草稿或补件后）"""

    transition = "submit"
    service = staticmethod(loan_submit)


class LoanStartReviewApi(LoanTransitionApi):
    """材料齐全，提交风控审查"""

    transition = "start_review"
    service = staticmethod(loan_start_review)


class LoanRequestSupplementApi(LoanTransitionApi):
    """要求补充材料"""

    transition = "request_supplement"
    service = staticmethod(loan_request_supplement)

    class InputSerializer(serializers.Serializer):
        items = serializers.ListField(child=serializers.ChoiceField(choices=DocumentType.choices))
        message = serializers.CharField(max_length=2000, help_text="补件说明（同时作为阶段记录的原因）")


class LoanWithdrawApi(LoanTransitionApi):
    """撤回申请（放款前）"""

    transition = "withdraw"
    service = staticmethod(loan_withdraw)

    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=2000, allow_blank=True)


# LoanListCreateApi.post answers with the detail representation, which is defined after it.
extend_schema(
    summary="新建贷款申请（草稿）",
    request=LoanListCreateApi.InputSerializer,
    responses={201: LoanDetailApi.OutputSerializer, **error_responses(400, 401, 403, 404)},
)(LoanListCreateApi.post)
