"""The Loan aggregate and its whole state machine (DESIGN.md §2), customers, products and documents.

Every status change goes through `applications.lifecycle.loan_transition`, which checks state and
permission, calls one of the transition methods below, saves, and audits. Transition bodies only set
fields on `self`; conditions are pure functions of the instance.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import django_fsm as fsm
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from compliance.fields import EncryptedTextField, PiiHashField, PiiHashSyncMixin
from loanops.money import money_field, rate_field
from loanops.types import RepaymentMethod


class LoanStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    SUBMITTED = "submitted", _("已提交")
    SUPPLEMENT_REQUIRED = "supplement_required", _("待补充材料")
    RISK_REVIEW = "risk_review", _("风控审查中")
    APPROVED = "approved", _("审批通过")
    REJECTED = "rejected", _("已拒绝")
    OFFERED = "offered", _("已出要约")
    CONTRACT_PENDING = "contract_pending", _("待签约")
    CONTRACT_SIGNED = "contract_signed", _("已签约")
    DISBURSEMENT_PENDING = "disbursement_pending", _("待放款复核")
    ACTIVE = "active", _("还款中")
    OVERDUE = "overdue", _("逾期")
    SETTLED = "settled", _("已结清")
    ARCHIVED = "archived", _("已归档")
    WRITTEN_OFF = "written_off", _("已核销")
    WITHDRAWN = "withdrawn", _("已撤回")


S = LoanStatus


class RiskClass(models.TextChoices):
    """Five-category loan classification (五级分类), best to worst; see ``RISK_CLASS_RANK``."""

    NORMAL = "normal", _("正常")
    SPECIAL_MENTION = "special_mention", _("关注")
    SUBSTANDARD = "substandard", _("次级")
    DOUBTFUL = "doubtful", _("可疑")
    LOSS = "loss", _("损失")


#: 0 = best (正常) … 4 = worst (损失): "lower quality" means a higher rank
RISK_CLASS_RANK: dict[str, int] = {code: rank for rank, code in enumerate(RiskClass.values)}
#: non-performing classes (不良: 次级 + 可疑 + 损失)
NPL_CLASSES: tuple[str, ...] = (RiskClass.SUBSTANDARD, RiskClass.DOUBTFUL, RiskClass.LOSS)

PRE_DISBURSEMENT = [
    S.DRAFT,
    S.SUBMITTED,
    S.SUPPLEMENT_REQUIRED,
    S.RISK_REVIEW,
    S.APPROVED,
    S.OFFERED,
    S.CONTRACT_PENDING,
    S.CONTRACT_SIGNED,
    S.DISBURSEMENT_PENDING,
]
SERVICING_STATUSES = [S.ACTIVE, S.OVERDUE]
TERMINAL_STATUSES = [S.REJECTED, S.WITHDRAWN, S.ARCHIVED, S.WRITTEN_OFF]


class ApplicantType(models.TextChoices):
    INDIVIDUAL = "individual", _("个人")
    ENTERPRISE = "enterprise", _("企业")


class Industry(models.TextChoices):
    """GB/T 4754-2017 sections (门类)."""

    A = "A", _("A 农、林、牧、渔业")
    B = "B", _("B 采矿业")
    C = "C", _("C 制造业")
    D = "D", _("D 电力、热力、燃气及水生产和供应业")
    E = "E", _("E 建筑业")
    F = "F", _("F 批发和零售业")
    G = "G", _("G 交通运输、仓储和邮政业")
    H = "H", _("H 住宿和餐饮业")
    I = "I", _("I 信息传输、软件和信息技术服务业")  # noqa: E741
    J = "J", _("J 金融业")
    K = "K", _("K 房地产业")
    L = "L", _("L 租赁和商务服务业")
    M = "M", _("M 科学研究和技术服务业")
    N = "N", _("N 水利、环境和公共设施管理业")
    O = "O", _("O 居民服务、修理和其他服务业")  # noqa: E741
    P = "P", _("P 教育")
    Q = "Q", _("Q 卫生和社会工作")
    R = "R", _("R 文化、体育和娱乐业")
    S = "S", _("S 公共管理、社会保障和社会组织")
    T = "T", _("T 国际组织")


class DocumentType(models.TextChoices):
    ID_FRONT = "id_front", _("身份证人像面")
    ID_BACK = "id_back", _("身份证国徽面")
    INCOME_PROOF = "income_proof", _("收入证明")
    BANK_STATEMENT = "bank_statement", _("银行流水")
    ASSET_PROOF = "asset_proof", _("资产证明")
    CREDIT_AUTH = "credit_auth", _("征信授权书")
    BUSINESS_LICENSE = "business_license", _("营业执照")
    FINANCIAL_STATEMENTS = "financial_statements", _("财务报表")
    OTHER = "other", _("其他材料")


def default_individual_documents() -> list[str]:
    """The checklist a new individual product starts with (the product manager may change it)."""
    return [
        DocumentType.ID_FRONT,
        DocumentType.ID_BACK,
        DocumentType.INCOME_PROOF,
        DocumentType.BANK_STATEMENT,
        DocumentType.CREDIT_AUTH,
    ]


def default_enterprise_documents() -> list[str]:
    """The checklist a new enterprise product starts with; the ID card is the legal representative's."""
    return [
        DocumentType.BUSINESS_LICENSE,
        DocumentType.FINANCIAL_STATEMENTS,
        DocumentType.ID_FRONT,
        DocumentType.ID_BACK,
        DocumentType.BANK_STATEMENT,
        DocumentType.CREDIT_AUTH,
    ]


