"""The single write path for a loan's status (STYLE §7.5).

Stage services lock the loan with `loans_for_update()` inside `transaction.atomic()` and call
`loan_transition(loan, "<verb>", actor=…, reason=…)`, which:
1. refuses an illegal transition with `InvalidTransition` (HTTP 409) before anything is written;
2. refuses a user without the transition's permission with `PermissionDenied` (HTTP 403);
3. runs the transition, saves with `update_fields`, and records the stage event and the audit event;
4. writes the stage-change notification to the outbox (same transaction; delivered after the commit).
"""

from __future__ import annotations

from typing import Any

import django_fsm as fsm
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from applications.models import TRANSITIONS, Loan, LoanStageEvent, LoanStatus
from compliance.audit import audit_record
from loanops.exceptions import InvalidTransition


def loans_for_update() -> QuerySet[Loan]:
    """Row-lock loans in primary-key order (deterministic lock order avoids deadlocks)."""
    return Loan.objects.order_by("pk").select_for_update(of=("self",))


def transition_allowed(loan: Loan, name: str, user: Any) -> bool:
    """May this user take this transition from the loan's current state (ignoring data conditions)?

    Conditions such as "offer terms are set" are met by the service that runs the transition (it sets
    the terms first), so they must not hide the action button.
    """
    meta = getattr(loan, name)._django_fsm
    state = loan.status
    return bool(meta.has_transition(state) and meta.has_transition_perm(loan, state, user))


def available_transitions(loan: Loan, user: Any) -> list[str]:
    """The transitions this user may take on this loan now (drives the action buttons)."""
    return [name for name in TRANSITIONS if transition_allowed(loan, name, user)]


def loan_transition(
    loan: Loan,
    name: str,
    *,
    actor: Any,
    reason: str = "",
    extra_fields: tuple[str, ...] = (),
    ip_address: str | None = None,
    **data: Any,
) -> Loan:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("loan_transition must run inside transaction.atomic()")
    if name not in TRANSITIONS:
        raise ValueError(f"unknown transition {name!r}")
    method = getattr(loan, name)
    source = loan.status
    if not fsm.can_proceed(method):
        raise InvalidTransition(
            f"贷款当前状态为「{LoanStatus(source).label}」，不能执行该操作（{name}）",
            extra={"status": source, "transition": name},
        )
    if not fsm.has_transition_perm(method, actor):
        raise PermissionDenied(f"您没有权限对该贷款执行此操作（{name}）")
    method()
    loan.status_changed_at = timezone.now()
    loan.save(update_fields=["status", "status_changed_at", "updated_at", *extra_fields])
    event = LoanStageEvent.objects.create(
        loan=loan, transition=name, from_status=source, to_status=loan.status, actor=actor, reason=reason
    )
    audit_record(
        actor=actor,
        action=f"loan.{name}",
        subject=loan,
        before={"status": source},
        after={"status": loan.status},
        reason=reason,
        data=data,
        ip_address=ip_address,
    )
    from applications.services import loan_stage_notify  # services import this module

    loan_stage_notify(loan=loan, event_id=event.pk)
    return loan
