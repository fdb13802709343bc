"""Write side of collections: the contact log (with the contact policy), promises to pay, named contacts,
quiet-hours consent, manual assignment and escalation. The COB step lives in ``loan_collections.batch``.

Every service checks its permission, runs in one transaction and audits. A contact attempt that the policy
refuses is still recorded — marked refused, with the rule — in the same transaction as the check; the
refusal (``ContactRefused``, HTTP 422) is raised after that transaction committed.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from applications.models import Customer
from applications.selectors import customers_visible_to
from applications.services import FieldErrors, require_perm
from compliance.audit import audit_record
from compliance.pii import mask_phone, pii_hash
from loan_collections.case_models import (
    EFFECTIVE_OUTCOMES,
    CaseEvent,
    CaseEventKind,
    CaseStatus,
    CollectionCase,
    CollectionLevel,
    ContactAttempt,
    ContactChannel,
    ContactConsent,
    ContactOutcome,
    ContactParty,
    ContactRelation,
    NamedContact,
    PromiseStatus,
    PromiseToPay,
)
from loan_collections.case_selectors import cases_visible_to, consent_active, contact_usage
from loan_collections.policy import ContactPolicy, contact_policy, role_for_level, shanghai_date, shanghai_time
from loanops.exceptions import DomainError, InputError
from loanops.money import to_money
from servicing.services.business_date import business_date_get

__all__ = [
    "ContactRefused",
    "case_assign",
    "case_escalate",
    "contact_attempt_log",
    "contact_consent_grant",
    "contact_consent_revoke",
    "named_contact_add",
    "named_contact_remove",
    "promise_create",
]

NUMBER_RE = re.compile(r"^\+?\d{5,19}$")
#: channels that reach a number (the number defaults to the debtor's or the named contact's phone)
NUMBER_CHANNELS = (ContactChannel.PHONE, ContactChannel.SMS)


class ContactRefused(DomainError):
    """The contact policy refused an attempt (HTTP 422). The refused attempt has been recorded."""

    def __init__(self, message: str, *, rule: str, attempt_id: int) -> None:
        super().__init__(message, code="contact_policy", extra={"rule": rule, "attempt_id": attempt_id})
        self.rule = rule
        self.attempt_id = attempt_id


def _case_for_update(actor: Any, case_id: int) -> CollectionCase:
    """Lock the case (it must be visible to the actor: ``DoesNotExist`` → 404), then its debtor."""
    case = cases_visible_to(actor).select_for_update(of=("self",)).get(pk=case_id)
    Customer.objects.select_for_update().filter(pk=case.customer_id).values_list("pk", flat=True).first()
    return case


def _lock_number(number: str) -> None:
    """Serialise attempts on one number across debtors (PostgreSQL; SQLite serialises writers anyway)."""
    if number and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(7202612, hashtext(%s))", [number])


def _require_open(case: CollectionCase) -> None:
    if case.status != CaseStatus.OPEN:
        raise DomainError("案件已结案，不能再登记", code="case_closed")


def _event(case: CollectionCase, kind: str, *, actor: Any, **fields: Any) -> CaseEvent:
    return CaseEvent.objects.create(case=case, kind=kind, business_date=business_date_get(), actor=actor, **fields)


# --- contact log ----------------------------------------------------------------------------


def policy_refusal(
    *,
    policy: ContactPolicy,
    channel: str,
    party: str,
    named_contact_ok: bool,
    number: str,
    customer_id: int,
    moment: datetime,
    consented: bool,
) -> tuple[str, str] | None:
    """The first contact rule this attempt would break, as ``(rule, message)``; None when allowed."""
    if party == ContactParty.THIRD_PARTY or (party == ContactParty.NAMED_CONTACT and not named_contact_ok):
        return (
            "third_party_not_named",
            "不得联系借款人指定联系人以外的第三方：请先在借款人资料中登记其指定的联系人",
        )
    waived = consented and party == ContactParty.DEBTOR  # the debtor's consent covers only the debtor
    if channel in policy.quiet_hours_channels and policy.in_quiet_hours(moment) and not waived:
        return (
            "quiet_hours",
            f"北京时间 {policy.quiet_label} 不得催收联系（当前北京时间 {shanghai_time(moment):%H:%M}），"
            "借款人本人同意的除外",
        )
    if channel == ContactChannel.PHONE:
        usage = contact_usage(customer_id=customer_id, number=number, on=shanghai_date(moment))
        if usage["effective_calls"] >= policy.max_effective_calls:
            return (
                "daily_effective_calls",
                f"该借款人今日（北京时间）已有 {usage['effective_calls']} 次有效通话，"
                f"已达每日上限 {policy.max_effective_calls} 次",
            )
        if number and usage["dials"] >= policy.max_dials_per_number:
            return (
                "daily_dials_per_number",
                f"号码 {mask_phone(number)} 今日（北京时间）已拨打 {usage['dials']} 次，"
                f"已达每日上限 {policy.max_dials_per_number} 次",
            )
    return None


def contact_attempt_log(
    *,
    actor: Any,
    case_id: int,
    channel: str,
    party: str,
    outcome: str,
    number: str = "",
    named_contact_id: int | None = None,
    note: str = "",
    next_action: str = "",
    next_action_on: date | None = None,
    at: datetime | None = None,
) -> ContactAttempt:
    """Record a contact attempt on a case, checked against the contact policy (perm ``add_contactattempt``).

    ``at`` is the moment of the attempt (default: now); the policy reads it in Asia/Shanghai time. An attempt
    outside the policy is recorded as refused with its rule, and then ``ContactRefused`` is raised.
    """
    require_perm(actor, "collections.add_contactattempt")
    errors = FieldErrors()
    if channel not in ContactChannel.values:
        errors.add("channel", "请选择联系方式")
    if party not in ContactParty.values:
        errors.add("party", "请选择联系对象")
    if outcome not in ContactOutcome.values:
        errors.add("outcome", "请选择联系结果")
    if party == ContactParty.NAMED_CONTACT and not named_contact_id:
        errors.add("named_contact", "联系指定联系人时请选择是哪一位")
    number = re.sub(r"[\s-]", "", number or "")
    if number and not NUMBER_RE.match(number):
        errors.add("number", "号码格式有误")
    errors.raise_if_any()
    moment = at or timezone.now()
    policy = contact_policy()

    with transaction.atomic():
        case = _case_for_update(actor, case_id)
        _require_open(case)
        contact = None
        if party == ContactParty.NAMED_CONTACT and named_contact_id:
            contact = NamedContact.objects.filter(
                pk=named_contact_id, customer_id=case.customer_id, is_active=True
            ).first()
        if not number and channel in NUMBER_CHANNELS:
            if party == ContactParty.DEBTOR:
                number = case.customer.phone
            elif contact is not None:
                number = contact.phone
        _lock_number(number)
        refusal = policy_refusal(
            policy=policy,
            channel=channel,
            party=party,
            named_contact_ok=contact is not None,
            number=number,
            customer_id=case.customer_id,
            moment=moment,
            consented=consent_active(case.customer_id) is not None,
        )
        rule, message = refusal or ("", "")
        attempt = ContactAttempt.objects.create(
            case=case,
            customer_id=case.customer_id,
            channel=channel,
            number=number,
            party=party,
            named_contact=contact,
            outcome="" if refusal else outcome,
            effective=not refusal and channel == ContactChannel.PHONE and outcome in EFFECTIVE_OUTCOMES,
            note=note,
            attempted_at=moment,
            local_date=shanghai_date(moment),
            refused=refusal is not None,
            refusal_rule=rule,
            refusal_message=message,
            recorded_by=actor,
        )
        if not refusal and (next_action or next_action_on):
            case.next_action, case.next_action_on = next_action[:200], next_action_on
            case.save(update_fields=["next_action", "next_action_on", "updated_at"])
        audit_record(
            actor=actor,
            action="collection_contact.refused" if refusal else "collection_contact.logged",
            subject=case,
            reason=message,
            data={
                "attempt_id": attempt.pk,
                "channel": channel,
                "party": party,
                "outcome": attempt.outcome,
                "rule": rule,
                "local_time": f"{shanghai_date(moment).isoformat()} {shanghai_time(moment):%H:%M}",
            },
        )
    if refusal:
        raise ContactRefused(message, rule=rule, attempt_id=attempt.pk)
    return attempt


# --- promises to pay -----------------------------------------------------------------------


def promise_create(
    *,
    actor: Any,
    case_id: int,
    amount: Decimal | str,
    promised_date: date,
    note: str = "",
    contact_id: int | None = None,
) -> PromiseToPay:
    """Record a promise to pay ``amount`` by ``promised_date`` (perm ``add_promisetopay``).

    The date is between today's business date and ``promise_max_days`` later; one pending promise per case.
    """
    require_perm(actor, "collections.add_promisetopay")
    today = business_date_get()
    policy = contact_policy()
    errors = FieldErrors()
    try:
        value = to_money(amount)
    except (TypeError, ArithmeticError, ValueError):
        value = Decimal(0)
        errors.add("amount", "请输入金额")
    if value <= 0:
        errors.add("amount", "承诺金额须大于 0")
    if promised_date < today:
        errors.add("promised_date", f"承诺还款日不能早于营业日 {today.isoformat()}")
    elif promised_date > today + timedelta(days=policy.promise_max_days):
        errors.add("promised_date", f"承诺还款日最晚为营业日后 {policy.promise_max_days} 天")
    errors.raise_if_any()
    with transaction.atomic():
        case = _case_for_update(actor, case_id)
        _require_open(case)
        pending = PromiseToPay.objects.filter(case=case, status=PromiseStatus.PENDING).first()
        if pending is not None:
            raise DomainError(
                f"该案件已有待兑现的承诺还款（{pending.promised_date.isoformat()} 前还 {pending.amount} 元）",
                code="promise_pending",
            )
        contact = None
        if contact_id is not None:
            contact = ContactAttempt.objects.filter(pk=contact_id, case=case, refused=False).first()
            if contact is None:
                raise InputError("输入有误", fields={"contact": ["联系记录不属于该案件"]})
        promise = PromiseToPay.objects.create(
            case=case,
            loan_id=case.loan_id,
            amount=value,
            promised_date=promised_date,
            made_on=today,
            contact=contact,
            note=note[:200],
            created_by=actor,
        )
        audit_record(
            actor=actor,
            action="collection_promise.create",
            subject=case,
            data={"promise_id": promise.pk, "amount": value, "promised_date": promised_date},
        )
    return promise


# --- named contacts and consent ----------------------------------------------------------


def _customer_for_update(actor: Any, customer_id: int) -> Customer:
    return customers_visible_to(actor).select_for_update().get(pk=customer_id)


@transaction.atomic
def named_contact_add(*, actor: Any, customer_id: int, name: str, relation: str, phone: str) -> NamedContact:
    """Add a contact person the debtor named (perm ``add_namedcontact``)."""
    require_perm(actor, "collections.add_namedcontact")
    customer = _customer_for_update(actor, customer_id)
    errors = FieldErrors()
    phone = re.sub(r"[\s-]", "", phone or "")
    if not (name or "").strip():
        errors.add("name", "请填写联系人姓名")
    if relation not in ContactRelation.values:
        errors.add("relation", "请选择与借款人的关系")
    if not NUMBER_RE.match(phone):
        errors.add("phone", "联系电话格式有误")
    elif phone == customer.phone:
        errors.add("phone", "这是借款人本人的号码")
    elif NamedContact.objects.filter(customer=customer, phone_hash=pii_hash(phone), is_active=True).exists():
        errors.add("phone", "该号码已登记为联系人")
    errors.raise_if_any()
    contact = NamedContact.objects.create(
        customer=customer, name=name.strip()[:60], relation=relation, phone=phone, added_by=actor
    )
    audit_record(
        actor=actor, action="named_contact.add", subject=customer, data={"contact_id": contact.pk, "relation": relation}
    )
    return contact


@transaction.atomic
def named_contact_remove(*, actor: Any, contact_id: int) -> NamedContact:
    require_perm(actor, "collections.add_namedcontact")
    contact = NamedContact.objects.select_for_update().get(
        pk=contact_id, is_active=True, customer__in=customers_visible_to(actor)
    )
    contact.is_active = False
    contact.save(update_fields=["is_active"])
    audit_record(
        actor=actor, action="named_contact.remove", subject_type="applications.customer",
        subject_id=str(contact.customer_id), data={"contact_id": contact.pk},
    )  # fmt: skip
    return contact


@transaction.atomic
def contact_consent_grant(*, actor: Any, customer_id: int, note: str) -> ContactConsent:
    """Record the debtor's consent to contact in the quiet hours (perm ``add_contactconsent``)."""
    require_perm(actor, "collections.add_contactconsent")
    customer = _customer_for_update(actor, customer_id)
    if not (note or "").strip():
        raise InputError("输入有误", fields={"note": ["请注明借款人同意的方式（如通话录音编号、书面同意书）"]})
    if consent_active(customer) is not None:
        raise DomainError("借款人已同意夜间联系", code="consent_exists")
    consent = ContactConsent.objects.create(customer=customer, note=note.strip()[:200], recorded_by=actor)
    audit_record(actor=actor, action="contact_consent.grant", subject=customer, reason=consent.note)
    return consent


