"""Set-based daily work for the close of business (COB) of a business date."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction

from applications.lifecycle import loans_for_update
from applications.models import SERVICING_STATUSES
from servicing.models import Installment, InstallmentStatus
from servicing.services.ledger import interest_book

__all__ = ["installments_fall_due"]


@transaction.atomic
def installments_fall_due(
    *, business_date: date, loan_ids: list[int] | None = None, actor: Any = None
) -> dict[str, int]:
    """Installments due on or before ``business_date`` become receivable: idempotent for a date.

    * books the scheduled interest of every such installment not booked yet (Dr interest_receivable /
      Cr interest_income, one entry per installment, ``source_key="interest:<id>"``);
    * moves their status from ``pending`` to ``due`` (marking ``overdue`` is the COB's collections step).

    A few queries for the whole range, not a loop of queries per loan. ``loan_ids`` restricts the run to
    a chunk (the COB splits loans into ranges for several workers). Loans are locked before their
    installments, the same order as a repayment, so the batch and a repayment never deadlock and an
    installment's interest is booked exactly once.
    """
    candidates = Installment.objects.filter(
        schedule__is_current=True, due_date__lte=business_date, loan__status__in=SERVICING_STATUSES
    )
    if loan_ids is not None:
        candidates = candidates.filter(loan_id__in=loan_ids)
    unbooked = candidates.filter(interest_booked=False)
    affected = sorted(set(unbooked.values_list("loan_id", flat=True)))
    booked: list[int] = []
    if affected:
        list(loans_for_update().filter(pk__in=affected).values_list("pk", flat=True))  # lock, pk order
        rows = list(
            unbooked.filter(loan_id__in=affected).select_for_update(of=("self",)).order_by("pk").only(
                "pk", "loan_id", "period", "interest_due", "interest_booked"
            )
        )
        booked = interest_book(rows, business_date=business_date, actor=actor)
    became_due = candidates.filter(status=InstallmentStatus.PENDING).update(status=InstallmentStatus.DUE)
    return {"interest_booked": len(booked), "became_due": became_due}
