"""Five-category loan classification (五级分类): the daily COB step ``classify`` and the risk manager's actions.

**Floor.** Every active/overdue loan has a floor, the best class it may hold on business date D:

* from days past due (``Loan.days_past_due``, set by the ``bucket`` step that runs before this one), using
  the product's ``dpd_floor_*`` fields where set, else ``settings.LOANOPS_RISK_CLASS_DPD_FLOORS``
  (defaults: DPD ≥ 1 → 关注, ≥ 91 → 次级, ≥ 271 → 可疑, ≥ 361 → 损失);
* a restructured loan is at least 关注 while ``D <= Loan.restructure_observation_until``.

**The rule the batch applies** (one ``UPDATE`` per chunk, with a history row per change inserted first by
one ``INSERT … SELECT``):

* no manual downgrade in force (``risk_class_manual`` false) → the class *is* the floor: it worsens when
  the floor worsens and improves when the floor improves (the loan cured, the observation period ended);
* a manual downgrade in force → the class is the worse of the recorded class and the floor: the batch
  never improves it. Once the floor reaches (or passes) the manual class, the floor has taken over and the
  manual flag is cleared, so from then on the class follows the floor again.

**Manual changes.** A risk manager (``servicing.classify_loan``) may classify a loan *lower-quality* than it
is now — immediately, audited, with a reason; that sets ``risk_class_manual``. A *better* class is only a
request (``RiskClassUpgradeRequest``) that a manager holding ``servicing.approve_risk_class_upgrade`` and
who is not the requester approves (four eyes). Floors are hard limits: an upgrade may not go better than
today's floor (422 ``below_floor``). An approved upgrade to exactly the floor clears the manual flag.
Each change writes a ``RiskClassChange`` row (source auto / manual / approved_upgrade).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    DateTimeField,
    F,
    IntegerField,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Now
from django.db.models.lookups import GreaterThan
from django.utils import timezone

from applications.lifecycle import loans_for_update
from applications.models import RISK_CLASS_RANK, SERVICING_STATUSES, Loan, Product, RiskClass
from applications.selectors import loan_get_for_actor
from compliance.audit import audit_record
from loanops.cob import CobStep, IdRange
from loanops.exceptions import ConflictError, DomainError, InputError
from loanops.sql import id_batches
from servicing.models import RiskClassChange, RiskClassUpgradeRequest
from servicing.services.business_date import business_date_get
from servicing.services.common import system_user

__all__ = [
    "CLASSIFY",
    "classify_loans",
    "dpd_floors",
    "floor_class",
    "risk_class_change_record",
    "risk_class_downgrade",
    "risk_class_upgrade_decide",
    "risk_class_upgrade_request",
]

#: classes that have a DPD threshold, worst first (the order the floor expression tests them)
_FLOORED = (RiskClass.LOSS, RiskClass.DOUBTFUL, RiskClass.SUBSTANDARD, RiskClass.SPECIAL_MENTION)
_PRODUCT_FIELD = {code: f"dpd_floor_{code}" for code in _FLOORED}


def dpd_floors(product: Product | None = None) -> dict[str, int]:
    """Smallest DPD at which a loan is at least each class: the settings default, overridden by the product."""
    floors: dict[str, int] = {str(code): int(settings.LOANOPS_RISK_CLASS_DPD_FLOORS[code]) for code in _FLOORED}
    if product is not None:
        for code, field in _PRODUCT_FIELD.items():
            value = getattr(product, field)
            if value is not None:
                floors[code] = int(value)
    return floors


def floor_class(*, loan: Loan, on: date) -> str:
    """The best class the loan may hold on ``on`` (the same rule as the batch's SQL expression)."""
    floors = dpd_floors(loan.product)
    floor: str = RiskClass.NORMAL
    for code in _FLOORED:
        if loan.days_past_due >= floors[code]:
            floor = code
            break
    restructured = loan.restructure_observation_until is not None and on <= loan.restructure_observation_until
    if restructured and RISK_CLASS_RANK[floor] < RISK_CLASS_RANK[RiskClass.SPECIAL_MENTION]:
        floor = RiskClass.SPECIAL_MENTION
    return floor


# --- the COB step ---------------------------------------------------------------------------------


def _floor_expressions(business_date: date) -> tuple[Case, Case]:
    """(floor class code, floor rank) as SQL ``CASE`` expressions over DPD, product overrides and restructuring."""
    overrides = list(
        Product.objects.filter(
            Q(dpd_floor_special_mention__isnull=False)
            | Q(dpd_floor_substandard__isnull=False)
            | Q(dpd_floor_doubtful__isnull=False)
            | Q(dpd_floor_loss__isnull=False)
        ).order_by("pk")
    )
    default = dpd_floors()
    overridden_ids = [product.pk for product in overrides]
    conditions: list[tuple[Q, str]] = []
    for code in _FLOORED:  # worst first: the first matching WHEN is the floor
        for product in overrides:
            conditions.append((Q(product_id=product.pk, days_past_due__gte=dpd_floors(product)[code]), code))
        default_condition = Q(days_past_due__gte=default[code])
        if overridden_ids:
            default_condition &= ~Q(product_id__in=overridden_ids)
        conditions.append((default_condition, code))
    conditions.append((Q(restructure_observation_until__gte=business_date), RiskClass.SPECIAL_MENTION))
    code_case = Case(
        *(When(condition, then=Value(str(code))) for condition, code in conditions),
        default=Value(str(RiskClass.NORMAL)),
        output_field=CharField(),
    )
    rank_case = Case(
        *(When(condition, then=Value(RISK_CLASS_RANK[code])) for condition, code in conditions),
        default=Value(0),
        output_field=IntegerField(),
    )
    return code_case, rank_case


def _current_rank() -> Case:
    return Case(
        *(When(risk_class=code, then=Value(rank)) for code, rank in RISK_CLASS_RANK.items()),
        default=Value(0),
        output_field=IntegerField(),
    )


def _insert_select(model: Any, queryset: QuerySet[Any], columns: dict[str, str]) -> int:
    """``INSERT INTO model (columns) SELECT … FROM (queryset)``: one statement, rows never leave the database.

    ``columns`` maps the model's field names to annotation names of ``queryset`` (selected by alias, so the
    order Django gives the subquery's columns does not matter).
    """
    quote = connection.ops.quote_name
    sql, params = queryset.query.get_compiler(using=queryset.db).as_sql()
    targets = ", ".join(quote(model._meta.get_field(name).column) for name in columns)
    sources = ", ".join(quote(alias) for alias in columns.values())
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(model._meta.db_table)} ({targets}) SELECT {sources} FROM ({sql}) classify_src",  # noqa: S608
            params,
        )
        return int(cursor.rowcount)


