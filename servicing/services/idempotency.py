"""Idempotent POSTs: the same ``Idempotency-Key`` never posts twice (DESIGN.md §7)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction

from loanops.exceptions import ConflictError, DomainError
from servicing.models import IdempotencyKey

__all__ = ["StoredResponse", "idempotent_call", "request_fingerprint"]


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    body: str
    replayed: bool


def request_fingerprint(data: Any) -> str:
    """sha256 of the canonical JSON of a request body (keys sorted, no whitespace)."""
    canonical = json.dumps(data, cls=DjangoJSONEncoder, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@transaction.atomic
def idempotent_call(
    *,
    scope: str,
    key: str,
    request_hash: str,
    actor: Any,
    call: Callable[[], tuple[int, str]],
) -> StoredResponse:
    """Run ``call`` once per ``(scope, key)`` and store its ``(status, body)``; replays get the stored one.

    The key is claimed by a unique INSERT in the same transaction as whatever ``call`` writes, so the
    claim and the posting commit (or roll back) together. A concurrent request with the same key blocks
    on the unique index until the first transaction ends, gets an IntegrityError, and then reads the
    committed response. If ``call`` raises, nothing is stored and the key stays free for a retry.
    The same key with a different body is refused: 422 ``idempotency_key_reused``.
    """
    try:
        with transaction.atomic():
            claim = IdempotencyKey.objects.create(scope=scope, key=key, request_hash=request_hash, created_by=actor)
    except IntegrityError:
        stored = IdempotencyKey.objects.get(scope=scope, key=key)
        if stored.request_hash != request_hash:
            raise DomainError(
                "该幂等键已用于另一笔不同内容的请求",
                code="idempotency_key_reused",
                fields={"Idempotency-Key": ["已被使用"]},
            ) from None
        if stored.response_status is None or stored.response_body is None:
            raise ConflictError("相同幂等键的请求仍在处理中，请稍后重试", code="idempotency_in_progress") from None
        return StoredResponse(stored.response_status, stored.response_body, replayed=True)
    status, body = call()
    claim.response_status = status
    claim.response_body = body
    claim.save(update_fields=["response_status", "response_body"])
    return StoredResponse(status, body, replayed=False)
