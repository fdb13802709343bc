"""Celery tasks of the applications stage: thin wrappers over services (STYLE §7.8)."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True, autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def loan_stage_notify(loan_id: int, status: str) -> None:
    from applications.services import loan_stage_notify as notify

    notify(loan_id=loan_id, status=status)