@transaction.atomic
def classify_loans(*, business_date: date, id_range: IdRange = None) -> int:
    """COB step 4: set ``risk_class`` of every active/overdue loan in ``id_range`` by the rule in the module doc.

    One read of the chunk's loans finds those whose class or manual flag changes; then, per 1,000 of them,
    ``INSERT … SELECT`` of a ``RiskClassChange`` row per loan whose class changes and one ``UPDATE`` with
    ``CASE``. Idempotent for a date (a second run finds nothing to change).
    Returns the number of loans whose class or manual flag changed.
    """
    floor_code, floor_rank = _floor_expressions(business_date)
    current_rank = _current_rank()
    new_class = Case(
        When(risk_class_manual=False, then=floor_code),
        When(GreaterThan(current_rank, floor_rank), then=F("risk_class")),
        default=floor_code,
        output_field=CharField(),
    )
    # manual stays in force only while the kept class is still worse than the floor
    new_manual = Case(
        When(Q(risk_class_manual=True) & GreaterThan(current_rank, floor_rank), then=Value(True)),
        default=Value(False),
        output_field=BooleanField(),
    )
    loans = Loan.objects.filter(status__in=SERVICING_STATUSES)
    if id_range is not None:
        loans = loans.filter(pk__gte=id_range[0], pk__lt=id_range[1])
    loans = loans.alias(cls_new=new_class, manual_new=new_manual)
    class_changes = loans.exclude(risk_class=F("cls_new"))
    changed = loans.filter(~Q(risk_class=F("cls_new")) | ~Q(risk_class_manual=F("manual_new")))
    # One pass over the chunk's loans finds the few whose class changes; the history and the update then
    # read only those (by id), not the whole chunk again.
    changed_ids = list(changed.order_by("pk").values_list("pk", flat=True))
    if not changed_ids:
        return 0
    actor_id = system_user().pk
    return sum(
        _classify_batch(
            class_changes.filter(pk__in=ids), changed.filter(pk__in=ids), new_class, new_manual, actor_id, business_date
        )
        for ids in id_batches(changed_ids)
    )


