"""REST API of risk review and product matching: the product catalogue and the approve / reject / make-offer
transitions. Views are thin (STYLE snippet 4); `underwriting.services` validates and checks permissions.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from applications.api import ActionPermission, Api, GenericApi, LoanTransitionApi, error_responses
from applications.models import ApplicantType, DocumentType, Product
from applications.selectors import products_active
from loanops.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS, RATE_DECIMAL_PLACES, RATE_MAX_DIGITS
from loanops.types import RepaymentMethod
from underwriting.selectors import REJECT_REASONS
from underwriting.services import loan_approve, loan_make_offer, loan_reject, product_create, product_update


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

    class Meta:
        model = Product
        fields = ["applicant_type", "is_active"]


class ProductListCreateApi(GenericApi):
    """The loan product catalogue. Any signed-in user may read it (customers see products on sale only)."""

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
        min_term_months = serializers.IntegerField()
        max_term_months = serializers.IntegerField()
        min_rate = _rate()
        max_rate = _rate()
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
        is_active = serializers.BooleanField(required=False, default=True)

    class OutputSerializer(serializers.ModelSerializer):
        applicant_type_display = serializers.CharField(source="get_applicant_type_display", read_only=True)
        repayment_methods = serializers.ListField(child=serializers.ChoiceField(choices=RepaymentMethod.choices))
        required_documents = serializers.ListField(child=serializers.ChoiceField(choices=DocumentType.choices))

        class Meta:
            model = Product
            fields = [
                "id", "code", "name", "applicant_type", "applicant_type_display", "min_amount", "max_amount",
                "min_term_months", "max_term_months", "min_rate", "max_rate", "repayment_methods",
                "required_documents", "penalty_surcharge", "compound_overdue_interest", "prepayment_fee_rate",
                "origination_fee_rate", "is_active", "created_at", "updated_at",
            ]  # fmt: skip
            read_only_fields = fields

    def get_queryset(self) -> QuerySet[Product]:
        return products_visible_to(self.request.user)

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
        product = product_create(actor=request.user, data=dict(payload.validated_data))
        return Response(self.OutputSerializer(product).data, status=status.HTTP_201_CREATED)


class ProductDetailApi(Api):
    """One loan product; changes need `applications.change_product`."""

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
        summary="修改贷款产品",
        request=InputSerializer(partial=True),
        responses={200: OutputSerializer, **error_responses(400, 401, 403, 404)},
    )
    def patch(self, request: Request, product_id: int) -> Response:
        payload = self.InputSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        product = product_update(actor=request.user, product_id=product_id, data=dict(payload.validated_data))
        return Response(self.OutputSerializer(product).data)


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
