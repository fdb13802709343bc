"""Read side of servicing: schedules, balances from the journal, transactions, payoff quotes, ledger check."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import (
    Case,
    DecimalField,
    ExpressionWrapper,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Abs, Coalesce

from applications.models import SERVICING_STATUSES, Loan, LoanStatus
from applications.selectors import loans_visible_to
from loanops.exceptions import DomainError, InputError
from loanops.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS, ZERO, to_money, to_rate
from servicing.models import (
    Account,
    Installment,
    JournalEntry,
    JournalLine,
    Repayment,
    ScheduleVersion,
    SettlementCertificate,
)
from servicing.payoff import payoff_plan

__all__ = [
    "LedgerProblem",
    "ledger_check",
    "loan_balances",
    "loan_repayments",
    "loan_restructurings",
    "loan_risk_class_history",
    "loan_risk_class_upgrade_pending",
    "loan_transactions",
    "loan_write_off_summary",
    "npl_ratio",
    "payoff_quote",
    "repayment_get_for_actor",
    "schedule_current",
    "schedule_version_current",
    "schedule_version_current_or_none",
    "settlement_certificate_get_for_actor",
    "trial_balance",
]

_TOLERANCE = Decimal("0.005")  # below a cent: absorbs SQLite's float arithmetic in SUM()


def _money() -> DecimalField:
    return DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES)


# --- schedule ------------------------------------------------------------------------------


def schedule_version_current(loan: Loan) -> ScheduleVersion:
    """The loan's current schedule version; ``ScheduleVersion.DoesNotExist`` (→ 404) before disbursement."""
    return ScheduleVersion.objects.get(loan=loan, is_current=True)


def schedule_version_current_or_none(loan: Loan) -> ScheduleVersion | None:
    return ScheduleVersion.objects.filter(loan=loan, is_current=True).first()


def schedule_current(loan: Loan) -> list[Installment]:
    """Installments of the current schedule version in period order (empty before disbursement)."""
    return list(Installment.objects.filter(loan=loan, schedule__is_current=True).order_by("period"))


# --- journal -------------------------------------------------------------------------------


def loan_balances(loan: Loan) -> dict[str, Decimal]:
    """A loan's balances rebuilt from its journal (receivables as debit balances, overpayment as credit).

    Keys: principal_receivable, interest_receivable, penalty_receivable, fee_receivable, overpayment,
    total_receivable (the four receivables).
    """
    rows = (
        JournalLine.objects.filter(loan=loan)
        .order_by()
        .values("account")
        .annotate(debit=Sum("debit"), credit=Sum("credit"))
    )
    net = {row["account"]: to_money(row["debit"] - row["credit"]) for row in rows}
    balances = {
        "principal_receivable": net.get(Account.PRINCIPAL_RECEIVABLE, ZERO),
        "interest_receivable": net.get(Account.INTEREST_RECEIVABLE, ZERO),
        "penalty_receivable": net.get(Account.PENALTY_RECEIVABLE, ZERO),
        "fee_receivable": net.get(Account.FEE_RECEIVABLE, ZERO),
        "overpayment": -net.get(Account.OVERPAYMENT, ZERO) + ZERO,
    }
    balances["total_receivable"] = (
        balances["principal_receivable"]
        + balances["interest_receivable"]
        + balances["penalty_receivable"]
        + balances["fee_receivable"]
    )
    return balances


def loan_transactions(loan: Loan) -> QuerySet[JournalEntry]:
    """The loan's journal entries, oldest first, with their lines (and the repayment, if any)."""
    return (
        JournalEntry.objects.filter(loan=loan)
        .select_related("repayment", "reverses")
        .prefetch_related(Prefetch("lines", queryset=JournalLine.objects.order_by("id")))
        .order_by("id")
    )


def loan_repayments(loan: Loan) -> QuerySet[Repayment]:
    return Repayment.objects.filter(loan=loan).prefetch_related("allocations__installment").order_by("id")


def repayment_get_for_actor(*, actor: Any, repayment_id: int) -> Repayment:
    """The repayment if its loan is visible to the actor; ``Repayment.DoesNotExist`` (→ 404) otherwise."""
    return (
        Repayment.objects.prefetch_related("allocations__installment")
        .select_related("loan")
        .get(pk=repayment_id, loan__in=loans_visible_to(actor))
    )


def settlement_certificate_get_for_actor(*, actor: Any, loan_id: int) -> SettlementCertificate:
    """The certificate of a loan visible to the actor; ``DoesNotExist`` (→ 404) otherwise or before settlement."""
    return SettlementCertificate.objects.select_related("loan").get(loan_id=loan_id, loan__in=loans_visible_to(actor))


