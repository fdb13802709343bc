"""Read side of collections: who sees which case, the case queue, arrears, contact history, promises."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Count, Max, OuterRef, Q, QuerySet, Subquery

from applications.models import Customer
from compliance.pii import pii_hash
from loan_collections.case_models import (
    CaseEvent,
    CaseStatus,
    CollectionCase,
    CollectionLevel,
    ContactAttempt,
    ContactChannel,
    ContactConsent,
    NamedContact,
    PromiseStatus,
    PromiseToPay,
)
from loanops.money import ZERO
from servicing.selectors import schedule_current

__all__ = [
    "ArrearsLine",
    "case_arrears",
    "case_contacts",
    "case_events",
    "case_get_for_actor",
    "case_next_action",
    "case_promises",
    "case_queue",
    "cases_visible_to",
    "consent_active",
    "contact_usage",
    "named_contacts_of",
]

NEXT_ACTION_BY_LEVEL: dict[str, str] = {
    CollectionLevel.REMINDER: "电话或短信提醒借款人还款",
    CollectionLevel.COLLECTOR: "电话催收，争取承诺还款",
    CollectionLevel.FIELD_VISIT: "安排上门催收",
    CollectionLevel.LEGAL: "整理诉讼材料，移交法务",
    CollectionLevel.OUTSOURCED: "移交委外催收机构并跟进回款",
}


def may_see_all_cases(user: Any) -> bool:
    return bool(user.is_authenticated and user.is_staff and user.has_perm("collections.view_all_collectioncases"))


def cases_visible_to(user: Any) -> QuerySet[CollectionCase]:
    """Managers (view_all) see every case; other case workers only the cases assigned to them; others none."""
    queryset = CollectionCase.objects.select_related("loan", "loan__product", "customer", "assigned_to")
    if not (user.is_authenticated and user.is_staff and user.has_perm("collections.view_collectioncase")):
        return queryset.none()
    if may_see_all_cases(user):
        return queryset
    return queryset.filter(assigned_to=user)


def case_get_for_actor(*, actor: Any, case_id: int) -> CollectionCase:
    """The case if this user may see it; ``CollectionCase.DoesNotExist`` (→ 404) otherwise."""
    return cases_visible_to(actor).get(pk=case_id)


def case_queue(user: Any, *, mine: bool = True, filters: dict[str, Any] | None = None) -> QuerySet[CollectionCase]:
    """我的案件 (``mine``) or every visible case, filtered, with the last contact and the pending promise
    annotated (no query per row): most urgent first (priority, then days past due)."""
    filters = filters or {}
    queryset = cases_visible_to(user)
    if mine:
        queryset = queryset.filter(assigned_to=user)
    status = filters.get("status", CaseStatus.OPEN)
    if status:
        queryset = queryset.filter(status=status)
    if filters.get("level"):
        queryset = queryset.filter(level=filters["level"])
    if filters.get("bucket"):
        queryset = queryset.filter(loan__bucket=filters["bucket"])
    if filters.get("role"):
        queryset = queryset.filter(responsible_role=filters["role"])
    if filters.get("assigned_to"):
        queryset = queryset.filter(assigned_to_id=filters["assigned_to"])
    if filters.get("unassigned"):
        queryset = queryset.filter(assigned_to__isnull=True)
    if filters.get("priority"):
        queryset = queryset.filter(priority=True)
    query = (filters.get("q") or "").strip()
    if query:
        queryset = queryset.filter(Q(loan__reference__icontains=query) | Q(customer__name__icontains=query))
    pending = PromiseToPay.objects.filter(case=OuterRef("pk"), status=PromiseStatus.PENDING)
    return queryset.annotate(
        last_contact_at=Max("contacts__attempted_at", filter=Q(contacts__refused=False)),
        contact_count=Count("contacts", filter=Q(contacts__refused=False)),
        pending_promise_date=Subquery(pending.values("promised_date")[:1]),
        pending_promise_amount=Subquery(pending.values("amount")[:1]),
    ).order_by("-priority", "-loan__days_past_due", "pk")


@dataclass
class ArrearsLine:
    period: int
    due_date: date
    days_overdue: int
    principal: Decimal
    interest: Decimal
    penalty: Decimal
    fees: Decimal

    @property
    def total(self) -> Decimal:
        return self.principal + self.interest + self.penalty + self.fees


@dataclass
class Arrears:
    lines: list[ArrearsLine] = field(default_factory=list)

    def _sum(self, name: str) -> Decimal:
        return sum((getattr(line, name) for line in self.lines), ZERO)

    @property
    def principal(self) -> Decimal:
        return self._sum("principal")

    @property
    def interest(self) -> Decimal:
        return self._sum("interest")

    @property
    def penalty(self) -> Decimal:
        return self._sum("penalty")

    @property
    def fees(self) -> Decimal:
        return self._sum("fees")

    @property
    def total(self) -> Decimal:
        return self._sum("total")


def case_arrears(case: CollectionCase, *, on: date) -> Arrears:
    """Arrears itemised per overdue installment (due before ``on`` and not fully paid), from the schedule."""
    arrears = Arrears()
    for item in schedule_current(case.loan):
        if item.due_date >= on or item.outstanding <= 0:
            continue
        arrears.lines.append(
            ArrearsLine(
                period=item.period,
                due_date=item.due_date,
                days_overdue=(on - item.due_date).days,
                principal=item.principal_due - item.principal_paid,
                interest=item.interest_due - item.interest_paid,
                penalty=item.penalty_due - item.penalty_paid,
                fees=item.fee_due - item.fee_paid,
            )
        )
    return arrears


def case_contacts(case: CollectionCase) -> QuerySet[ContactAttempt]:
    return ContactAttempt.objects.filter(case=case).select_related("recorded_by", "named_contact").order_by("-id")


def case_promises(case: CollectionCase) -> QuerySet[PromiseToPay]:
    return PromiseToPay.objects.filter(case=case).select_related("created_by").order_by("-id")


def case_events(case: CollectionCase) -> QuerySet[CaseEvent]:
    return CaseEvent.objects.filter(case=case).select_related("assigned_to", "actor").order_by("id")


def case_next_action(case: CollectionCase, *, pending: PromiseToPay | None = None) -> str:
    """What to do next: the worker's own note, else following up a pending promise, else the level's default."""
    if case.status != CaseStatus.OPEN:
        return "已结案"
    if case.next_action:
        when = f"（{case.next_action_on.isoformat()}）" if case.next_action_on else ""
        return f"{case.next_action}{when}"
    if pending is not None:
        return f"跟进承诺还款：{pending.promised_date.isoformat()} 前还款 {pending.amount} 元"
    return NEXT_ACTION_BY_LEVEL.get(case.level, "")


def named_contacts_of(customer: Customer | int) -> QuerySet[NamedContact]:
    return NamedContact.objects.filter(customer=customer, is_active=True).order_by("id")


def consent_active(customer: Customer | int) -> ContactConsent | None:
    return ContactConsent.objects.filter(customer=customer, revoked_at__isnull=True).first()


def contact_usage(*, customer_id: int, number: str, on: date) -> dict[str, int]:
    """Today's (Shanghai date ``on``) effective calls with this debtor and dial attempts to this number.

    Only attempts that were made count (refused ones were not made).
    """
    made = ContactAttempt.objects.filter(local_date=on, refused=False, channel=ContactChannel.PHONE)
    effective = made.filter(customer_id=customer_id, effective=True).count()
    dials = made.filter(number_hash=pii_hash(number)).count() if number else 0
    return {"effective_calls": effective, "dials": dials}
