"""Set-based daily work for the close of business (COB) of a business date."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction
from django.db.models import F, Q

from applications.lifecycle import loans_for_update
from applications.models import SERVICING_STATUSES
from loanops.money import ZERO, to_money
from loanops.pricing import penalty_for_range
from servicing.models import Account, EntryKind, Installment, InstallmentStatus
from servicing.services.ledger import EntrySpec, Posting, interest_book, journal_post_many

__all__ = ["installments_fall_due", "penalties_accrue"]


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
            unbooked.filter(loan_id__in=affected)
            .select_for_update(of=("self",))
            .order_by("pk")
            .only("pk", "loan_id", "period", "interest_due", "interest_booked")
        )
        booked = interest_book(rows, business_date=business_date, actor=actor)
    became_due = candidates.filter(status=InstallmentStatus.PENDING).update(status=InstallmentStatus.DUE)
    return {"interest_booked": len(booked), "became_due": became_due}


@transaction.atomic
def penalties_accrue(*, business_date: date, loan_ids: list[int] | None = None, actor: Any = None) -> dict[str, int]:
    """Accrue penalty interest (罚息) on overdue installments up to ``business_date``: idempotent per date.

    For each installment of the current schedule due before ``business_date`` with principal (or, where
    the product compounds, interest) still unpaid: penalty for the days ``[penalty_accrued_to or
    due_date, business_date)`` = overdue principal (+ overdue interest if compounding) × contract rate ×
    (1 + product surcharge) / 360 per day (``loanops.pricing.penalty_for_range``), on the amounts
    outstanding when the batch runs. The exact amount accumulates in ``penalty_accrued``; ``penalty_due``
    moves to ``to_money(penalty_accrued)`` and the difference is posted per loan and date
    (Dr penalty_receivable / Cr penalty_income, ``source_key="penalty:<loan>:<date>"``). Running the same
    date twice changes nothing.
    """
    candidates = Installment.objects.filter(
        schedule__is_current=True, due_date__lt=business_date, loan__status__in=SERVICING_STATUSES
    ).filter(Q(penalty_accrued_to__isnull=True) | Q(penalty_accrued_to__lt=business_date))
    candidates = candidates.filter(Q(principal_paid__lt=F("principal_due")) | Q(interest_paid__lt=F("interest_due")))
    if loan_ids is not None:
        candidates = candidates.filter(loan_id__in=loan_ids)
    affected = sorted(set(candidates.values_list("loan_id", flat=True)))
    if not affected:
        return {"installments": 0, "entries": 0}
    list(loans_for_update().filter(pk__in=affected).values_list("pk", flat=True))  # lock, pk order
    rows = list(
        candidates.filter(loan_id__in=affected)
        .select_related("schedule", "loan__product")
        .select_for_update(of=("self",))
        .order_by("pk")
    )
    per_loan: dict[int, Any] = {}
    for item in rows:
        product = item.loan.product
        overdue_principal = item.principal_due - item.principal_paid
        overdue_interest = item.interest_due - item.interest_paid
        exact = penalty_for_range(
            overdue_principal=overdue_principal,
            overdue_interest=overdue_interest,
            annual_rate=item.schedule.annual_rate,
            surcharge=product.penalty_surcharge,
            compound=product.compound_overdue_interest,
            start=item.penalty_accrued_to or item.due_date,
            end=business_date,
        )
        before = to_money(item.penalty_accrued)
        item.penalty_accrued += exact
        delta = to_money(item.penalty_accrued) - before
        item.penalty_due += delta
        item.penalty_accrued_to = business_date
        if delta:
            per_loan[item.loan_id] = per_loan.get(item.loan_id, ZERO) + delta
    Installment.objects.bulk_update(rows, ["penalty_accrued", "penalty_accrued_to", "penalty_due"])
    specs = [
        EntrySpec(
            loan_id=loan_id,
            kind=EntryKind.PENALTY,
            business_date=business_date,
            postings=[
                Posting(Account.PENALTY_RECEIVABLE, debit=amount),
                Posting(Account.PENALTY_INCOME, credit=amount),
            ],
            memo=f"罚息计提至 {business_date.isoformat()}",
            source_key=f"penalty:{loan_id}:{business_date.isoformat()}",
        )
        for loan_id, amount in sorted(per_loan.items())
    ]
    if specs:
        journal_post_many(specs, actor=actor)
    return {"installments": len(rows), "entries": len(specs)}
