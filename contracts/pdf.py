"""The loan contract as a PDF (reportlab platypus, A4, Simplified Chinese throughout).

The CJK font is the TrueType WenQuanYi Zen Hei from ``settings.LOANOPS_CJK_FONT``, embedded as a subset
(not a non-embedded CID font such as STSong-Light, which many viewers cannot show). The document is built
with ``invariant=1``: the same inputs give the same bytes, so the SHA-256 recorded at generation identifies
the contract exactly. Only ``generated_on`` (printed as the contract date) changes the output day to day.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Final

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    CondPageBreak,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from applications.models import ApplicantType, Loan
from compliance.pii import mask_id_number, mask_phone
from contracts.numerals import amount_in_chinese_capitals
from loanops.money import ZERO, format_money, format_rate_percent, to_decimal
from loanops.pdf import escape, register_cjk_font
from loanops.schedule import ScheduleRow
from loanops.types import RepaymentMethod

LENDER_NAME: Final = "LoanOps 示范贷款机构"
LENDER_ADDRESS: Final = "北京市朝阳区示范路 1 号"

_INK: Final = colors.HexColor("#1f2933")
_MUTED: Final = colors.HexColor("#52606d")
_RULE: Final = colors.HexColor("#9aa5b1")
_HEADER_BG: Final = colors.HexColor("#e4e7eb")
_LABEL_BG: Final = colors.HexColor("#f5f7fa")
_ZEBRA: Final = colors.HexColor("#fafbfc")
_ACCENT: Final = "#0b4f8a"  # article headings


# --- small formatting helpers ---------------------------------------------------------------------


def _date_cn(day: date) -> str:
    return f"{day.year} 年 {day.month:02d} 月 {day.day:02d} 日"


def _yuan(amount: Decimal) -> str:
    return f"人民币 {format_money(amount)} 元"


# --- styles -----------------------------------------------------------------------------------------


def _styles(font: str) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle(
        "body", fontName=font, fontSize=10, leading=16, textColor=_INK, wordWrap="CJK", alignment=TA_LEFT
    )
    return {
        "body": base,
        "title": ParagraphStyle("title", parent=base, fontSize=20, leading=28, alignment=TA_CENTER, spaceAfter=2),
        "subtitle": ParagraphStyle("subtitle", parent=base, fontSize=9, leading=13, textColor=_MUTED),
        "subtitle_right": ParagraphStyle(
            "subtitle_right", parent=base, fontSize=9, leading=13, textColor=_MUTED, alignment=TA_RIGHT
        ),
        "h2": ParagraphStyle("h2", parent=base, fontSize=12, leading=18, spaceBefore=10, spaceAfter=5),
        "clause": ParagraphStyle("clause", parent=base, firstLineIndent=0, spaceAfter=4),
        "cell": ParagraphStyle("cell", parent=base, fontSize=9, leading=13),
        "cell_label": ParagraphStyle("cell_label", parent=base, fontSize=9, leading=13, textColor=_MUTED),
        "cell_head": ParagraphStyle("cell_head", parent=base, fontSize=9, leading=12, alignment=TA_CENTER),
        "num": ParagraphStyle("num", parent=base, fontSize=8.5, leading=11, alignment=TA_RIGHT),
        "num_center": ParagraphStyle("num_center", parent=base, fontSize=8.5, leading=11, alignment=TA_CENTER),
        "small": ParagraphStyle("small", parent=base, fontSize=8.5, leading=13, textColor=_MUTED),
    }


def _kv_table(rows: Sequence[tuple[str, str]], styles: dict[str, ParagraphStyle], width: float) -> Table:
    data = [[Paragraph(label, styles["cell_label"]), Paragraph(escape(value), styles["cell"])] for label, value in rows]
    table = Table(data, colWidths=[34 * mm, width - 34 * mm], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, _RULE),
                ("BACKGROUND", (0, 0), (0, -1), _LABEL_BG),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("TOPPADDING", (0, 0), (-1, -1), 4),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
                ("LEFTPADDING", (0, 0), (-1, -1), 6),
            ]
        )
    )
    return table


# --- sections ---------------------------------------------------------------------------------------


def _parties(loan: Loan, styles: dict[str, ParagraphStyle], width: float) -> list[Any]:
    customer = loan.customer
    is_enterprise = customer.kind == ApplicantType.ENTERPRISE
    borrower_rows: list[tuple[str, str]] = [("借款人（乙方）", customer.name)]
    if is_enterprise:
        borrower_rows.append(("统一社会信用代码", customer.uscc))
        borrower_rows.append(("法定代表人", customer.legal_representative or "—"))
    else:
        borrower_rows.append(("身份证号码", mask_id_number(customer.id_number)))
    borrower_rows.append(("联系电话", mask_phone(customer.phone)))
    if customer.address:
        borrower_rows.append(("住所", customer.address))
    rows: list[tuple[str, str]] = [("出借人（甲方）", LENDER_NAME), ("住所", LENDER_ADDRESS), *borrower_rows]
    return [Paragraph("一、合同当事人", styles["h2"]), _kv_table(rows, styles, width)]


def _key_terms(loan: Loan, rows: Sequence[ScheduleRow], styles: dict[str, ParagraphStyle], width: float) -> list[Any]:
    product = loan.product
    principal = to_decimal(loan.principal or ZERO)
    annual_rate = to_decimal(loan.annual_rate or ZERO)
    surcharge = to_decimal(product.penalty_surcharge)
    penalty_rate = annual_rate * (1 + surcharge)
    total_interest = sum((row.interest for row in rows), ZERO)
    total_payment = sum((row.total for row in rows), ZERO)
    maturity = rows[-1].due_date if rows else loan.first_due_date
    method = RepaymentMethod(loan.repayment_method).label if loan.repayment_method else "—"
    penalty = (
        f"逾期本金自逾期之日起按罚息利率计收罚息，罚息利率 = 合同年利率 × (1 + {format_rate_percent(surcharge)})"
        f" = 年利率 {format_rate_percent(penalty_rate)}，按日计算（日利率 = 年利率 ÷ 360）"
    )
    if product.compound_overdue_interest:
        penalty += "；对逾期未付的利息按罚息利率计收复利"
    fee_rate = to_decimal(product.origination_fee_rate)
    terms: list[tuple[str, str]] = [
        ("借款本金", f"{_yuan(principal)}（大写：人民币{amount_in_chinese_capitals(principal)}）"),
        ("借款用途", loan.purpose),
        ("年利率", f"{format_rate_percent(annual_rate)}（单利，月利率 = 年利率 ÷ 12）"),
        ("年化利率（IRR）", f"{format_rate_percent(loan.apr)}" if loan.apr is not None else "—"),
        ("年化利率上限", _rate_cap_text(loan)),
        ("借款期限", f"{loan.term_months} 个月"),
        ("还款方式", str(method)),
        ("首期还款日", _date_cn(loan.first_due_date) if loan.first_due_date else "—"),
        ("到期日", _date_cn(maturity) if maturity else "—"),
        ("利息总额", _yuan(total_interest)),
        ("应还款总额", _yuan(total_payment)),
    ]
    if fee_rate > 0:
        fee = principal * fee_rate
        terms.append(
            ("服务费", f"按借款本金的 {format_rate_percent(fee_rate)} 一次性收取，计{_yuan(fee)}，于放款时扣除")
        )
    terms.append(("罚息规则", penalty))
    return [Paragraph("二、借款主要条款", styles["h2"]), _kv_table(terms, styles, width)]


def _rate_cap_text(loan: Loan) -> str:
    """The legal cap the offer was checked against, and the LPR it came from (recorded on the loan)."""
    if loan.rate_cap is None:
        return "—"
    cap = format_rate_percent(loan.rate_cap)
    if loan.lpr_used is not None:
        return f"{cap}（要约时适用的一年期贷款市场报价利率 {format_rate_percent(loan.lpr_used)} 的 4 倍）"
    return f"{cap}（监管规定的年化利率上限）"


def _schedule(rows: Sequence[ScheduleRow], styles: dict[str, ParagraphStyle], width: float) -> list[Any]:
    head = [Paragraph(text, styles["cell_head"]) for text in ("期次", "还款日", "本金", "利息", "应还合计", "剩余本金")]
    data: list[list[Any]] = [head]
    for row in rows:
        data.append(
            [
                Paragraph(str(row.period), styles["num_center"]),
                Paragraph(row.due_date.isoformat(), styles["num_center"]),
                Paragraph(format_money(row.principal), styles["num"]),
                Paragraph(format_money(row.interest), styles["num"]),
                Paragraph(format_money(row.total), styles["num"]),
                Paragraph(format_money(row.remaining), styles["num"]),
            ]
        )
    data.append(
        [
            Paragraph("合计", styles["num_center"]),
            Paragraph("", styles["num"]),
            Paragraph(format_money(sum((r.principal for r in rows), ZERO)), styles["num"]),
            Paragraph(format_money(sum((r.interest for r in rows), ZERO)), styles["num"]),
            Paragraph(format_money(sum((r.total for r in rows), ZERO)), styles["num"]),
            Paragraph("", styles["num"]),
        ]
    )
    fractions = (0.09, 0.17, 0.185, 0.17, 0.2, 0.185)
    table = Table(data, colWidths=[width * f for f in fractions], repeatRows=1, hAlign="LEFT")
    commands: list[tuple[Any, ...]] = [
        ("GRID", (0, 0), (-1, -1), 0.4, _RULE),
        ("BACKGROUND", (0, 0), (-1, 0), _HEADER_BG),
        ("BACKGROUND", (0, -1), (-1, -1), _HEADER_BG),
        ("NOSPLIT", (0, -2), (-1, -1)),  # never leave the totals row alone on a page
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
    ]
    commands.extend(("BACKGROUND", (0, i), (-1, i), _ZEBRA) for i in range(2, len(data) - 1, 2))
    table.setStyle(TableStyle(commands))
    note = Paragraph(
        "注：金额单位为人民币元；每期金额四舍五入至分，末期本金按剩余本金结清。实际还款日遇节假日不顺延。",
        styles["small"],
    )
    return [CondPageBreak(40 * mm), Paragraph("三、还款计划", styles["h2"]), note, Spacer(1, 1.5 * mm), table]


def _clauses(loan: Loan, styles: dict[str, ParagraphStyle]) -> list[Any]:
    product = loan.product
    prepayment_fee = to_decimal(product.prepayment_fee_rate)
    prepayment = (
        f"乙方可提前五个工作日书面或通过甲方服务渠道申请提前偿还全部或部分借款，甲方按提前偿还本金的 "
        f"{format_rate_percent(prepayment_fee)} 收取提前还款手续费；利息按实际占用天数计算。"
        if prepayment_fee > 0
        else "乙方可提前五个工作日书面或通过甲方服务渠道申请提前偿还全部或部分借款，甲方不收取提前还款手续费；"
        "利息按实际占用天数计算。"
    )
    articles = [
        (
            "第一条　借款用途",
            f"乙方承诺本合同项下借款仅用于：{escape(loan.purpose)}。未经甲方书面同意，乙方不得改变借款用途，"
            "不得将借款用于购房、证券、期货等投资，或用于任何违法违规用途。",
        ),
        (
            "第二条　还款",
            "乙方应按本合同第三部分《还款计划》所列的还款日和金额按期足额还款。乙方的还款按照实现债权的费用、"
            "罚息、利息、本金的顺序清偿（《中华人民共和国民法典》第五百六十一条）。",
        ),
        ("第三条　提前还款", prepayment),
        (
            "第四条　逾期责任",
            "乙方未按期足额还款的，逾期部分自逾期之日起按本合同约定的罚息规则计收罚息，直至清偿之日止。"
            "逾期期间甲方有权通过电话、短信、信函等合法方式进行催收，并有权依法向金融信用信息基础数据库报送"
            "乙方的逾期信息。乙方连续逾期三期或累计逾期六期的，甲方有权宣布借款提前到期。",
        ),
        (
            "第五条　争议解决",
            "本合同适用中华人民共和国法律。因本合同引起的或与本合同有关的任何争议，双方应友好协商解决；"
            "协商不成的，任何一方均可向甲方住所地有管辖权的人民法院提起诉讼。",
        ),
        (
            "第六条　合同生效",
            "本合同以电子形式订立，自乙方完成电子签署之日起生效。双方确认，电子签名与手写签名或盖章具有同等"
            "法律效力（《中华人民共和国电子签名法》第十四条）。本合同的电子文件以生成时记录的 SHA-256 摘要为准。",
        ),
    ]
    flowables: list[Any] = [Paragraph("四、合同条款", styles["h2"])]
    for heading, text in articles:
        flowables.append(Paragraph(f'<font color="{_ACCENT}"><b>{heading}</b></font>　{text}', styles["clause"]))
    return flowables


def _signatures(loan: Loan, styles: dict[str, ParagraphStyle], width: float) -> list[Any]:
    left = [
        Paragraph("甲方（出借人）：" + LENDER_NAME, styles["body"]),
        Spacer(1, 8 * mm),
        Paragraph("授权代表（签字/盖章）：____________", styles["body"]),
        Spacer(1, 4 * mm),
        Paragraph("日期：______年____月____日", styles["body"]),
    ]
    right = [
        Paragraph("乙方（借款人）：" + escape(loan.customer.name), styles["body"]),
        Spacer(1, 8 * mm),
        Paragraph("签字（电子签名）：____________", styles["body"]),
        Spacer(1, 4 * mm),
        Paragraph("日期：______年____月____日", styles["body"]),
    ]
    table = Table([[left, right]], colWidths=[width / 2, width / 2], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("BOX", (0, 0), (-1, -1), 0.5, _RULE),
                ("LINEAFTER", (0, 0), (0, 0), 0.5, _RULE),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 8),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 10),
                ("LEFTPADDING", (0, 0), (-1, -1), 8),
            ]
        )
    )
    return [KeepTogether([Paragraph("五、签署", styles["h2"]), table])]


# --- the document -------------------------------------------------------------------------------------


def render_contract_pdf(
    *, loan: Loan, schedule_rows: Sequence[ScheduleRow], contract_number: str, generated_on: date
) -> bytes:
    """Render the contract for ``loan``'s offer terms and ``schedule_rows``. Pure: reads no database rows
    beyond ``loan.customer`` and ``loan.product`` and writes nothing."""
    font = register_cjk_font()
    styles = _styles(font)
    is_enterprise = loan.customer.kind == ApplicantType.ENTERPRISE
    title = "企业借款合同" if is_enterprise else "个人借款合同"
    buffer = io.BytesIO()
    margin = 18 * mm
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=20 * mm,
        bottomMargin=18 * mm,
        title=f"{title} {contract_number}",
        author=LENDER_NAME,
        subject=title,
        creator="LoanOps",
        producer="LoanOps",
        invariant=1,
        initialFontName=font,
        lang="zh-CN",
    )
    width = doc.width

    def on_page(canvas: Canvas, document: Any) -> None:
        canvas.saveState()
        canvas.setStrokeColor(_RULE)
        canvas.setLineWidth(0.5)
        top = A4[1] - 13 * mm
        canvas.line(margin, top, A4[0] - margin, top)
        canvas.setFont(font, 8)
        canvas.setFillColor(_MUTED)
        canvas.drawString(margin, top + 2 * mm, f"{LENDER_NAME} · {title}")
        canvas.drawRightString(A4[0] - margin, top + 2 * mm, f"合同编号：{contract_number}")
        bottom = 11 * mm
        canvas.line(margin, bottom + 4 * mm, A4[0] - margin, bottom + 4 * mm)
        canvas.drawCentredString(A4[0] / 2, bottom, f"第 {document.page} 页")
        canvas.restoreState()

    header = Table(
        [
            [
                Paragraph(f"合同编号：{contract_number}", styles["subtitle"]),
                Paragraph(f"生成日期：{_date_cn(generated_on)}", styles["subtitle_right"]),
            ]
        ],
        colWidths=[width / 2, width / 2],
    )
    header.setStyle(TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))
    story: list[Any] = [
        Paragraph(title, styles["title"]),
        header,
        Spacer(1, 3 * mm),
        Paragraph(
            "甲乙双方根据《中华人民共和国民法典》等法律法规，本着平等自愿、诚实信用的原则，经协商一致，"
            "就乙方向甲方借款事宜订立本合同，以资共同遵守。",
            styles["body"],
        ),
        *_parties(loan, styles, width),
        *_key_terms(loan, schedule_rows, styles, width),
        *_schedule(schedule_rows, styles, width),
        *_clauses(loan, styles),
        Spacer(1, 4 * mm),
        *_signatures(loan, styles, width),
    ]
    doc.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return buffer.getvalue()
