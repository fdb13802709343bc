"""Issuing the settlement certificate (结清证明) when a loan is settled."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.files.base import ContentFile
from django.db.models import Sum

from applications.models import Loan
from compliance.audit import audit_record
from loanops.money import ZERO
from servicing.certificate import CertificateFigures, render_settlement_certificate
from servicing.models import AllocationComponent, RepaymentAllocation
from servicing.services.business_date import business_date_get
from servicing.settlement_models import SettlementCertificate

__all__ = ["certificate_issue", "paid_totals"]


def paid_totals(loan: Loan) -> dict[str, Decimal]:
    """What the borrower paid per component over all repayments that were not reversed."""
    rows = (
        RepaymentAllocation.objects.filter(repayment__loan=loan, repayment__reversed_at__isnull=True)
        .order_by()
        .values("component")
        .annotate(total=Sum("amount"))
    )
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for row in rows:
        totals[row["component"]] = row["total"]
    return dict(totals)


def certificate_issue(*, loan: Loan, actor: Any, settled_on: date) -> SettlementCertificate:
    """Render and store the certificate of a loan that is being settled (in the caller's transaction).

    Idempotent: a loan has at most one certificate; a second call returns the first. Audited
    (``settlement_certificate.issue``).
    """
    existing = SettlementCertificate.objects.filter(loan=loan).first()
    if existing is not None:
        return existing
    totals = paid_totals(loan)
    principal_paid = totals.get(AllocationComponent.PRINCIPAL, ZERO)
    interest_paid = totals.get(AllocationComponent.INTEREST, ZERO)
    penalty_paid = totals.get(AllocationComponent.PENALTY, ZERO)
    fees_paid = totals.get(AllocationComponent.FEE, ZERO)
    number = f"JQ-{loan.reference}" if loan.reference else f"JQ-{loan.pk:08d}"
    figures = CertificateFigures(
        number=number,
        settled_on=settled_on,
        issued_on=business_date_get(),
        principal=loan.principal or principal_paid,
        principal_paid=principal_paid,
        interest_paid=interest_paid,
        penalty_paid=penalty_paid,
        fees_paid=fees_paid,
        total_paid=principal_paid + interest_paid + penalty_paid + fees_paid,
    )
    pdf = render_settlement_certificate(loan=loan, figures=figures)
    certificate = SettlementCertificate(
        loan=loan,
        number=number,
        settled_on=settled_on,
        principal_paid=principal_paid,
        interest_paid=interest_paid,
        penalty_paid=penalty_paid,
        fees_paid=fees_paid,
        total_paid=figures.total_paid,
        sha256=hashlib.sha256(pdf).hexdigest(),
        issued_by=actor,
    )
    certificate.file.save(f"{number}.pdf", ContentFile(pdf), save=False)
    certificate.save()
    audit_record(
        actor=actor,
        action="settlement_certificate.issue",
        subject=loan,
        after={"number": number, "settled_on": settled_on, "total_paid": figures.total_paid},
    )
    return certificate
