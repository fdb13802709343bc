"""Write side of the industry restriction in underwriting: a manager approves an offer in a restricted
industry (four eyes: the offer itself is made by risk or ops, within the reduced maximum amount).

The restriction is imposed by the COB's early-warning step and lifted by a manager
(`loan_collections.early_warning`), because both follow the business date.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction

from applications.lifecycle import loans_for_update
from applications.models import LoanStatus
from applications.selectors import loan_get_for_actor
from compliance.audit import audit_record
from loanops.exceptions import DomainError, InputError, InvalidTransition
from underwriting.industry_restrictions import (
    RestrictedOfferApproval,
    industry_restriction_active,
    restricted_max_amount,
)

APPROVAL_PERMISSION = "underwriting.approve_restricted_offer"


@transaction.atomic
def restricted_offer_approve(*, actor: Any, loan_id: int, note: str) -> RestrictedOfferApproval:
    """Approve that an offer may be made to this approved loan although its industry is restricted."""
    loan_get_for_actor(actor=actor, loan_id=loan_id)
    if not actor.has_perm(APPROVAL_PERMISSION):
        raise PermissionDenied("您没有权限审批受限行业的要约")
    loan = loans_for_update().select_related("customer", "product").get(pk=loan_id)
    if loan.status != LoanStatus.APPROVED:
        raise InvalidTransition(
            f"贷款当前状态为「{LoanStatus(loan.status).label}」，只有审批通过、待出要约的贷款需要该审批",
            extra={"status": loan.status},
        )
    restriction = industry_restriction_active(loan.customer.industry)
    if restriction is None:
        raise DomainError("该借款人所在行业未被限制，无需审批", code="industry_not_restricted")
    clean = str(note or "").strip()
    if not clean:
        raise InputError("请填写审批意见", fields={"note": ["请填写审批意见"]})
    if RestrictedOfferApproval.objects.filter(loan=loan).exists():
        raise DomainError("该贷款已审批", code="already_approved")
    approval = RestrictedOfferApproval.objects.create(loan=loan, restriction=restriction, approved_by=actor, note=clean)
    audit_record(
        actor=actor,
        action="underwriting.restricted_offer_approve",
        subject=loan,
        reason=clean,
        data={
            "restriction_id": restriction.pk,
            "industry": restriction.industry,
            "factor": restriction.factor,
            "max_amount": restricted_max_amount(loan.product.max_amount, restriction),
        },
    )
    return approval
