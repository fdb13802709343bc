"""Small shared vocabularies used by several layers (kept in the kernel so no app imports upward)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class RepaymentMethod(models.TextChoices):
    EQUAL_INSTALLMENT = "equal_installment", _("等额本息")
    EQUAL_PRINCIPAL = "equal_principal", _("等额本金")
    INTEREST_ONLY = "interest_only", _("先息后本")
    BULLET = "bullet", _("到期一次还本付息")


class RiskGrade(models.TextChoices):
    """Risk grades of the scorecard, best (A) to worst (E); products price by them."""

    A = "A", _("A 级")
    B = "B", _("B 级")
    C = "C", _("C 级")
    D = "D", _("D 级")
    E = "E", _("E 级")
