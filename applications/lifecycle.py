"""The single write path for a loan's status (STYLE §7.5).

Stage services lock the loan with `loans_for_update()` inside `transaction.atomic()` and call
`loan_transition(loan, "<verb>", actor=…, reason=…)`, which:
1. refuses an illegal transition with `InvalidTransition` (HTTP 409) before anything is written;
2. refuses a user without the transition's permission with `PermissionDenied` (HTTP 403);
3. runs the transition, saves with `update_fields`, and records the stage event and the audit event;
4. writes the stage-change notification to the outbox (same transaction; delivered after the commit).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import django_fsm as fsm
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from applications.models import TRANSITIONS, Loan, LoanStageEvent, LoanStatus
from compliance.audit import AuditEntry, audit_record, audit_record_many
from loanops.exceptions import InvalidTransition
from loanops.sql import insert_rows


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


def loan_transition_many(loan_ids: Iterable[int], name: str, *, actor: Any, reason: str = "", **data: Any) -> list[int]:
    """`loan_transition` for many loans at once (the daily batch): the same FSM rules, set-based writes.

    Enforces what ``loan_transition`` enforces — the transition's source states and its permission —
    for a transition without data conditions and with a permission that is a codename (``mark_overdue``,
    ``cure``): a per-loan condition or permission callable needs the per-loan path. Locks the loans in
    primary-key order, refuses the whole batch with ``InvalidTransition`` (nothing written) if any loan is
    not in a source state, then writes one UPDATE per target state and the stage events and the
    hash-chained audit events in bulk (``audit_record_many``). The customer notification that
    ``loan_transition`` queues is not sent from here: the batch's own notices (reminders, overdue
    notices) tell the customer. Returns the ids transitioned, in order.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("loan_transition_many must run inside transaction.atomic()")
    if name not in TRANSITIONS:
        raise ValueError(f"unknown transition {name!r}")
    ids = sorted(set(loan_ids))
    meta = getattr(Loan, name)._django_fsm
    transitions = dict(meta.transitions)
    for transition in transitions.values():
        if transition.conditions or (transition.permission is not None and not isinstance(transition.permission, str)):
            raise ValueError(f"{name} has conditions or a per-loan permission: use loan_transition per loan")
        if transition.permission is not None and not actor.has_perm(transition.permission):
            raise PermissionDenied(f"您没有权限对该贷款执行此操作（{name}）")
    if not ids:
        return []
    rows = list(loans_for_update().filter(pk__in=ids).values_list("pk", "status"))
    found = {pk for pk, _ in rows}
    illegal = [(pk, status) for pk, status in rows if status not in transitions]
    if illegal or len(found) != len(ids):
        pk, source = illegal[0] if illegal else (next(i for i in ids if i not in found), "")
        raise InvalidTransition(
            f"贷款 #{pk} 当前状态为「{LoanStatus(source).label if source else '不存在'}」，不能执行该操作（{name}）",
            extra={"status": source, "transition": name, "loan_id": pk},
        )
    now = timezone.now()
    by_source: dict[str, list[int]] = {}
    for pk, status in rows:
        by_source.setdefault(status, []).append(pk)
    events: list[tuple[Any, ...]] = []
    audits: list[AuditEntry] = []
    actor_id = getattr(actor, "pk", None)
    for source, pks in by_source.items():
        target = transitions[source].target
        Loan.objects.filter(pk__in=pks, status=source).update(status=target, status_changed_at=now, updated_at=now)
        for pk in pks:
            events.append((pk, name, source, target, actor_id, reason, now))
            audits.append(
                AuditEntry(
                    action=f"loan.{name}",
                    subject_type="applications.loan",
                    subject_id=str(pk),
                    actor=actor,
                    before={"status": source},
                    after={"status": target},
                    reason=reason,
                    data=data,
                )
            )
    insert_rows(
        LoanStageEvent,
        ("loan_id", "transition", "from_status", "to_status", "actor_id", "reason", "occurred_at"),
        events,
    )
    audit_record_many(audits)
    return ids
