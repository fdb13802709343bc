"""One loan from application to archive, driven through the browser by every role in turn (DESIGN.md §2).

Setup (users, a product, the customer's portal login) is done in Python; every stage after that is done by
clicking through the portal and the back office, each role in its own browser context, logged in through
the login forms. After each stage the page's status badge, the stage event and the audit event are checked.
Screenshots of every stage go to a temp dir (or $LOANOPS_E2E_SCREENSHOTS).
"""

from __future__ import annotations

import io
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

if not Path("/usr/bin/chromium").exists():
    pytest.skip("/usr/bin/chromium is not installed (browser tests need Debian's chromium)", allow_module_level=True)
pytest.importorskip("playwright.sync_api")

from django.contrib.auth import get_user_model
from playwright.sync_api import Page, expect

from applications.models import ApplicantType, Loan, LoanStageEvent, LoanStatus, Product
from compliance.models import AuditEvent
from loanops import roles
from tests.conftest import PASSWORD, customer_data, make_staff

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

S = LoanStatus
REQUESTED_AMOUNT = Decimal("30000.00")
TERM_MONTHS = 3
BANK_ACCOUNT = "6222021234567890123"


# --- helpers -----------------------------------------------------------------------------------


def pdf_file(directory: Path, name: str) -> Path:
    """A small, valid one-page PDF made with reportlab."""
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=(200, 100))
    pdf.drawString(20, 50, f"LoanOps e2e {name}")
    pdf.showPage()
    pdf.save()
    path = directory / f"{name}.pdf"
    path.write_bytes(buffer.getvalue())
    return path


def money(text: str) -> Decimal:
    """'¥30,123.45' / '30,123.45' → Decimal('30123.45')."""
    return Decimal(re.sub(r"[^\d.\-]", "", text))


def snap(page: Page, directory: Path, name: str) -> None:
    page.screenshot(path=str(directory / f"{name}.png"), full_page=True)


def assert_recorded(loan_id: int, verb: str, *, to_status: str, actor: Any) -> None:
    """The transition left its stage event and its (hash-chained) audit event, by the right person."""
    event = LoanStageEvent.objects.filter(loan_id=loan_id, transition=verb).order_by("-id").first()
    assert event is not None, f"no LoanStageEvent for {verb}"
    assert event.to_status == to_status
    assert event.actor_id == actor.pk, f"{verb} by {event.actor_id}, expected {actor.pk}"
    audit = AuditEvent.objects.filter(action=f"loan.{verb}", subject_id=str(loan_id)).order_by("-id").first()
    assert audit is not None, f"no AuditEvent loan.{verb}"
    assert audit.actor_id == actor.pk
    assert audit.after.get("status") == to_status


def expect_bo_status(page: Page, status: str) -> None:
    """The back-office loan page (or a transition form) shows the loan's status badge."""
    expect(page.locator(f".badge.status-{status}").first).to_have_text(str(S(status).label))


def open_loan_from_queue(page: Page, loan: Loan, status: str) -> None:
    """待办 → the loan's row in its status group → the loan page."""
    page.goto("/backoffice/")
    group = page.locator(f"#queue-{status}")
    group.get_by_role("link", name=loan.reference, exact=True).click()
    expect(page).to_have_url(re.compile(rf"/backoffice/loans/{loan.pk}/$"))
    expect_bo_status(page, status)


def run_action(page: Page, transition: str, label: str, fill: dict[str, str] | None = None) -> Page:
    """Click the action button on the loan page, fill its form (loaded into the action panel) and submit."""
    page.locator("a.btn", has_text=label).first.click()
    form = page.locator(f"#transition-{transition} form")
    expect(form).to_be_visible()
    for name, value in (fill or {}).items():
        form.locator(f"[name={name}]").fill(value)
    return form


def submit(page: Page, form: Any, loan: Loan) -> None:
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(rf"/backoffice/loans/{loan.pk}/(#.*)?$"))
    expect(page.locator(".messages .success, .messages li").first).to_be_visible()


def fill_date_if_empty(form: Any, name: str, iso_date: str) -> bool:
    """Fill a prefilled <input type=date> the browser rejected; True if it had to (see the note below)."""
    field = form.locator(f"input[name={name}]")
    if field.input_value():
        return False
    field.fill(iso_date)
    return True


