"""Servicing: business date, versioned repayment schedules, repayments and the double-entry journal.

Money rules are in DESIGN.md §3. Amounts use `money_field()`; journal lines are append-only (corrections
are reversing entries, never UPDATEs of amounts).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from applications.models import Loan
from loanops.money import ZERO, money_field


class BusinessDate(models.Model):
    """The stored business date (营业日) that drives all date logic. A single row with id=1."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    date = models.DateField(_("营业日"))
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("营业日")
        permissions = [("run_cob", "Can run close of business")]
        constraints = [models.CheckConstraint(condition=Q(id=1), name="business_date_singleton")]

    def __str__(self) -> str:
        return self.date.isoformat()


class ScheduleVersion(models.Model):
    """One version of a loan's repayment schedule; a change writes a new version and supersedes the old."""

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="schedule_versions")
    version = models.PositiveSmallIntegerField()
    is_current = models.BooleanField(default=True)
    principal = money_field()
    annual_rate = models.DecimalField(max_digits=9, decimal_places=6)
    term_months = models.PositiveSmallIntegerField()
    repayment_method = models.CharField(max_length=20)
    first_due_date = models.DateField()
    reason = models.CharField(max_length=200)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    superseded_at = models.DateTimeField(null=True, blank=True)
    superseded_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["loan", "version"]
        constraints = [
            models.UniqueConstraint(fields=["loan", "version"], name="schedule_version_unique"),
            models.UniqueConstraint(fields=["loan"], condition=Q(is_current=True), name="schedule_one_current"),
        ]


class InstallmentStatus(models.TextChoices):
    PENDING = "pending", _("未到期")
    DUE = "due", _("已到期")
    OVERDUE = "overdue", _("逾期")
    PAID = "paid", _("已还清")
    # An unpaid installment of a superseded schedule version (展期、重组、提前还款): no longer receivable —
    # the new version's installments are. Paid installments of the old version stay "paid".
    REPLACED = "replaced", _("已被新计划取代")


class Installment(models.Model):
    """One period (期次) of a schedule version, with what is due and what was paid per component."""

    # No single-column indexes: (schedule, period) and (loan, period) below lead with them. Every index
    # on this table is paid for by the daily batch; the penalty accrual's columns carry none, so with the
    # table's fillfactor (migration 0007) its daily update of every overdue installment stays HOT.
    schedule = models.ForeignKey(ScheduleVersion, on_delete=models.PROTECT, related_name="installments", db_index=False)
    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="installments", db_index=False)
    period = models.PositiveSmallIntegerField()
    due_date = models.DateField()
    principal_due = money_field()
    interest_due = money_field()
    fee_due = money_field(default=ZERO)
    penalty_due = money_field(default=ZERO)
    principal_paid = money_field(default=ZERO)
    interest_paid = money_field(default=ZERO)
    fee_paid = money_field(default=ZERO)
    penalty_paid = money_field(default=ZERO)
    remaining_after = money_field()
    # Interest of this installment has been booked to interest_receivable (on its due date by
    # `installments_fall_due`, or earlier when a repayment is allocated to it). See servicing.services.
    interest_booked = models.BooleanField(default=False)
    # Penalty interest (罚息) accrued so far at full precision, and the date it has been accrued up to
    # (exclusive); `penalty_due` is always to_money(penalty_accrued). See `penalties_accrue`.
    penalty_accrued = models.DecimalField(max_digits=24, decimal_places=10, default=Decimal(0))
    penalty_accrued_to = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=InstallmentStatus.choices, default=InstallmentStatus.PENDING)
    overdue_since = models.DateField(null=True, blank=True)
    paid_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["schedule", "period"]
        constraints = [
            models.UniqueConstraint(fields=["schedule", "period"], name="installment_period_unique"),
            models.CheckConstraint(
                condition=Q(principal_due__gte=0) & Q(interest_due__gte=0) & Q(fee_due__gte=0) & Q(penalty_due__gte=0),
                name="installment_due_nonnegative",
            ),
            models.CheckConstraint(
                condition=Q(principal_paid__lte=F("principal_due"))
                & Q(interest_paid__lte=F("interest_due"))
                & Q(fee_paid__lte=F("fee_due"))
                & Q(penalty_paid__lte=F("penalty_due")),
                name="installment_not_overpaid",
            ),
            models.CheckConstraint(
                condition=Q(principal_paid__gte=0)
                & Q(interest_paid__gte=0)
                & Q(fee_paid__gte=0)
                & Q(penalty_paid__gte=0),
                name="installment_paid_nonnegative",
            ),
        ]
        indexes = [
            models.Index(fields=["loan", "period"], name="installment_loan_idx"),
            models.Index(fields=["due_date", "status"], name="installment_due_idx"),
            # The close of business works on the day's increment (servicing.cob_steps): installments that
            # are not yet due or not yet booked, by due date; and unpaid installments past due, by loan.
            # The daily batch's open installments by due date, per chunk of loans: loan_id in the key lets a
            # chunk's scan skip the other chunks' entries in the index instead of fetching their rows.
            # Installments of a superseded version are not open (their interest is never booked).
            models.Index(
                fields=["due_date", "loan"],
                condition=(Q(status="pending") | Q(interest_booked=False)) & ~Q(status="replaced"),
                name="installment_open_idx",
            ),
            models.Index(fields=["loan"], condition=Q(status__in=["due", "overdue"]), name="installment_unpaid_idx"),
            # A chunk of loans' installments due on given dates (the reminders step's six dates).
            models.Index(fields=["due_date", "loan"], name="installment_due_loan_idx"),
        ]

    @property
    def total_due(self) -> Decimal:
        return self.principal_due + self.interest_due + self.fee_due + self.penalty_due

    @property
    def total_paid(self) -> Decimal:
        return self.principal_paid + self.interest_paid + self.fee_paid + self.penalty_paid

    @property
    def outstanding(self) -> Decimal:
        return self.total_due - self.total_paid


