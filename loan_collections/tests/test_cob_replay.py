"""Replay a small portfolio over 400 business days through the real COB and the real online services.

Loans pay on time, pay late, pay in parts, cure, roll through every bucket (M1, M2, M3, M3+) and every
class (正常 … 损失); one is written off through the four-eyes services and then recovers money, one in
arrears gets an extension (展期) and a new schedule version. After every day the ledger check passes and
the results of every COB step match a per-loan recomputation in Python (``Replay`` / ``LoanModel`` below),
derived from the schedules, the payments, ``penalty_for_range`` and the settings alone:

1–3. ``due``/``penalty``/``bucket`` — installment status, penalty accrued, days past due, bucket, loan status;
4. ``classify`` — the class is the DPD floor of ``LOANOPS_RISK_CLASS_DPD_FLOORS`` (at least 关注 during a
   restructuring's observation period), and each change since the previous day has its ``RiskClassChange``;
5. ``collections`` — one case per arrears episode: opened the first day DPD ≥ 1 at the level of its bucket,
   raised as the bucket worsens but never lowered, closed cured / settled / written off;
6. ``reminders`` — the ``Reminder`` rows dated D are exactly the reminder plan of D (T−3, T−1, T0, D+1,
   D+3, D+7 from the settings), SMS always, e-mail when the borrower has an address;
7. ``early_warning`` — each industry's snapshot (M1+ principal / outstanding principal, level);
8. ``staff_tasks`` — a return visit ``LOANOPS_RETURN_VISIT_DAYS`` after disbursement, post-loan reviews
   every ``LOANOPS_POST_LOAN_REVIEW_MONTHS`` months for a large loan while it is in servicing.
"""

from __future__ import annotations

import calendar
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from django.conf import settings

from applications.models import Customer, Loan, LoanStatus, RiskClass
from compliance.audit import audit_verify_chain
from loan_collections.case_models import LEVEL_RANK, CaseOutcome, CaseStatus, CollectionCase
from loan_collections.cob.models import CobRun, CobRunStatus
from loan_collections.cob.runner import cob_run
from loan_collections.policy import level_for_bucket
from loan_collections.post_loan import IndustryRiskSnapshot, Reminder, ReminderKind, StaffTask, StaffTaskKind
from loanops.money import to_money, to_rate
from loanops.pricing import penalty_for_range
from servicing.cob_steps import bucket_for
from servicing.models import (
    EntryKind,
    Installment,
    JournalEntry,
    Restructuring,
    RiskClassChange,
    ScheduleVersion,
    WriteOff,
    WriteOffRecovery,
)
from servicing.selectors import ledger_check
from servicing.services import loan_disburse, repayment_record
from servicing.services.business_date import business_date_get
from servicing.services.common import system_user
from servicing.services.restructuring import restructuring_approve, restructuring_request
from servicing.services.write_off import recovery_record, write_off_approve, write_off_propose
from servicing.tests.conftest import set_business_date

pytestmark = pytest.mark.django_db

START = date(2025, 1, 15)
DAYS = 400
ACCUMULATOR = Decimal("1e-10")
SERVICING = (LoanStatus.ACTIVE, LoanStatus.OVERDUE)


@dataclass(frozen=True)
class Behaviour:
    """How a loan behaves. ``first_due``: days after START of its first due date. It pays by itself
    ``late`` days after each due date (None: never) up to day index ``until`` and again from ``resume``;
    on each ``catch_up`` day it pays all arrears; ``split`` pays half on the day, the rest ``split`` days
    later. ``principal``, ``industry`` and whether the borrower has an e-mail address vary the other steps."""

    first_due: int
    late: int | None
    until: int = DAYS
    resume: int | None = None
    catch_up: tuple[int, ...] = ()
    split: int = 0
    principal: str = "12000.00"
    industry: str = "C"
    email: bool = False

    def pays_by_itself(self, index: int) -> bool:
        if self.late is None:
            return False
        return index <= self.until or (self.resume is not None and index >= self.resume)


