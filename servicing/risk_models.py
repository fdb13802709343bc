"""Post-loan risk records: five-category class history and upgrade requests, write-offs (核销) and the
recoveries after them, and extension / restructuring requests (展期/重组).

Registered through the last line of ``servicing/models.py``. Written only by the services in
``servicing.services.classification``, ``servicing.services.write_off`` and ``servicing.services.restructuring``.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from applications.models import Loan, RiskClass
from loanops.money import ZERO, money_field, rate_field


class RiskClassChange(models.Model):
    """One change of ``Loan.risk_class`` (append-only): by the daily batch, a risk manager, or an approved upgrade."""

    class Source(models.TextChoices):
        AUTO = "auto", _("日终自动分类")
        MANUAL = "manual", _("人工下调")
        APPROVED_UPGRADE = "approved_upgrade", _("审批上调")

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="risk_class_changes")
    from_class = models.CharField(_("原分类"), max_length=16, choices=RiskClass.choices)
    to_class = models.CharField(_("新分类"), max_length=16, choices=RiskClass.choices)
    source = models.CharField(_("来源"), max_length=16, choices=Source.choices)
    days_past_due = models.PositiveIntegerField(_("逾期天数"), default=0)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(_("原因"), max_length=2000, blank=True)
    business_date = models.DateField(_("营业日"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("五级分类变动")
        verbose_name_plural = _("五级分类变动")
        ordering = ["loan", "id"]
        indexes = [models.Index(fields=["loan", "id"], name="risk_class_change_loan_idx")]
        permissions = [
            ("classify_loan", "Can downgrade a loan's class or request an upgrade"),
            ("approve_risk_class_upgrade", "Can approve a class upgrade requested by someone else"),
        ]


class RiskClassUpgradeRequest(models.Model):
    """A request to classify a loan better than it is (four eyes: a manager who is not the requester decides)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("待审批")
        APPROVED = "approved", _("已批准")
        REJECTED = "rejected", _("已驳回")

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="risk_class_upgrade_requests")
    from_class = models.CharField(_("原分类"), max_length=16, choices=RiskClass.choices)
    to_class = models.CharField(_("申请分类"), max_length=16, choices=RiskClass.choices)
    reason = models.CharField(_("申请理由"), max_length=2000)
    status = models.CharField(_("状态"), max_length=8, choices=Status.choices, default=Status.PENDING)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(_("审批意见"), max_length=2000, blank=True)

    class Meta:
        verbose_name = _("五级分类上调申请")
        verbose_name_plural = _("五级分类上调申请")
        ordering = ["loan", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["loan"], condition=Q(status="pending"), name="risk_class_upgrade_one_pending"
            )
        ]


