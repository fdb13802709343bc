"""Transitions through the back-office forms: state moves and audit on success; nothing written on refusal."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from applications.models import Loan, LoanStageEvent, SupplementRequest
from applications.services import document_upload
from backoffice.tests.conftest import PDF_BYTES, login
from compliance.models import AuditEvent

pytestmark = pytest.mark.django_db


def status_of(loan: Loan) -> str:
    return Loan.objects.values_list("status", flat=True).get(pk=loan.pk)


def snapshot() -> tuple[int, int, int]:
    return AuditEvent.objects.count(), LoanStageEvent.objects.count(), SupplementRequest.objects.count()


def upload_required(loan: Loan, actor: Any) -> None:
    for doc_type in loan.product.required_documents:
        document_upload(
            actor=actor, loan_id=loan.pk, doc_type=doc_type, upload=SimpleUploadedFile(f"{doc_type}.pdf", PDF_BYTES)
        )


def post(client: Any, name: str, loan: Loan, data: dict[str, Any] | None = None) -> Any:
    return client.post(reverse(f"backoffice:loan-{name}", args=[loan.pk]), data or {})


def test_start_review_moves_the_state_and_writes_the_audit_event(
    client: Any, make_loan: Callable[..., Any], ops: Any
) -> None:
    loan = make_loan("submitted")
    upload_required(loan, ops)
    login(client, ops)
    response = post(client, "start-review", loan, {"reason": "材料齐全"})
    assert response.status_code == 302
    assert response["Location"] == reverse("backoffice:loan-detail", args=[loan.pk])
    assert status_of(loan) == "risk_review"
    event = AuditEvent.objects.filter(action="loan.start_review", subject_id=str(loan.pk)).get()
    assert event.actor_id == ops.pk
    assert event.before == {"status": "submitted"} and event.after == {"status": "risk_review"}
    assert LoanStageEvent.objects.filter(loan=loan, transition="start_review", actor=ops).exists()
    follow = client.get(response["Location"])
    assert "已提交风控审查" in follow.content.decode()


def test_illegal_transition_is_409_and_writes_nothing(client: Any, make_loan: Callable[..., Any], risk: Any) -> None:
    loan = make_loan("draft")
    before = snapshot()
    login(client, risk)
    response = post(client, "approve", loan, {"approved_amount": "50000.00", "note": "同意"})
    assert response.status_code == 409
    html = response.content.decode()
    assert "不能执行该操作" in html
    assert 'class="errorlist nonfield"' in html
    assert status_of(loan) == "draft"
    assert snapshot() == before


def test_business_rule_refusal_is_422_with_the_message(client: Any, make_loan: Callable[..., Any], ops: Any) -> None:
    loan = make_loan("submitted")  # no documents uploaded
    before = snapshot()
    login(client, ops)
    response = post(client, "start-review", loan)
    assert response.status_code == 422
    assert "材料不完整，缺少" in response.content.decode()
    assert status_of(loan) == "submitted"
    assert snapshot() == before


def test_bad_input_rerenders_with_field_errors_and_writes_nothing(
    client: Any, make_loan: Callable[..., Any], ops: Any
) -> None:
    loan = make_loan("submitted")
    before = snapshot()
    login(client, ops)
    response = post(client, "request-supplement", loan, {"items": [], "message": ""})
    assert response.status_code == 400
    form = response.context["form"]
    assert "items" in form.errors and "message" in form.errors
    assert status_of(loan) == "submitted"
    assert snapshot() == before


def test_service_field_errors_land_on_the_form_fields(client: Any, make_loan: Callable[..., Any], risk: Any) -> None:
    loan = make_loan("risk_review")
    before = snapshot()
    login(client, risk)
    # more than requested: the form accepts the number, the service refuses it on the field
    response = post(client, "approve", loan, {"approved_amount": "90000.00", "note": "同意"})
    assert response.status_code == 400
    assert "approved_amount" in response.context["form"].errors
    assert status_of(loan) == "risk_review"
    assert snapshot() == before


def test_request_supplement_prefills_missing_documents_and_records_the_round(
    client: Any, make_loan: Callable[..., Any], ops: Any
) -> None:
    loan = make_loan("submitted")
    login(client, ops)
    form = client.get(reverse("backoffice:loan-request-supplement", args=[loan.pk])).context["form"]
    assert set(form.initial["items"]) == {"id_front", "id_back", "income_proof", "credit_auth"}
    response = post(
        client, "request-supplement", loan, {"items": ["income_proof"], "message": "请补充近 6 个月收入证明"}
    )
    assert response.status_code == 302
    assert status_of(loan) == "supplement_required"
    request_row = SupplementRequest.objects.get(loan=loan)
    assert request_row.items == ["income_proof"] and request_row.requested_by == ops


def test_submit_on_the_customers_behalf(client: Any, make_loan: Callable[..., Any], ops: Any) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from applications.services import document_upload
    from backoffice.tests.conftest import PDF_BYTES

    loan = make_loan("draft")
    login(client, ops)
    # Incomplete: refused with the missing items named, nothing written.
    response = post(client, "submit", loan, {"reason": "柜台代办"})
    assert response.status_code == 422
    assert "收入证明" in response.content.decode()
    assert status_of(loan) == "draft"
    for doc_type in loan.product.required_documents:
        upload = SimpleUploadedFile(f"{doc_type}.pdf", PDF_BYTES, content_type="application/pdf")
        document_upload(actor=ops, loan_id=loan.pk, doc_type=doc_type, upload=upload)
    assert post(client, "submit", loan, {"reason": "柜台代办"}).status_code == 302
    assert status_of(loan) == "submitted"
    assert AuditEvent.objects.filter(action="loan.submit", actor=ops).exists()


def test_approve_and_reject(client: Any, make_loan: Callable[..., Any], risk: Any, manager: Any) -> None:
    from underwriting.models import RiskReview

    approved = make_loan("risk_review")
    login(client, risk)
    form = client.get(reverse("backoffice:loan-approve", args=[approved.pk])).context["form"]
    assert form.initial["approved_amount"] == Decimal("50000.00")
    response = post(client, "approve", approved, {"approved_amount": "40000.00", "note": "收入稳定，同意"})
    assert response.status_code == 302, response.content.decode()[:3000]
    assert status_of(approved) == "approved"
    assert RiskReview.objects.get(loan=approved).approved_amount == Decimal("40000.00")

    rejected = make_loan("risk_review")
    login(client, manager)
    response = post(client, "reject", rejected, {"reason_codes": ["debt_ratio", "other"], "note": "负债过高"})
    assert response.status_code == 302, response.content.decode()[:3000]
    assert status_of(rejected) == "rejected"
    assert RiskReview.objects.get(loan=rejected).reason_codes == ["debt_ratio", "other"]


def test_reject_requires_a_reason_code(client: Any, make_loan: Callable[..., Any], risk: Any) -> None:
    loan = make_loan("risk_review")
    before = snapshot()
    login(client, risk)
    response = post(client, "reject", loan, {"note": "不符合"})
    assert response.status_code == 400
    assert "reason_codes" in response.context["form"].errors
    assert snapshot() == before


def test_make_offer_prefilled_from_offer_defaults(client: Any, make_loan: Callable[..., Any], risk: Any) -> None:
    from underwriting.selectors import offer_defaults

    loan = make_loan("approved")
    login(client, risk)
    form = client.get(reverse("backoffice:loan-make-offer", args=[loan.pk])).context["form"]
    defaults = offer_defaults(loan)
    assert form.initial["principal"] == defaults["principal"]
    assert Decimal(form.initial["annual_rate"]) == Decimal(defaults["annual_rate"]) * 100  # shown in %
    data = {
        "principal": "50000.00",
        "annual_rate": "9.6",
        "term_months": "12",
        "repayment_method": "equal_installment",
        "first_due_date": defaults["first_due_date"].isoformat(),
        "reason": "",
    }
    response = post(client, "make-offer", loan, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    loan = Loan.objects.get(pk=loan.pk)
    assert loan.status == "offered"
    assert loan.annual_rate == Decimal("0.096000")
    assert loan.principal == Decimal("50000.00")


def test_make_offer_outside_the_product_band_is_refused(client: Any, make_loan: Callable[..., Any], risk: Any) -> None:
    from underwriting.selectors import offer_defaults

    loan = make_loan("approved")
    before = snapshot()
    login(client, risk)
    data = {
        "principal": "50000.00",
        "annual_rate": "30",
        "term_months": "12",
        "repayment_method": "equal_installment",
        "first_due_date": offer_defaults(loan)["first_due_date"].isoformat(),
    }
    response = post(client, "make-offer", loan, data)
    assert response.status_code in (400, 422)
    assert response.context["form"].errors
    assert status_of(loan) == "approved"
    assert snapshot() == before


def test_withdraw_needs_a_reason(client: Any, make_loan: Callable[..., Any], ops: Any) -> None:
    loan = make_loan("submitted")
    before = snapshot()
    login(client, ops)
    response = post(client, "withdraw", loan, {"reason": ""})
    assert response.status_code == 400
    assert "reason" in response.context["form"].errors
    assert snapshot() == before
    assert post(client, "withdraw", loan, {"reason": "借款人放弃"}).status_code == 302
    assert status_of(loan) == "withdrawn"


def offered_to_signed(loan: Loan, ops: Any, customer_user: Any) -> None:
    """accept_offer by ops, then the customer signs (through the contracts services)."""
    from contracts.services import contract_sign

    loan.customer.user = customer_user
    loan.customer.save(update_fields=["user"])
    contract_sign(actor=customer_user, loan_id=loan.pk, consent=True, ip_address="10.0.0.8", user_agent="pytest")


def offered_loan(make_loan: Callable[..., Any]) -> Loan:
    from underwriting.selectors import first_due_date_window

    earliest, _latest = first_due_date_window()
    return make_loan(
        "offered",
        principal=Decimal("50000.00"),
        annual_rate=Decimal("0.096000"),
        term_months=12,
        repayment_method="equal_installment",
        first_due_date=earliest + timedelta(days=20),
        apr=Decimal("0.096000"),
    )


def test_contract_and_disbursement_with_four_eyes(
    client: Any,
    make_loan: Callable[..., Any],
    ops: Any,
    manager: Any,
    make_user: Callable[..., Any],
    customer_user: Any,
) -> None:
    loan = offered_loan(make_loan)
    login(client, ops)
    response = post(client, "accept-offer", loan, {"reason": "借款人到店确认"})
    assert response.status_code == 302, response.content.decode()[:3000]
    assert status_of(loan) == "contract_pending"
    offered_to_signed(Loan.objects.get(pk=loan.pk), ops, customer_user)
    assert status_of(loan) == "contract_signed"

    # the detail page shows the contract with its hash and a download link
    html = client.get(reverse("backoffice:loan-detail", args=[loan.pk])).content.decode()
    from contracts.selectors import contract_current

    contract = contract_current(Loan.objects.get(pk=loan.pk))
    assert contract is not None
    assert contract.number in html
    assert reverse("backoffice:contract-download", args=[contract.pk]) in html
    download = client.get(reverse("backoffice:contract-download", args=[contract.pk]))
    assert download.status_code == 200
    assert b"".join(download.streaming_content).startswith(b"%PDF")

    # a maker who also holds the checker permission prepares, and then may not confirm
    maker = make_user("ops", "manager")
    login(client, maker)
    response = post(
        client, "prepare-disbursement", loan, {"bank_name": "中国工商银行", "bank_account": "6222021234567890123"}
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert status_of(loan) == "disbursement_pending"

    html = client.get(reverse("backoffice:loan-disburse", args=[loan.pk])).content.decode()
    assert "四眼原则" in html
    before = snapshot()
    response = post(client, "disburse", loan, {"confirm": "on"})
    assert response.status_code in (403, 422)
    assert "四眼原则" in response.content.decode()
    assert status_of(loan) == "disbursement_pending"
    assert snapshot() == before

    # another manager confirms
    login(client, manager)
    html = client.get(reverse("backoffice:loan-detail", args=[loan.pk])).content.decode()
    assert reverse("backoffice:loan-disburse", args=[loan.pk]) in html
    assert "6222***********0123" in html
    response = post(client, "disburse", loan, {"confirm": "on"})
    assert response.status_code == 302, response.content.decode()[:3000]
    assert status_of(loan) == "active"
    html = client.get(reverse("backoffice:loan-detail", args=[loan.pk])).content.decode()
    assert 'id="schedule"' in html
    assert "合计" in html  # schedule totals row


def test_disburse_needs_the_confirmation_tick(client: Any, make_loan: Callable[..., Any], manager: Any) -> None:
    loan = make_loan("disbursement_pending")
    login(client, manager)
    response = post(client, "disburse", loan, {})
    assert response.status_code == 400
    assert "confirm" in response.context["form"].errors


def test_permission_denied_by_the_service_is_403(
    client: Any, make_loan: Callable[..., Any], risk: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page lets the user in, but the service's own check refuses: 403, nothing written."""
    from django.core.exceptions import PermissionDenied

    from underwriting import services as underwriting_services

    def refuse(**kwargs: Any) -> None:
        raise PermissionDenied("您没有权限对该贷款执行此操作（approve）")

    monkeypatch.setattr(underwriting_services, "loan_approve", refuse)
    loan = make_loan("risk_review")
    before = snapshot()
    login(client, risk)
    response = post(client, "approve", loan, {"approved_amount": "50000.00", "note": "同意"})
    assert response.status_code == 403
    assert status_of(loan) == "risk_review"
    assert snapshot() == before


def test_page_permission_missing_is_403_on_post(client: Any, make_loan: Callable[..., Any], ops: Any) -> None:
    loan = make_loan("risk_review")
    before = snapshot()
    login(client, ops)
    assert post(client, "approve", loan, {"approved_amount": "50000.00", "note": "同意"}).status_code == 403
    assert status_of(loan) == "risk_review"
    assert snapshot() == before