BEHAVIOURS = {
    # large enough for post-loan reviews (贷后检查); settles in December, so no review in January
    "on_time": Behaviour(first_due=10, late=0, principal="360000.00", email=True),
    "late_5": Behaviour(first_due=13, late=5, industry="F"),
    "late_40_to_m2": Behaviour(first_due=16, late=40, email=True),
    "parts": Behaviour(first_due=19, late=0, split=12, industry="F"),
    "rolls_to_m3_plus_then_cures": Behaviour(first_due=22, late=None, catch_up=(150, 300), email=True),
    # never pays from a first due date the day after disbursement: DPD 361 (损失) on day 361, written off
    "never_pays_written_off": Behaviour(first_due=1, late=None, industry="F"),
    # pays the first installment, misses two (M2 by day 100), gets an extension, pays the arrears, resumes
    "extended": Behaviour(first_due=25, late=0, until=45, resume=102, catch_up=(101,), email=True),
}
EXTENDED, EXTENSION_REQUEST, EXTENSION_APPROVAL, EXTENSION_TERM = "extended", 99, 100, 15
WRITTEN_OFF, WRITE_OFF_PROPOSAL, WRITE_OFF_APPROVAL = "never_pays_written_off", 363, 364
RECOVERIES = {370: Decimal("800.00"), 390: Decimal("1200.00")}


def add_months(day: date, months: int) -> date:
    year, month0 = divmod(day.month - 1 + months, 12)
    year += day.year
    return date(year, month0 + 1, min(day.day, calendar.monthrange(year, month0 + 1)[1]))


def floor_for(dpd: int, *, day: date, observation_until: date | None) -> str:
    """The class from the settings' DPD floors (worst first), at least 关注 during an observation period."""
    floors = settings.LOANOPS_RISK_CLASS_DPD_FLOORS
    code: str = RiskClass.NORMAL
    for candidate, threshold in sorted(floors.items(), key=lambda item: -int(item[1])):
        if dpd >= int(threshold):
            code = candidate
            break
    if code == RiskClass.NORMAL and observation_until is not None and day <= observation_until:
        code = RiskClass.SPECIAL_MENTION
    return code


def reminder_offsets(day: date) -> dict[date, int]:
    """Due date → signed offset of the reminders sent on ``day`` (−3, −1, 0 before; 1, 3, 7 after)."""
    plan = {day + timedelta(days=int(k)): -int(k) for k in settings.LOANOPS_REMINDER_DAYS_BEFORE}
    plan.update({day - timedelta(days=int(k)): int(k) for k in settings.LOANOPS_OVERDUE_NOTICE_DAYS})
    return plan


def reminder_kind(offset: int) -> str:
    if offset < 0:
        return ReminderKind.DUE_SOON
    return ReminderKind.DUE_TODAY if offset == 0 else ReminderKind.OVERDUE


@dataclass
class Episode:
    """One collection case as the recomputation sees it."""

    opened_on: date
    level: str
    closed_on: date | None = None
    outcome: str = ""

    def row(self) -> tuple[Any, ...]:
        status = CaseStatus.OPEN if self.closed_on is None else CaseStatus.CLOSED
        return (self.opened_on, self.level, status, self.closed_on, self.outcome)


