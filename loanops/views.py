"""Kernel views: liveness/readiness and the landing page."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlparse

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect


def _check_database() -> dict[str, object]:
    started = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return {"ok": False, "error": exc.__class__.__name__}
    return {"ok": True, "vendor": connection.vendor, "ms": round((time.monotonic() - started) * 1000, 1)}


def _check_broker() -> dict[str, object]:
    url = settings.CELERY_BROKER_URL
    if not url:
        return {"ok": True, "mode": "in-process"}
    parsed = urlparse(url)
    started = time.monotonic()
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=2) as sock:
            sock.settimeout(2)
            sock.sendall(b"PING\r\n")
            reply = sock.recv(64)
    except OSError as exc:
        return {"ok": False, "error": exc.__class__.__name__}
    ok = reply.startswith(b"+PONG") or reply.startswith(b"-NOAUTH")
    return {"ok": ok, "mode": "redis", "ms": round((time.monotonic() - started) * 1000, 1)}


def healthz(request: HttpRequest) -> JsonResponse:
    """Public, unauthenticated: {"status": "ok"|"degraded", "checks": {...}}; 503 when not ready."""
    checks = {"database": _check_database(), "broker": _check_broker()}
    ready = all(bool(check["ok"]) for check in checks.values())
    return JsonResponse({"status": "ok" if ready else "degraded", "checks": checks}, status=200 if ready else 503)


def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not user.is_authenticated:
        return redirect("portal:login")
    if user.is_staff:
        return redirect("backoffice:queue")
    return redirect("portal:home")
