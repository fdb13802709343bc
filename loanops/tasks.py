"""Enqueueing that never breaks a committed business change.

`enqueue_on_commit(task, *args)` registers `task.delay(*args)` to run after the surrounding transaction
commits. If the broker is down or hung, the publish fails within the broker timeouts set in settings
(≈2–3 s), the failure is logged, and the request still succeeds: the business change is already committed.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)


def _publish(task: Any, args: tuple[Any, ...]) -> None:
    try:
        task.apply_async(args=args, retry=False)
    except Exception:  # broker unreachable: the change is committed, delivery is best effort here
        logger.exception("Could not enqueue %s%r; the broker is unavailable", getattr(task, "name", task), args)


def enqueue_on_commit(task: Any, *args: Any) -> None:
    transaction.on_commit(lambda: _publish(task, args))