@dataclass
class LoanModel:
    """Per-loan recomputation: exact penalty accumulators (by period: a new schedule version keeps the
    periods of its kept history and renumbers the new rows after them), class, collection cases."""

    name: str
    loan_id: int
    customer_email: str
    principal: Decimal
    penalty: dict[int, Decimal] = field(default_factory=dict)
    accrued_to: dict[int, date] = field(default_factory=dict)
    dpd: int = 0
    risk_class: str = RiskClass.NORMAL
    observation_until: date | None = None
    episodes: list[Episode] = field(default_factory=list)
    frozen: tuple[Any, ...] | None = None  # the loan and its installments when it was written off

    def accrue(self, loan: Loan, items: list[Installment], day: date) -> None:
        """What COB for ``day`` must add: penalty for [accrued_to or due, day) on what is unpaid now."""
        product = loan.product
        for item in items:
            self.penalty.setdefault(item.period, Decimal(0))
            start = self.accrued_to.get(item.period, item.due_date)
            unpaid_principal = item.principal_due - item.principal_paid
            unpaid_interest = item.interest_due - item.interest_paid
            bears = unpaid_principal > 0 or (product.compound_overdue_interest and unpaid_interest > 0)
            if item.due_date >= day or item.outstanding <= 0 or start >= day or not bears:
                continue
            exact = self.penalty[item.period] + penalty_for_range(
                overdue_principal=unpaid_principal,
                overdue_interest=unpaid_interest,
                annual_rate=loan.annual_rate,
                surcharge=product.penalty_surcharge,
                compound=product.compound_overdue_interest,
                start=start,
                end=day,
                cap=loan.rate_cap if loan.rate_cap is not None else Decimal("0.24"),
            )
            self.penalty[item.period] = exact.quantize(ACCUMULATOR, ROUND_HALF_UP)  # the column keeps 10 places
            self.accrued_to[item.period] = day

    def check_servicing(self, loan: Loan, items: list[Installment], day: date) -> None:
        """Steps 1–3: installment status, booked interest, penalty, DPD, bucket, loan status."""
        unpaid_past = [item.due_date for item in items if item.outstanding > 0 and item.due_date < day]
        self.dpd = (day - min(unpaid_past)).days if unpaid_past else 0
        assert (loan.days_past_due, loan.bucket) == (self.dpd, bucket_for(self.dpd)), (self.name, day)
        assert loan.status == (LoanStatus.OVERDUE if self.dpd else LoanStatus.ACTIVE), (self.name, day)
        for item in items:
            if item.outstanding <= 0:
                status = "paid"
            elif item.due_date > day:
                status = "pending"
            else:
                status = "overdue" if item.due_date < day else "due"
            assert item.status == status, (self.name, item.period, day)
            assert item.interest_booked == (item.due_date <= day or item.interest_paid > 0)
            exact = self.penalty.get(item.period, Decimal(0))
            assert item.penalty_accrued == exact, (self.name, item.period, day)
            assert item.penalty_due == to_money(exact)

    def classify(self, day: date) -> tuple[str, str] | None:
        """Step 4 for a loan in servicing: the new class, and the change (from, to) if there is one."""
        floor = floor_for(self.dpd, day=day, observation_until=self.observation_until)
        if floor == self.risk_class:
            return None
        change = (self.risk_class, floor)
        self.risk_class = floor
        return change

    def collect(self, loan: Loan, day: date) -> None:
        """Step 5: close the open episode on cure / settlement / write-off, open one at DPD ≥ 1, escalate."""
        current = self.episodes[-1] if self.episodes and self.episodes[-1].closed_on is None else None
        if loan.status not in SERVICING:
            if current is not None:
                current.closed_on = day
                current.outcome = (
                    CaseOutcome.WRITTEN_OFF if loan.status == LoanStatus.WRITTEN_OFF else CaseOutcome.SETTLED
                )
            return
        if self.dpd == 0:
            if current is not None:
                current.closed_on, current.outcome = day, CaseOutcome.CURED
            return
        level = level_for_bucket(bucket_for(self.dpd))
        if current is None:
            self.episodes.append(Episode(opened_on=day, level=level))
        elif LEVEL_RANK[level] > LEVEL_RANK[current.level]:
            current.level = level  # escalated with the bucket, never lowered


def _frozen(loan: Loan, items: list[Installment]) -> tuple[Any, ...]:
    fields = ("status", "days_past_due", "bucket", "risk_class", "risk_class_manual", "updated_at")
    columns = [f.attname for f in Installment._meta.concrete_fields]
    return (
        tuple(getattr(loan, name) for name in fields),
        [tuple(getattr(item, name) for name in columns) for item in items],
    )


