"""REST API of risk review and product matching: the product catalogue and the approve / reject / make-offer
transitions. Views are thin (STYLE snippet 4); `underwriting.services` validates and checks permissions.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import django_filters
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from applications.api import ActionPermission, Api, GenericApi, LoanTransitionApi, error_responses
from applications.models import ApplicantType, DocumentType, Industry, Product
from applications.selectors import customer_get_for_actor, loan_get_for_actor, products_active
from loanops.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS, RATE_DECIMAL_PLACES, RATE_MAX_DIGITS
from loanops.types import RepaymentMethod, RiskGrade
from underwriting.matching import (
    loan_match_request,
    loan_product_matching,
    product_matching,
    product_rate_bands,
    product_terms,
)
from underwriting.models import LoanPrimeRate
from underwriting.rate_caps import lpr_history, rate_cap_for
from underwriting.selectors import REJECT_REASONS
from underwriting.services import (
    loan_approve,
    loan_make_offer,
    loan_reject,
    lpr_approve,
    lpr_propose,
    lpr_reject,
    product_create,
    product_update,
)


def _money(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, **kwargs)


def _rate(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=RATE_MAX_DIGITS, decimal_places=RATE_DECIMAL_PLACES, **kwargs)


def products_visible_to(user: Any) -> QuerySet[Product]:
    """Staff who may view products see the whole catalogue; everyone else only products on sale."""
    if user.is_staff and user.has_perm("applications.view_product"):
        return Product.objects.all()
    return products_active()


# --- products --------------------------------------------------------------------------------


class ProductFilter(django_filters.FilterSet):
    applicant_type = django_filters.ChoiceFilter(choices=ApplicantType.choices)
    is_active = django_filters.BooleanFilter()
    code = django_filters.CharFilter()
    include_retired = django_filters.BooleanFilter(
        method="filter_include_retired", label="包含已被新版本取代的历史版本（默认只列当前版本）"
    )

    class Meta:
        model = Product
        fields = ["applicant_type", "is_active", "code"]

    def filter_queryset(self, queryset: QuerySet[Product]) -> QuerySet[Product]:
        if not self.form.cleaned_data.get("include_retired"):
            queryset = queryset.filter(retired_at__isnull=True)
        return super().filter_queryset(queryset)

    def filter_include_retired(self, queryset: QuerySet[Product], name: str, value: bool) -> QuerySet[Product]:
        return queryset  # applied in filter_queryset (the default must hold when the parameter is absent)


class RateBandSerializer(serializers.Serializer):
    min_rate = _rate()
    max_rate = _rate()


class ProductListCreateApi(GenericApi):
    """The loan product catalogue: the current version of each product unless `include_retired=true`.
    Any signed-in user may read it (customers see products on sale only)."""

    permission_classes = [IsAuthenticated, ActionPermission]
    required_perms = {"GET": None, "POST": "applications.add_product"}
    customer_methods = ("GET",)
    filterset_class = ProductFilter

    class InputSerializer(serializers.Serializer):
        # Types only: `product_create` / `product_update` check ranges, codes and consistency.
        code = serializers.CharField(max_length=40)
        name = serializers.CharField(max_length=80)
        applicant_type = serializers.ChoiceField(choices=ApplicantType.choices)
        min_amount = _money()
        max_amount = _money()
        allowed_terms = serializers.ListField(
            child=serializers.IntegerField(),
            required=False,
            help_text="可选期限（月），如 [3, 6, 12, 24]；给出时最短/最长期限取其两端",
        )
        min_term_months = serializers.IntegerField(required=False, help_text="省略 allowed_terms 时：期限范围下限")
        max_term_months = serializers.IntegerField(required=False, help_text="省略 allowed_terms 时：期限范围上限")
        rate_bands = serializers.DictField(
            child=RateBandSerializer(),
            required=False,
            help_text='各风险等级的年利率区间，如 {"A": {"min_rate": "0.06", "max_rate": "0.09"}}；'
            "未列出的等级不予准入；给出时最低/最高年利率取各区间的两端",
        )
        min_rate = _rate(required=False, help_text="省略 rate_bands 时：各等级通用的最低年利率")
        max_rate = _rate(required=False, help_text="省略 rate_bands 时：各等级通用的最高年利率")
        repayment_methods = serializers.ListField(
            child=serializers.ChoiceField(choices=RepaymentMethod.choices), required=False
        )
        required_documents = serializers.ListField(
            child=serializers.ChoiceField(choices=DocumentType.choices),
            required=False,
            help_text="省略时按适用借款人使用标准材料清单",
        )
        penalty_surcharge = _rate(required=False)
        compound_overdue_interest = serializers.BooleanField(required=False, default=False)
        prepayment_fee_rate = _rate(required=False)
        origination_fee_rate = _rate(required=False)
        min_age = serializers.IntegerField(required=False)
        max_age = serializers.IntegerField(required=False)
        excluded_industries = serializers.ListField(
            child=serializers.ChoiceField(choices=Industry.choices), required=False, help_text="禁入行业（国标门类）"
        )
        is_active = serializers.BooleanField(required=False, default=True)

    class OutputSerializer(serializers.ModelSerializer):
        applicant_type_display = serializers.CharField(source="get_applicant_type_display", read_only=True)
        repayment_methods = serializers.ListField(child=serializers.ChoiceField(choices=RepaymentMethod.choices))
        required_documents = serializers.ListField(child=serializers.ChoiceField(choices=DocumentType.choices))
        excluded_industries = serializers.ListField(child=serializers.ChoiceField(choices=Industry.choices))
        terms = serializers.SerializerMethodField(help_text="可选期限（月）")
        grade_rate_bands = serializers.SerializerMethodField(help_text="各服务等级的年利率区间（未列出的等级不准入）")
        is_current = serializers.SerializerMethodField(help_text="是否为该产品的当前版本")

        class Meta:
            model = Product
            fields = [
                "id", "code", "version", "is_current", "retired_at", "name", "applicant_type",
                "applicant_type_display", "min_amount", "max_amount", "terms", "min_term_months",
                "max_term_months", "grade_rate_bands", "min_rate", "max_rate", "repayment_methods",
                "required_documents", "penalty_surcharge", "compound_overdue_interest", "prepayment_fee_rate",
                "origination_fee_rate", "min_age", "max_age", "excluded_industries", "is_active", "created_at",
                "updated_at",
            ]  # fmt: skip
            read_only_fields = fields

        def get_terms(self, product: Product) -> list[int]:
            return product_terms(product)

        @extend_schema_field(serializers.DictField(child=RateBandSerializer()))
        def get_grade_rate_bands(self, product: Product) -> dict[str, dict[str, str]]:
            return {
                grade: {"min_rate": f"{low:.6f}", "max_rate": f"{high:.6f}"}
                for grade, (low, high) in product_rate_bands(product).items()
            }

        def get_is_current(self, product: Product) -> bool:
            return product.retired_at is None

    def get_queryset(self) -> QuerySet[Product]:
        return products_visible_to(self.request.user).order_by("code", "-version")

    @extend_schema(
        summary="贷款产品列表",
        responses={200: OutputSerializer(many=True), **error_responses(400, 401)},
    )
    def get(self, request: Request) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.OutputSerializer(page, many=True).data)

    @extend_schema(
        summary="新建贷款产品",
        request=InputSerializer,
        responses={201: OutputSerializer, **error_responses(400, 401, 403)},
    )
    def post(self, request: Request) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        product = product_create(actor=request.user, data=_product_data(payload.validated_data))
        return Response(self.OutputSerializer(product).data, status=status.HTTP_201_CREATED)


def _product_data(validated: dict[str, Any]) -> dict[str, Any]:
    data = dict(validated)
    if "rate_bands" in data:
        data["rate_bands"] = {grade: dict(band) for grade, band in data["rate_bands"].items()}
    return data


class ProductDetailApi(Api):
    """One product version. A change (`applications.change_product`) to a version that loans use writes a
    new version and answers with it (a new `id`, `version` + 1); the old version stays as those loans
    were offered. Changing a retired version is refused (409)."""

    permission_classes = [IsAuthenticated, ActionPermission]
    required_perms = {"GET": None, "PATCH": "applications.change_product"}
    customer_methods = ("GET",)

    class InputSerializer(ProductListCreateApi.InputSerializer):
        # No defaults on a partial update: an omitted field keeps its value.
        compound_overdue_interest = serializers.BooleanField(required=False)
        is_active = serializers.BooleanField(required=False)

    OutputSerializer = ProductListCreateApi.OutputSerializer

    @extend_schema(summary="贷款产品详情", responses={200: OutputSerializer, **error_responses(401, 404)})
    def get(self, request: Request, product_id: int) -> Response:
        product = products_visible_to(request.user).get(pk=product_id)
        return Response(self.OutputSerializer(product).data)

    @extend_schema(
        summary="修改贷款产品（已被贷款使用的版本将生成新版本）",
        request=InputSerializer(partial=True),
        responses={200: OutputSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def patch(self, request: Request, product_id: int) -> Response:
        payload = self.InputSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        product = product_update(actor=request.user, product_id=product_id, data=_product_data(payload.validated_data))
        return Response(self.OutputSerializer(product).data)


# --- matching --------------------------------------------------------------------------------


class ProductMatchSerializer(serializers.Serializer):
    product_id = serializers.IntegerField(source="product.pk")
    code = serializers.CharField(source="product.code")
    version = serializers.IntegerField(source="product.version")
    name = serializers.CharField(source="product.name")
    eligible = serializers.BooleanField()
    rank = serializers.IntegerField(allow_null=True, help_text="适用产品的推荐顺序（1 为首选）；不适用为 null")
    reasons = serializers.ListField(child=serializers.CharField(), help_text="不适用的原因，每条一句")
    rate_min = _rate(allow_null=True, help_text="该等级适用的最低年利率；不服务该等级为 null")
    rate_max = _rate(allow_null=True)
    max_amount = _money(help_text="该借款人在本产品的可贷上限")
    limit_notes = serializers.ListField(child=serializers.CharField(), help_text="可贷上限低于产品上限的原因")
    current = serializers.BooleanField(help_text="是否为本笔贷款所申请的产品")


class MatchingOutputSerializer(serializers.Serializer):
    grade = serializers.CharField(allow_null=True, help_text="风险等级 A–E；尚未评级为 null（按产品整体利率区间）")
    amount = _money()
    term_months = serializers.IntegerField()
    matches = ProductMatchSerializer(many=True)


def _matching_data(*, grade: str | None, amount: Decimal, term_months: int, matches: list[Any]) -> Any:
    return MatchingOutputSerializer(
        {"grade": grade, "amount": amount, "term_months": term_months, "matches": matches}
    ).data


class LoanProductMatchesApi(Api):
    """产品匹配: every product on sale against this loan (its applicant, risk grade, amount and term)."""

    permission_classes = [IsAuthenticated, ActionPermission]
    required_perms = {"GET": "applications.view_product"}

    @extend_schema(
        summary="贷款的产品匹配结果",
        responses={200: MatchingOutputSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, loan_id: int) -> Response:
        loan = loan_get_for_actor(actor=request.user, loan_id=loan_id)
        match_request = loan_match_request(loan)
        matches = loan_product_matching(loan)
        return Response(
            _matching_data(
                grade=match_request["grade"],
                amount=match_request["amount"],
                term_months=match_request["term_months"],
                matches=matches,
            )
        )


class ProductMatchingApi(Api):
    """产品匹配试算: a customer, a grade and a request, before (or without) an application."""

    permission_classes = [IsAuthenticated, ActionPermission]
    required_perms = {"POST": "applications.view_product"}

    class InputSerializer(serializers.Serializer):
        customer = serializers.IntegerField()
        grade = serializers.ChoiceField(choices=RiskGrade.choices, required=False, allow_null=True, default=None)
        amount = _money()
        term_months = serializers.IntegerField(min_value=1, max_value=360)

    @extend_schema(
        summary="产品匹配试算",
        request=InputSerializer,
        responses={200: MatchingOutputSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request: Request) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        customer = customer_get_for_actor(actor=request.user, customer_id=data["customer"])
        matches = product_matching(
            customer=customer, grade=data["grade"], amount=data["amount"], term_months=data["term_months"]
        )
        return Response(
            _matching_data(grade=data["grade"], amount=data["amount"], term_months=data["term_months"], matches=matches)
        )


# --- LPR and the rate cap ----------------------------------------------------------------------


class LprOutputSerializer(serializers.ModelSerializer):
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    proposed_by_name = serializers.SerializerMethodField()
    decided_by_name = serializers.SerializerMethodField()

    class Meta:
        model = LoanPrimeRate
        fields = [
            "id", "published_on", "one_year_rate", "status", "status_display", "source", "note",
            "proposed_by_name", "proposed_at", "decided_by_name", "decided_at", "decision_note",
        ]  # fmt: skip
        read_only_fields = fields

    def get_proposed_by_name(self, row: LoanPrimeRate) -> str:
        return _user_name(row.proposed_by)

    def get_decided_by_name(self, row: LoanPrimeRate) -> str:
        return _user_name(row.decided_by)


def _user_name(user: Any) -> str:
    if user is None:
        return ""
    return str(user.get_full_name() or user.get_username())


class LprListCreateApi(Api):
    """一年期LPR表: every row, newest first (only approved rows count for the rate cap). A manager proposes a
    row (`underwriting.add_loanprimerate`); another manager approves it."""

    permission_classes = [IsAuthenticated, ActionPermission]
    required_perms = {"GET": "underwriting.view_loanprimerate", "POST": "underwriting.add_loanprimerate"}

    class InputSerializer(serializers.Serializer):
        published_on = serializers.DateField()
        one_year_rate = _rate(help_text='一年期LPR，小数（"0.0300" = 3.00%）')
        note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")

    @extend_schema(
        summary="一年期LPR列表", responses={200: LprOutputSerializer(many=True), **error_responses(401, 403)}
    )
    def get(self, request: Request) -> Response:
        return Response(LprOutputSerializer(lpr_history(), many=True).data)

    @extend_schema(
        summary="录入一年期LPR（待另一位经理复核）",
        request=InputSerializer,
        responses={201: LprOutputSerializer, **error_responses(400, 401, 403, 409)},
    )
    def post(self, request: Request) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        row = lpr_propose(actor=request.user, **payload.validated_data)
        return Response(LprOutputSerializer(row).data, status=status.HTTP_201_CREATED)


class LprDecisionInput(serializers.Serializer):
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class LprApproveApi(Api):
    """复核通过一条LPR（不能由录入人本人复核：422 `four_eyes`）。"""

    permission_classes = [IsAuthenticated, ActionPermission]
    required_perms = {"POST": "underwriting.approve_loanprimerate"}

    @extend_schema(
        summary="复核通过LPR",
        request=LprDecisionInput,
        responses={200: LprOutputSerializer, **error_responses(400, 401, 403, 404, 409, 422)},
    )
    def post(self, request: Request, lpr_id: int) -> Response:
        payload = LprDecisionInput(data=request.data)
        payload.is_valid(raise_exception=True)
        row = lpr_approve(actor=request.user, lpr_id=lpr_id, **payload.validated_data)
        return Response(LprOutputSerializer(row).data)


class LprRejectApi(Api):
    """驳回一条LPR（须填写理由；不能由录入人本人驳回）。"""

    permission_classes = [IsAuthenticated, ActionPermission]
    required_perms = {"POST": "underwriting.approve_loanprimerate"}

    @extend_schema(
        summary="驳回LPR",
        request=LprDecisionInput,
        responses={200: LprOutputSerializer, **error_responses(400, 401, 403, 404, 409, 422)},
    )
    def post(self, request: Request, lpr_id: int) -> Response:
        payload = LprDecisionInput(data=request.data)
        payload.is_valid(raise_exception=True)
        row = lpr_reject(actor=request.user, lpr_id=lpr_id, **payload.validated_data)
        return Response(LprOutputSerializer(row).data)


class RateCapApi(Api):
    """The legal cap on the annualised rate for a contract dated `on` (default today), and its basis."""

    permission_classes = [IsAuthenticated, ActionPermission]
    required_perms = {"GET": "applications.view_product"}

    class QuerySerializer(serializers.Serializer):
        on = serializers.DateField(required=False)

    class OutputSerializer(serializers.Serializer):
        on = serializers.DateField()
        licence_type = serializers.CharField()
        licence_label = serializers.CharField()
        cap = _rate()
        lpr = _rate(allow_null=True)
        lpr_published_on = serializers.DateField(allow_null=True)
        basis = serializers.CharField()

    @extend_schema(
        summary="法定利率上限",
        parameters=[QuerySerializer],
        responses={200: OutputSerializer, **error_responses(400, 401, 403, 422)},
    )
    def get(self, request: Request) -> Response:
        query = self.QuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        on = query.validated_data.get("on") or timezone.localdate()
        cap = rate_cap_for(on=on)
        return Response(
            self.OutputSerializer(
                {
                    "on": on,
                    "licence_type": cap.licence_type,
                    "licence_label": cap.licence_label,
                    "cap": cap.cap,
                    "lpr": cap.lpr,
                    "lpr_published_on": cap.lpr_published_on,
                    "basis": cap.basis,
                }
            ).data
        )


# --- transitions -----------------------------------------------------------------------------


class LoanApproveApi(LoanTransitionApi):
    """风控审批通过"""

    transition = "approve"
    service = staticmethod(loan_approve)

    class InputSerializer(serializers.Serializer):
        approved_amount = _money(required=False, allow_null=True, default=None, help_text="省略时为申请金额")
        note = serializers.CharField(max_length=2000, allow_blank=True, help_text="审查意见（记入阶段记录）")
        conditions = serializers.CharField(
            max_length=2000, required=False, allow_blank=True, default="", help_text="放款条件（可空）"
        )


class LoanRejectApi(LoanTransitionApi):
    """风控拒绝"""

    transition = "reject"
    service = staticmethod(loan_reject)

    class InputSerializer(serializers.Serializer):
        reason_codes = serializers.ListField(
            child=serializers.ChoiceField(choices=[(code, texts[0]) for code, texts in REJECT_REASONS.items()])
        )
        note = serializers.CharField(max_length=2000, allow_blank=True, help_text="审查意见（记入阶段记录）")


class LoanMakeOfferApi(LoanTransitionApi):
    """出具借款要约"""

    transition = "make_offer"
    service = staticmethod(loan_make_offer)

    class InputSerializer(LoanTransitionApi.InputSerializer):
        principal = _money()
        annual_rate = _rate(help_text='年利率，小数（"0.0490" = 4.9%）')
        term_months = serializers.IntegerField()
        repayment_method = serializers.ChoiceField(choices=RepaymentMethod.choices)
        first_due_date = serializers.DateField()
        product_id = serializers.IntegerField(
            required=False,
            allow_null=True,
            default=None,
            help_text="按哪个产品出具（省略：本笔贷款所申请产品的当前版本）",
        )
