"""The settlement certificate (结清证明) as a PDF — reportlab, A4, the embedded WenQuanYi Zen Hei font.

Pure: renders from the figures it is given and the loan's customer; writes nothing. The font comes from
``contracts.pdf.register_cjk_font`` (TrueType, embedded as a subset; never a non-embedded CID font), and
the borrower's ID number and phone are masked with ``compliance.pii``. Built with ``invariant=1``, so the
same inputs give the same bytes (the SHA-256 stored with the certificate identifies it).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from applications.models import ApplicantType, Loan
from compliance.pii import mask_id_number, mask_phone
from contracts.pdf import LENDER_ADDRESS, LENDER_NAME, escape, register_cjk_font
from loanops.money import format_money

__all__ = ["CertificateFigures", "render_settlement_certificate"]

_INK = colors.HexColor("#1f2933")
_MUTED = colors.HexColor("#52606d")
_RULE = colors.HexColor("#9aa5b1")
_LABEL_BG = colors.HexColor("#f5f7fa")


@dataclass(frozen=True, slots=True)
class CertificateFigures:
    number: str
    settled_on: date
    issued_on: date
    principal: Decimal  # the loan's principal
    principal_paid: Decimal
    interest_paid: Decimal
    penalty_paid: Decimal
    fees_paid: Decimal
    total_paid: Decimal


def _date_cn(day: date) -> str:
    return f"{day.year} 年 {day.month:02d} 月 {day.day:02d} 日"


def _yuan(amount: Decimal) -> str:
    return f"人民币 {format_money(amount)} 元"


def render_settlement_certificate(*, loan: Loan, figures: CertificateFigures) -> bytes:
    """The certificate for a settled ``loan``; see the module docstring."""
    font = register_cjk_font()
    base = ParagraphStyle("body", fontName=font, fontSize=11, leading=19, textColor=_INK, wordWrap="CJK")
    title = ParagraphStyle("title", parent=base, fontSize=22, leading=30, alignment=TA_CENTER)
    small = ParagraphStyle("small", parent=base, fontSize=9, leading=13, textColor=_MUTED)
    right = ParagraphStyle("right", parent=base, alignment=TA_RIGHT)
    cell = ParagraphStyle("cell", parent=base, fontSize=10, leading=15, alignment=TA_LEFT)
    label = ParagraphStyle("label", parent=cell, textColor=_MUTED)

    customer = loan.customer
    if customer.kind == ApplicantType.ENTERPRISE:
        identity = ("统一社会信用代码", mask_id_number(customer.uscc))
    else:
        identity = ("身份证号码", mask_id_number(customer.id_number))
    rows = [
        ("借款人", customer.name),
        identity,
        ("联系电话", mask_phone(customer.phone)),
        ("贷款编号", loan.reference or str(loan.pk)),
        ("贷款产品", loan.product.name),
        ("借款本金", _yuan(figures.principal)),
        ("放款日", _date_cn(loan.disbursed_on) if loan.disbursed_on else "—"),
        ("结清日", _date_cn(figures.settled_on)),
        ("已还本金", _yuan(figures.principal_paid)),
        ("已还利息", _yuan(figures.interest_paid)),
        ("已还罚息", _yuan(figures.penalty_paid)),
        ("已还费用", _yuan(figures.fees_paid)),
        ("还款合计", _yuan(figures.total_paid)),
    ]
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=22 * mm,
        rightMargin=22 * mm,
        topMargin=26 * mm,
        bottomMargin=20 * mm,
        title=f"结清证明 {figures.number}",
        author=LENDER_NAME,
        subject="结清证明",
        creator="LoanOps",
        producer="LoanOps",
        invariant=1,
        initialFontName=font,
        lang="zh-CN",
    )
    table = Table(
        [[Paragraph(name, label), Paragraph(escape(value), cell)] for name, value in rows],
        colWidths=[36 * mm, doc.width - 36 * mm],
        hAlign="LEFT",
    )
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, _RULE),
                ("BACKGROUND", (0, 0), (0, -1), _LABEL_BG),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("TOPPADDING", (0, 0), (-1, -1), 5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
                ("LEFTPADDING", (0, 0), (-1, -1), 6),
            ]
        )
    )
    reference = escape(loan.reference or str(loan.pk))
    statement = (
        f"兹证明借款人 {escape(customer.name)} 在本机构办理的贷款（贷款编号 {reference}），"
        f"借款本金{_yuan(figures.principal)}，已于 {_date_cn(figures.settled_on)} 全部结清。"
        "截至结清日，该笔贷款的本金、利息、罚息及各项费用均已还清，借款人在该笔贷款项下对本机构不再负有任何还款义务。"
    )
    story = [
        Paragraph("结清证明", title),
        Paragraph(f"证明编号：{escape(figures.number)}", ParagraphStyle("num", parent=small, alignment=TA_CENTER)),
        Spacer(1, 10 * mm),
        Paragraph(statement, base),
        Spacer(1, 6 * mm),
        table,
        Spacer(1, 8 * mm),
        Paragraph("特此证明。", base),
        Spacer(1, 14 * mm),
        Paragraph(f"出具机构：{LENDER_NAME}（盖章）", right),
        Paragraph(f"地址：{LENDER_ADDRESS}", right),
        Paragraph(f"出具日期：{_date_cn(figures.issued_on)}", right),
        Spacer(1, 12 * mm),
        Paragraph("本证明由 LoanOps 系统根据贷款账务记录生成，证件号码与联系电话已做脱敏处理。", small),
    ]
    doc.build(story)
    return buffer.getvalue()