def _classify_batch(
    class_changes: Any, changed: Any, new_class: Case, new_manual: Case, actor_id: int, business_date: date
) -> int:
    history = class_changes.order_by().annotate(
        h_loan=F("pk"),
        h_from=F("risk_class"),
        h_to=new_class,
        h_source=Value(str(RiskClassChange.Source.AUTO), output_field=CharField()),
        h_dpd=F("days_past_due"),
        h_actor=Value(actor_id, output_field=IntegerField()),
        h_reason=Value("日终批处理按逾期天数/重组观察期自动分类", output_field=CharField()),
        h_date=Value(business_date),
        h_created=Value(timezone.now(), output_field=DateTimeField()),
    )
    columns = {
        "loan": "h_loan",
        "from_class": "h_from",
        "to_class": "h_to",
        "source": "h_source",
        "days_past_due": "h_dpd",
        "actor": "h_actor",
        "reason": "h_reason",
        "business_date": "h_date",
        "created_at": "h_created",
    }
    _insert_select(RiskClassChange, history.values(*columns.values()), columns)
    return changed.update(risk_class=new_class, risk_class_manual=new_manual, updated_at=Now())


CLASSIFY = CobStep(name="classify", label="五级分类", func=classify_loans)


# --- manual classification by risk, upgrades by a manager (four eyes) ----------------------------------


def _check_class(value: str, field: str = "risk_class") -> str:
    if value not in RISK_CLASS_RANK:
        raise InputError("分类有误", fields={field: [f"「{value}」不是有效的五级分类"]})
    return value


def _servicing_loan(actor: Any, loan_id: int) -> tuple[Loan, date]:
    loan_get_for_actor(actor=actor, loan_id=loan_id)
    loan = loans_for_update().select_related("product").get(pk=loan_id)
    if loan.status not in SERVICING_STATUSES:
        raise DomainError("只有还款中或逾期的贷款可以调整五级分类", code="loan_not_in_servicing")
    return loan, business_date_get()


def risk_class_change_record(
    *, loan: Loan, to_class: str, source: str, actor: Any, reason: str, on: date, manual: bool, data: dict[str, Any]
) -> RiskClassChange:
    """Set one locked loan's class (and manual flag), with its history row and audit event. Caller checks rules."""
    before = {"risk_class": loan.risk_class, "risk_class_manual": loan.risk_class_manual}
    change = RiskClassChange.objects.create(
        loan=loan,
        from_class=loan.risk_class,
        to_class=to_class,
        source=source,
        days_past_due=loan.days_past_due,
        actor=actor,
        reason=reason,
        business_date=on,
    )
    loan.risk_class = to_class
    loan.risk_class_manual = manual
    loan.save(update_fields=["risk_class", "risk_class_manual", "updated_at"])
    audit_record(
        actor=actor,
        action=f"loan.risk_class_{source}",
        subject=loan,
        before=before,
        after={"risk_class": loan.risk_class, "risk_class_manual": loan.risk_class_manual},
        reason=reason,
        data={"business_date": on, "change_id": change.pk, **data},
    )
    return change


@transaction.atomic
def risk_class_downgrade(*, actor: Any, loan_id: int, risk_class: str, reason: str) -> RiskClassChange:
    """Classify a loan lower-quality than it is now (immediate; the batch then never improves it on its own)."""
    if not actor.has_perm("servicing.classify_loan"):
        raise PermissionDenied("您没有权限调整五级分类")
    _check_class(risk_class)
    if not reason.strip():
        raise InputError("请填写原因", fields={"reason": ["人工下调五级分类必须填写原因"]})
    loan, today = _servicing_loan(actor, loan_id)
    if RISK_CLASS_RANK[risk_class] <= RISK_CLASS_RANK[loan.risk_class]:
        raise DomainError(
            f"只能下调到比当前分类（{RiskClass(loan.risk_class).label}）更差的分类；上调须提交申请并由经理审批",
            code="not_a_downgrade",
            fields={"risk_class": ["须比当前分类更差"]},
        )
    floor = floor_class(loan=loan, on=today)
    return risk_class_change_record(
        loan=loan,
        to_class=risk_class,
        source=RiskClassChange.Source.MANUAL,
        actor=actor,
        reason=reason,
        on=today,
        manual=RISK_CLASS_RANK[risk_class] > RISK_CLASS_RANK[floor],
        data={"floor": floor},
    )


