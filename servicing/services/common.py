"""Helpers shared by the servicing services (locking order, installment status, the system actor)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import F, Sum

from applications.models import Loan
from loanops.money import ZERO, to_money
from servicing.models import Installment, InstallmentStatus

__all__ = ["installment_status", "installments_for_update", "principal_outstanding_refresh", "system_user"]


def system_user() -> Any:
    """The seeded ``system`` user: the actor of automatic transitions."""
    return get_user_model().objects.get(username=settings.LOANOPS_SYSTEM_USERNAME)


def installments_for_update(loan: Loan) -> list[Installment]:
    """The current schedule's installments of a loan, row-locked in primary-key order.

    Callers lock the loan first (``loans_for_update``): loan, then installments — the same order as the
    daily batch, so the two never deadlock.
    """
    return list(
        Installment.objects.filter(loan=loan, schedule__is_current=True).select_for_update(of=("self",)).order_by("pk")
    )


def installment_status(item: Installment, *, today: date) -> str:
    """Status implied by what is paid: paid, else pending before the due date, else due/overdue."""
    if item.outstanding <= 0:
        return InstallmentStatus.PAID
    if item.due_date > today:
        return InstallmentStatus.PENDING
    return InstallmentStatus.OVERDUE if item.overdue_since is not None else InstallmentStatus.DUE


def principal_outstanding_refresh(loan_id: int) -> None:
    """``Loan.principal_outstanding`` = Σ(principal due − principal paid) over the loan's current schedule.

    Called, with the loan locked, by every service that creates installments or changes what is paid of
    their principal (disbursement, repayment, reversal, a new schedule version); ``ledger_check`` proves it.
    """
    total = Installment.objects.filter(loan_id=loan_id, schedule__is_current=True).aggregate(
        total=Sum(F("principal_due") - F("principal_paid"))
    )["total"]
    Loan.objects.filter(pk=loan_id).update(principal_outstanding=to_money(total or ZERO))
