"""Collection cases (催收案件): cases per overdue loan, their history, the contact log, named contacts,
contact consent and promises to pay. Imported at the end of ``loan_collections.models``.

A case is opened by the COB ``collections`` step when a loan reaches DPD ≥ 1 (one open case per loan),
escalated by bucket (M1 reminders by service staff, M2 collectors, M3 field visit, M3+ legal action or
outsourcing), assigned by load, and closed on cure, settlement or write-off with its outcome.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from applications.models import Customer, Loan
from compliance.fields import EncryptedTextField, PiiHashField, PiiHashSyncMixin
from loanops.money import money_field


class CaseStatus(models.TextChoices):
    OPEN = "open", _("处理中")
    CLOSED = "closed", _("已结案")


class CaseOutcome(models.TextChoices):
    CURED = "cured", _("已结清逾期")
    SETTLED = "settled", _("贷款已结清")
    WRITTEN_OFF = "written_off", _("已核销")


class CollectionLevel(models.TextChoices):
    REMINDER = "reminder", _("提醒催收（客服）")
    COLLECTOR = "collector", _("电话催收（催收专员）")
    FIELD_VISIT = "field_visit", _("上门催收")
    LEGAL = "legal", _("诉讼")
    OUTSOURCED = "outsourced", _("委外催收")


#: escalation order: a case only moves up automatically (legal and outsourcing are the same step)
LEVEL_RANK: dict[str, int] = {
    CollectionLevel.REMINDER: 1,
    CollectionLevel.COLLECTOR: 2,
    CollectionLevel.FIELD_VISIT: 3,
    CollectionLevel.LEGAL: 4,
    CollectionLevel.OUTSOURCED: 4,
}


class CollectionCase(models.Model):
    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="collection_cases", verbose_name=_("贷款"))
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="collection_cases", verbose_name=_("借款人")
    )
    status = models.CharField(_("案件状态"), max_length=8, choices=CaseStatus.choices, default=CaseStatus.OPEN)
    level = models.CharField(_("催收阶段"), max_length=12, choices=CollectionLevel.choices)
    responsible_role = models.CharField(_("责任岗位"), max_length=16)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="collection_cases",
        verbose_name=_("处理人"),
    )
    assigned_on = models.DateField(_("分案日"), null=True, blank=True)
    priority = models.BooleanField(_("重点案件"), default=False)
    priority_reason = models.CharField(_("重点原因"), max_length=120, blank=True)
    opened_on = models.DateField(_("立案日"))
    opened_dpd = models.PositiveIntegerField(_("立案时逾期天数"))
    closed_on = models.DateField(_("结案日"), null=True, blank=True)
    outcome = models.CharField(_("结案原因"), max_length=12, choices=CaseOutcome.choices, blank=True)
    next_action = models.CharField(_("下一步行动"), max_length=200, blank=True)
    next_action_on = models.DateField(_("下一步行动日期"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("催收案件")
        verbose_name_plural = _("催收案件")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["loan"], condition=Q(status="open"), name="collection_case_one_open_per_loan"
            ),
            models.CheckConstraint(
                condition=(Q(status="open") & Q(outcome="") & Q(closed_on__isnull=True))
                | (Q(status="closed") & ~Q(outcome="") & Q(closed_on__isnull=False)),
                name="collection_case_closed_has_outcome",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "assigned_to"], name="case_status_assignee_idx"),
            models.Index(fields=["status", "responsible_role"], name="case_status_role_idx"),
            models.Index(fields=["loan", "status"], name="case_loan_status_idx"),
        ]
        permissions = [
            ("view_all_collectioncases", "Can see every collection case (not only one's own)"),
            ("assign_collectioncase", "Can assign or escalate a collection case"),
        ]

    def __str__(self) -> str:
        return f"催收案件 #{self.pk}"


class CaseEventKind(models.TextChoices):
    OPENED = "opened", _("立案")
    ESCALATED = "escalated", _("升级")
    ASSIGNED = "assigned", _("分案")
    PROMISE_BROKEN = "promise_broken", _("承诺未兑现")
    CLOSED = "closed", _("结案")


class CaseEvent(models.Model):
    """History of a case: opening, every level and responsible-role change, assignments, closure."""

    case = models.ForeignKey(CollectionCase, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=16, choices=CaseEventKind.choices)
    business_date = models.DateField()
    from_level = models.CharField(max_length=12, choices=CollectionLevel.choices, blank=True)
    to_level = models.CharField(max_length=12, choices=CollectionLevel.choices, blank=True)
    role = models.CharField(max_length=16, blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    outcome = models.CharField(max_length=12, choices=CaseOutcome.choices, blank=True)
    reason = models.CharField(max_length=200, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["case", "id"]
        indexes = [models.Index(fields=["case", "id"], name="case_event_case_idx")]


class ContactRelation(models.TextChoices):
    SPOUSE = "spouse", _("配偶")
    PARENT = "parent", _("父母")
    CHILD = "child", _("子女")
    SIBLING = "sibling", _("兄弟姐妹")
    RELATIVE = "relative", _("其他亲属")
    FRIEND = "friend", _("朋友")
    COLLEAGUE = "colleague", _("同事")
    OTHER = "other", _("其他")


class NamedContact(PiiHashSyncMixin, models.Model):
    """A contact person the debtor named (e.g. in the application); only these third parties may be contacted.

    The phone number is encrypted at rest and found through its keyed hash (``phone_hash=pii_hash(phone)``).
    """

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="named_contacts")
    name = models.CharField(_("联系人姓名"), max_length=60)
    relation = models.CharField(_("与借款人关系"), max_length=12, choices=ContactRelation.choices)
    phone = EncryptedTextField(_("联系电话"))
    phone_hash = PiiHashField(source="phone")
    is_active = models.BooleanField(default=True)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("借款人指定联系人")
        verbose_name_plural = _("借款人指定联系人")
        ordering = ["customer", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "phone_hash"], condition=Q(is_active=True), name="named_contact_phone_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.get_relation_display()}）"


class ContactConsent(models.Model):
    """The debtor's consent to be contacted during the quiet hours (22:00–08:00); active while not revoked."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="contact_consents")
    note = models.CharField(_("同意方式/说明"), max_length=200)
    granted_at = models.DateTimeField(auto_now_add=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("夜间联系同意")
        verbose_name_plural = _("夜间联系同意")
        ordering = ["customer", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"], condition=Q(revoked_at__isnull=True), name="contact_consent_one_active"
            )
        ]