@transaction.atomic
def risk_class_upgrade_request(*, actor: Any, loan_id: int, risk_class: str, reason: str) -> RiskClassUpgradeRequest:
    """Ask for a better class than the recorded one; a manager who is not the requester decides."""
    if not actor.has_perm("servicing.classify_loan"):
        raise PermissionDenied("您没有权限申请调整五级分类")
    _check_class(risk_class)
    if not reason.strip():
        raise InputError("请填写理由", fields={"reason": ["上调五级分类必须填写理由"]})
    loan, today = _servicing_loan(actor, loan_id)
    if RISK_CLASS_RANK[risk_class] >= RISK_CLASS_RANK[loan.risk_class]:
        raise DomainError(
            f"上调申请的分类须比当前分类（{RiskClass(loan.risk_class).label}）更好", code="not_an_upgrade",
            fields={"risk_class": ["须比当前分类更好"]},
        )  # fmt: skip
    _refuse_below_floor(loan, risk_class, today)
    if RiskClassUpgradeRequest.objects.filter(loan=loan, status=RiskClassUpgradeRequest.Status.PENDING).exists():
        raise ConflictError("该贷款已有待审批的分类上调申请", code="upgrade_pending")
    request_row = RiskClassUpgradeRequest.objects.create(
        loan=loan, from_class=loan.risk_class, to_class=risk_class, reason=reason, requested_by=actor
    )
    audit_record(
        actor=actor,
        action="loan.risk_class_upgrade_request",
        subject=loan,
        before={"risk_class": loan.risk_class},
        after={"requested_class": risk_class},
        reason=reason,
        data={"request_id": request_row.pk, "business_date": today},
    )
    return request_row


def _refuse_below_floor(loan: Loan, risk_class: str, today: date) -> str:
    floor = floor_class(loan=loan, on=today)
    if RISK_CLASS_RANK[risk_class] < RISK_CLASS_RANK[floor]:
        raise DomainError(
            f"按逾期天数/重组观察期，该贷款至少为「{RiskClass(floor).label}」，不能上调到「{RiskClass(risk_class).label}」",
            code="below_floor",
            fields={"risk_class": [f"不能好于「{RiskClass(floor).label}」"]},
            extra={"floor": floor},
        )
    return floor


@transaction.atomic
def risk_class_upgrade_decide(*, actor: Any, request_id: int, approve: bool, note: str = "") -> RiskClassUpgradeRequest:
    """A manager approves or rejects an upgrade request; the requester may not decide their own (403)."""
    if not actor.has_perm("servicing.approve_risk_class_upgrade"):
        raise PermissionDenied("您没有权限审批五级分类上调")
    row = RiskClassUpgradeRequest.objects.select_related("loan").get(pk=request_id)
    loan_get_for_actor(actor=actor, loan_id=row.loan_id)
    if row.requested_by_id == actor.pk:
        raise PermissionDenied("四眼原则：申请人不能审批自己的分类上调申请")
    loan = loans_for_update().select_related("product").get(pk=row.loan_id)
    row = RiskClassUpgradeRequest.objects.select_for_update().get(pk=request_id)
    if row.status != RiskClassUpgradeRequest.Status.PENDING:
        raise ConflictError("该申请已处理", code="upgrade_decided")
    today = business_date_get()
    row.decided_by = actor
    row.decided_at = timezone.now()
    row.decision_note = note
    if not approve:
        row.status = RiskClassUpgradeRequest.Status.REJECTED
        row.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        audit_record(
            actor=actor,
            action="loan.risk_class_upgrade_reject",
            subject=loan,
            reason=note,
            data={"request_id": row.pk, "requested_class": row.to_class},
        )
        return row
    if loan.status not in SERVICING_STATUSES:
        raise DomainError("只有还款中或逾期的贷款可以调整五级分类", code="loan_not_in_servicing")
    if RISK_CLASS_RANK[row.to_class] >= RISK_CLASS_RANK[loan.risk_class]:
        raise DomainError("贷款当前分类已不差于申请的分类，无需上调", code="not_an_upgrade")
    floor = _refuse_below_floor(loan, row.to_class, today)
    row.status = RiskClassUpgradeRequest.Status.APPROVED
    row.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    risk_class_change_record(
        loan=loan,
        to_class=row.to_class,
        source=RiskClassChange.Source.APPROVED_UPGRADE,
        actor=actor,
        reason=f"{row.reason}（审批：{note}）" if note else row.reason,
        on=today,
        manual=RISK_CLASS_RANK[row.to_class] > RISK_CLASS_RANK[floor],
        data={"request_id": row.pk, "requested_by": row.requested_by_id, "floor": floor},
    )
    return row