@transaction.atomic
def contact_consent_revoke(*, actor: Any, customer_id: int, note: str = "") -> ContactConsent:
    require_perm(actor, "collections.add_contactconsent")
    customer = _customer_for_update(actor, customer_id)
    consent = ContactConsent.objects.select_for_update().filter(customer=customer, revoked_at__isnull=True).first()
    if consent is None:
        raise DomainError("借款人没有有效的夜间联系同意", code="consent_missing")
    consent.revoked_at, consent.revoked_by = timezone.now(), actor
    consent.save(update_fields=["revoked_at", "revoked_by"])
    audit_record(actor=actor, action="contact_consent.revoke", subject=customer, reason=note)
    return consent


# --- manual assignment and escalation ----------------------------------------------------


@transaction.atomic
def case_assign(*, actor: Any, case_id: int, assignee_id: int, reason: str = "") -> CollectionCase:
    """Give a case to a member of staff in its responsible role (perm ``assign_collectioncase``)."""
    require_perm(actor, "collections.assign_collectioncase")
    case = _case_for_update(actor, case_id)
    _require_open(case)
    assignee = (
        get_user_model()
        .objects.filter(pk=assignee_id, is_active=True, is_staff=True, groups__name=case.responsible_role)
        .first()
    )
    if assignee is None:
        raise InputError("输入有误", fields={"assignee": ["请选择该案件责任岗位的在职员工"]})
    before = case.assigned_to_id
    case.assigned_to, case.assigned_on = assignee, business_date_get()
    case.save(update_fields=["assigned_to", "assigned_on", "updated_at"])
    _event(case, CaseEventKind.ASSIGNED, actor=actor, to_level=case.level, role=case.responsible_role,
           assigned_to=assignee, reason=reason[:200] or "人工分案")  # fmt: skip
    audit_record(actor=actor, action="collection_case.assign", subject=case, before={"assigned_to": before},
                 after={"assigned_to": assignee.pk}, reason=reason)  # fmt: skip
    return case


