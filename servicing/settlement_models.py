"""Models of partial prepayment (提前还款) and settlement (结清证明); registered from ``servicing.models``."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from applications.models import Loan
from loanops.money import money_field


class PrepaymentOption(models.TextChoices):
    KEEP_TERM = "keep_term", _("期限不变，减少每期还款额")
    KEEP_INSTALLMENT = "keep_installment", _("每期还款额不变，缩短期限")


class Prepayment(models.Model):
    """A partial prepayment: the repayment that paid it and the schedule versions before and after."""

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="prepayments")
    repayment = models.OneToOneField("servicing.Repayment", on_delete=models.PROTECT, related_name="prepayment")
    option = models.CharField(_("提前还款方式"), max_length=20, choices=PrepaymentOption.choices)
    effective_on = models.DateField(_("提前还款日"))
    principal = money_field(verbose_name=_("提前归还本金"))
    interest = money_field(verbose_name=_("应计利息"))
    fee = money_field(verbose_name=_("提前还款手续费"))
    old_version = models.ForeignKey("servicing.ScheduleVersion", on_delete=models.PROTECT, related_name="+")
    new_version = models.ForeignKey("servicing.ScheduleVersion", on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("提前还款")
        ordering = ["loan", "id"]
        constraints = [models.CheckConstraint(condition=Q(principal__gt=0), name="prepayment_principal_positive")]


def certificate_upload_to(instance: SettlementCertificate, filename: str) -> str:
    return f"loans/{instance.loan_id}/settlement/{filename}"


class SettlementCertificate(models.Model):
    """The settlement certificate (结清证明) PDF issued when a loan is settled; one per loan."""

    loan = models.OneToOneField(Loan, on_delete=models.PROTECT, related_name="settlement_certificate")
    number = models.CharField(_("证明编号"), max_length=40, unique=True)
    settled_on = models.DateField(_("结清日"))
    principal_paid = money_field(verbose_name=_("已还本金"))
    interest_paid = money_field(verbose_name=_("已还利息"))
    penalty_paid = money_field(verbose_name=_("已还罚息"))
    fees_paid = money_field(verbose_name=_("已还费用"))
    total_paid = money_field(verbose_name=_("还款合计"))
    file = models.FileField(_("证明文件"), upload_to=certificate_upload_to, max_length=200)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    issued_at = models.DateTimeField(_("出具时间"), auto_now_add=True)
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("结清证明")
        ordering = ["-id"]
