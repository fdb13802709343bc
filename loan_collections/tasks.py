"""Celery tasks of the collections stage: thin wrappers over services (STYLE §7.8)."""

from __future__ import annotations

from datetime import date

from celery import shared_task


@shared_task(acks_late=True, ignore_result=True)
def cob_beat() -> None:
    """Beat entry: run COB up to today's date (Asia/Shanghai), catching up missed dates."""
    from django.utils import timezone

    from loan_collections.cob.runner import cob_start
    from servicing.services.common import system_user

    cob_start(actor=system_user(), until=timezone.localdate())


@shared_task(acks_late=True, ignore_result=True)
def cob_chunk_task(business_date: str, step: str, position: int, lo: int, hi: int) -> None:
    from loan_collections.cob.runner import cob_chunk_task_body

    cob_chunk_task_body(
        business_date=date.fromisoformat(business_date), step_name=step, position=position, chunk=(lo, hi)
    )


@shared_task(acks_late=True, ignore_result=True)
def cob_advance_task(business_date: str) -> None:
    from loan_collections.cob.runner import cob_advance

    cob_advance(business_date=date.fromisoformat(business_date))