class ContactChannel(models.TextChoices):
    PHONE = "phone", _("电话")
    SMS = "sms", _("短信")
    WECHAT = "wechat", _("微信")
    LETTER = "letter", _("信函")
    VISIT = "visit", _("上门")


class ContactParty(models.TextChoices):
    DEBTOR = "debtor", _("借款人本人")
    NAMED_CONTACT = "named_contact", _("借款人指定联系人")
    THIRD_PARTY = "third_party", _("其他第三方")


class ContactOutcome(models.TextChoices):
    CONNECTED = "connected", _("已接通")
    PROMISED = "promised", _("承诺还款")
    REFUSED_TO_PAY = "refused_to_pay", _("拒绝还款")
    DISPUTED = "disputed", _("提出异议")
    NO_ANSWER = "no_answer", _("无人接听")
    BUSY = "busy", _("占线/拒接")
    UNREACHABLE = "unreachable", _("关机/停机/空号")
    WRONG_NUMBER = "wrong_number", _("号码有误")
    DELIVERED = "delivered", _("已送达")
    MET = "met", _("上门见面")
    NOT_MET = "not_met", _("上门未遇")


#: outcomes in which a person was actually reached: a phone call with one of them is an "effective call"
EFFECTIVE_OUTCOMES = frozenset(
    {ContactOutcome.CONNECTED, ContactOutcome.PROMISED, ContactOutcome.REFUSED_TO_PAY, ContactOutcome.DISPUTED}
)


class ContactAttempt(PiiHashSyncMixin, models.Model):
    """One line of the contact log. Every attempt is recorded, also the ones the contact policy refused.

    The number dialled is encrypted at rest; the per-number daily limit counts by its keyed hash.
    """

    case = models.ForeignKey(CollectionCase, on_delete=models.PROTECT, related_name="contacts")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(_("方式"), max_length=8, choices=ContactChannel.choices)
    number = EncryptedTextField(_("拨打/发送号码"), blank=True, default="")
    number_hash = PiiHashField(source="number")
    party = models.CharField(_("联系对象"), max_length=16, choices=ContactParty.choices)
    named_contact = models.ForeignKey(NamedContact, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    outcome = models.CharField(_("结果"), max_length=16, choices=ContactOutcome.choices, blank=True)
    effective = models.BooleanField(_("有效通话"), default=False)
    note = models.TextField(_("备注"), blank=True)
    attempted_at = models.DateTimeField(_("联系时间"))
    local_date = models.DateField(_("联系日期（北京时间）"))
    refused = models.BooleanField(_("被规则拒绝"), default=False)
    refusal_rule = models.CharField(_("拒绝规则"), max_length=32, blank=True)
    refusal_message = models.CharField(_("拒绝原因"), max_length=200, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("催收联系记录")
        verbose_name_plural = _("催收联系记录")
        ordering = ["case", "-id"]
        indexes = [
            models.Index(fields=["customer", "local_date"], name="contact_customer_day_idx"),
            models.Index(fields=["number_hash", "local_date"], name="contact_number_day_idx"),
            models.Index(fields=["case", "id"], name="contact_case_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(Q(refused=False) & Q(refusal_rule="")) | (Q(refused=True) & ~Q(refusal_rule="")),
                name="contact_refusal_has_rule",
            ),
        ]


class PromiseStatus(models.TextChoices):
    PENDING = "pending", _("待兑现")
    KEPT = "kept", _("已兑现")
    BROKEN = "broken", _("未兑现")


class PromiseToPay(models.Model):
    """承诺还款: the debtor promises ``amount`` by ``promised_date``; evaluated by the COB step.

    Kept when the loan's (unreversed) repayments paid from ``made_on`` to ``promised_date`` reach the
    amount; broken when the date has passed without that. A broken promise escalates the case.
    """

    case = models.ForeignKey(CollectionCase, on_delete=models.PROTECT, related_name="promises")
    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="+")
    amount = money_field(verbose_name=_("承诺金额"))
    promised_date = models.DateField(_("承诺还款日"))
    made_on = models.DateField(_("承诺日（营业日）"))
    status = models.CharField(_("状态"), max_length=8, choices=PromiseStatus.choices, default=PromiseStatus.PENDING)
    paid_amount = money_field(verbose_name=_("期间实还"), null=True, blank=True)
    evaluated_on = models.DateField(_("评估日"), null=True, blank=True)
    contact = models.ForeignKey(ContactAttempt, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(_("备注"), max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("承诺还款")
        verbose_name_plural = _("承诺还款")
        ordering = ["case", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["case"], condition=Q(status="pending"), name="promise_one_pending_per_case"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="promise_amount_positive"),
            models.CheckConstraint(condition=Q(promised_date__gte=models.F("made_on")), name="promise_date_order"),
        ]
        indexes = [models.Index(fields=["status", "promised_date"], name="promise_status_date_idx")]
