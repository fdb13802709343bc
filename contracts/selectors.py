"""Read side of the contract stage: the current contract, access by id, the disbursement order."""

from __future__ import annotations

from typing import Any, Final

from applications.models import Loan
from applications.selectors import loans_visible_to
from contracts.models import Contract, Disbursement

#: The sentence shown next to the consent checkbox when the customer signs, stored verbatim on the contract.
#: It is the portal's checkbox label (portal/forms.py CONSENT_LABEL); the portal should import it from here
#: so the two can never drift apart.
CONSENT_TEXT: Final = "我已阅读并同意《借款合同》全部条款，确认以电子签名方式签署"


def contract_consent_text(contract: Contract) -> str:
    """The exact consent sentence shown for this contract (and that `contract_sign` records)."""
    return CONSENT_TEXT


def loan_contracts(loan: Loan) -> list[Contract]:
    return list(Contract.objects.filter(loan=loan).order_by("-version"))


def contract_current(loan: Loan) -> Contract | None:
    """The loan's live contract (the newest version not superseded), or None before the offer is accepted."""
    return Contract.objects.filter(loan=loan).exclude(status=Contract.Status.SUPERSEDED).order_by("-version").first()


def contract_get_for_actor(*, actor: Any, contract_id: int) -> Contract:
    """The contract if its loan is visible to this user; `Contract.DoesNotExist` (→ 404) otherwise."""
    return Contract.objects.select_related("loan").get(pk=contract_id, loan__in=loans_visible_to(actor))


def disbursement_for(loan: Loan) -> Disbursement | None:
    return Disbursement.objects.filter(loan=loan).select_related("prepared_by", "confirmed_by").first()
