"""One error shape for the whole API: {"code", "message", "fields"} (DESIGN.md §7)."""

from __future__ import annotations

from typing import Any

import django_fsm as fsm
from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from loanops.exceptions import DomainError


def _flatten(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [str(item) if not isinstance(item, dict | list) else _flatten(item) for item in detail]
    return [str(detail)]


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ObjectDoesNotExist | Http404):
        return Response({"code": "not_found", "message": "未找到，或无权访问 (not found)", "fields": {}}, status=404)
    if isinstance(exc, fsm.ConcurrentTransition):
        return Response(
            {"code": "concurrent_change", "message": "该贷款已被他人同时修改，请刷新后重试", "fields": {}},
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, fsm.TransitionNotAllowed):
        return Response({"code": "invalid_transition", "message": str(exc), "fields": {}}, status=409)
    if isinstance(exc, DomainError):
        body: dict[str, Any] = {"code": exc.code, "message": exc.message, "fields": exc.fields}
        if exc.extra:
            body["extra"] = exc.extra
        return Response(body, status=exc.http_status)
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        if not isinstance(fields, dict):
            fields = {"non_field_errors": fields}
        response.data = {"code": "invalid", "message": "输入有误，请检查标注的字段", "fields": fields}
        response.status_code = status.HTTP_400_BAD_REQUEST
    elif isinstance(exc, exceptions.APIException):
        detail = exc.detail
        response.data = {
            "code": exc.get_codes() if isinstance(exc.get_codes(), str) else "error",
            "message": str(detail),
            "fields": {},
        }
    return response