def trial_balance() -> dict[str, Decimal]:
    """Net balance (debit − credit) per account over the whole journal."""
    rows = JournalLine.objects.order_by().values("account").annotate(debit=Sum("debit"), credit=Sum("credit"))
    return {row["account"]: to_money(row["debit"] - row["credit"]) for row in rows}


# --- payoff quote --------------------------------------------------------------------------


def payoff_quote(*, loan: Loan, on: date) -> dict[str, Any]:
    """What it takes to settle the loan early on ``on`` (提前结清试算), itemised.

    * ``principal``: all principal not yet repaid (overdue and not yet due);
    * ``interest_due``: unpaid interest of installments due on or before ``on``;
    * ``interest_accrued``: interest of the current period (the first installment due after ``on``) accrued
      daily at annual/360 on the principal not yet due, from the previous due date (or the disbursement
      date) to ``on``, capped at that installment's scheduled interest, less interest already paid on it;
    * ``penalty`` and ``fees``: posted and unpaid; ``prepayment_fee``: product rate × principal not yet due;
    * ``overpayment``: credit held for the borrower, deducted from the total.

    Paying it with ``loan_payoff`` settles the loan (interest not accrued yet is not owed).
    """
    if loan.status not in SERVICING_STATUSES:
        raise DomainError(
            f"贷款当前状态为「{LoanStatus(loan.status).label}」，无需提前结清试算", code="loan_not_repayable"
        )
    if loan.disbursed_on is not None and on < loan.disbursed_on:
        raise InputError("日期有误", fields={"on": [f"试算日期不能早于放款日 {loan.disbursed_on.isoformat()}"]})
    plan = payoff_plan(
        loan=loan, installments=schedule_current(loan), on=on, overpayment=loan_balances(loan)["overpayment"]
    )
    return {"loan_id": loan.pk, "on": on, "items": plan.items, "total": plan.total}


# --- ledger check --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LedgerProblem:
    kind: str
    detail: str
    loan_id: int | None = None
    entry_id: int | None = None

    def __str__(self) -> str:
        where = (
            f"loan {self.loan_id}"
            if self.loan_id is not None
            else f"entry {self.entry_id}"
            if self.entry_id
            else "ledger"
        )
        return f"[{self.kind}] {where}: {self.detail}"


_CHECKED = (
    ("principal", Account.PRINCIPAL_RECEIVABLE, F("principal_due") - F("principal_paid"), Q()),
    ("interest", Account.INTEREST_RECEIVABLE, F("interest_due") - F("interest_paid"), Q(interest_booked=True)),
    ("penalty", Account.PENALTY_RECEIVABLE, F("penalty_due") - F("penalty_paid"), Q()),
    ("fee", Account.FEE_RECEIVABLE, F("fee_due") - F("fee_paid"), Q()),
)


def _ledger_sum(account: str) -> Subquery:
    return Subquery(
        JournalLine.objects.filter(loan=OuterRef("pk"), account=account)
        .order_by()
        .values("loan")
        .annotate(net=Sum(F("debit") - F("credit"), output_field=_money()))
        .values("net")[:1],
        output_field=_money(),
    )


def _schedule_sum(expression: Any, condition: Q) -> Subquery:
    return Subquery(
        Installment.objects.filter(condition, loan=OuterRef("pk"), schedule__is_current=True)
        .order_by()
        .values("loan")
        .annotate(total=Sum(ExpressionWrapper(expression, output_field=_money())))
        .values("total")[:1],
        output_field=_money(),
    )


def _write_off_problems(zero: Value) -> list[LedgerProblem]:
    """Written-off loans: the write-off expense equals what the (frozen) schedule still shows outstanding —
    principal, booked interest, penalty and fee. Recoveries only on written-off loans."""
    problems: list[LedgerProblem] = []
    outstanding = Value(ZERO, output_field=_money())
    for _name, _account, expression, condition in _CHECKED:
        outstanding = outstanding + Coalesce(_schedule_sum(expression, condition), zero)  # type: ignore[assignment]
    rows = (
        Loan.objects.filter(status=LoanStatus.WRITTEN_OFF)
        .order_by("pk")
        .annotate(
            expense=Coalesce(_ledger_sum(Account.WRITE_OFF_EXPENSE), zero),
            outstanding=ExpressionWrapper(outstanding, output_field=_money()),
        )
        .annotate(diff=Abs(F("expense") - F("outstanding")))
        .filter(diff__gte=_TOLERANCE)
        .values_list("pk", "expense", "outstanding")
    )
    for loan_id, expense, remaining in rows:
        problems.append(
            LedgerProblem(
                "write_off_mismatch",
                f"write-off expense {to_money(expense)} != schedule outstanding {to_money(remaining)}",
                loan_id=loan_id,
            )
        )
    stray = (
        JournalLine.objects.filter(account=Account.RECOVERY_INCOME)
        .exclude(loan__status=LoanStatus.WRITTEN_OFF)
        .order_by("loan_id")
        .values_list("loan_id", flat=True)
        .distinct()
    )
    for loan_id in stray:
        problems.append(LedgerProblem("recovery_not_written_off", "recovery booked on a loan not written off", loan_id))
    return problems


