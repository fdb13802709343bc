"""The contract PDF: a real PDF, the CJK TrueType font embedded, Chinese text extractable, deterministic."""

from __future__ import annotations

import re
import subprocess
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from applications.models import ApplicantType, Customer, Loan
from contracts.pdf import render_contract_pdf
from loanops.schedule import ScheduleRow, build_schedule
from underwriting.tests.helpers import make_customer, make_product

D = Decimal


def offered_loan_in_memory(*, kind: str = ApplicantType.INDIVIDUAL, term: int = 12, **product: Any) -> Loan:
    """An unsaved loan with offer terms (the renderer reads no database rows)."""
    customer = Customer(
        kind=kind,
        name="张三" if kind == ApplicantType.INDIVIDUAL else "北京示例科技有限公司",
        id_number="11010519491231002X" if kind == ApplicantType.INDIVIDUAL else "",
        uscc="91110105MA01ABCD1X" if kind == ApplicantType.ENTERPRISE else "",
        legal_representative="王五" if kind == ApplicantType.ENTERPRISE else "",
        phone="13912345678",
        address="北京市朝阳区建国路 88 号 <A&B 座>",
        industry="I",
    )
    defaults: dict[str, Any] = {
        "penalty_surcharge": D("0.5"),
        "origination_fee_rate": D("0"),
        "prepayment_fee_rate": D("0"),
        "compound_overdue_interest": False,
    }
    defaults.update(product)
    from applications.models import Product

    return Loan(
        reference="LN20280115000042",
        customer=customer,
        product=Product(code="t", name="测试产品", **defaults),
        requested_amount=D("100000.00"),
        requested_term_months=term,
        purpose="家庭装修 & 家电购置",
        principal=D("100000.00"),
        annual_rate=D("0.120000"),
        term_months=term,
        repayment_method="equal_installment",
        first_due_date=date(2028, 2, 15),
        apr=D("0.120000"),
    )


def render(loan: Loan, generated_on: date = date(2028, 1, 15)) -> tuple[bytes, list[ScheduleRow]]:
    assert loan.principal is not None and loan.annual_rate is not None and loan.term_months is not None
    assert loan.repayment_method is not None and loan.first_due_date is not None
    rows = build_schedule(
        principal=loan.principal,
        annual_rate=loan.annual_rate,
        term_months=loan.term_months,
        method=loan.repayment_method,
        first_due_date=loan.first_due_date,
    )
    return (
        render_contract_pdf(
            loan=loan, schedule_rows=rows, contract_number="HTLN20280115000042-1", generated_on=generated_on
        ),
        rows,
    )


def pdftotext(pdf: bytes, tmp_path: Path, *, layout: bool = False) -> str:
    path = tmp_path / "contract.pdf"
    path.write_bytes(pdf)
    args = ["pdftotext", *(["-layout"] if layout else []), str(path), "-"]
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def pdffonts(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "fonts.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdffonts", str(path)], check=True, capture_output=True, text=True).stdout


def test_contract_is_a_pdf_with_the_cjk_truetype_font_embedded(tmp_path: Path) -> None:
    pdf, _ = render(offered_loan_in_memory())
    assert pdf.startswith(b"%PDF-1.")
    assert pdf.rstrip().endswith(b"%%EOF")
    assert b"/FontFile2" in pdf  # an embedded TrueType font program
    # reportlab names the embedded subset after the font's own PostScript name (WenQuanYi Zen Hei),
    # not after the name it is registered under ("WQYZenHei"); pdffonts shows it embedded and subset.
    assert re.search(rb"/BaseFont /[A-Z]{6}\+WenQuanYiZenHei", pdf)
    fonts = pdffonts(pdf, tmp_path)
    embedded = [line for line in fonts.splitlines() if "WenQuanYiZenHei" in line]
    assert embedded and all(" yes yes yes " in line for line in embedded)
    # (reportlab always lists its default Helvetica in the shared font resources; the text never uses it)
    assert b"STSong" not in pdf


