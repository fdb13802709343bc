"""Models of the risk assessment (issue 4, risk review): credit-report summary, scorecards, assessments and the
approval authority matrix. Imported at the end of `underwriting.models` so Django registers them.

Written only by `underwriting.risk_services`. Scorecards are immutable once created: editing one creates the
next version, and every `RiskAssessment` points at the version it used.
"""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.translation import gettext_lazy as _

from applications.models import Loan
from loanops.money import money_field

__all__ = [
    "GRADES",
    "ApprovalAuthority",
    "ApprovalStep",
    "CreditReportSummary",
    "RiskAssessment",
    "Scorecard",
]

GRADES = ("A", "B", "C", "D", "E")


class CreditReportSummary(models.Model):
    """征信摘要 and the figures ops verified from the documents, one per application (entered by ops/risk)."""

    loan = models.OneToOneField(Loan, on_delete=models.PROTECT, related_name="credit_report", verbose_name=_("贷款"))
    report_date = models.DateField(_("征信报告日期"))
    current_overdue_count = models.PositiveSmallIntegerField(_("当前逾期账户数"), default=0)
    overdue_count_24m = models.PositiveSmallIntegerField(_("近24个月逾期次数"), default=0)
    max_dpd_24m = models.PositiveIntegerField(_("近24个月最长逾期天数"), default=0)
    inquiries_6m = models.PositiveSmallIntegerField(_("近6个月查询次数"), default=0)
    total_debt = money_field(verbose_name=_("负债总额"), default=0)
    monthly_debt_payment = money_field(verbose_name=_("现有月还款额"), default=0)
    verified_annual_income = money_field(verbose_name=_("核实年收入（按材料）"), null=True, blank=True)
    collateral_value = money_field(verbose_name=_("抵押/担保物价值"), default=0)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("录入人")
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("征信摘要")
        verbose_name_plural = _("征信摘要")
        constraints = [
            models.CheckConstraint(condition=models.Q(total_debt__gte=0), name="credit_total_debt_nonneg"),
            models.CheckConstraint(
                condition=models.Q(monthly_debt_payment__gte=0), name="credit_monthly_payment_nonneg"
            ),
            models.CheckConstraint(condition=models.Q(collateral_value__gte=0), name="credit_collateral_nonneg"),
        ]

    def __str__(self) -> str:
        return f"征信摘要 {self.loan}"


class Scorecard(models.Model):
    """One immutable version of the scorecard. `characteristics` maps a characteristic code to
    ``{"bins": [{"lower": str|None, "upper": str|None, "points": int}, ...], "missing": int}`` (bins are
    half-open ``[lower, upper)``, contiguous, covering everything); `grade_cutoffs` maps A–D to the lowest score
    of that grade (anything below D's is E). Validated by `underwriting.scoring.validate_scorecard`."""

    name = models.CharField(_("评分卡名称"), max_length=80)
    version = models.PositiveIntegerField(_("版本"), unique=True)
    base_points = models.IntegerField(_("基础分"))
    characteristics = models.JSONField(_("评分项与分箱"), encoder=DjangoJSONEncoder)
    grade_cutoffs = models.JSONField(_("等级分数线"), encoder=DjangoJSONEncoder)
    is_active = models.BooleanField(_("生效中"), default=False)
    note = models.TextField(_("版本说明"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("创建人"),
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    activated_at = models.DateTimeField(_("启用时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("评分卡")
        verbose_name_plural = _("评分卡")
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=models.Q(is_active=True), name="scorecard_one_active"
            ),
        ]
        permissions = [("activate_scorecard", "Can activate a scorecard version")]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class RiskAssessment(models.Model):
    """One run of the rules and the scorecard on a loan in risk review (the latest one is current)."""

    class Trigger(models.TextChoices):
        START_REVIEW = "start_review", _("提交风控时自动评估")
        MANUAL = "manual", _("手动运行评估")

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="risk_assessments", verbose_name=_("贷款"))
    scorecard = models.ForeignKey(
        Scorecard, on_delete=models.PROTECT, related_name="assessments", verbose_name=_("评分卡版本")
    )
    score = models.IntegerField(_("评分"))
    grade = models.CharField(_("风险等级"), max_length=1)
    #: [{"code", "value", "bin", "points"}, ...] in scorecard order
    points = models.JSONField(_("各项得分"), encoder=DjangoJSONEncoder, default=list)
    #: [{"code", "kind": "knockout"|"warning", "hit", "message", "reject_reason"}, ...]: every rule, hit or not
    rule_results = models.JSONField(_("规则结果"), encoder=DjangoJSONEncoder, default=list)
    #: the codes of the rules that hit
    reason_codes = models.JSONField(_("原因代码"), encoder=DjangoJSONEncoder, default=list)
    knocked_out = models.BooleanField(_("命中拒绝规则"), default=False)
    #: the input figures the rules and the scorecard saw (for the report and the auditor)
    inputs = models.JSONField(_("评估输入"), encoder=DjangoJSONEncoder, default=dict)
    notes = models.TextField(_("审查意见"), blank=True)
    trigger = models.CharField(_("触发方式"), max_length=16, choices=Trigger.choices, default=Trigger.MANUAL)
    run_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("评估人")
    )
    created_at = models.DateTimeField(_("评估时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("风险评估")
        verbose_name_plural = _("风险评估")
        ordering = ["loan", "-id"]
        indexes = [models.Index(fields=["loan", "-id"], name="riskassessment_loan_idx")]
        permissions = [("approve_second_level", "Can give the second-level (department manager) approval")]

    def __str__(self) -> str:
        return f"{self.loan} {self.score}/{self.grade}"


class ApprovalAuthority(models.Model):
    """审批权限矩阵 row: for these grades and an approved amount up to `max_amount` (None: no upper limit),
    `levels` approvals are needed (0: may never be approved). The first matching row by `position` applies."""

    position = models.PositiveSmallIntegerField(_("顺序"), unique=True)
    grades = models.JSONField(_("风险等级"))
    max_amount = money_field(verbose_name=_("金额上限"), null=True, blank=True)
    levels = models.PositiveSmallIntegerField(_("所需审批级数"))
    description = models.CharField(_("说明"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("审批权限")
        verbose_name_plural = _("审批权限矩阵")
        ordering = ["position"]
        constraints = [models.CheckConstraint(condition=models.Q(levels__lte=2), name="authority_levels_max_2")]

    def __str__(self) -> str:
        return self.description or f"#{self.position}"


class ApprovalStep(models.Model):
    """A signed approval level on a loan's current assessment. Level 1 alone keeps the loan in risk review when
    the matrix asks for two; the level-2 step (a different person) performs the `approve` transition."""

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="approval_steps", verbose_name=_("贷款"))
    assessment = models.ForeignKey(
        RiskAssessment, on_delete=models.PROTECT, related_name="approval_steps", verbose_name=_("风险评估")
    )
    level = models.PositiveSmallIntegerField(_("审批级别"))
    levels_required = models.PositiveSmallIntegerField(_("所需级数"))
    approved_amount = money_field(verbose_name=_("批准金额"))
    conditions = models.TextField(_("放款条件"), blank=True)
    note = models.TextField(_("审批意见"))
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("审批人")
    )
    created_at = models.DateTimeField(_("审批时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("审批签字")
        verbose_name_plural = _("审批签字")
        ordering = ["loan", "id"]
        constraints = [
            models.UniqueConstraint(fields=["assessment", "level"], name="approvalstep_one_per_level"),
            models.CheckConstraint(condition=models.Q(approved_amount__gt=0), name="approvalstep_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.loan} L{self.level}"