class Account(models.TextChoices):
    PRINCIPAL_RECEIVABLE = "principal_receivable", _("应收本金")
    INTEREST_RECEIVABLE = "interest_receivable", _("应收利息")
    PENALTY_RECEIVABLE = "penalty_receivable", _("应收罚息")
    FEE_RECEIVABLE = "fee_receivable", _("应收费用")
    CASH_CLEARING = "cash_clearing", _("银行存款/清算")
    INTEREST_INCOME = "interest_income", _("利息收入")
    PENALTY_INCOME = "penalty_income", _("罚息收入")
    FEE_INCOME = "fee_income", _("手续费收入")
    OVERPAYMENT = "overpayment", _("溢缴款(挂账)")
    WRITE_OFF_EXPENSE = "write_off_expense", _("核销损失")
    RECOVERY_INCOME = "recovery_income", _("核销后收回")


class EntryKind(models.TextChoices):
    DISBURSEMENT = "disbursement", _("放款")
    REPAYMENT = "repayment", _("还款")
    ACCRUAL = "accrual", _("计息")
    PENALTY = "penalty", _("罚息")
    FEE = "fee", _("费用")
    WAIVER = "waiver", _("减免")
    REVERSAL = "reversal", _("冲正")
    WRITE_OFF = "write_off", _("核销")
    RECOVERY = "recovery", _("核销后收回")
    REFUND = "refund", _("退款")


class JournalEntry(models.Model):
    """A balanced double-entry posting. `source_key` (unique) makes batch postings idempotent."""

    # indexed by journal_loan_idx (loan, id); the batch inserts an entry per loan and day, so no second index
    loan = models.ForeignKey(
        Loan, null=True, blank=True, on_delete=models.PROTECT, related_name="journal_entries", db_index=False
    )
    kind = models.CharField(max_length=16, choices=EntryKind.choices)
    business_date = models.DateField()
    memo = models.CharField(max_length=200, blank=True)
    # unique by journal_source_key_unique (a constraint, not unique=True: no second, LIKE-pattern index)
    source_key = models.CharField(max_length=120, null=True, blank=True)
    # at most one reversal per entry (journal_reversed_once, partial: the batch's entries reverse nothing)
    reverses = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by", db_index=False
    )
    # not indexed: no page lists entries by poster, and users are deactivated, never deleted
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["loan", "id"], name="journal_loan_idx"),
            models.Index(fields=["business_date"], name="journal_business_date_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["source_key"], name="journal_source_key_unique"),
            models.UniqueConstraint(
                fields=["reverses"], condition=Q(reverses__isnull=False), name="journal_reversed_once"
            ),
        ]


