"""The risk assessment report as a PDF (reportlab platypus, A4, the embedded WenQuanYi Zen Hei font).

Internal document for the file and the auditor: score, grade, every characteristic's points, every rule result
with its reason code, the approvals and the reviewer's notes. Personal data is masked.
"""

from __future__ import annotations

import io
from typing import Any

from django.utils import timezone
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from compliance.pii import mask_id_number
from loanops.money import format_money
from loanops.pdf import escape, register_cjk_font
from underwriting.assessment import RiskAssessment
from underwriting.risk_selectors import approval_steps, assessment_report

_RULE = colors.HexColor("#9aa5b1")
_HEADER_BG = colors.HexColor("#e4e7eb")
_HIT = colors.HexColor("#fde8e8")


def _styles(font: str) -> dict[str, ParagraphStyle]:
    return {
        "title": ParagraphStyle("title", fontName=font, fontSize=16, leading=22, alignment=1, spaceAfter=4 * mm),
        "h2": ParagraphStyle("h2", fontName=font, fontSize=11.5, leading=16, spaceBefore=4 * mm, spaceAfter=2 * mm),
        "body": ParagraphStyle("body", fontName=font, fontSize=9, leading=13),
        "cell": ParagraphStyle("cell", fontName=font, fontSize=8.5, leading=11.5),
        "muted": ParagraphStyle("muted", fontName=font, fontSize=8, leading=11, textColor=colors.HexColor("#52606d")),
    }


def _table(rows: list[list[Any]], widths: list[float], *, font: str, hit_rows: tuple[int, ...] = ()) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1)
    style = [
        ("FONTNAME", (0, 0), (-1, -1), font),
        ("FONTSIZE", (0, 0), (-1, -1), 8.5),
        ("GRID", (0, 0), (-1, -1), 0.4, _RULE),
        ("BACKGROUND", (0, 0), (-1, 0), _HEADER_BG),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
    style += [("BACKGROUND", (0, row), (-1, row), _HIT) for row in hit_rows]
    table.setStyle(TableStyle(style))
    return table


def assessment_pdf(assessment: RiskAssessment) -> bytes:
    """The report of one assessment as PDF bytes."""
    font = register_cjk_font()
    st = _styles(font)
    report = assessment_report(assessment)
    loan = assessment.loan
    customer = loan.customer
    story: list[Any] = [Paragraph("风险评估报告", st["title"])]

    def p(text: str, style: str = "cell") -> Paragraph:
        return Paragraph(escape(text), st[style])

    summary = [
        [p("贷款编号"), p(loan.reference or str(loan.pk)), p("评估时间"),
         p(timezone.localtime(assessment.created_at).strftime("%Y-%m-%d %H:%M"))],
        [p("借款人"), p(customer.name), p("证件号码"), p(mask_id_number(customer.id_number or customer.uscc))],
        [p("产品"), p(loan.product.name), p("申请金额"), p(f"{format_money(loan.requested_amount)} 元")],
        [p("申请期限"), p(f"{loan.requested_term_months} 个月"), p("评分卡"),
         p(f"{assessment.scorecard.name} v{assessment.scorecard.version}")],
        [p("评分"), p(str(assessment.score)), p("风险等级"), p(f"{assessment.grade} 级")],
        [p("负债收入比"), p(report["dti_text"]), p("结论"),
         p("命中拒绝规则，不得审批通过" if assessment.knocked_out else "未命中拒绝规则")],
    ]  # fmt: skip
    table = Table(summary, colWidths=[24 * mm, 61 * mm, 24 * mm, 61 * mm])
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, _RULE),
                ("BACKGROUND", (0, 0), (0, -1), _HEADER_BG),
                ("BACKGROUND", (2, 0), (2, -1), _HEADER_BG),
            ]
        )
    )
    story.append(table)

    story.append(Paragraph("评分明细", st["h2"]))
    rows: list[list[Any]] = [[p("评分项"), p("取值"), p("分箱"), p("得分")]]
    rows.append([p("基础分"), p(""), p(""), p(str(report["base_points"]))])
    for line in report["points"]:
        rows.append([p(line["label"]), p(line["value_text"]), p(line["bin"]), p(str(line["points"]))])
    rows.append([p("合计"), p(""), p(""), p(str(assessment.score))])
    story.append(_table(rows, [70 * mm, 35 * mm, 45 * mm, 20 * mm], font=font))

    story.append(Paragraph("规则结果", st["h2"]))
    rule_rows: list[list[Any]] = [[p("类型"), p("原因代码"), p("结果"), p("说明")]]
    hit_rows = []
    for result in [*report["knockouts"], *report["warnings"]]:
        kind = "拒绝规则" if result["kind"] == "knockout" else "预警提示"
        if result["hit"]:
            hit_rows.append(len(rule_rows))
        rule_rows.append([p(kind), p(result["code"]), p("命中" if result["hit"] else "通过"), p(result["message"])])
    story.append(_table(rule_rows, [20 * mm, 38 * mm, 14 * mm, 98 * mm], font=font, hit_rows=tuple(hit_rows)))

    steps = approval_steps(assessment)
    if steps:
        story.append(Paragraph("审批记录", st["h2"]))
        step_rows: list[list[Any]] = [[p("级别"), p("审批人"), p("批准金额"), p("条件与意见")]]
        for step in steps:
            name = step.approver.get_full_name() or step.approver.get_username()
            text = f"条件：{step.conditions}；意见：{step.note}" if step.conditions else step.note
            step_rows.append(
                [p(f"第 {step.level} 级"), p(name), p(f"{format_money(step.approved_amount)} 元"), p(text)]
            )
        story.append(_table(step_rows, [16 * mm, 30 * mm, 30 * mm, 94 * mm], font=font))

    story.append(Paragraph("审查意见", st["h2"]))
    story.append(p(assessment.notes or "（暂无）", "body"))
    story.append(Spacer(1, 6 * mm))
    runner = assessment.run_by.get_full_name() or assessment.run_by.get_username()
    story.append(
        p(f"评估人：{runner}　触发方式：{assessment.get_trigger_display()}　本报告为内部风控文件，请勿外传。", "muted")
    )

    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=f"风险评估报告 {loan.reference or loan.pk}",
        author="LoanOps",
        invariant=1,
    )
    document.build(story)
    return buffer.getvalue()
