"""Disbursement (放款): the checker confirms what the maker prepared; schedule v1 and the ledger start here.

Fee treatment: the one-off origination fee (``product.origination_fee_rate × principal``, rounded to
cents) is deducted from the cash paid out and recognised as income at disbursement::

    Dr principal_receivable   P
        Cr cash_clearing          P − fee
        Cr fee_income             fee        (only when fee > 0)

The borrower owes the full principal P on the schedule; the fee never appears on an installment, so
``fee_receivable`` stays for fees charged later (it must always equal Σ(fee_due − fee_paid)).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction

from applications.lifecycle import loan_transition, loans_for_update
from applications.models import Loan, LoanStatus
from applications.selectors import loan_get_for_actor
from loanops.exceptions import DomainError, InvalidTransition
from loanops.money import ZERO, to_money
from loanops.schedule import build_schedule
from servicing.models import Account, EntryKind, Installment, ScheduleVersion
from servicing.services.business_date import business_date_get
from servicing.services.common import principal_outstanding_refresh
from servicing.services.ledger import Posting, journal_post

__all__ = ["loan_disburse", "origination_fee"]


def origination_fee(loan: Loan) -> Decimal:
    rate = loan.product.origination_fee_rate or ZERO
    return to_money(loan.principal * rate) if loan.principal is not None else ZERO


@transaction.atomic
def loan_disburse(*, actor: Any, loan_id: int, reason: str = "") -> Loan:
    """disbursement_pending → active by a checker who is not the maker (four eyes).

    Writes schedule version 1 with its installments and the balanced disbursement entry, sets
    ``loan.disbursed_on`` to the business date. Refuses (and writes nothing) when the actor prepared the
    disbursement (422 ``four_eyes_required``), the loan is not awaiting disbursement (409), the actor
    lacks ``applications.disburse_loan`` (403) or the first due date is not after the business date (422).
    """
    loan_get_for_actor(actor=actor, loan_id=loan_id)
    loan = loans_for_update().select_related("product").get(pk=loan_id)
    if loan.status != LoanStatus.DISBURSEMENT_PENDING:
        raise InvalidTransition(
            f"贷款当前状态为「{LoanStatus(loan.status).label}」，不能放款",
            extra={"status": loan.status, "transition": "disburse"},
        )
    if loan.prepared_by_id is not None and actor.pk == loan.prepared_by_id:
        raise DomainError(
            "放款复核须由准备放款以外的另一人完成（双人复核）",
            code="four_eyes_required",
            extra={"prepared_by": loan.prepared_by_id},
        )
    today = business_date_get()
    principal, rate, term = loan.principal, loan.annual_rate, loan.term_months
    method, first_due_date = loan.repayment_method, loan.first_due_date
    if principal is None or rate is None or term is None or method is None or first_due_date is None:
        raise DomainError(
            "贷款缺少要约条款（本金、利率、期限、还款方式、首期还款日），不能放款", code="offer_terms_missing"
        )
    if first_due_date <= today:
        raise DomainError(
            f"首期还款日 {loan.first_due_date} 不晚于放款日 {today}，请先调整还款计划",
            code="first_due_date_passed",
            extra={"first_due_date": loan.first_due_date, "business_date": today},
        )
    fee = origination_fee(loan)
    if fee >= principal:
        raise DomainError("服务费不能大于或等于贷款本金", code="fee_exceeds_principal")
    rows = build_schedule(
        principal=principal, annual_rate=rate, term_months=term, method=method, first_due_date=first_due_date
    )

    loan.disbursed_on = today
    loan_transition(
        loan,
        "disburse",
        actor=actor,
        reason=reason,
        extra_fields=("disbursed_on",),
        principal=loan.principal,
        origination_fee=fee,
        disbursed_on=today,
    )
    version = ScheduleVersion.objects.create(
        loan=loan,
        version=1,
        is_current=True,
        principal=principal,
        annual_rate=rate,
        term_months=term,
        repayment_method=method,
        first_due_date=first_due_date,
        reason="放款生成",
        created_by=actor,
    )
    Installment.objects.bulk_create(
        Installment(
            schedule=version,
            loan=loan,
            period=row.period,
            due_date=row.due_date,
            principal_due=row.principal,
            interest_due=row.interest,
            remaining_after=row.remaining,
        )
        for row in rows
    )
    principal_outstanding_refresh(loan.pk)
    postings = [
        Posting(Account.PRINCIPAL_RECEIVABLE, debit=loan.principal),
        Posting(Account.CASH_CLEARING, credit=loan.principal - fee),
    ]
    if fee:
        postings.append(Posting(Account.FEE_INCOME, credit=fee))
    journal_post(
        loan=loan,
        kind=EntryKind.DISBURSEMENT,
        business_date=today,
        postings=postings,
        actor=actor,
        memo=f"放款 {loan}",
        source_key=f"disbursement:{loan.pk}",
    )
    return loan