class WriteOff(models.Model):
    """A write-off (核销) of a 损失 loan: proposed by risk, approved by a manager who is not the proposer."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", _("待审批")
        APPROVED = "approved", _("已核销")
        REJECTED = "rejected", _("已驳回")

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="write_offs")
    status = models.CharField(_("状态"), max_length=8, choices=Status.choices, default=Status.PROPOSED)
    reason = models.CharField(_("核销理由"), max_length=2000)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    proposed_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(_("审批意见"), max_length=2000, blank=True)
    # Written off on approval: the receivables as the journal held them.
    business_date = models.DateField(_("核销日"), null=True, blank=True)
    principal = money_field(verbose_name=_("核销本金"), default=ZERO)
    interest = money_field(verbose_name=_("核销利息"), default=ZERO)
    penalty = money_field(verbose_name=_("核销罚息"), default=ZERO)
    fee = money_field(verbose_name=_("核销费用"), default=ZERO)
    journal_entry = models.OneToOneField(
        "servicing.JournalEntry", null=True, blank=True, on_delete=models.PROTECT, related_name="write_off"
    )

    class Meta:
        verbose_name = _("核销")
        verbose_name_plural = _("核销")
        ordering = ["loan", "id"]
        permissions = [("propose_write_off", "Can propose the write-off of a loss loan")]
        constraints = [
            models.UniqueConstraint(
                fields=["loan"], condition=Q(status__in=["proposed", "approved"]), name="write_off_one_open"
            )
        ]

    @property
    def total(self) -> Decimal:
        return self.principal + self.interest + self.penalty + self.fee


class WriteOffRecovery(models.Model):
    """Money recovered after a write-off (核销后收回): Dr cash_clearing / Cr recovery_income."""

    class Channel(models.TextChoices):
        BANK_TRANSFER = "bank_transfer", _("银行转账")
        COLLECTION_AGENCY = "collection_agency", _("委外催收")
        LITIGATION = "litigation", _("诉讼执行")
        COLLATERAL = "collateral", _("抵质押物处置")
        GUARANTOR = "guarantor", _("保证人代偿")
        OTHER = "other", _("其他")

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="write_off_recoveries")
    write_off = models.ForeignKey(WriteOff, on_delete=models.PROTECT, related_name="recoveries")
    amount = money_field(verbose_name=_("收回金额"))
    recovered_on = models.DateField(_("收回日期"))
    channel = models.CharField(_("收回渠道"), max_length=20, choices=Channel.choices)
    reference = models.CharField(_("凭证号"), max_length=64, blank=True)
    note = models.CharField(_("备注"), max_length=2000, blank=True)
    journal_entry = models.OneToOneField(
        "servicing.JournalEntry", on_delete=models.PROTECT, related_name="write_off_recovery"
    )
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("核销后收回")
        verbose_name_plural = _("核销后收回")
        ordering = ["loan", "id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="write_off_recovery_positive")]


class Restructuring(models.Model):
    """An extension (展期) or restructuring (重组) of an active/overdue loan's remaining principal.

    Requested by ops or the customer; approved by risk, and above ``LOANOPS_RESTRUCTURE_MANAGER_LIMIT`` of
    outstanding principal by a manager too. Approval writes a new schedule version and flags the loan.
    """

    class Kind(models.TextChoices):
        EXTENSION = "extension", _("展期")
        RESTRUCTURING = "restructuring", _("重组")

    class Status(models.TextChoices):
        REQUESTED = "requested", _("待风控审批")
        RISK_APPROVED = "risk_approved", _("待经理审批")
        APPROVED = "approved", _("已生效")
        REJECTED = "rejected", _("已驳回")

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="restructurings")
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices)
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.REQUESTED)
    term_months = models.PositiveSmallIntegerField(_("新期限(月)"))
    annual_rate = rate_field(verbose_name=_("新年利率"), null=True, blank=True)
    repayment_method = models.CharField(_("新还款方式"), max_length=20, blank=True)
    first_due_date = models.DateField(_("新首期还款日"))
    outstanding_principal = money_field(verbose_name=_("申请时剩余本金"))
    needs_manager = models.BooleanField(_("需经理审批"), default=False)
    reason = models.CharField(_("申请理由"), max_length=2000)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    risk_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    risk_approved_at = models.DateTimeField(null=True, blank=True)
    manager_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    manager_approved_at = models.DateTimeField(null=True, blank=True)
    rejected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(_("审批意见"), max_length=2000, blank=True)
    schedule_version = models.OneToOneField(
        "servicing.ScheduleVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="restructuring"
    )

    class Meta:
        verbose_name = _("展期/重组")
        verbose_name_plural = _("展期/重组")
        ordering = ["loan", "id"]
        permissions = [
            ("request_restructuring", "Can request an extension or restructuring"),
            ("approve_restructuring", "Can approve an extension or restructuring (risk)"),
            ("approve_restructuring_above_limit", "Can approve an extension or restructuring above the limit"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["loan"],
                condition=Q(status__in=["requested", "risk_approved"]),
                name="restructuring_one_open",
            ),
            models.CheckConstraint(condition=Q(term_months__gt=0), name="restructuring_term_positive"),
        ]