def _pay(actor: Any, loan: Loan, day: date, *, due_by: date, fraction: Decimal = Decimal(1)) -> None:
    owed = sum(
        (i.outstanding for i in Installment.objects.filter(loan=loan, schedule__is_current=True, due_date__lte=due_by)),
        Decimal(0),
    )
    amount = to_money(owed * fraction)
    if amount > 0:
        repayment_record(actor=actor, loan_id=loan.pk, amount=amount, paid_on=day, channel="bank_transfer")


class Replay:
    """The portfolio, the recomputation of every loan, and the checks after each COB day."""

    def __init__(self, loans: dict[str, Loan]) -> None:
        self.loans = loans
        self.ids = [loan.pk for loan in loans.values()]
        emails = dict(Loan.objects.filter(pk__in=self.ids).values_list("pk", "customer__email"))
        self.models = {
            loan.pk: LoanModel(name=name, loan_id=loan.pk, customer_email=emails[loan.pk], principal=loan.principal)
            for name, loan in loans.items()
        }
        self.industry = {loan.pk: BEHAVIOURS[name].industry for name, loan in loans.items()}
        self.last_change_id = RiskClassChange.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        self.expected_changes: list[tuple[int, str, str, date, str]] = []  # since the last check
        self.reminders_expected = 0
        self.seen: dict[str, set[str]] = defaultdict(set)

    def fetch(self) -> tuple[dict[int, Loan], dict[int, list[Installment]]]:
        """The loans and their current schedules: two queries for the whole portfolio."""
        loans = {loan.pk: loan for loan in Loan.objects.select_related("product").filter(pk__in=self.ids)}
        items: dict[int, list[Installment]] = defaultdict(list)
        for item in Installment.objects.filter(loan_id__in=self.ids, schedule__is_current=True).order_by(
            "loan_id", "period"
        ):
            items[item.loan_id].append(item)
        return loans, items

    def accrue(self, day: date) -> None:
        loans, items = self.fetch()
        for pk, loan in loans.items():
            if loan.status in SERVICING:
                self.models[pk].accrue(loan, items[pk], day)

    def check(self, day: date) -> None:
        loans, items = self.fetch()
        for pk, loan in loans.items():
            model = self.models[pk]
            if model.frozen is not None:  # written off: COB leaves the loan and its schedule alone
                assert loan.status == LoanStatus.WRITTEN_OFF
                assert _frozen(loan, items[pk]) == model.frozen, (model.name, day)
            elif loan.status == LoanStatus.SETTLED:
                assert all(item.outstanding == 0 for item in items[pk])
                self.seen["bucket"].add("settled")
            else:
                model.check_servicing(loan, items[pk], day)
                self.seen["bucket"].add(bucket_for(model.dpd))
                change = model.classify(day)
                if change is not None:
                    self.expected_changes.append((pk, *change, day, RiskClassChange.Source.AUTO))
            model.collect(loan, day)
            assert (loan.risk_class, loan.risk_class_manual) == (model.risk_class, False), (model.name, day)
            self.seen["class"].add(loan.risk_class)
        self._check_class_history()
        self._check_cases(day)
        self._check_reminders(day, loans, items)
        self._check_early_warning(day, loans, items)
        self._check_staff_tasks(day, loans)

    def _check_class_history(self) -> None:
        rows = list(
            RiskClassChange.objects.filter(pk__gt=self.last_change_id)
            .order_by("pk")
            .values_list("pk", "loan_id", "from_class", "to_class", "business_date", "source")
        )
        assert Counter(row[1:] for row in rows) == Counter(self.expected_changes)
        if rows:
            self.last_change_id = rows[-1][0]
        self.expected_changes = []

    def _check_cases(self, day: date) -> None:
        actual: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
        for loan_id, *row in (
            CollectionCase.objects.filter(loan_id__in=self.ids)
            .order_by("loan_id", "pk")
            .values_list("loan_id", "opened_on", "level", "status", "closed_on", "outcome")
        ):
            actual[loan_id].append(tuple(row))
        for pk, model in self.models.items():
            assert actual[pk] == [episode.row() for episode in model.episodes], (model.name, day)
            self.seen["case"] |= {episode.outcome for episode in model.episodes if episode.outcome}
            self.seen["level"] |= {episode.level for episode in model.episodes}

    def _check_reminders(self, day: date, loans: dict[int, Loan], items: dict[int, list[Installment]]) -> None:
        offsets = reminder_offsets(day)
        expected = set()
        for pk, loan in loans.items():
            if loan.status not in SERVICING:
                continue
            channels = ["sms", "email"] if self.models[pk].customer_email else ["sms"]
            for item in items[pk]:
                if item.due_date in offsets and item.outstanding > 0:
                    offset = offsets[item.due_date]
                    for channel in channels:
                        expected.add(
                            (item.pk, pk, channel, reminder_kind(offset), offset, item.due_date, item.outstanding)
                        )
        rows = list(
            Reminder.objects.filter(reminder_date=day).values_list(
                "installment_id", "loan_id", "channel", "kind", "offset_days", "due_date", "amount"
            )
        )
        assert len(rows) == len(set(rows))
        assert set(rows) == expected, day
        self.reminders_expected += len(expected)
        self.seen["reminder"] |= {row[3] for row in rows}

    def _check_early_warning(self, day: date, loans: dict[int, Loan], items: dict[int, list[Installment]]) -> None:
        outstanding: dict[str, Decimal] = defaultdict(Decimal)
        overdue: dict[str, Decimal] = defaultdict(Decimal)
        count: Counter[str] = Counter()
        for pk, loan in loans.items():
            if loan.status not in SERVICING:
                continue
            industry = self.industry[pk]
            principal = sum((item.principal_due - item.principal_paid for item in items[pk]), Decimal(0))
            outstanding[industry] += principal
            count[industry] += 1
            if self.models[pk].dpd >= 1:
                overdue[industry] += principal
        warning = Decimal(str(settings.LOANOPS_EARLY_WARNING_THRESHOLD))
        restriction = Decimal(str(settings.LOANOPS_EARLY_RESTRICTION_THRESHOLD))
        expected = {}
        for industry, balance in outstanding.items():
            if balance <= 0:
                continue
            ratio = overdue[industry] / balance
            level = "restriction" if ratio > restriction else "warning" if ratio > warning else "normal"
            expected[industry] = (balance, overdue[industry], count[industry], to_rate(ratio), level)
        actual = {
            row[0]: row[1:]
            for row in IndustryRiskSnapshot.objects.filter(business_date=day).values_list(
                "industry", "outstanding_principal", "overdue_principal", "loan_count", "overdue_rate", "level"
            )
        }
        assert actual == expected, day
        self.seen["warning"] |= {row[-1] for row in expected.values()}

    def _check_staff_tasks(self, day: date, loans: dict[int, Loan]) -> None:
        visit_on = START + timedelta(days=int(settings.LOANOPS_RETURN_VISIT_DAYS))
        months = int(settings.LOANOPS_POST_LOAN_REVIEW_MONTHS)
        minimum = Decimal(str(settings.LOANOPS_POST_LOAN_REVIEW_MIN_PRINCIPAL))
        reviews = {add_months(START, months * k) for k in range(1, 12)}
        expected = set()
        for pk, loan in loans.items():
            if loan.status not in SERVICING:
                continue
            assert loan.disbursed_on == START
            if day == visit_on:
                expected.add((pk, StaffTaskKind.RETURN_VISIT))
            if day in reviews and loan.principal >= minimum:
                expected.add((pk, StaffTaskKind.POST_LOAN_REVIEW))
        actual = list(StaffTask.objects.filter(due_date=day).values_list("loan_id", "kind"))
        assert sorted(actual) == sorted(expected), day
        self.seen["task"] |= {kind for _, kind in actual}

    # --- the online actions of the replay -------------------------------------------------------

    def extend(self, *, loan: Loan, ops: Any, risk: Any, index: int, today: date) -> None:
        """展期 of a loan in arrears: requested by ops one day, approved by risk the next (per its rules)."""
        if index == EXTENSION_REQUEST:
            assert loan.status == LoanStatus.OVERDUE and loan.days_past_due > 30  # in arrears (M2)
            restructuring_request(actor=ops, loan_id=loan.pk, kind="extension", term_months=EXTENSION_TERM,
                                  reason="经营回款周期拉长，申请展期")  # fmt: skip
            return
        request = Restructuring.objects.get(loan=loan, status=Restructuring.Status.REQUESTED)
        assert not request.needs_manager  # below LOANOPS_RESTRUCTURE_MANAGER_LIMIT: risk alone approves
        old = list(Installment.objects.filter(loan=loan, schedule__is_current=True).order_by("period"))
        restructuring_approve(actor=risk, restructuring_id=request.pk, note="同意展期")
        model = self.models[loan.pk]
        version = ScheduleVersion.objects.get(loan=loan, is_current=True)
        new = list(Installment.objects.filter(schedule=version).order_by("period"))
        kept = [item for item in old if item.due_date <= today or item.outstanding < item.total_due]
        assert version.version == 2 and len(new) == len(kept) + EXTENSION_TERM
        assert [(i.period, i.due_date, i.penalty_accrued) for i in new[: len(kept)]] == [
            (i.period, i.due_date, i.penalty_accrued) for i in kept
        ]
        assert all(i.principal_due == i.principal_paid for i in new[: len(kept)])  # arrears principal rolled over
        assert sum((i.principal_due - i.principal_paid for i in new), Decimal(0)) == sum(
            (i.principal_due - i.principal_paid for i in old), Decimal(0)
        )
        assert min(i.due_date for i in new[len(kept) :]) > today
        model.observation_until = add_months(today, int(settings.LOANOPS_RESTRUCTURE_OBSERVATION_MONTHS))
        loan.refresh_from_db()
        assert (loan.restructured_on, loan.restructure_observation_until) == (today, model.observation_until)
        if model.risk_class == RiskClass.NORMAL:  # the floor is applied at once
            model.risk_class = RiskClass.SPECIAL_MENTION
            self.expected_changes.append(
                (loan.pk, RiskClass.NORMAL, RiskClass.SPECIAL_MENTION, today, RiskClassChange.Source.AUTO)
            )

    def write_off(self, *, loan: Loan, risk: Any, manager: Any, index: int) -> None:
        """核销 of the 损失 loan: proposed by risk, approved the next day by a manager (not the proposer)."""
        if index == WRITE_OFF_PROPOSAL:
            assert (loan.status, loan.risk_class) == (LoanStatus.OVERDUE, RiskClass.LOSS)
            write_off_propose(actor=risk, loan_id=loan.pk, reason="借款人失联，催收无果")
            return
        proposal = write_off_approve(actor=manager, loan_id=loan.pk, reason="同意核销")
        assert (proposal.proposed_by_id, proposal.decided_by_id) == (risk.pk, manager.pk)
        assert proposal.journal_entry is not None and proposal.journal_entry.kind == EntryKind.WRITE_OFF
        loan.refresh_from_db()
        assert loan.status == LoanStatus.WRITTEN_OFF
        items = list(Installment.objects.filter(loan=loan, schedule__is_current=True).order_by("period"))
        assert proposal.total == sum((item.outstanding for item in items), Decimal(0))
        self.models[loan.pk].frozen = _frozen(loan, items)