@transaction.atomic
def case_escalate(*, actor: Any, case_id: int, level: str, reason: str) -> CollectionCase:
    """Move a case to another level by hand, e.g. M3+ to outsourcing instead of legal action.

    Perm ``assign_collectioncase``. When the responsible role changes the case is unassigned (the next
    COB assigns it by load, or a manager assigns it now). The COB never moves a case below its bucket's level.
    """
    require_perm(actor, "collections.assign_collectioncase")
    if level not in CollectionLevel.values:
        raise InputError("输入有误", fields={"level": ["请选择催收阶段"]})
    if not (reason or "").strip():
        raise InputError("输入有误", fields={"reason": ["请填写调整原因"]})
    case = _case_for_update(actor, case_id)
    _require_open(case)
    if level == case.level:
        raise DomainError("案件已处于该催收阶段", code="same_level")
    old_level, old_role = case.level, case.responsible_role
    case.level, case.responsible_role = level, role_for_level(level)
    fields = ["level", "responsible_role", "updated_at"]
    if case.responsible_role != old_role:
        case.assigned_to, case.assigned_on = None, None
        fields += ["assigned_to", "assigned_on"]
    case.save(update_fields=fields)
    _event(case, CaseEventKind.ESCALATED, actor=actor, from_level=old_level, to_level=level,
           role=case.responsible_role, assigned_to=case.assigned_to, reason=reason[:200])  # fmt: skip
    audit_record(actor=actor, action="collection_case.escalate", subject=case,
                 before={"level": old_level, "role": old_role},
                 after={"level": level, "role": case.responsible_role}, reason=reason)  # fmt: skip
    return case