def ledger_check() -> list[LedgerProblem]:
    """Prove the journal: each entry balances, the trial balance is zero, and per loan the receivables
    equal the current schedule's outstanding amounts (see ``servicing.services`` for the convention); a
    written-off loan's receivables are zero and its write-off expense equals its schedule's outstanding
    amounts (``servicing.services.write_off``).

    Set-based: a handful of GROUP BY / correlated-subquery queries, whatever the number of loans.
    """
    problems: list[LedgerProblem] = []
    zero = Value(ZERO, output_field=_money())

    unbalanced = (
        JournalLine.objects.order_by()
        .values("entry")
        .annotate(debit=Sum("debit"), credit=Sum("credit"))
        .annotate(diff=Abs(F("debit") - F("credit")))
        .filter(diff__gte=_TOLERANCE)
    )
    for row in unbalanced:
        problems.append(
            LedgerProblem(
                "unbalanced_entry",
                f"debit {to_money(row['debit'])} != credit {to_money(row['credit'])}",
                entry_id=row["entry"],
            )
        )
    for entry_id, loan_id in JournalEntry.objects.filter(lines__isnull=True).values_list("id", "loan_id"):
        problems.append(LedgerProblem("empty_entry", "entry has no lines", loan_id=loan_id, entry_id=entry_id))
    for entry_id, loan_id in (
        JournalLine.objects.exclude(loan_id=F("entry__loan_id"))
        .order_by()
        .values_list("entry_id", "loan_id")
        .distinct()
    ):
        problems.append(LedgerProblem("line_loan_mismatch", "line's loan differs from its entry's", loan_id, entry_id))

    totals = JournalLine.objects.aggregate(debit=Coalesce(Sum("debit"), zero), credit=Coalesce(Sum("credit"), zero))
    if abs(totals["debit"] - totals["credit"]) >= _TOLERANCE:
        problems.append(
            LedgerProblem(
                "trial_balance",
                f"total debit {to_money(totals['debit'])} != total credit {to_money(totals['credit'])}",
            )
        )

    annotations: dict[str, Any] = {}
    mismatch = Q()
    written_off = Q(status=LoanStatus.WRITTEN_OFF)
    for name, account, expression, condition in _CHECKED:
        annotations[f"ledger_{name}"] = Coalesce(_ledger_sum(account), zero)
        # a written-off loan's schedule is frozen with its outstanding amounts; its receivables must be zero
        annotations[f"schedule_{name}"] = Case(
            When(written_off, then=zero),
            default=Coalesce(_schedule_sum(expression, condition), zero),
            output_field=_money(),
        )
    loans = Loan.objects.order_by("pk").annotate(**annotations)
    for name, *_ in _CHECKED:
        diff = Abs(F(f"ledger_{name}") - F(f"schedule_{name}"))
        loans = loans.annotate(**{f"diff_{name}": diff})
        mismatch |= Q(**{f"diff_{name}__gte": _TOLERANCE})
    loans = loans.annotate(ledger_overpayment=Coalesce(_ledger_sum(Account.OVERPAYMENT), zero))
    mismatch |= Q(ledger_overpayment__gte=_TOLERANCE)  # overpayment is a liability: never a debit balance
    fields = ["pk"] + [f"{side}_{name}" for name, *_ in _CHECKED for side in ("ledger", "schedule")]
    for row in loans.filter(mismatch).values(*fields, "ledger_overpayment"):
        for name, *_ in _CHECKED:
            ledger, schedule = row[f"ledger_{name}"], row[f"schedule_{name}"]
            if abs(ledger - schedule) >= _TOLERANCE:
                problems.append(
                    LedgerProblem(
                        f"{name}_mismatch",
                        f"journal {to_money(ledger)} != schedule {to_money(schedule)}",
                        loan_id=row["pk"],
                    )
                )
        if row["ledger_overpayment"] >= _TOLERANCE:
            problems.append(
                LedgerProblem("overpayment_debit", f"debit balance {row['ledger_overpayment']}", loan_id=row["pk"])
            )

    problems.extend(_write_off_problems(zero))

    # the loan's kept balance (Loan.principal_outstanding, servicing.services.common) is its schedule's
    stale = (
        Loan.objects.order_by("pk")
        .annotate(expected=Coalesce(_schedule_sum(F("principal_due") - F("principal_paid"), Q()), zero))
        .annotate(diff=Abs(F("principal_outstanding") - F("expected")))
        .filter(diff__gte=_TOLERANCE)
        .values_list("pk", "principal_outstanding", "expected")
    )
    for loan_id, kept, expected in stale:
        problems.append(
            LedgerProblem(
                "principal_outstanding_stale",
                f"loan balance {to_money(kept)} != schedule principal outstanding {to_money(expected)}",
                loan_id=loan_id,
            )
        )

    for loan_id, period in (
        Installment.objects.filter(schedule__is_current=True, interest_booked=False, interest_paid__gt=0)
        .order_by("loan_id", "period")
        .values_list("loan_id", "period")
    ):
        problems.append(LedgerProblem("interest_paid_unbooked", f"period {period} paid before booking", loan_id))

    allocated = (
        Repayment.objects.order_by()
        .annotate(allocated=Coalesce(Sum("allocations__amount"), zero))
        .annotate(diff=Abs(F("amount") - F("allocated")))
        .filter(diff__gte=_TOLERANCE)
        .values_list("pk", "loan_id", "amount", "allocated")
    )
    for pk, loan_id, amount, total in allocated:
        problems.append(
            LedgerProblem(
                "allocation_mismatch", f"repayment {pk}: amount {amount} != allocated {to_money(total)}", loan_id
            )
        )
    reversed_unposted = Repayment.objects.filter(reversed_at__isnull=False, journal_entry__reversed_by__isnull=True)
    for pk, loan_id in reversed_unposted.values_list("pk", "loan_id"):
        problems.append(
            LedgerProblem("reversal_missing", f"repayment {pk} reversed without a reversing entry", loan_id)
        )
    return problems


