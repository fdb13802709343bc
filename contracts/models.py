"""Models of the contract stage: the generated loan contract (a PDF, by version) and the disbursement order."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from applications.models import Loan
from compliance.fields import EncryptedTextField
from compliance.pii import mask_account
from loanops.money import money_field


def contract_upload_to(instance: Contract, filename: str) -> str:
    return f"loans/{instance.loan_id}/contracts/{filename}"


class Contract(models.Model):
    """One version of a loan's contract. The file's SHA-256 is recorded when it is generated and checked
    again when the customer signs, so the signed bytes are exactly the generated ones."""

    class Status(models.TextChoices):
        GENERATED = "generated", _("待签署")
        SIGNED = "signed", _("已签署")
        SUPERSEDED = "superseded", _("已作废")

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="contracts", verbose_name=_("贷款"))
    version = models.PositiveSmallIntegerField(_("版本"))
    number = models.CharField(_("合同编号"), max_length=40, unique=True)
    file = models.FileField(_("合同文件"), upload_to=contract_upload_to, max_length=200)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    status = models.CharField(_("状态"), max_length=12, choices=Status.choices, default=Status.GENERATED)
    generated_at = models.DateTimeField(_("生成时间"), auto_now_add=True)
    signed_at = models.DateTimeField(_("签署时间"), null=True, blank=True)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("签署人"),
    )
    signed_ip = models.GenericIPAddressField(_("签署 IP"), null=True, blank=True)
    user_agent = models.CharField(_("签署设备"), max_length=512, blank=True)
    consent_text = models.TextField(_("签署确认声明"), blank=True)

    class Meta:
        verbose_name = _("借款合同")
        verbose_name_plural = _("借款合同")
        ordering = ["loan", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["loan", "version"], name="contract_loan_version_unique"),
            models.CheckConstraint(
                condition=models.Q(status="signed", signed_at__isnull=False) | ~models.Q(status="signed"),
                name="contract_signed_has_time",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class Disbursement(models.Model):
    """The disbursement order prepared by ops (maker); confirmed by a checker in servicing."""

    loan = models.OneToOneField(Loan, on_delete=models.PROTECT, related_name="disbursement", verbose_name=_("贷款"))
    amount = money_field(verbose_name=_("放款金额"))
    bank_name = models.CharField(_("收款银行"), max_length=100)
    # Encrypted at rest (DESIGN.md §5; never searched, so no hash column). Show `masked_account`.
    bank_account = EncryptedTextField(_("收款账号"))
    prepared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("经办人")
    )
    prepared_at = models.DateTimeField(_("经办时间"), auto_now_add=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("复核人"),
    )
    confirmed_at = models.DateTimeField(_("复核时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("放款")
        verbose_name_plural = _("放款")
        ordering = ["-prepared_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="disbursement_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.loan} {self.amount}"

    @property
    def masked_account(self) -> str:
        return mask_account(self.bank_account)