def default_methods() -> list[str]:
    return [RepaymentMethod.EQUAL_INSTALLMENT, RepaymentMethod.EQUAL_PRINCIPAL]


class Customer(PiiHashSyncMixin, models.Model):
    """A borrower: an individual (居民身份证) or an enterprise (统一社会信用代码).

    The ID number and phone are encrypted at rest (`EncryptedTextField`: the columns hold Fernet tokens)
    and found through their keyed hashes: `filter(phone_hash=pii_hash(phone))`, never `filter(phone=...)`
    (refused). The USCC is a public business identifier (printed on the licence, searchable in the national
    enterprise credit register), so it stays in clear and searchable.
    """

    kind = models.CharField(_("借款人类型"), max_length=12, choices=ApplicantType.choices)
    name = models.CharField(_("姓名/企业名称"), max_length=120)
    id_number = EncryptedTextField(_("身份证号"), blank=True, default="")
    id_number_hash = PiiHashField(source="id_number", db_index=True)
    uscc = models.CharField(_("统一社会信用代码"), max_length=18, blank=True, db_index=True)
    legal_representative = models.CharField(_("法定代表人"), max_length=60, blank=True)
    phone = EncryptedTextField(_("手机号"))
    phone_hash = PiiHashField(source="phone", unique=True)
    email = models.EmailField(_("电子邮箱"), blank=True)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    industry = models.CharField(_("行业"), max_length=1, choices=Industry.choices)
    annual_income = money_field(verbose_name=_("年收入/年营业收入"), default=Decimal("0.00"))
    employer = models.CharField(_("工作单位"), max_length=120, blank=True)
    years_in_business = models.PositiveSmallIntegerField(_("经营/工作年限"), default=0)
    registered_capital = money_field(verbose_name=_("注册资本"), default=Decimal("0.00"))
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="customer",
        verbose_name=_("门户账号"),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("借款人")
        verbose_name_plural = _("借款人")
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.name


ALLOCATION_COMPONENTS = ("fee", "penalty", "interest", "principal")


def default_allocation_order() -> list[str]:
    return list(ALLOCATION_COMPONENTS)


def validate_allocation_order(value: Any) -> None:
    """A product's allocation order must name each of fee, penalty, interest and principal exactly once."""
    if not isinstance(value, list) or sorted(map(str, value)) != sorted(ALLOCATION_COMPONENTS) or len(value) != 4:
        raise ValidationError(
            _("还款冲抵顺序必须恰好包含 fee、penalty、interest、principal 各一次"), code="invalid_allocation_order"
        )


