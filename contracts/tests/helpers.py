"""Test helpers for the contract stage, on top of underwriting.tests.helpers (stages up to `offered`)."""

from __future__ import annotations

from typing import Any

from applications.models import Loan, LoanStatus
from contracts import services as contract_services
from contracts.models import Contract, Disbursement
from underwriting.tests import helpers as uw

LATER = [LoanStatus.CONTRACT_PENDING, LoanStatus.CONTRACT_SIGNED, LoanStatus.DISBURSEMENT_PENDING]


def drive(loan: Loan, target: str, *, ops: Any, risk: Any, offer: dict[str, Any] | None = None) -> Loan:
    """Move a draft loan to `target` through the real services; the borrower accepts and signs."""
    if LoanStatus(target) not in LATER:
        return uw.drive(loan, target, ops=ops, risk=risk, offer=offer)
    uw.drive(loan, LoanStatus.OFFERED, ops=ops, risk=risk, offer=offer)
    borrower = loan.customer.user
    for step in LATER[: LATER.index(LoanStatus(target)) + 1]:
        if step == LoanStatus.CONTRACT_PENDING:
            contract_services.loan_accept_offer(actor=borrower or ops, loan_id=loan.pk)
        elif step == LoanStatus.CONTRACT_SIGNED:
            contract_services.contract_sign(
                actor=borrower, loan_id=loan.pk, consent=True, ip_address="203.0.113.7", user_agent="pytest"
            )
        elif step == LoanStatus.DISBURSEMENT_PENDING:
            contract_services.loan_prepare_disbursement(
                actor=ops, loan_id=loan.pk, bank_name="中国工商银行", bank_account="6222020200112233445"
            )
    loan.refresh_from_db()
    assert loan.status == target
    return loan


def snapshot(loan: Loan) -> dict[str, Any]:
    """What a refused contract service must leave unchanged (loan, audit, contracts, disbursement)."""
    return {
        **uw.snapshot(loan),
        "contracts": list(
            Contract.objects.filter(loan=loan).order_by("pk").values_list("pk", "status", "signed_at", "sha256")
        ),
        "disbursements": Disbursement.objects.filter(loan=loan).count(),
    }
