"""REST API of the contract stage: accept the offer, e-sign, prepare the disbursement (maker), and read or
download the loan contract. Views are thin (STYLE snippet 4); `contracts.services` validates and checks
permissions.
"""

from __future__ import annotations

from typing import Any

from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from applications.api import ActionPermission, Api, FileDownloadNegotiation, LoanTransitionApi, error_responses
from applications.selectors import loan_get_for_actor
from contracts.models import Contract
from contracts.selectors import contract_current, contract_get_for_actor
from contracts.services import contract_sign, loan_accept_offer, loan_prepare_disbursement

# --- transitions -----------------------------------------------------------------------------


class LoanAcceptOfferApi(LoanTransitionApi):
    """接受借款要约（生成借款合同）"""

    transition = "accept_offer"
    service = staticmethod(loan_accept_offer)


class LoanSignContractApi(LoanTransitionApi):
    """借款人电子签署借款合同"""

    transition = "sign_contract"
    service = staticmethod(contract_sign)

    class InputSerializer(serializers.Serializer):
        consent = serializers.BooleanField(help_text="已阅读并同意合同全部条款（必须为 true）")

    def service_kwargs(self, request: Request, data: dict[str, Any]) -> dict[str, Any]:
        """The signature evidence: the request's IP address and user agent, as the server saw them."""
        return {
            **data,
            "ip_address": request.META.get("REMOTE_ADDR"),
            "user_agent": request.META.get("HTTP_USER_AGENT", ""),
        }


class LoanPrepareDisbursementApi(LoanTransitionApi):
    """准备放款（经办）"""

    transition = "prepare_disbursement"
    service = staticmethod(loan_prepare_disbursement)

    class InputSerializer(LoanTransitionApi.InputSerializer):
        bank_name = serializers.CharField(max_length=100)
        bank_account = serializers.CharField(max_length=40)


# --- the contract document -------------------------------------------------------------------


class LoanContractApi(Api):
    """The loan's current contract (metadata and download link); 404 before the offer is accepted."""

    permission_classes = [IsAuthenticated, ActionPermission]
    required_perms = {"GET": "applications.view_loan"}
    customer_methods = ("GET",)

    class OutputSerializer(serializers.ModelSerializer):
        status_display = serializers.CharField(source="get_status_display", read_only=True)
        download_url = serializers.SerializerMethodField()

        class Meta:
            model = Contract
            fields = [
                "id", "loan", "number", "version", "status", "status_display", "sha256", "generated_at",
                "signed_at", "download_url",
            ]  # fmt: skip
            read_only_fields = fields

        def get_download_url(self, contract: Contract) -> str:
            return reverse("api:contract-download", kwargs={"contract_id": contract.pk})

    @extend_schema(summary="当前借款合同", responses={200: OutputSerializer, **error_responses(401, 403, 404)})
    def get(self, request: Request, loan_id: int) -> Response:
        loan = loan_get_for_actor(actor=request.user, loan_id=loan_id)
        contract = contract_current(loan)
        if contract is None:
            raise Contract.DoesNotExist
        return Response(self.OutputSerializer(contract).data)


class ContractDownloadApi(Api):
    """The contract PDF (others' contracts → 404)."""

    permission_classes = [IsAuthenticated, ActionPermission]
    required_perms = {"GET": "applications.view_loan"}
    customer_methods = ("GET",)
    content_negotiation_class = FileDownloadNegotiation

    @extend_schema(
        summary="下载借款合同 PDF",
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="合同 PDF"),
            **error_responses(401, 403, 404),
        },
    )
    def get(self, request: Request, contract_id: int) -> FileResponse:
        contract = contract_get_for_actor(actor=request.user, contract_id=contract_id)
        return FileResponse(
            contract.file.open("rb"),
            as_attachment=True,
            filename=f"{contract.number}.pdf",
            content_type="application/pdf",
        )