def test_text_is_extractable_and_complete(tmp_path: Path) -> None:
    pdf, rows = render(offered_loan_in_memory())
    text = pdftotext(pdf, tmp_path)
    flat = re.sub(r"\s+", "", text)
    for expected in (
        "个人借款合同",
        "借款合同",
        "HTLN20280115000042-1",
        "LoanOps示范贷款机构",
        "张三",
        "110105********002X",
        "139****5678",
        "100,000.00",
        "壹拾万元整",
        "12.00%",  # 年利率 and 年化利率(IRR)
        "年化利率（IRR）",
        "12个月",
        "等额本息",
        "2028年02月15日",
        "罚息",
        "18.00%",  # penalty rate = 12 % × (1 + 50 %)
        "期次",
        "剩余本金",
        "借款用途",
        "提前还款",
        "逾期责任",
        "争议解决",
        "家庭装修&家电购置",  # markup characters are escaped, not swallowed
        "<A&B座>",
        "2028年01月15日",
    ):
        assert expected in flat, expected
    assert "11010519491231002X" not in flat  # the full ID number never appears
    for row in rows:
        assert row.due_date.isoformat() in flat


def test_enterprise_contract(tmp_path: Path) -> None:
    pdf, _ = render(offered_loan_in_memory(kind=ApplicantType.ENTERPRISE))
    flat = re.sub(r"\s+", "", pdftotext(pdf, tmp_path))
    assert "企业借款合同" in flat
    assert "91110105MA01ABCD1X" in flat
    assert "王五" in flat


def test_fees_and_compounding_appear_when_set(tmp_path: Path) -> None:
    loan = offered_loan_in_memory(
        origination_fee_rate=D("0.02"), prepayment_fee_rate=D("0.01"), compound_overdue_interest=True
    )
    flat = re.sub(r"\s+", "", pdftotext(render(loan)[0], tmp_path))
    assert "服务费" in flat and "2,000.00" in flat
    assert "提前偿还本金的1.00%" in flat
    assert "复利" in flat


def test_the_rate_cap_and_lpr_the_offer_used_are_printed(tmp_path: Path) -> None:
    loan = offered_loan_in_memory()
    loan.rate_cap, loan.lpr_used = D("0.120000"), D("0.030000")
    flat = re.sub(r"\s+", "", pdftotext(render(loan)[0], tmp_path))
    assert "年化利率上限12.00%（要约时适用的一年期贷款市场报价利率3.00%的4倍）" in flat
    loan.lpr_used = None
    loan.rate_cap = D("0.240000")
    flat = re.sub(r"\s+", "", pdftotext(render(loan)[0], tmp_path))
    assert "年化利率上限24.00%（监管规定的年化利率上限）" in flat


def test_schedule_header_repeats_on_every_page(tmp_path: Path) -> None:
    pdf, rows = render(offered_loan_in_memory(term=36))
    text = pdftotext(pdf, tmp_path, layout=True)
    pages = [page for page in text.split("\f") if page.strip()]
    assert len(pages) >= 3
    schedule_pages = [page for page in pages if re.search(r"\d{4}-\d{2}-\d{2}", page)]
    assert len(schedule_pages) >= 2
    for page in schedule_pages:
        header = [line for line in page.splitlines() if "期次" in line]
        assert len(header) == 1
        assert re.search(r"期次\s+还款日\s+本金\s+利息\s+应还合计\s+剩余本金", header[0])
    assert rows[-1].due_date.isoformat() in text
    total_interest = sum((row.interest for row in rows), D(0))
    assert re.search(rf"合计\s+100,000\.00\s+{total_interest:,}", text)  # the totals row


def test_same_inputs_give_the_same_bytes() -> None:
    first, _ = render(offered_loan_in_memory())
    second, _ = render(offered_loan_in_memory())
    assert first == second
    later, _ = render(offered_loan_in_memory(), generated_on=date(2028, 1, 16))
    assert later != first


@pytest.mark.django_db
def test_render_from_saved_rows(tmp_path: Path) -> None:
    """The renderer also works on saved rows (what loan_accept_offer passes)."""
    loan = offered_loan_in_memory()
    customer = make_customer(name="赵六")
    loan.customer = customer
    loan.product = make_product()
    pdf, _ = render(loan)
    assert "赵六" in pdftotext(pdf, tmp_path)