# --- the test ----------------------------------------------------------------------------------


def test_loan_lifecycle_through_the_browser(open_session: Any, screenshot_dir: Path, tmp_path: Path) -> None:
    # Setup in Python: one user per staff role, a product, a customer with a portal login.
    ops = make_staff(roles.OPS, username="e2e-ops", first_name="运营小王")
    risk = make_staff(roles.RISK, username="e2e-risk", first_name="风控老李")
    manager = make_staff(roles.MANAGER, username="e2e-manager", first_name="经理张总")
    from applications.services import customer_create

    customer = customer_create(actor=ops, data=customer_data(name="王小明"), portal_password=PASSWORD)
    customer_user = get_user_model().objects.get(pk=customer.user_id)
    assert customer.phone not in customer_user.username  # the portal login is the phone, found by its hash
    product = Product.objects.create(
        code="e2e-personal",
        name="个人消费贷（E2E）",
        applicant_type=ApplicantType.INDIVIDUAL,
        min_amount=Decimal("10000.00"),
        max_amount=Decimal("200000.00"),
        min_term_months=3,
        max_term_months=36,
        min_rate=Decimal("0.072000"),
        max_rate=Decimal("0.180000"),
        repayment_methods=["equal_installment", "equal_principal"],
        required_documents=["id_front", "id_back", "income_proof", "credit_auth"],
    )
    date_fields_refilled: list[str] = []

    # 1. customer (portal): apply, upload every required document, submit -------------------------
    page = open_session("customer", customer.phone, PASSWORD)
    page.get_by_role("link", name="申请贷款").first.click()
    expect(page).to_have_url(re.compile(r"/portal/apply/$"))
    page.select_option("select[name=product]", str(product.pk))
    page.fill("input[name=requested_amount]", str(REQUESTED_AMOUNT))
    page.fill("input[name=requested_term_months]", str(TERM_MONTHS))
    page.fill("input[name=purpose]", "家庭装修")
    page.fill("input[name=repayment_source]", "工资收入")
    page.get_by_role("button", name="创建申请").click()
    expect(page).to_have_url(re.compile(r"/portal/loans/\d+/$"))
    loan_id = int(re.search(r"/portal/loans/(\d+)/", page.url).group(1))  # type: ignore[union-attr]
    loan = Loan.objects.get(pk=loan_id)
    assert loan.customer_id == customer.pk and loan.status == S.DRAFT
    expect(page.locator(".badge.status-draft").first).to_be_visible()
    for doc_type in product.required_documents:
        slot = page.locator(f"li[data-missing='{doc_type}']")
        slot.locator("input[type=file]").set_input_files(str(pdf_file(tmp_path, doc_type)))
        slot.locator("button[type=submit]").click()
        expect(page.locator(f"li[data-doc-type='{doc_type}'].is-done")).to_be_visible()
    assert set(loan.documents.values_list("doc_type", flat=True)) == set(product.required_documents)
    snap(page, screenshot_dir, "01a-portal-documents")
    page.get_by_role("button", name="提交申请").click()
    expect(page.locator(".badge.status-submitted").first).to_have_text("已受理")
    snap(page, screenshot_dir, "01b-portal-submitted")
    assert_recorded(loan_id, "submit", to_status=S.SUBMITTED, actor=customer_user)
    loan.refresh_from_db()

    # 2. ops (back office): find it in the queue, start the risk review -----------------------------
    page = open_session("staff", ops.username, PASSWORD)
    open_loan_from_queue(page, loan, S.SUBMITTED)
    form = run_action(page, "start_review", "提交风控", {"reason": "材料齐全，信息一致"})
    submit(page, form, loan)
    expect_bo_status(page, S.RISK_REVIEW)
    snap(page, screenshot_dir, "02-ops-start-review")
    assert_recorded(loan_id, "start_review", to_status=S.RISK_REVIEW, actor=ops)

    # 3. risk: approve with a note, then make the (prefilled) offer ---------------------------------
    page = open_session("staff", risk.username, PASSWORD)
    open_loan_from_queue(page, loan, S.RISK_REVIEW)
    form = run_action(page, "approve", "审批通过", {"note": "收入稳定，负债率低，同意授信"})
    expect(form.locator("input[name=approved_amount]")).to_have_value(re.compile(r"^30000(\.00)?$"))
    submit(page, form, loan)
    expect_bo_status(page, S.APPROVED)
    expect(page.locator("#reviews")).to_contain_text("收入稳定，负债率低，同意授信")
    assert_recorded(loan_id, "approve", to_status=S.APPROVED, actor=risk)

    form = run_action(page, "make_offer", "出具要约")
    expect(form.locator("input[name=principal]")).to_have_value(re.compile(r"^30000(\.00)?$"))
    expect(form.locator("input[name=term_months]")).to_have_value(str(TERM_MONTHS))
    expect(form.locator("input[name=annual_rate]")).to_have_value("7.2")
    from underwriting.selectors import offer_defaults

    first_due = offer_defaults(loan)["first_due_date"].isoformat()
    if fill_date_if_empty(form, "first_due_date", first_due):
        date_fields_refilled.append("make_offer.first_due_date")
    snap(page, screenshot_dir, "03a-risk-offer-form")
    submit(page, form, loan)
    expect_bo_status(page, S.OFFERED)
    snap(page, screenshot_dir, "03b-risk-offered")
    assert_recorded(loan_id, "make_offer", to_status=S.OFFERED, actor=risk)
    loan.refresh_from_db()
    assert loan.principal == REQUESTED_AMOUNT and loan.annual_rate == Decimal("0.072") and loan.apr

    # 4. customer: see the offer (annualised rate, schedule), accept; read the contract and sign ------
    page = open_session("customer", customer.phone, PASSWORD)
    page.locator(f"a[data-loan-id='{loan_id}']").click()
    offer = page.locator("[data-testid=offer]")
    expect(offer).to_contain_text("年化利率")
    expect(offer).to_contain_text("7.2")  # the nominal rate; the APR of an equal-installment loan is the same
    expect(offer.locator("tbody tr")).to_have_count(TERM_MONTHS)
    expect(offer.locator("tfoot")).to_contain_text("30,000.00")
    snap(page, screenshot_dir, "04a-portal-offer")
    offer.get_by_role("button", name="接受方案").click()
    expect(page.locator(".badge.status-contract_pending").first).to_be_visible()
    assert_recorded(loan_id, "accept_offer", to_status=S.CONTRACT_PENDING, actor=customer_user)

    contract_card = page.locator("[data-testid=contract]")
    contract_link = contract_card.get_by_role("link", name="查看合同（PDF）")
    pdf = page.context.request.get(contract_link.get_attribute("href"))
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf" and pdf.body().startswith(b"%PDF")
    contract_card.locator("input[name=consent]").check()
    snap(page, screenshot_dir, "04b-portal-contract")
    contract_card.get_by_role("button", name="确认签署").click()
    expect(page.locator(".badge.status-contract_signed").first).to_be_visible()
    expect(page.locator("[data-testid=contract]")).to_contain_text("签署时间")
    assert_recorded(loan_id, "sign_contract", to_status=S.CONTRACT_SIGNED, actor=customer_user)

    # 5. ops: prepare the disbursement (maker) ------------------------------------------------------
    page = open_session("staff", ops.username, PASSWORD)
    open_loan_from_queue(page, loan, S.CONTRACT_SIGNED)
    form = run_action(
        page, "prepare_disbursement", "发起放款", {"bank_name": "中国工商银行北京分行", "bank_account": BANK_ACCOUNT}
    )
    submit(page, form, loan)
    expect_bo_status(page, S.DISBURSEMENT_PENDING)
    expect(page.locator("#contract")).to_contain_text("中国工商银行北京分行")
    expect(page.locator("#contract")).not_to_contain_text(BANK_ACCOUNT)  # masked
    snap(page, screenshot_dir, "05-ops-disbursement-prepared")
    assert_recorded(loan_id, "prepare_disbursement", to_status=S.DISBURSEMENT_PENDING, actor=ops)

    # 6. manager: confirm the disbursement (checker ≠ maker) ----------------------------------------
    page = open_session("staff", manager.username, PASSWORD)
    open_loan_from_queue(page, loan, S.DISBURSEMENT_PENDING)
    form = run_action(page, "disburse", "放款复核", {"reason": "已核对收款账户"})
    form.locator("input[name=confirm]").check()
    submit(page, form, loan)
    expect_bo_status(page, S.ACTIVE)
    expect(page.locator("#schedule tbody tr")).to_have_count(TERM_MONTHS)
    snap(page, screenshot_dir, "06-manager-disbursed")
    assert_recorded(loan_id, "disburse", to_status=S.ACTIVE, actor=manager)

    # 7. ops: record repayments until the loan settles (the first installment, then the rest) ---------
    page = open_session("staff", ops.username, PASSWORD)
    page.goto("/backoffice/loans/")
    page.fill("input[name=q]", loan.reference)
    page.keyboard.press("Enter")
    page.get_by_role("link", name=loan.reference, exact=True).first.click()
    expect_bo_status(page, S.ACTIVE)
    schedule = page.locator("#schedule")
    total_due = money(schedule.locator("tfoot td").nth(2).inner_text())
    first_installment = money(schedule.locator("tbody tr").first.locator("td").nth(4).inner_text())
    assert 0 < first_installment < total_due
    paid = Decimal("0")
    for amount, reference in ((first_installment, "E2E-RP-001"), (None, "E2E-RP-002")):
        amount = amount if amount is not None else total_due - paid
        page.locator("#schedule").get_by_role("link", name="登记还款").click()
        expect(page).to_have_url(re.compile(rf"/backoffice/loans/{loan_id}/repayments/new/$"))
        repayment_form = page.locator("form.form")
        repayment_form.locator("input[name=amount]").fill(str(amount))
        repayment_form.locator("input[name=reference]").fill(reference)
        from servicing.services import business_date_get

        if fill_date_if_empty(repayment_form, "paid_on", business_date_get().isoformat()):
            date_fields_refilled.append("repayment.paid_on")
        repayment_form.get_by_role("button", name="登记还款").click()
        expect(page).to_have_url(re.compile(rf"/backoffice/loans/{loan_id}/#repayments$"))
        expect(page.locator("#repayments")).to_contain_text(reference)
        paid += amount
        if paid < total_due:
            expect_bo_status(page, S.ACTIVE)
            expect(page.locator("#schedule tfoot td").nth(3)).to_have_text(f"{paid:,.2f}")
    expect_bo_status(page, S.SETTLED)
    snap(page, screenshot_dir, "07-ops-settled")
    assert_recorded(loan_id, "settle", to_status=S.SETTLED, actor=ops)
    assert AuditEvent.objects.filter(action="repayment.record", subject_id=str(loan_id)).count() == 2

    # 8. ops: archive ----------------------------------------------------------------------------
    form = run_action(page, "archive", "归档", {"reason": "结清资料已核对"})
    submit(page, form, loan)
    expect_bo_status(page, S.ARCHIVED)
    snap(page, screenshot_dir, "08-ops-archived")
    assert_recorded(loan_id, "archive", to_status=S.ARCHIVED, actor=ops)

    # The customer's portal timeline ends at 已结清.
    page = open_session("customer", customer.phone, PASSWORD)
    page.goto(f"/portal/loans/{loan_id}/")
    settled = page.locator(".timeline li[data-stage='settled']")
    expect(settled).to_contain_text("已结清")
    expect(settled).to_have_class(re.compile(r"\bdone\b"))
    expect(page.locator(".badge.status-archived").first).to_have_text("已结清")
    snap(page, screenshot_dir, "09-portal-timeline-settled")

    loan.refresh_from_db()
    assert loan.status == S.ARCHIVED
    assert list(LoanStageEvent.objects.filter(loan_id=loan_id).values_list("transition", flat=True)) == [
        "submit",
        "start_review",
        "approve",
        "make_offer",
        "accept_offer",
        "sign_contract",
        "prepare_disbursement",
        "disburse",
        "settle",
        "archive",
    ]
    # Known UI gap (reported): the back office renders <input type="date"> values in the zh-hans input format
    # (2025/08/01), which Chromium rejects, so prefilled dates arrive empty and had to be typed in again.
    print(f"\nscreenshots: {screenshot_dir}; date fields re-entered by hand: {date_fields_refilled or 'none'}")