class Product(models.Model):
    """One version of a loan product in the catalogue (kept by the product manager; matching, versioning
    and the rate bands' meaning live in underwriting).

    Versions: all rows of one product share its ``code``; the current one has ``retired_at`` unset. A row
    that a loan points to is never changed again: editing it writes the next version (``version`` + 1,
    every concrete field copied) and retires this one, so a loan keeps the terms it was offered.
    """

    code = models.SlugField(_("产品代码"), max_length=40)
    version = models.PositiveIntegerField(_("版本"), default=1)
    name = models.CharField(_("产品名称"), max_length=80)
    applicant_type = models.CharField(_("适用借款人"), max_length=12, choices=ApplicantType.choices)
    min_amount = money_field(verbose_name=_("最低金额"))
    max_amount = money_field(verbose_name=_("最高金额"))
    min_term_months = models.PositiveSmallIntegerField(_("最短期限(月)"))
    max_term_months = models.PositiveSmallIntegerField(_("最长期限(月)"))
    min_rate = rate_field(verbose_name=_("最低年利率"))
    max_rate = rate_field(verbose_name=_("最高年利率"))
    repayment_methods = models.JSONField(_("还款方式"), default=default_methods)
    required_documents = models.JSONField(_("必备材料"), default=default_individual_documents)
    penalty_surcharge = rate_field(verbose_name=_("罚息加收比例"), default=Decimal("0.500000"))
    compound_overdue_interest = models.BooleanField(_("逾期利息计复利"), default=False)
    prepayment_fee_rate = rate_field(verbose_name=_("提前还款手续费率"), default=Decimal("0"))
    origination_fee_rate = rate_field(verbose_name=_("服务费率(一次性)"), default=Decimal("0"))
    # Repayment waterfall (还款冲抵顺序): the four components in the order a payment is applied to them
    # (servicing.allocation). Default: costs → penalty → interest → principal (PRC Civil Code art. 561).
    allocation_order = models.JSONField(
        _("还款冲抵顺序"), default=default_allocation_order, validators=[validate_allocation_order]
    )
    # Eligibility (intake checks the age; product matching checks all of it).
    min_age = models.PositiveSmallIntegerField(_("最低年龄"), default=18)
    max_age = models.PositiveSmallIntegerField(_("最高年龄"), default=65)
    excluded_industries = models.JSONField(_("禁入行业"), default=list, blank=True)
    # Five-category classification floors (五级分类): the smallest days past due at which a loan of this
    # product is at least that class; empty = settings.LOANOPS_RISK_CLASS_DPD_FLOORS.
    dpd_floor_special_mention = models.PositiveSmallIntegerField(_("关注类起始逾期天数"), null=True, blank=True)
    dpd_floor_substandard = models.PositiveSmallIntegerField(_("次级类起始逾期天数"), null=True, blank=True)
    dpd_floor_doubtful = models.PositiveSmallIntegerField(_("可疑类起始逾期天数"), null=True, blank=True)
    dpd_floor_loss = models.PositiveSmallIntegerField(_("损失类起始逾期天数"), null=True, blank=True)
    # The terms a borrower may choose (months, ascending); min/max_term_months are their ends. Empty: every
    # whole month from min_term_months to max_term_months.
    allowed_terms = models.JSONField(_("可选期限(月)"), default=list, blank=True)
    # Annual rate band per risk grade: {"A": {"min_rate": "0.060000", "max_rate": "0.090000"}, ...}; a grade
    # that is missing is not served. min_rate/max_rate span all bands. Empty: every grade at min–max_rate.
    rate_bands = models.JSONField(_("分级利率区间"), default=dict, blank=True)
    is_active = models.BooleanField(_("在售"), default=True)
    retired_at = models.DateTimeField(_("被新版本取代时间"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("贷款产品")
        verbose_name_plural = _("贷款产品")
        ordering = ["code", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["code", "version"], name="product_code_version_unique"),
            models.UniqueConstraint(
                fields=["code"], condition=models.Q(retired_at__isnull=True), name="product_one_current_version"
            ),
            models.CheckConstraint(condition=models.Q(min_amount__gt=0), name="product_min_amount_positive"),
            models.CheckConstraint(
                condition=models.Q(max_amount__gte=models.F("min_amount")), name="product_amount_range"
            ),
            models.CheckConstraint(
                condition=models.Q(max_term_months__gte=models.F("min_term_months")),
                name="product_term_range",
            ),
            models.CheckConstraint(condition=models.Q(max_rate__gte=models.F("min_rate")), name="product_rate_range"),
        ]

    def __str__(self) -> str:
        return self.name


# --- transition conditions: pure functions of the loan ---------------------------------------


def offer_terms_set(loan: Any) -> bool:
    return all(
        value is not None
        for value in (
            loan.principal,
            loan.annual_rate,
            loan.term_months,
            loan.repayment_method,
            loan.first_due_date,
        )
    )


def has_maker(loan: Any) -> bool:
    return loan.prepared_by_id is not None


def disburse_permission(loan: Any, user: Any) -> bool:
    """Four eyes: the checker holds disburse_loan and is not the maker who prepared the disbursement."""
    has_perm = getattr(user, "has_perm", None)
    return (
        bool(has_perm and has_perm("applications.disburse_loan")) and getattr(user, "pk", None) != loan.prepared_by_id
    )


class Loan(fsm.ConcurrentTransitionMixin, models.Model):
    """One row from application to archive."""

    reference = models.CharField(_("贷款编号"), max_length=20, unique=True, null=True, blank=True)
    # indexed by loan_customer_status_idx (customer, status)
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="loans", verbose_name=_("借款人"), db_index=False
    )
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="loans", verbose_name=_("产品"))
    requested_amount = money_field(verbose_name=_("申请金额"))
    requested_term_months = models.PositiveSmallIntegerField(_("申请期限(月)"))
    purpose = models.CharField(_("借款用途"), max_length=200)
    repayment_source = models.CharField(_("还款来源"), max_length=200, blank=True)
    # The offer (set by product matching); the contract and schedule are built from these.
    principal = money_field(verbose_name=_("贷款本金"), null=True, blank=True)
    annual_rate = rate_field(verbose_name=_("年利率"), null=True, blank=True)
    term_months = models.PositiveSmallIntegerField(_("期限(月)"), null=True, blank=True)
    repayment_method = models.CharField(
        _("还款方式"), max_length=20, choices=RepaymentMethod.choices, null=True, blank=True
    )
    first_due_date = models.DateField(_("首期还款日"), null=True, blank=True)
    apr = rate_field(verbose_name=_("年化利率(IRR)"), null=True, blank=True)
    # The legal cap on the annualised cost that applied when the offer was made (kept for the contract's
    # life: penalty and fees may never push the loan's annual cost past it), and the LPR it was derived from.
    rate_cap = rate_field(verbose_name=_("适用利率上限"), null=True, blank=True)
    lpr_used = rate_field(verbose_name=_("适用LPR(一年期)"), null=True, blank=True)

    status = fsm.FSMField(
        _("状态"),
        max_length=24,
        choices=LoanStatus.choices,
        default=LoanStatus.DRAFT,
        protected=True,
    )
    status_changed_at = models.DateTimeField(_("进入当前阶段时间"), auto_now_add=True)
    supplement_rounds = models.PositiveSmallIntegerField(_("补件轮次"), default=0)
    # Intake findings staff must see (e.g. a second open application for the same ID under
    # LOANOPS_DUPLICATE_APPLICATION = "flag"): [{"code": ..., "message": ..., "loans": [...]}].
    intake_flags = models.JSONField(_("受理提示"), default=list, blank=True)
    prepared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    disbursed_on = models.DateField(_("放款日"), null=True, blank=True)
    settled_on = models.DateField(_("结清日"), null=True, blank=True)
    # Post-loan classification, maintained by the daily batch.
    days_past_due = models.PositiveIntegerField(_("逾期天数"), default=0)
    # The business date whose close of business last wrote days_past_due (a rerun of that date skips it).
    days_past_due_on = models.DateField(_("逾期天数计算日"), null=True, blank=True, editable=False)
    # Σ(principal due − principal paid) over the current schedule, kept by the servicing services that change
    # it (disbursement, repayment, reversal, new schedule version; servicing.services.common) and proved by
    # the ledger check: the portfolio's balance without reading twelve million installments (early warning).
    principal_outstanding = money_field(verbose_name=_("未还本金"), default=Decimal("0.00"), editable=False)
    bucket = models.CharField(_("账龄"), max_length=4, default="M0")
    risk_class = models.CharField(_("五级分类"), max_length=16, choices=RiskClass.choices, default=RiskClass.NORMAL)
    # A risk manager's downgrade (worse than the floor) is in force: the batch never improves the class.
    risk_class_manual = models.BooleanField(_("人工分类生效中"), default=False)
    # Extension / restructuring (展期/重组): the class is at least 关注 until the observation period ends.
    restructured_on = models.DateField(_("展期/重组日"), null=True, blank=True)
    restructure_observation_until = models.DateField(_("重组观察期至"), null=True, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("贷款")
        verbose_name_plural = _("贷款")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["customer", "status"], name="loan_customer_status_idx"),
            # Plain indexes (db_index=True would add a second, LIKE-pattern index nobody queries). Nothing
            # indexes days_past_due, which the daily batch rewrites for every loan in arrears: with the
            # table's fillfactor (migration 0009) that update stays HOT. The batch works in id-range chunks.
            models.Index(fields=["status"], name="loan_status_idx"),
            models.Index(fields=["bucket"], name="loan_bucket_idx"),
            # COB's staff-tasks step finds the loans disbursed on given dates (return visits, post-loan
            # reviews) here instead of reading every servicing loan each day; set once, at disbursement.
            models.Index(fields=["disbursed_on"], name="loan_disbursed_on_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(requested_amount__gt=0), name="loan_requested_positive"),
            models.CheckConstraint(
                condition=models.Q(principal__isnull=True) | models.Q(principal__gt=0),
                name="loan_principal_positive",
            ),
        ]
        permissions = [
            ("submit_loan", "Can submit a loan application"),
            ("request_supplement_loan", "Can ask for supplementary documents"),
            ("start_review_loan", "Can send an application to risk review"),
            ("approve_loan", "Can approve a loan"),
            ("reject_loan", "Can reject a loan"),
            ("make_offer_loan", "Can make an offer"),
            ("accept_offer_loan", "Can accept an offer"),
            ("sign_contract_loan", "Can sign a loan contract"),
            ("prepare_disbursement_loan", "Can prepare a disbursement (maker)"),
            ("disburse_loan", "Can confirm a disbursement (checker)"),
            ("withdraw_loan", "Can withdraw an application"),
            ("mark_overdue_loan", "Can mark a loan overdue"),
            ("cure_loan", "Can cure an overdue loan"),
            ("settle_loan", "Can settle a loan"),
            ("archive_loan", "Can archive a loan"),
            ("write_off_loan", "Can write off a loan"),
            ("view_reports", "Can see dashboards and download reports"),
        ]

    def __str__(self) -> str:
        return self.reference or f"Loan #{self.pk}"

    # --- transitions (names are fixed once shipped; see DESIGN.md §2) ---------------------------

    @fsm.transition(
        field=status,
        source=[S.DRAFT, S.SUPPLEMENT_REQUIRED],
        target=S.SUBMITTED,
        permission="applications.submit_loan",
    )
    def submit(self) -> None:
        """Customer or ops hands in the application (again, after supplements)."""

    @fsm.transition(
        field=status,
        source=[S.SUBMITTED, S.RISK_REVIEW],
        target=S.SUPPLEMENT_REQUIRED,
        permission="applications.request_supplement_loan",
    )
    def request_supplement(self) -> None:
        self.supplement_rounds += 1

    @fsm.transition(field=status, source=S.SUBMITTED, target=S.RISK_REVIEW, permission="applications.start_review_loan")
    def start_review(self) -> None:
        """Ops found the file complete and sends it to risk review."""

    @fsm.transition(field=status, source=S.RISK_REVIEW, target=S.APPROVED, permission="applications.approve_loan")
    def approve(self) -> None: ...

    @fsm.transition(field=status, source=S.RISK_REVIEW, target=S.REJECTED, permission="applications.reject_loan")
    def reject(self) -> None: ...

    @fsm.transition(
        field=status,
        source=S.APPROVED,
        target=S.OFFERED,
        permission="applications.make_offer_loan",
        conditions=[offer_terms_set],
    )
    def make_offer(self) -> None: ...

    @fsm.transition(
        field=status, source=S.OFFERED, target=S.CONTRACT_PENDING, permission="applications.accept_offer_loan"
    )
    def accept_offer(self) -> None: ...

    @fsm.transition(
        field=status,
        source=S.CONTRACT_PENDING,
        target=S.CONTRACT_SIGNED,
        permission="applications.sign_contract_loan",
    )
    def sign_contract(self) -> None: ...

    @fsm.transition(
        field=status,
        source=S.CONTRACT_SIGNED,
        target=S.DISBURSEMENT_PENDING,
        permission="applications.prepare_disbursement_loan",
    )
    def prepare_disbursement(self) -> None: ...

    @fsm.transition(
        field=status,
        source=S.DISBURSEMENT_PENDING,
        target=S.ACTIVE,
        permission=disburse_permission,
        conditions=[has_maker],
    )
    def disburse(self) -> None: ...

    @fsm.transition(field=status, source=PRE_DISBURSEMENT, target=S.WITHDRAWN, permission="applications.withdraw_loan")
    def withdraw(self) -> None: ...

    @fsm.transition(field=status, source=S.ACTIVE, target=S.OVERDUE, permission="applications.mark_overdue_loan")
    def mark_overdue(self) -> None: ...

    @fsm.transition(field=status, source=S.OVERDUE, target=S.ACTIVE, permission="applications.cure_loan")
    def cure(self) -> None: ...

    @fsm.transition(field=status, source=SERVICING_STATUSES, target=S.SETTLED, permission="applications.settle_loan")
    def settle(self) -> None: ...

    @fsm.transition(field=status, source=S.SETTLED, target=S.ARCHIVED, permission="applications.archive_loan")
    def archive(self) -> None: ...

    @fsm.transition(field=status, source=S.OVERDUE, target=S.WRITTEN_OFF, permission="applications.write_off_loan")
    def write_off(self) -> None: ...


