"""Payoff: paying the quote settles the loan, future interest is not owed, the certificate PDF is issued."""

from __future__ import annotations

import subprocess
from datetime import date
from decimal import Decimal

import pytest

from applications.models import LoanStatus, Product
from compliance.models import AuditEvent
from loanops.exceptions import DomainError, InputError, InvalidTransition
from servicing.models import (
    JournalEntry,
    Repayment,
    ScheduleVersion,
    SettlementCertificate,
)
from servicing.selectors import loan_balances, payoff_quote, schedule_current, schedule_version_current
from servicing.services import installments_fall_due, loan_payoff, repayment_record
from servicing.tests.conftest import charge, set_business_date

pytestmark = pytest.mark.django_db
D = Decimal


def payoff(loan, actor, amount, **kwargs):
    return loan_payoff(actor=actor, loan_id=loan.pk, amount=amount, channel="bank_transfer", **kwargs)


def counts():
    return (
        ScheduleVersion.objects.count(),
        JournalEntry.objects.count(),
        Repayment.objects.count(),
        SettlementCertificate.objects.count(),
    )


def pdf_text(data: bytes) -> str:
    return subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-", "-"], input=data, capture_output=True, check=True
    ).stdout.decode()


def pdf_fonts(data: bytes, tmp_path) -> str:
    path = tmp_path / "certificate.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdffonts", str(path)], capture_output=True, check=True, text=True).stdout


def test_paying_the_quote_settles_and_issues_the_certificate(active_loan, ops, tmp_path):
    set_business_date(date(2025, 1, 30))  # 15 days after disbursement
    quote = payoff_quote(loan=active_loan, on=date(2025, 1, 30))
    assert quote["items"]["interest_accrued"] == D("60.00")  # 12 000 × 12 % × 15 / 360
    assert quote["total"] == D("12060.00")

    repayment = payoff(active_loan, ops, "12060.00")
    active_loan.refresh_from_db()
    assert active_loan.status == LoanStatus.SETTLED and active_loan.settled_on == date(2025, 1, 30)
    version = schedule_version_current(active_loan)
    assert version.version == 2 and version.reason == "提前结清"
    (row,) = schedule_current(active_loan)
    assert (row.period, row.principal_due, row.interest_due, row.status) == (1, D("12000.00"), D("60.00"), "paid")
    assert repayment.amount == D("12060.00")
    balances = loan_balances(active_loan)
    assert balances["total_receivable"] == D("0.00") and balances["overpayment"] == D("0.00")
    # only the accrued interest ever reached the ledger
    assert sum(line.credit for line in JournalEntry.objects.get(kind="accrual").lines.all()) == D("60.00")
    assert AuditEvent.objects.filter(action="loan.payoff").exists()

    certificate = SettlementCertificate.objects.get(loan=active_loan)
    assert (certificate.principal_paid, certificate.interest_paid, certificate.total_paid) == (
        D("12000.00"),
        D("60.00"),
        D("12060.00"),
    )
    data = certificate.file.open("rb").read()
    text = pdf_text(data)
    assert "结清证明" in text and "全部结清" in text
    assert active_loan.customer.name in text and "12,060.00" in text
    fonts = pdf_fonts(data, tmp_path)
    embedded = [line for line in fonts.splitlines() if "WenQuanYiZenHei" in line]
    assert embedded and all(" yes yes yes " in line for line in embedded)  # TrueType subset, embedded
    assert b"STSong" not in data
    assert AuditEvent.objects.filter(action="settlement_certificate.issue").exists()


def test_booked_interest_beyond_the_accrual_is_waived(active_loan, ops):
    repayment_record(
        actor=ops, loan_id=active_loan.pk, amount="50.00", paid_on=date(2025, 1, 15), channel="bank_transfer"
    )  # books period 1's 120.00 interest, pays 50.00 of it
    set_business_date(date(2025, 1, 30))
    quote = payoff_quote(loan=active_loan, on=date(2025, 1, 30))
    assert quote["items"]["interest_accrued"] == D("10.00")  # 60.00 accrued − 50.00 paid
    assert quote["total"] == D("12010.00")
    payoff(active_loan, ops, "12010.00")
    waiver = JournalEntry.objects.get(kind="waiver")
    assert {(line.account, line.debit, line.credit) for line in waiver.lines.all()} == {
        ("interest_income", D("60.00"), D("0.00")),
        ("interest_receivable", D("0.00"), D("60.00")),
    }
    (row,) = schedule_current(active_loan)
    assert (row.interest_due, row.interest_paid) == (D("60.00"), D("60.00"))


def test_overdue_loan_pays_arrears_penalty_fee_and_accrual(active_loan, ops):
    set_business_date(date(2025, 3, 20))
    installments_fall_due(business_date=date(2025, 3, 20))
    first = schedule_current(active_loan)[0]
    charge(first, "penalty", "8.00")
    Product.objects.filter(pk=active_loan.product_id).update(prepayment_fee_rate=D("0.01"))
    active_loan.refresh_from_db()
    quote = payoff_quote(loan=active_loan, on=date(2025, 3, 20))
    items = quote["items"]
    assert items["interest_due"] == D("230.54") and items["penalty"] == D("8.00")
    # period 3 runs from 03-15: 5 days on the 10 098.16 not yet due
    assert items["interest_accrued"] == D("16.83")
    assert items["prepayment_fee"] == D("100.98")
    payoff(active_loan, ops, str(quote["total"] + D("5.00")))  # 5.00 too much: held as overpayment
    active_loan.refresh_from_db()
    assert active_loan.status == LoanStatus.SETTLED
    rows = schedule_current(active_loan)
    assert len(rows) == 3 and all(r.status == "paid" for r in rows)
    assert rows[2].fee_due == D("100.98") and rows[2].principal_due == D("10098.16")
    assert loan_balances(active_loan)["overpayment"] == D("5.00")


def test_refusals_write_nothing(active_loan, ops, loan_factory):
    set_business_date(date(2025, 1, 30))
    before = counts()
    with pytest.raises(DomainError) as info:
        payoff(active_loan, ops, "12059.99")
    assert info.value.code == "payoff_amount_short" and info.value.http_status == 422
    with pytest.raises(InputError):
        payoff(active_loan, ops, "-1")
    pending = loan_factory()
    with pytest.raises(InvalidTransition) as info:
        payoff(pending, ops, "100.00")
    assert info.value.code == "loan_not_repayable"
    assert counts() == before
    active_loan.refresh_from_db()
    assert active_loan.status == LoanStatus.ACTIVE


def test_a_final_ordinary_repayment_also_issues_the_certificate(active_loan, ops):
    set_business_date(date(2026, 1, 15))
    installments_fall_due(business_date=date(2026, 1, 15))
    total = sum(i.total_due for i in schedule_current(active_loan))
    repayment_record(
        actor=ops, loan_id=active_loan.pk, amount=str(total), paid_on=date(2026, 1, 15), channel="bank_transfer"
    )
    certificate = SettlementCertificate.objects.get(loan=active_loan)
    assert certificate.principal_paid == D("12000.00") and certificate.total_paid == total