class JournalLine(models.Model):
    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="lines")
    # The entry's loan, copied onto each line for per-loan balances; indexed by journal_line_loan_account_idx
    # (loan, account). No database constraint of its own: the entry's FK already proves the loan exists, and
    # ledger_check reports any line whose loan differs from its entry's (line_loan_mismatch). A second FK
    # here costs one referential check per line — two of the four per penalty posting the daily batch
    # writes for every loan in arrears.
    loan = models.ForeignKey(
        Loan,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    account = models.CharField(max_length=24, choices=Account.choices)
    debit = money_field(default=ZERO)
    credit = money_field(default=ZERO)

    class Meta:
        ordering = ["entry", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(debit__gt=0) & Q(credit=0)) | (Q(debit=0) & Q(credit__gt=0)),
                name="journal_line_one_side",
            )
        ]
        indexes = [models.Index(fields=["loan", "account"], name="journal_line_loan_account_idx")]


class RepaymentChannel(models.TextChoices):
    BANK_TRANSFER = "bank_transfer", _("银行转账")
    AUTO_DEBIT = "auto_debit", _("代扣")
    WECHAT = "wechat", _("微信支付")
    ALIPAY = "alipay", _("支付宝")
    COUNTER = "counter", _("柜台")
    SUSPENSE = "suspense", _("溢缴款冲抵")  # held overpayment applied by a manager; never a customer channel


class Repayment(models.Model):
    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="repayments")
    amount = money_field()
    paid_on = models.DateField()
    channel = models.CharField(max_length=16, choices=RepaymentChannel.choices)
    reference = models.CharField(max_length=64, blank=True)
    journal_entry = models.OneToOneField(JournalEntry, null=True, on_delete=models.PROTECT, related_name="repayment")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)
    reversed_at = models.DateTimeField(null=True, blank=True)
    reversed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reversal_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["loan", "id"]
        permissions = [
            ("reverse_repayment", "Can reverse a wrongly recorded repayment"),
            ("refund_overpayment", "Can refund an overpayment"),
        ]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="repayment_amount_positive")]


class AllocationComponent(models.TextChoices):
    FEE = "fee", _("费用")
    PENALTY = "penalty", _("罚息")
    INTEREST = "interest", _("利息")
    PRINCIPAL = "principal", _("本金")
    OVERPAYMENT = "overpayment", _("溢缴")


class RepaymentAllocation(models.Model):
    repayment = models.ForeignKey(Repayment, on_delete=models.PROTECT, related_name="allocations")
    installment = models.ForeignKey(
        Installment, null=True, blank=True, on_delete=models.PROTECT, related_name="allocations"
    )
    component = models.CharField(max_length=12, choices=AllocationComponent.choices)
    amount = money_field()

    class Meta:
        ordering = ["repayment", "id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="allocation_amount_positive")]


class IdempotencyKey(models.Model):
    """Claimed by a unique insert in the same transaction as the posting; replays return the stored response.

    The response body is stored as the exact bytes (UTF-8 text) that were sent the first time, not as
    JSON: PostgreSQL's jsonb reorders keys, and a replay must be identical byte for byte.
    """

    key = models.CharField(max_length=128)
    scope = models.CharField(max_length=64)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.TextField(null=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="idempotency_key_unique")]


from servicing.risk_models import RiskClassChange, RiskClassUpgradeRequest, Restructuring, WriteOff, WriteOffRecovery  # noqa: E402,F401,I001
from servicing.settlement_models import Prepayment, PrepaymentOption, SettlementCertificate  # noqa: E402,F401
