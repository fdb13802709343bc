"""COB step 7 `early_warning` (行业预警, not chunked): the overdue rate of each industry, and what follows.

For business date D and each borrower industry (GB/T 4754 section):

    overdue rate = outstanding principal of loans with days past due ≥ 1 (M1+)
                   / outstanding principal of active and overdue loans

(outstanding principal = principal due − principal paid over the loan's current schedule, kept on the loan
as `Loan.principal_outstanding`), computed by one aggregate query over the loans and kept as an
`IndustryRiskSnapshot` per (D, industry).

* rate **above** `LOANOPS_EARLY_WARNING_THRESHOLD` (default 5 %): level 预警 — department and risk managers
  get an in-app message (and an e-mail when they have an address) when the industry enters the level;
* rate **above** `LOANOPS_EARLY_RESTRICTION_THRESHOLD` (default 10 %): level 限制 — an
  `underwriting.IndustryRestriction` is imposed: new offers in the industry get at most the product's
  maximum × `LOANOPS_EARLY_RESTRICTION_FACTOR` (default 0.5) and need a manager's approval.

A restriction stays until a manager lifts it (`industry_restriction_lift`, audited). After a lift, the step
imposes it again only once the rate has been at or below the restriction threshold on some later date
(otherwise the next COB would undo the manager's decision). Every automatic change (level change,
restriction imposed) is audited with the `system` user as the actor. Rerunning D changes nothing.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Case, Count, DecimalField, F, Sum, Value, When
from django.utils import timezone

from applications.models import SERVICING_STATUSES, Industry, Loan
from compliance.audit import AuditEntry, audit_record, audit_record_many
from loan_collections.post_loan import IndustryRiskSnapshot, WarningLevel
from loanops import roles
from loanops.cob import CobStep, IdRange
from loanops.exceptions import InputError, InvalidTransition
from loanops.money import ZERO, format_money, format_rate_percent, to_decimal, to_money, to_rate
from notifications.models import Channel
from notifications.services import Message, outbox_write_many
from servicing.services.business_date import business_date_get
from underwriting.industry_restrictions import IndustryRestriction

DEFAULT_WARNING = Decimal("0.05")
DEFAULT_RESTRICTION = Decimal("0.10")
DEFAULT_FACTOR = Decimal("0.5")
LIFT_PERMISSION = "underwriting.lift_industryrestriction"
NOTIFIED_ROLES = (roles.MANAGER, roles.RISK)
_LEVEL_ORDER = {WarningLevel.NORMAL: 0, WarningLevel.WARNING: 1, WarningLevel.RESTRICTION: 2}


def thresholds() -> tuple[Decimal, Decimal, Decimal]:
    """(warning threshold, restriction threshold, restriction factor) from the settings."""
    return (
        to_rate(to_decimal(str(getattr(settings, "LOANOPS_EARLY_WARNING_THRESHOLD", DEFAULT_WARNING)))),
        to_rate(to_decimal(str(getattr(settings, "LOANOPS_EARLY_RESTRICTION_THRESHOLD", DEFAULT_RESTRICTION)))),
        to_decimal(str(getattr(settings, "LOANOPS_EARLY_RESTRICTION_FACTOR", DEFAULT_FACTOR))),
    )


def level_for(rate: Decimal, *, warning: Decimal, restriction: Decimal) -> str:
    if rate > restriction:
        return WarningLevel.RESTRICTION
    if rate > warning:
        return WarningLevel.WARNING
    return WarningLevel.NORMAL


def industry_overdue_rates() -> dict[str, dict[str, Any]]:
    """Industry → {outstanding, overdue, loans, rate} over active and overdue loans (one grouped query).

    Over the loans alone: each loan keeps its outstanding principal (``Loan.principal_outstanding``, the
    current schedule's Σ(principal due − principal paid), proved by the ledger check), so the step reads a
    million loans, not twelve million installments.
    """
    money = DecimalField(max_digits=18, decimal_places=2)
    rows = (
        Loan.objects.filter(status__in=SERVICING_STATUSES)
        .values("customer__industry")
        .annotate(
            balance=Sum("principal_outstanding", output_field=money),
            overdue=Sum(
                Case(
                    When(days_past_due__gte=1, then=F("principal_outstanding")),
                    default=Value(ZERO),
                    output_field=money,
                )
            ),
            loans=Count("pk"),
        )
        .order_by("customer__industry")
    )
    result: dict[str, dict[str, Any]] = {}
    for row in rows:
        outstanding = to_money(row["balance"] or ZERO)
        overdue = to_money(row["overdue"] or ZERO)
        if outstanding <= 0:
            continue
        result[row["customer__industry"]] = {
            "outstanding": outstanding,
            "overdue": overdue,
            "loans": row["loans"],
            "ratio": overdue / outstanding,  # exact: the thresholds compare against this
            "rate": to_rate(overdue / outstanding),  # stored and shown (6 places)
        }
    return result


def _system_user() -> Any:
    return get_user_model().objects.get(username=settings.LOANOPS_SYSTEM_USERNAME)


def _rearmed_after_lift(industry: str, *, business_date: date) -> bool:
    """May a restriction be imposed again? Yes unless a manager lifted the last one and the rate has not
    been at or below the restriction threshold on any date since the lift."""
    last = IndustryRestriction.objects.filter(industry=industry).order_by("-id").first()
    if last is None or last.lifted_on is None:
        return True
    return (
        IndustryRiskSnapshot.objects.filter(industry=industry, business_date__gt=last.lifted_on)
        .exclude(level=WarningLevel.RESTRICTION)
        .exists()
    )


def _notify(*, business_date: date, raised: list[IndustryRiskSnapshot]) -> int:
    if not raised:
        return 0
    users = list(
        get_user_model()
        .objects.filter(is_active=True, groups__name__in=NOTIFIED_ROLES)
        .distinct()
        .order_by("pk")
        .only("pk", "email")
    )
    messages: list[Message] = []
    for snapshot in raised:
        label = Industry(snapshot.industry).label
        level = WarningLevel(snapshot.level)
        subject = f"【行业{level.label}】{label} 逾期率 {format_rate_percent(snapshot.overdue_rate)}"
        body = (
            f"营业日 {business_date:%Y-%m-%d}，{label} 行业在贷余额 {format_money(snapshot.outstanding_principal)} 元，"
            f"其中 M1+ 逾期余额 {format_money(snapshot.overdue_principal)} 元，逾期率 "
            f"{format_rate_percent(snapshot.overdue_rate)}，超过{level.label}阈值 "
            f"{format_rate_percent(snapshot.restriction_threshold if level == WarningLevel.RESTRICTION else snapshot.warning_threshold)}。"
        )
        if level == WarningLevel.RESTRICTION:
            body += "该行业新增要约的最高金额已按系数压降，并需部门经理审批。"
        key = f"early_warning:{business_date.isoformat()}:{snapshot.industry}:{snapshot.level}"
        for user in users:
            messages.append(
                Message(
                    channel=Channel.IN_APP,
                    kind="early_warning",
                    dedupe_key=f"{key}:{user.pk}:in_app",
                    recipient_user_id=user.pk,
                    subject=subject,
                    body=body,
                )
            )
            if user.email:
                messages.append(
                    Message(
                        channel=Channel.EMAIL,
                        kind="early_warning",
                        dedupe_key=f"{key}:{user.pk}:email",
                        recipient=user.email,
                        subject=subject,
                        body=body,
                    )
                )
    return outbox_write_many(messages)


@transaction.atomic
def early_warning_run(*, business_date: date, id_range: IdRange = None) -> int:
    """Compute D's industry overdue rates, notify on rising levels, impose restrictions. Returns the
    snapshot rows written plus restrictions imposed (0 for a rerun of D).

    D's snapshot is the book as D's close of business left it, written once: the step is one transaction
    (with its run record), so snapshot rows for D mean the step has run for D, and a rerun changes nothing
    — it does not recompute D from a book that online work has moved on since. A book with no outstanding
    balance writes no rows (and is recomputed, cheaply, on a rerun).
    """
    if IndustryRiskSnapshot.objects.filter(business_date=business_date).exists():
        return 0
    warning, restriction_threshold, factor = thresholds()
    rates = industry_overdue_rates()
    previous: dict[str, str] = {}
    for row in (
        IndustryRiskSnapshot.objects.filter(business_date__lt=business_date)
        .order_by("industry", "-business_date")
        .values("industry", "level")
    ):
        previous.setdefault(row["industry"], row["level"])

    written = [
        IndustryRiskSnapshot(
            business_date=business_date,
            industry=industry,
            outstanding_principal=figures["outstanding"],
            overdue_principal=figures["overdue"],
            loan_count=figures["loans"],
            overdue_rate=figures["rate"],
            level=level_for(figures["ratio"], warning=warning, restriction=restriction_threshold),
            warning_threshold=warning,
            restriction_threshold=restriction_threshold,
        )
        for industry, figures in rates.items()
    ]
    IndustryRiskSnapshot.objects.bulk_create(written)
    touched = len(written)

    system = _system_user()
    audit: list[AuditEntry] = []
    raised: list[IndustryRiskSnapshot] = []
    for snapshot in written:
        before = previous.get(snapshot.industry, WarningLevel.NORMAL)
        if before != snapshot.level:
            audit.append(
                AuditEntry(
                    action="industry_warning.level_change",
                    subject_type="collections.industryrisksnapshot",
                    subject_id=f"{business_date.isoformat()}:{snapshot.industry}",
                    actor=system,
                    before={"level": before},
                    after={"level": snapshot.level, "overdue_rate": snapshot.overdue_rate},
                    reason="日终批处理：行业逾期率",
                    data={"business_date": business_date, "industry": snapshot.industry},
                )
            )
            if _LEVEL_ORDER[WarningLevel(snapshot.level)] > _LEVEL_ORDER[WarningLevel(before)]:
                raised.append(snapshot)

    # Restrictions: every industry at restriction level on D (changed or not) without an active one.
    over = [
        i
        for i, f in rates.items()
        if level_for(f["ratio"], warning=warning, restriction=restriction_threshold) == WarningLevel.RESTRICTION
    ]
    active = set(
        IndustryRestriction.objects.filter(industry__in=over, lifted_at__isnull=True).values_list("industry", flat=True)
    )
    for industry in over:
        if industry in active or not _rearmed_after_lift(industry, business_date=business_date):
            continue
        restriction = IndustryRestriction.objects.create(
            industry=industry,
            factor=factor,
            overdue_rate=rates[industry]["rate"],
            threshold=restriction_threshold,
            imposed_on=business_date,
        )
        touched += 1
        audit.append(
            AuditEntry(
                action="industry_restriction.impose",
                subject_type="underwriting.industryrestriction",
                subject_id=str(restriction.pk),
                actor=system,
                after={"industry": industry, "factor": factor, "active": True},
                reason="日终批处理：行业逾期率超过限制阈值",
                data={
                    "business_date": business_date,
                    "overdue_rate": rates[industry]["rate"],
                    "threshold": restriction_threshold,
                },
            )
        )
    if audit:
        audit_record_many(audit)
    _notify(business_date=business_date, raised=raised)
    return touched


EARLY_WARNING_STEP = CobStep(name="early_warning", label="行业预警", func=early_warning_run, chunked=False)


@transaction.atomic
def industry_restriction_lift(*, actor: Any, restriction_id: int, reason: str) -> IndustryRestriction:
    """A manager lifts an active restriction (perm ``underwriting.lift_industryrestriction``); audited."""
    if not actor.has_perm(LIFT_PERMISSION):
        raise PermissionDenied("您没有权限解除行业限制")
    restriction = IndustryRestriction.objects.select_for_update().get(pk=restriction_id)
    if restriction.lifted_at is not None:
        raise InvalidTransition("该行业限制已解除", extra={"restriction_id": restriction.pk})
    clean = str(reason or "").strip()
    if not clean:
        raise InputError("请填写解除原因", fields={"reason": ["请填写解除原因"]})
    restriction.lifted_at = timezone.now()
    restriction.lifted_on = business_date_get()
    restriction.lifted_by = actor
    restriction.lift_reason = clean
    restriction.save(update_fields=["lifted_at", "lifted_on", "lifted_by", "lift_reason"])
    audit_record(
        actor=actor,
        action="industry_restriction.lift",
        subject=restriction,
        before={"active": True},
        after={"active": False},
        reason=clean,
        data={"industry": restriction.industry, "lifted_on": restriction.lifted_on},
    )
    return restriction


# --- reads for the back-office page ---------------------------------------------------------------


def warning_overview() -> dict[str, Any]:
    """The latest snapshot date's rows, active restrictions, recent lifts, and approved loans in restricted
    industries still waiting for a manager's offer approval (a fixed number of queries)."""
    from applications.models import Loan, LoanStatus

    latest = IndustryRiskSnapshot.objects.order_by("-business_date").values_list("business_date", flat=True).first()
    snapshots = (
        list(IndustryRiskSnapshot.objects.filter(business_date=latest).order_by("-overdue_rate", "industry"))
        if latest is not None
        else []
    )
    active = list(IndustryRestriction.objects.filter(lifted_at__isnull=True).order_by("industry"))
    lifted = list(
        IndustryRestriction.objects.filter(lifted_at__isnull=False)
        .select_related("lifted_by")
        .order_by("-lifted_at")[:10]
    )
    waiting = list(
        Loan.objects.filter(
            status=LoanStatus.APPROVED,
            customer__industry__in=[r.industry for r in active],
            restricted_offer_approval__isnull=True,
        )
        .select_related("customer", "product")
        .order_by("status_changed_at", "pk")[:100]
    )
    factors = {r.industry: r for r in active}
    for loan in waiting:
        restriction = factors[loan.customer.industry]
        loan.restricted_max = to_money(loan.product.max_amount * restriction.factor)  # type: ignore[attr-defined]
    return {
        "snapshot_date": latest,
        "snapshots": snapshots,
        "restrictions": active,
        "lifted": lifted,
        "waiting_loans": waiting,
    }
