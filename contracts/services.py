"""Write side of the contract stage: accept the offer (contract PDF), e-sign it, prepare the disbursement.

Same shape as every stage service: one transaction, keyword-only arguments, `loan_get_for_actor` (404 for
loans the actor may not see) then `loans_for_update()`, state and permission checked before the input,
one `InputError` listing every bad field, status changed only through `loan_transition`.

Contract files live in the default storage under ``loans/<id>/contracts/``. Storage is not transactional:
the file is written last, and deleted again if saving its row fails.
"""

from __future__ import annotations

import hashlib
import logging
import re
from typing import Any, Final

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.validators import validate_ipv46_address
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from applications.lifecycle import loan_transition, loans_for_update
from applications.models import Loan
from applications.selectors import loan_get_for_actor
from applications.services import FieldErrors
from compliance.pii import mask_account
from contracts.models import Contract, Disbursement
from contracts.pdf import render_contract_pdf
from contracts.selectors import contract_consent_text, contract_current
from loanops.exceptions import DomainError
from loanops.schedule import build_schedule
from underwriting.services import require_transition

logger = logging.getLogger(__name__)

BANK_ACCOUNT_RE: Final = re.compile(r"^\d{12,30}$")
USER_AGENT_MAX: Final = 512


def _lock_loan(*, actor: Any, loan_id: int) -> Loan:
    loan_get_for_actor(actor=actor, loan_id=loan_id)  # Loan.DoesNotExist (404) for loans not visible
    return loans_for_update().select_related("product", "customer").get(pk=loan_id)