TRANSITIONS: tuple[str, ...] = (
    "submit",
    "request_supplement",
    "start_review",
    "approve",
    "reject",
    "make_offer",
    "accept_offer",
    "sign_contract",
    "prepare_disbursement",
    "disburse",
    "withdraw",
    "mark_overdue",
    "cure",
    "settle",
    "archive",
    "write_off",
)


def upload_to(instance: LoanDocument, filename: str) -> str:
    return f"loans/{instance.loan_id}/documents/{instance.sha256[:16]}{instance.extension}"


class LoanDocument(models.Model):
    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="documents")
    doc_type = models.CharField(_("材料类型"), max_length=24, choices=DocumentType.choices)
    file = models.FileField(_("文件"), upload_to=upload_to)
    original_name = models.CharField(_("原文件名"), max_length=200)
    content_type = models.CharField(max_length=60)
    extension = models.CharField(max_length=8)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("申请材料")
        verbose_name_plural = _("申请材料")
        ordering = ["loan", "doc_type", "-id"]

    def __str__(self) -> str:
        return f"{self.get_doc_type_display()} ({self.original_name})"


class SupplementRequest(models.Model):
    """One round of the supplement loop: which items, why, and when the customer answered."""

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="supplement_requests")
    round = models.PositiveSmallIntegerField()
    items = models.JSONField(default=list)
    message = models.TextField(_("补件说明"))
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["loan", "round"]
        constraints = [models.UniqueConstraint(fields=["loan", "round"], name="supplement_round_unique")]


class LoanStageEvent(models.Model):
    """Stage history of a loan (the portal and back-office timeline). Written only by loan_transition."""

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="stage_events")
    transition = models.CharField(max_length=32)
    from_status = models.CharField(max_length=24, choices=LoanStatus.choices)
    to_status = models.CharField(max_length=24, choices=LoanStatus.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(blank=True)
    occurred_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["loan", "id"]
        indexes = [models.Index(fields=["loan", "id"], name="stage_event_loan_idx")]
