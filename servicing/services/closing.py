"""Settlement (结清) and archiving (归档) of a loan; settling issues the settlement certificate (结清证明)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from django.db import transaction

from applications.lifecycle import loan_transition, loans_for_update
from applications.models import SERVICING_STATUSES, Loan
from applications.selectors import loan_get_for_actor
from loanops.exceptions import DomainError
from loanops.money import ZERO
from servicing.models import Installment
from servicing.services.business_date import business_date_get
from servicing.services.certificates import certificate_issue
from servicing.services.common import installments_for_update, system_user

__all__ = ["loan_archive", "loan_settle", "settle_if_paid"]


def _outstanding_total(installments: Sequence[Installment]) -> Any:
    return sum((item.outstanding for item in installments), ZERO)


def settle_if_paid(loan: Loan, installments: Sequence[Installment], *, actor: Any, on: date, reason: str) -> bool:
    """Settle a locked active/overdue loan whose current schedule is fully paid; True if it did.

    Runs as ``actor`` if they may settle, otherwise as the ``system`` user, so a repayment recorded by
    someone without ``applications.settle_loan`` still closes the loan.
    """
    if not installments or _outstanding_total(installments) > 0:
        return False
    settler = actor if actor.has_perm("applications.settle_loan") else system_user()
    loan.settled_on = on
    loan_transition(loan, "settle", actor=settler, reason=reason, extra_fields=("settled_on",), settled_on=on)
    certificate_issue(loan=loan, actor=settler, settled_on=on)
    return True


@transaction.atomic
def loan_settle(*, actor: Any, loan_id: int, reason: str = "") -> Loan:
    """active/overdue → settled, only when nothing is outstanding (422 ``outstanding_balance`` otherwise).

    Normally a loan settles itself when its last repayment is recorded; this is the manual path (e.g.
    after a reversal was undone). ``settled_on`` is the date of the last repayment, or the business date.
    """
    loan_get_for_actor(actor=actor, loan_id=loan_id)
    loan = loans_for_update().get(pk=loan_id)
    installments = installments_for_update(loan) if loan.status in SERVICING_STATUSES else []
    outstanding = _outstanding_total(installments)
    if installments and outstanding > 0:
        raise DomainError(
            f"贷款尚有未还金额 {outstanding}，不能结清", code="outstanding_balance", extra={"outstanding": outstanding}
        )
    paid_dates = [item.paid_on for item in installments if item.paid_on is not None]
    loan.settled_on = max(paid_dates) if paid_dates else business_date_get()
    loan_transition(loan, "settle", actor=actor, reason=reason, extra_fields=("settled_on",))
    certificate_issue(loan=loan, actor=actor, settled_on=loan.settled_on)
    return loan


@transaction.atomic
def loan_archive(*, actor: Any, loan_id: int, reason: str = "") -> Loan:
    """settled → archived."""
    loan_get_for_actor(actor=actor, loan_id=loan_id)
    loan = loans_for_update().get(pk=loan_id)
    return loan_transition(loan, "archive", actor=actor, reason=reason)