def file_sha256(contract: Contract) -> str | None:
    """SHA-256 of the contract file as it is in storage now; None if the file is missing."""
    name = contract.file.name
    if not name or not contract.file.storage.exists(name):
        return None
    digest = hashlib.sha256()
    with contract.file.storage.open(name, "rb") as handle:
        for chunk in iter(lambda: handle.read(64 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def contract_number_for(loan: Loan, version: int) -> str:
    return f"HT{loan.reference or loan.pk}-{version}"


@transaction.atomic
def loan_accept_offer(*, actor: Any, loan_id: int, reason: str = "") -> Contract:
    """offered → contract_pending: generate the next contract version as a PDF and supersede older ones."""
    loan = _lock_loan(actor=actor, loan_id=loan_id)
    require_transition(loan, "accept_offer", actor=actor)
    assert loan.principal is not None and loan.annual_rate is not None  # guaranteed by make_offer
    assert loan.term_months is not None and loan.repayment_method and loan.first_due_date is not None
    rows = build_schedule(
        principal=loan.principal,
        annual_rate=loan.annual_rate,
        term_months=loan.term_months,
        method=loan.repayment_method,
        first_due_date=loan.first_due_date,
    )
    last_version = Contract.objects.filter(loan=loan).aggregate(last=Max("version"))["last"] or 0
    version = last_version + 1
    number = contract_number_for(loan, version)
    pdf = render_contract_pdf(loan=loan, schedule_rows=rows, contract_number=number, generated_on=timezone.localdate())
    digest = hashlib.sha256(pdf).hexdigest()
    loan_transition(
        loan,
        "accept_offer",
        actor=actor,
        reason=(reason or "").strip() or "借款人接受借款要约",
        contract_number=number,
        contract_version=version,
        contract_sha256=digest,
    )
    Contract.objects.filter(loan=loan).exclude(status=Contract.Status.SUPERSEDED).update(
        status=Contract.Status.SUPERSEDED
    )
    contract = Contract(loan=loan, version=version, number=number, sha256=digest)
    contract.file.save(f"{number}.pdf", ContentFile(pdf), save=False)
    try:
        contract.save()
    except Exception:
        contract.file.delete(save=False)
        raise
    return contract


@transaction.atomic
def contract_sign(*, actor: Any, loan_id: int, consent: bool, ip_address: str | None, user_agent: str = "") -> Contract:
    """contract_pending → contract_signed, by the borrower themself, after checking the file is unchanged.

    Another customer's loan raises `Loan.DoesNotExist` (404); staff who can see the loan get
    `PermissionDenied` (only the borrower signs). A file whose SHA-256 no longer matches the one recorded at
    generation is refused with `DomainError("contract_tampered")`.
    """
    visible = loan_get_for_actor(actor=actor, loan_id=loan_id)
    if visible.customer.user_id is None or visible.customer.user_id != actor.pk:
        raise PermissionDenied("只有借款人本人可以签署借款合同")
    loan = loans_for_update().select_related("customer").get(pk=loan_id)
    require_transition(loan, "sign_contract", actor=actor)
    errors = FieldErrors()
    if consent is not True:
        errors.add("consent", "请阅读合同全文并勾选同意后再签署")
    ip = (ip_address or "").strip() or None
    if ip is not None:
        try:
            validate_ipv46_address(ip)
        except ValidationError:
            errors.add("ip_address", "IP 地址无效")
    errors.raise_if_any()

    contract = (
        Contract.objects.select_for_update()
        .filter(loan=loan, status=Contract.Status.GENERATED)
        .order_by("-version")
        .first()
    )
    if contract is None:
        raise DomainError("未找到待签署的合同，请联系客服", code="contract_missing")
    actual = file_sha256(contract)
    if actual != contract.sha256:
        logger.error(
            "contract %s of loan %s failed its integrity check (recorded %s, stored file %s)",
            contract.number,
            loan.pk,
            contract.sha256,
            actual or "missing",
        )
        raise DomainError(
            "合同文件校验失败，暂不能签署，请联系客服重新生成合同",
            code="contract_tampered",
            extra={"contract_number": contract.number},
        )
    consent_text = contract_consent_text(contract)
    agent = (user_agent or "")[:USER_AGENT_MAX]
    loan_transition(
        loan,
        "sign_contract",
        actor=actor,
        reason="借款人电子签署借款合同",
        ip_address=ip,
        contract_id=contract.pk,
        contract_number=contract.number,
        contract_sha256=contract.sha256,
        consent_text=consent_text,
        user_agent=agent,
    )
    contract.status = Contract.Status.SIGNED
    contract.signed_at = timezone.now()
    contract.signed_by = actor
    contract.signed_ip = ip
    contract.user_agent = agent
    contract.consent_text = consent_text
    contract.save(update_fields=["status", "signed_at", "signed_by", "signed_ip", "user_agent", "consent_text"])
    return contract


@transaction.atomic
def loan_prepare_disbursement(
    *, actor: Any, loan_id: int, bank_name: str, bank_account: str, reason: str = ""
) -> Disbursement:
    """contract_signed → disbursement_pending (maker). The checker confirms in servicing.loan_disburse."""
    loan = _lock_loan(actor=actor, loan_id=loan_id)
    require_transition(loan, "prepare_disbursement", actor=actor)
    errors = FieldErrors()
    name = str(bank_name or "").strip()
    if not name:
        errors.add("bank_name", "请填写收款银行")
    elif len(name) > 100:
        errors.add("bank_name", "银行名称最多 100 个字")
    account = re.sub(r"[\s-]", "", str(bank_account or ""))
    if not BANK_ACCOUNT_RE.match(account):
        errors.add("bank_account", "银行账号应为 12–30 位数字")
    errors.raise_if_any()
    contract = contract_current(loan)
    if contract is None or contract.status != Contract.Status.SIGNED:
        raise DomainError("借款合同尚未签署，不能准备放款", code="contract_not_signed")
    assert loan.principal is not None
    loan.prepared_by = actor
    loan_transition(
        loan,
        "prepare_disbursement",
        actor=actor,
        reason=(reason or "").strip() or "准备放款",
        extra_fields=("prepared_by",),
        amount=loan.principal,
        bank_name=name,
        bank_account=mask_account(account),
        contract_number=contract.number,
    )
    return Disbursement.objects.create(
        loan=loan, amount=loan.principal, bank_name=name, bank_account=account, prepared_by=actor
    )
