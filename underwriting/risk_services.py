"""Write side of the risk assessment: the credit-report summary, scorecard versions, assessments, and the
approval authority matrix. One transaction per write, permission checked inside, nothing written on refusal.

The assessment runs automatically when a loan enters risk review (`assessment_on_review_start`, named in
``settings.LOANOPS_REVIEW_START_HOOKS`` and called by `applications.services.loan_start_review`) and on demand
(`assessment_run`, the 运行评估 button). Its query count is small and constant: the locked loan with its
customer, product and credit report; the active scorecard; the recent applications of the same person; the
blacklist and industry-warning look-ups; the insert; the audit row.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q, QuerySet
from django.utils import timezone

from applications.lifecycle import loans_for_update
from applications.models import Industry, Loan, LoanStatus
from applications.selectors import loan_get_for_actor, loans_visible_to
from applications.services import FieldErrors, require_perm
from compliance.audit import audit_record
from compliance.blacklist import blacklist_match
from loanops.exceptions import DomainError, InputError, InvalidTransition
from loanops.money import format_rate_percent, to_decimal, to_money
from underwriting.assessment import (
    GRADES,
    ApprovalAuthority,
    CreditReportSummary,
    RiskAssessment,
    Scorecard,
)
from underwriting.industry_restrictions import industry_restriction_active
from underwriting.scoring import (
    DEFAULT_SCORECARD,
    KNOCKOUT,
    CompiledScorecard,
    Facts,
    Policy,
    age_on,
    birth_date_from_id,
    compile_scorecard,
    evaluate_rules,
    monthly_payment,
    score,
    validate_scorecard,
)

logger = logging.getLogger(__name__)

NOTES_MAX_LENGTH: Final = 2000
#: statuses in which the credit-report summary may be entered or corrected
CREDIT_REPORT_STATUSES: Final = (
    LoanStatus.DRAFT,
    LoanStatus.SUBMITTED,
    LoanStatus.SUPPLEMENT_REQUIRED,
    LoanStatus.RISK_REVIEW,
)
CREDIT_REPORT_FIELDS: Final = (
    "report_date",
    "current_overdue_count",
    "overdue_count_24m",
    "max_dpd_24m",
    "inquiries_6m",
    "total_debt",
    "monthly_debt_payment",
    "verified_annual_income",
    "collateral_value",
)
_COUNT_FIELDS: Final = ("current_overdue_count", "overdue_count_24m", "max_dpd_24m", "inquiries_6m")
_MONEY_FIELDS: Final = ("total_debt", "monthly_debt_payment", "collateral_value")
_COUNT_MAX: Final = {"current_overdue_count": 999, "overdue_count_24m": 999, "max_dpd_24m": 9999, "inquiries_6m": 999}


# --- policy (settings) ------------------------------------------------------------------------------


def policy() -> Policy:
    """The rule thresholds: ``LOANOPS_RISK_*`` settings (see loanops/settings/base.py)."""
    return Policy(
        max_dti=to_decimal(getattr(settings, "LOANOPS_RISK_MAX_DTI", "0.55")),
        serious_dpd=int(getattr(settings, "LOANOPS_RISK_SERIOUS_DPD", 90)),
        repeat_window_days=int(getattr(settings, "LOANOPS_RISK_REPEAT_WINDOW_DAYS", 30)),
        repeat_min_others=int(getattr(settings, "LOANOPS_RISK_REPEAT_MIN_OTHERS", 1)),
        income_deviation=to_decimal(getattr(settings, "LOANOPS_RISK_INCOME_DEVIATION", "0.3")),
    )


# --- credit-report summary ----------------------------------------------------------------------------


def _parse_count(errors: FieldErrors, field: str, value: Any) -> int | None:
    if isinstance(value, bool | float) or value is None or value == "":
        errors.add(field, "请输入非负整数")
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        errors.add(field, "请输入非负整数")
        return None
    if not (0 <= number <= _COUNT_MAX[field]):
        errors.add(field, f"应在 0 至 {_COUNT_MAX[field]} 之间")
        return None
    return number


def _parse_money(errors: FieldErrors, field: str, value: Any, *, required: bool = True) -> Decimal | None:
    if value is None or value == "":
        if required:
            errors.add(field, "请输入金额（没有请填 0）")
        return None
    if isinstance(value, bool | float):
        errors.add(field, "请输入有效的金额")
        return None
    try:
        amount = to_decimal(value)
    except (TypeError, ValueError, ArithmeticError):
        errors.add(field, "请输入有效的金额")
        return None
    if amount < 0:
        errors.add(field, "金额不能为负数")
        return None
    if to_money(amount) != amount:
        errors.add(field, "金额最多保留两位小数")
        return None
    if amount >= Decimal("1e15"):
        errors.add(field, "金额过大")
        return None
    return to_money(amount)


def validate_credit_report(data: dict[str, Any]) -> dict[str, Any]:
    errors = FieldErrors()
    clean: dict[str, Any] = {}
    raw_date = data.get("report_date")
    if isinstance(raw_date, date) and not hasattr(raw_date, "hour"):
        clean["report_date"] = raw_date
    else:
        try:
            clean["report_date"] = date.fromisoformat(str(raw_date or "").strip())
        except ValueError:
            errors.add("report_date", "请输入有效的日期（YYYY-MM-DD）")
    if "report_date" in clean and clean["report_date"] > timezone.localdate():
        errors.add("report_date", "征信报告日期不能晚于今天")
    for field in _COUNT_FIELDS:
        clean[field] = _parse_count(errors, field, data.get(field))
    for field in _MONEY_FIELDS:
        clean[field] = _parse_money(errors, field, data.get(field))
    clean["verified_annual_income"] = _parse_money(
        errors, "verified_annual_income", data.get("verified_annual_income"), required=False
    )
    if (
        clean.get("current_overdue_count") is not None
        and clean.get("overdue_count_24m") is not None
        and clean["current_overdue_count"] > 0
        and clean["overdue_count_24m"] == 0
    ):
        errors.add("overdue_count_24m", "存在当前逾期时，近24个月逾期次数至少为 1")
    errors.raise_if_any()
    return clean


@transaction.atomic
def credit_report_save(*, actor: Any, loan_id: int, data: dict[str, Any]) -> CreditReportSummary:
    """Enter or correct the 征信摘要 of an application (before the risk decision)."""
    loan_get_for_actor(actor=actor, loan_id=loan_id)  # 404 for loans the actor cannot see
    loan = loans_for_update().get(pk=loan_id)
    existing = CreditReportSummary.objects.filter(loan=loan).first()
    require_perm(
        actor, "underwriting.change_creditreportsummary" if existing else "underwriting.add_creditreportsummary"
    )
    if loan.status not in CREDIT_REPORT_STATUSES:
        raise InvalidTransition(
            f"贷款当前状态为「{LoanStatus(loan.status).label}」，已不能修改征信摘要",
            code="invalid_state",
            extra={"status": loan.status},
        )
    clean = validate_credit_report(data)
    before = {field: getattr(existing, field) for field in CREDIT_REPORT_FIELDS} if existing else {}
    report = existing or CreditReportSummary(loan=loan)
    for field, value in clean.items():
        setattr(report, field, value)
    report.entered_by = actor
    report.save()
    audit_record(
        actor=actor,
        action="loan.credit_report_update" if existing else "loan.credit_report_create",
        subject=loan,
        before=before,
        after=clean,
    )
    return report


# --- scorecards -----------------------------------------------------------------------------------------

_compiled_cache: dict[tuple[int, Any], CompiledScorecard] = {}


def compiled_scorecard(scorecard: Scorecard) -> CompiledScorecard:
    """The bins of a scorecard version as Decimals, from its id and creation time. Cached: a version never
    changes once created (the creation time in the key means a row id reused after a rollback never finds
    another version's bins)."""
    key = (scorecard.pk, scorecard.created_at)
    compiled = _compiled_cache.get(key)
    if compiled is None:
        full = Scorecard.objects.get(pk=scorecard.pk)
        compiled = compile_scorecard(
            base_points=full.base_points,
            characteristics=full.characteristics,
            grade_cutoffs=full.grade_cutoffs,
            version=full.version,
        )
        _compiled_cache[key] = compiled
    return compiled


def _next_version() -> int:
    return int(Scorecard.objects.aggregate(top=Max("version"))["top"] or 0) + 1


@transaction.atomic
def scorecard_create_version(*, actor: Any, data: dict[str, Any], note: str = "", activate: bool = False) -> Scorecard:
    """Editing a scorecard = creating the next version (never changing one an assessment used)."""
    require_perm(actor, "underwriting.add_scorecard")
    clean = validate_scorecard(data)
    clean_note = str(note or "").strip()
    if len(clean_note) > NOTES_MAX_LENGTH:
        raise InputError("版本说明过长", fields={"note": [f"最多 {NOTES_MAX_LENGTH} 个字"]})
    if activate:
        require_perm(actor, "underwriting.activate_scorecard")
    Scorecard.objects.select_for_update().filter(is_active=True).first()  # serialise version numbers
    scorecard = Scorecard.objects.create(version=_next_version(), note=clean_note, created_by=actor, **clean)
    audit_record(
        actor=actor,
        action="scorecard.create",
        subject=scorecard,
        after={"version": scorecard.version, "name": scorecard.name},
    )
    if activate:
        _activate(scorecard, actor=actor)
    return scorecard


def _activate(scorecard: Scorecard, *, actor: Any) -> None:
    previous = Scorecard.objects.select_for_update().filter(is_active=True).exclude(pk=scorecard.pk).first()
    if previous is not None:
        previous.is_active = False
        previous.save(update_fields=["is_active"])
    scorecard.is_active = True
    scorecard.activated_at = timezone.now()
    scorecard.save(update_fields=["is_active", "activated_at"])
    audit_record(
        actor=actor,
        action="scorecard.activate",
        subject=scorecard,
        before={"active_version": previous.version if previous else None},
        after={"active_version": scorecard.version},
    )


@transaction.atomic
def scorecard_activate(*, actor: Any, scorecard_id: int) -> Scorecard:
    """Make this version the one new assessments use (exactly one is active)."""
    require_perm(actor, "underwriting.activate_scorecard")
    scorecard = Scorecard.objects.select_for_update().get(pk=scorecard_id)
    if scorecard.is_active:
        raise DomainError(f"评分卡 v{scorecard.version} 已在生效中", code="already_active")
    _activate(scorecard, actor=actor)
    return scorecard


# --- seeded defaults (post_migrate; idempotent) -------------------------------------------------------

DEFAULT_AUTHORITY: Final = (
    # position, grades, max_amount, levels, description
    (10, ["A", "B", "C"], Decimal("200000.00"), 1, "A–C 级且金额不超过 20 万元：风控经理一级审批"),
    (20, ["A", "B", "C"], None, 2, "A–C 级且金额超过 20 万元：风控经理审批后，部门经理第二级审批"),
    (30, ["D"], None, 2, "D 级：风控经理审批后，部门经理第二级审批"),
    (40, ["E"], None, 0, "E 级：不得审批通过"),
)


def ensure_risk_defaults() -> None:
    """Seed the default scorecard (v1, active) and the authority matrix when none exist yet."""
    if not Scorecard.objects.exists():
        clean = validate_scorecard(DEFAULT_SCORECARD)
        Scorecard.objects.create(
            version=1, is_active=True, activated_at=timezone.now(), note="系统预置的默认评分卡", **clean
        )
    if not ApprovalAuthority.objects.exists():
        ApprovalAuthority.objects.bulk_create(
            ApprovalAuthority(position=position, grades=grades, max_amount=amount, levels=levels, description=text)
            for position, grades, amount, levels, text in DEFAULT_AUTHORITY
        )


def authority_rule(*, grade: str, amount: Decimal) -> ApprovalAuthority | None:
    """The first matrix row (by position) covering this grade and amount."""
    for row in ApprovalAuthority.objects.order_by("position"):
        if grade in (row.grades or []) and (row.max_amount is None or amount <= row.max_amount):
            return row
    return None


# --- the assessment -------------------------------------------------------------------------------------


def blacklist_hit(loan: Loan) -> str:
    """The blacklist entry's reason when the applicant (ID number, USCC or phone) is listed, else ""."""
    customer = loan.customer
    entry = blacklist_match(id_number=customer.id_number, uscc=customer.uscc, phone=customer.phone)
    if entry is None:
        return ""
    return entry.reason or "命中黑名单"


def industry_warning_text(loan: Loan) -> tuple[bool, str]:
    """The industry early warning of the applicant's industry: (available, text).

    The source is the industry restriction the COB's early-warning step imposes
    (`underwriting.industry_restrictions`); text is "" when the industry is not under warning.
    """
    restriction = industry_restriction_active(loan.customer.industry)
    if restriction is None:
        return True, ""
    label = Industry(restriction.industry).label if restriction.industry in Industry.values else restriction.industry
    return True, (
        f"{label}逾期率 {format_rate_percent(restriction.overdue_rate)} 已达限制阈值 "
        f"{format_rate_percent(restriction.threshold)}，自 {restriction.imposed_on:%Y-%m-%d} 起限制新增授信"
    )


def _repeat_since() -> datetime:
    return timezone.now() - timedelta(days=policy().repeat_window_days)


#: the columns an assessment reads (the lock query loads only these)
ASSESSMENT_LOAN_FIELDS: Final = (
    "status", "reference", "requested_amount", "requested_term_months", "created_at",
    "customer__kind", "customer__name", "customer__id_number", "customer__id_number_hash", "customer__uscc", "customer__phone",
    "customer__annual_income", "customer__years_in_business", "customer__industry",
    "product__name", "product__min_age", "product__max_age", "product__max_rate",
)  # fmt: skip


def loans_for_assessment(queryset: QuerySet[Loan]) -> QuerySet[Loan]:
    """Loans with what an assessment reads joined in: customer, product and credit report.

    (Folding the active scorecard and the recent-applications count into this query as subqueries was
    measured: it costs more ORM work than the two small queries it saves.)"""
    return queryset.select_related("customer", "product", "credit_report").only(
        *ASSESSMENT_LOAN_FIELDS, *(f"credit_report__{name}" for name in (*CREDIT_REPORT_FIELDS, "updated_at"))
    )


def assessment_facts(loan: Loan, *, today: date | None = None) -> Facts:
    """The figures the rules and the scorecard look at (loan, customer, product and credit report loaded)."""
    today = today or timezone.localdate()
    customer = loan.customer
    product = loan.product
    report: CreditReportSummary | None = getattr(loan, "credit_report", None)
    same_person = Q(customer_id=customer.pk)
    if customer.id_number:
        same_person |= Q(customer__id_number_hash=customer.id_number_hash)  # encrypted column: keyed hash
    recent = Loan.objects.filter(same_person, created_at__gte=_repeat_since()).exclude(pk=loan.pk).count()
    available, warning = industry_warning_text(loan)
    facts = Facts(
        applicant_kind=customer.kind,
        age=age_on(birth_date_from_id(customer.id_number), today),
        product_min_age=product.min_age,
        product_max_age=product.max_age,
        stated_annual_income=customer.annual_income,
        years_in_business=customer.years_in_business,
        requested_amount=loan.requested_amount,
        new_monthly_payment=monthly_payment(loan.requested_amount, product.max_rate, loan.requested_term_months),
        recent_applications=recent,
        blacklist_hit=blacklist_hit(loan),
        industry_warning=warning,
        industry_warning_available=available,
    )
    if report is not None:
        facts.has_credit_report = True
        facts.current_overdue_count = report.current_overdue_count
        facts.overdue_count_24m = report.overdue_count_24m
        facts.max_dpd_24m = report.max_dpd_24m
        facts.inquiries_6m = report.inquiries_6m
        facts.total_debt = report.total_debt
        facts.monthly_debt_payment = report.monthly_debt_payment
        facts.verified_annual_income = report.verified_annual_income
        facts.collateral_value = report.collateral_value
    return facts


def _facts_snapshot(facts: Facts) -> dict[str, Any]:
    dti = facts.dti
    return {
        "applicant_kind": facts.applicant_kind,
        "age": facts.age,
        "product_age_range": [facts.product_min_age, facts.product_max_age],
        "stated_annual_income": str(facts.stated_annual_income),
        "verified_annual_income": None if facts.verified_annual_income is None else str(facts.verified_annual_income),
        "years_in_business": facts.years_in_business,
        "requested_amount": str(facts.requested_amount),
        "new_monthly_payment": str(to_money(facts.new_monthly_payment)),
        "dti": None if dti is None else str(dti),
        "has_credit_report": facts.has_credit_report,
        "recent_applications": facts.recent_applications,
    }


def assess(loan: Loan, *, actor: Any, trigger: str, notes: str = "") -> RiskAssessment:
    """Run the rules and the active scorecard on a locked, loaded loan and store the result (no checks)."""
    # the bins of a version never change: read only its identity and use the compiled (cached) bins
    active = Scorecard.objects.filter(is_active=True).values_list("pk", "created_at").first()
    if active is None:
        raise DomainError("没有生效中的评分卡，请风控经理先启用一个版本", code="no_active_scorecard")
    scorecard = Scorecard(pk=active[0], created_at=active[1])
    facts = assessment_facts(loan)
    results = evaluate_rules(facts, policy())
    card = compiled_scorecard(scorecard)
    total, grade, lines = score(card, facts.characteristic_values())
    hits = [result["code"] for result in results if result["hit"]]
    knocked_out = any(result["hit"] and result["kind"] == KNOCKOUT for result in results)
    assessment = RiskAssessment.objects.create(
        loan_id=loan.pk,
        scorecard_id=scorecard.pk,
        score=total,
        grade=grade,
        points=lines,
        rule_results=results,
        reason_codes=hits,
        knocked_out=knocked_out,
        inputs=_facts_snapshot(facts),
        notes=notes,
        trigger=trigger,
        run_by=actor,
    )
    audit_record(
        actor=actor,
        action="loan.risk_assessment",
        subject=loan,
        after={"score": total, "grade": grade, "knocked_out": knocked_out},
        data={"assessment_id": assessment.pk, "scorecard_version": card.version, "reason_codes": hits},
    )
    return assessment


def _clean_notes(notes: Any) -> str:
    text = str(notes or "").strip()
    if len(text) > NOTES_MAX_LENGTH:
        raise InputError("审查意见过长", fields={"notes": [f"审查意见最多 {NOTES_MAX_LENGTH} 个字"]})
    return text


@transaction.atomic
def assessment_run(*, actor: Any, loan_id: int, notes: str = "") -> RiskAssessment:
    """运行评估: a new assessment of a loan in risk review with the active scorecard."""
    require_perm(actor, "underwriting.add_riskassessment")
    # visible to the actor (Loan.DoesNotExist → 404 otherwise), locked, with what the rules read: one query
    loan = loans_for_assessment(loans_visible_to(actor).order_by("pk").select_for_update(of=("self",))).get(pk=loan_id)
    if loan.status != LoanStatus.RISK_REVIEW:
        raise InvalidTransition(
            f"贷款当前状态为「{LoanStatus(loan.status).label}」，只有风控审查中的申请可以运行评估",
            code="invalid_state",
            extra={"status": loan.status},
        )
    return assess(loan, actor=actor, trigger=RiskAssessment.Trigger.MANUAL, notes=_clean_notes(notes))


@transaction.atomic
def assessment_update_notes(*, actor: Any, assessment_id: int, notes: str) -> RiskAssessment:
    """The reviewer's notes on an assessment (while its loan is still in risk review)."""
    require_perm(actor, "underwriting.add_riskassessment")
    assessment = RiskAssessment.objects.select_for_update().select_related("loan").get(pk=assessment_id)
    loan_get_for_actor(actor=actor, loan_id=assessment.loan_id)
    if assessment.loan.status != LoanStatus.RISK_REVIEW:
        raise InvalidTransition("审查已结束，不能再修改审查意见", code="invalid_state")
    clean = _clean_notes(notes)
    if not clean:
        raise InputError("请填写审查意见", fields={"notes": ["请填写审查意见"]})
    before = assessment.notes
    assessment.notes = clean
    assessment.save(update_fields=["notes"])
    audit_record(
        actor=actor,
        action="loan.risk_assessment_notes",
        subject=assessment.loan,
        before={"notes": before},
        after={"notes": clean},
        data={"assessment_id": assessment.pk},
    )
    return assessment


def assessment_on_review_start(*, loan: Loan, actor: Any) -> RiskAssessment | None:
    """Hook of `applications.services.loan_start_review` (same transaction): assess the loan as it enters risk
    review. Without an active scorecard nothing is assessed (the 运行评估 button then explains why)."""
    if not Scorecard.objects.filter(is_active=True).exists():
        logger.warning("no active scorecard: loan %s entered risk review without an assessment", loan.pk)
        return None
    loaded = loans_for_assessment(Loan.objects.all()).get(pk=loan.pk)
    return assess(loaded, actor=actor, trigger=RiskAssessment.Trigger.START_REVIEW)


__all__ = [
    "assess",
    "assessment_facts",
    "assessment_on_review_start",
    "assessment_run",
    "assessment_update_notes",
    "authority_rule",
    "authority_save",
    "compiled_scorecard",
    "credit_report_save",
    "ensure_risk_defaults",
    "policy",
    "scorecard_activate",
    "scorecard_create_version",
]


# --- the authority matrix (kept by the department manager) ---------------------------------------------

AUTHORITY_FIELDS: Final = ("position", "grades", "max_amount", "levels", "description")


def validate_authority(data: dict[str, Any], *, instance: ApprovalAuthority | None = None) -> dict[str, Any]:
    errors = FieldErrors()
    clean: dict[str, Any] = {}
    raw_position = data.get("position")
    try:
        if isinstance(raw_position, bool | float):
            raise ValueError
        position = int(str(raw_position).strip())
        if not 1 <= position <= 32000:
            raise ValueError
        clean["position"] = position
        clash = ApprovalAuthority.objects.filter(position=position)
        if instance is not None:
            clash = clash.exclude(pk=instance.pk)
        if clash.exists():
            errors.add("position", "该顺序号已被另一行使用")
    except (TypeError, ValueError):
        errors.add("position", "顺序应为 1 至 32000 的整数")
    grades = data.get("grades")
    if not isinstance(grades, list | tuple) or not grades or any(g not in GRADES for g in grades):
        errors.add("grades", "请至少选择一个风险等级（A–E）")
    else:
        clean["grades"] = [g for g in GRADES if g in grades]
    raw_amount = data.get("max_amount")
    if raw_amount in (None, ""):
        clean["max_amount"] = None
    else:
        amount = _parse_money(errors, "max_amount", raw_amount)
        if amount is not None and amount <= 0:
            errors.add("max_amount", "金额上限必须大于 0；不限请留空")
        clean["max_amount"] = amount
    levels = data.get("levels")
    if str(levels) not in ("0", "1", "2") or isinstance(levels, bool | float):
        errors.add("levels", "所需审批级数应为 0（不得审批）、1 或 2")
    else:
        clean["levels"] = int(str(levels))
    description = str(data.get("description") or "").strip()
    if len(description) > 200:
        errors.add("description", "说明最多 200 个字")
    clean["description"] = description
    errors.raise_if_any()
    return clean


@transaction.atomic
def authority_save(*, actor: Any, data: dict[str, Any], authority_id: int | None = None) -> ApprovalAuthority:
    """Create (no id) or change a row of the approval authority matrix."""
    require_perm(actor, "underwriting.change_approvalauthority")
    row = ApprovalAuthority.objects.select_for_update().get(pk=authority_id) if authority_id else None
    clean = validate_authority(data, instance=row)
    before = {field: getattr(row, field) for field in AUTHORITY_FIELDS} if row else {}
    row = row or ApprovalAuthority()
    for field, value in clean.items():
        setattr(row, field, value)
    row.save()
    audit_record(
        actor=actor,
        action="approval_authority.update" if before else "approval_authority.create",
        subject=row,
        before=before,
        after=clean,
    )
    return row