def test_portfolio_replayed_over_400_business_days(loan_factory: Any, manager: Any, ops: Any, risk: Any) -> None:
    set_business_date(START)
    loans: dict[str, Loan] = {}
    for n, (name, rule) in enumerate(BEHAVIOURS.items()):
        loan = loan_factory(
            first_due_date=START + timedelta(days=rule.first_due),
            rate="0.180000" if n % 2 else "0.120000",
            principal=rule.principal,
        )
        assert loan.product.dpd_floor_loss is None  # the settings' floors apply
        Customer.objects.filter(pk=loan.customer_id).update(
            industry=rule.industry, email=f"borrower{n}@example.com" if rule.email else ""
        )
        loans[name] = loan_disburse(actor=manager, loan_id=loan.pk)
    Loan.objects.filter(pk=loans["parts"].pk).update(rate_cap=Decimal("0.150000"))  # 18 % × 1.5 > cap
    replay = Replay(loans)
    pending_rest: dict[str, date] = {}
    system = system_user()

    for index in range(DAYS):
        today = business_date_get()
        for name, loan in loans.items():
            loan.refresh_from_db()
            if name == WRITTEN_OFF and index in (WRITE_OFF_PROPOSAL, WRITE_OFF_APPROVAL):
                replay.write_off(loan=loan, risk=risk, manager=manager, index=index)
            if name == WRITTEN_OFF and index in RECOVERIES:
                recovery_record(actor=ops, loan_id=loan.pk, amount=RECOVERIES[index], recovered_on=today,
                                channel="litigation", reference=f"执行款 {index}")  # fmt: skip
            if name == EXTENDED and index in (EXTENSION_REQUEST, EXTENSION_APPROVAL):
                replay.extend(loan=loan, ops=ops, risk=risk, index=index, today=today)
            if loan.status not in SERVICING:
                continue
            rule = BEHAVIOURS[name]
            if index in rule.catch_up:
                _pay(ops, loan, today, due_by=today)
            elif rule.pays_by_itself(index):
                due_by = today - timedelta(days=rule.late or 0)
                if Installment.objects.filter(loan=loan, due_date=due_by, schedule__is_current=True).exists():
                    _pay(ops, loan, today, due_by=due_by, fraction=Decimal("0.5") if rule.split else Decimal(1))
                    if rule.split:
                        pending_rest[name] = today + timedelta(days=rule.split)
            if pending_rest.get(name) == today:
                _pay(ops, loan, today, due_by=today)
                del pending_rest[name]
        day = today + timedelta(days=1)
        replay.accrue(day)
        runs = cob_run(actor=system)
        assert [(r.business_date, r.status) for r in runs] == [(day, CobRunStatus.COMPLETED)]
        assert ledger_check() == [], day
        replay.check(day)

    seen = replay.seen
    assert {"M0", "M1", "M2", "M3", "M3+", "settled"} <= seen["bucket"]
    assert set(RiskClass.values) == seen["class"]
    assert {CaseOutcome.CURED, CaseOutcome.WRITTEN_OFF} <= seen["case"]
    assert set(level_for_bucket(bucket) for bucket in ("M1", "M2", "M3", "M3+")) == seen["level"]
    assert set(ReminderKind.values) == seen["reminder"]
    assert set(StaffTaskKind.values) == seen["task"]
    assert len(seen["warning"]) >= 2
    assert Reminder.objects.count() == replay.reminders_expected  # never twice, never on another date
    assert StaffTask.objects.filter(kind=StaffTaskKind.RETURN_VISIT).count() == len(loans)
    written_off = loans[WRITTEN_OFF]
    assert WriteOff.objects.get(loan=written_off).status == WriteOff.Status.APPROVED
    assert WriteOffRecovery.objects.filter(loan=written_off).count() == len(RECOVERIES)
    assert not Reminder.objects.filter(
        loan=written_off, reminder_date__gt=START + timedelta(WRITE_OFF_APPROVAL)
    ).exists()
    assert (
        not JournalEntry.objects.filter(loan=written_off, business_date__gt=START + timedelta(WRITE_OFF_APPROVAL))
        .exclude(kind=EntryKind.RECOVERY)
        .exists()
    )
    assert CobRun.objects.filter(status=CobRunStatus.COMPLETED).count() == DAYS
    assert audit_verify_chain() == []
