"""REST API of the collections stage: ``POST /api/v1/cob/`` runs close of business (DESIGN.md §7)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from applications.api import ActionPermission, error_responses
from loan_collections.cob.models import CobRunStatus
from loan_collections.cob.runner import cob_start
from loan_collections.selectors import cob_run_summaries
from servicing.services.business_date import business_date_get

TAG = "collections"


class CobRunOutputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "CobRunOutput"

    business_date = serializers.DateField()
    status = serializers.ChoiceField(choices=CobRunStatus.choices)
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    rows = serializers.IntegerField()
    duration_s = serializers.FloatField()
    chunks_done = serializers.IntegerField()
    chunks_planned = serializers.IntegerField()
    error = serializers.CharField()


class CobApi(APIView):
    """Run close of business up to ``date`` (default: the business date + 1), catching up missed dates.

    Perm ``servicing.run_cob`` (managers and the ``system`` user). With Celery workers the call returns
    at once with the first date ``running``; in-process (embedded default) it returns the finished runs.
    """

    permission_classes = [IsAuthenticated, ActionPermission]
    required_perms = {"POST": "servicing.run_cob"}

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "CobInput"

        date = serializers.DateField(required=False)

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "CobOutput"

        business_date = serializers.DateField()
        runs = CobRunOutputSerializer(many=True)

    @extend_schema(
        tags=[TAG],
        operation_id="cob_run",
        request=InputSerializer,
        responses={
            200: OutputSerializer,
            422: OpenApiResponse(description="cob_out_of_order"),
            **error_responses(400, 401, 403),
        },
    )
    def post(self, request: Request) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        runs = cob_start(actor=request.user, until=payload.validated_data.get("date"))
        summaries = cob_run_summaries(run_ids=[run.pk for run in runs])
        return Response(self.OutputSerializer({"business_date": business_date_get(), "runs": summaries}).data)