# --- five-category class, write-off, restructuring ------------------------------------------------


def npl_ratio() -> dict[str, Any]:
    """不良率 = outstanding principal of 次级 + 可疑 + 损失 loans / all outstanding principal — one query.

    Over active and overdue loans; outstanding principal is each loan's ``principal_outstanding`` (its current
    schedule's Σ(principal_due − principal_paid), kept by the services and proved by ``ledger_check``), as on
    the dashboard and in the industry early warning. ``ratio`` is a Decimal with 6 places (0.012300 = 1.23 %), ``None``
    when nothing is outstanding; ``by_class`` gives the principal per class.
    """
    from applications.models import NPL_CLASSES, RiskClass

    zero = Value(ZERO, output_field=_money())
    sums = {
        code: Coalesce(Sum("principal_outstanding", filter=Q(risk_class=code)), zero, output_field=_money())
        for code in RiskClass.values
    }
    figures = Loan.objects.filter(status__in=SERVICING_STATUSES).aggregate(**sums)
    by_class = {code: to_money(figures[code]) for code in RiskClass.values}
    total = sum(by_class.values(), ZERO)
    npl = sum((by_class[code] for code in NPL_CLASSES), ZERO)
    ratio = to_rate(npl / total) if total else None
    return {"outstanding_principal": total, "npl_principal": npl, "ratio": ratio, "by_class": by_class}


def loan_risk_class_history(loan: Loan) -> QuerySet[Any]:
    """The loan's class changes, oldest first, with the actor."""
    from servicing.models import RiskClassChange

    return RiskClassChange.objects.filter(loan=loan).select_related("actor").order_by("id")


def loan_risk_class_upgrade_pending(loan: Loan) -> Any:
    from servicing.models import RiskClassUpgradeRequest

    return (
        RiskClassUpgradeRequest.objects.filter(loan=loan, status=RiskClassUpgradeRequest.Status.PENDING)
        .select_related("requested_by")
        .first()
    )


def loan_write_off_summary(loan: Loan) -> dict[str, Any]:
    """The loan's approved write-off (or None), a pending proposal (or None), its recoveries and their total."""
    from servicing.models import WriteOff, WriteOffRecovery

    write_offs = list(
        WriteOff.objects.filter(loan=loan, status__in=[WriteOff.Status.APPROVED, WriteOff.Status.PROPOSED])
        .select_related("proposed_by", "decided_by")
        .order_by("id")
    )
    approved = next((row for row in write_offs if row.status == WriteOff.Status.APPROVED), None)
    pending = next((row for row in write_offs if row.status == WriteOff.Status.PROPOSED), None)
    rows = list(WriteOffRecovery.objects.filter(loan=loan).select_related("recorded_by").order_by("id"))
    total = sum((row.amount for row in rows), ZERO)
    return {"write_off": approved, "pending": pending, "recoveries": rows, "recovered_total": total}


def loan_restructurings(loan: Loan) -> QuerySet[Any]:
    """The loan's extension / restructuring requests, oldest first."""
    from servicing.models import Restructuring

    return (
        Restructuring.objects.filter(loan=loan)
        .select_related("requested_by", "risk_approved_by", "manager_approved_by", "rejected_by", "schedule_version")
        .order_by("id")
    )
