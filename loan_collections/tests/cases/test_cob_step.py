"""COB step 5 (collections), called directly with loans put into overdue states."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.module_loading import import_string

from applications.models import Loan, LoanStatus
from compliance.models import AuditEvent
from loan_collections.batch import balance_by_load, collections_run
from loan_collections.case_models import (
    CaseEvent,
    CaseEventKind,
    CaseOutcome,
    CaseStatus,
    CollectionCase,
    PromiseStatus,
    PromiseToPay,
)
from loan_collections.steps import collections as collections_step
from loan_collections.tests.cases.conftest import D, days, pay
from loanops.cob import CobStep

pytestmark = pytest.mark.django_db


def run(day: date = D, id_range: Any = None) -> int:
    return collections_step.run(business_date=day, id_range=id_range)


def set_state(loan: Loan, **fields: Any) -> None:
    Loan.objects.filter(pk=loan.pk).update(**fields)  # test setup: the state earlier COB steps would leave


def promise(case: CollectionCase, amount: str, promised: date, made_on: date, by: Any) -> PromiseToPay:
    return PromiseToPay.objects.create(
        case=case, loan_id=case.loan_id, amount=Decimal(amount), promised_date=promised, made_on=made_on, created_by=by
    )


def test_step_is_listed_after_classify_and_is_a_cob_step() -> None:
    assert "loan_collections.steps.collections" in settings.LOANOPS_COB_STEPS
    step = import_string("loan_collections.steps.collections")
    assert isinstance(step, CobStep) and step.name == "collections" and step.chunked


def test_opens_one_case_per_overdue_loan_at_the_bucket_level(
    make_overdue_loan: Callable[..., Loan], service_staff: Any, collector: Any, risk_staff: Any
) -> None:
    m1 = make_overdue_loan(dpd=1)
    m2 = make_overdue_loan(dpd=45)
    m3 = make_overdue_loan(dpd=75)
    m4 = make_overdue_loan(dpd=120)
    make_overdue_loan(dpd=0, status=LoanStatus.ACTIVE)  # not overdue
    make_overdue_loan(dpd=10, status=LoanStatus.WITHDRAWN)  # not in servicing

    touched = run()

    cases = {c.loan_id: c for c in CollectionCase.objects.all()}
    assert set(cases) == {m1.pk, m2.pk, m3.pk, m4.pk}
    expected = {
        m1.pk: ("reminder", "service", service_staff),
        m2.pk: ("collector", "collector", collector),
        m3.pk: ("field_visit", "collector", collector),
        m4.pk: ("legal", "risk", risk_staff),
    }
    for loan_id, (level, role, user) in expected.items():
        case = cases[loan_id]
        assert (case.level, case.responsible_role, case.assigned_to_id, case.status) == (level, role, user.pk, "open")
        assert case.opened_on == D and case.assigned_on == D
        kinds = list(case.events.values_list("kind", "to_level", "role"))
        assert kinds == [("opened", level, role), ("assigned", level, role)]
    assert cases[m2.pk].opened_dpd == 45
    assert touched == 8  # 4 opened + 4 assigned
    summary = AuditEvent.objects.get(action="collection_cob.run")
    assert (summary.data["opened"], summary.data["assigned"], summary.data["rows"]) == (4, 4, 8)


def test_rerun_of_the_same_date_changes_nothing(make_overdue_loan: Callable[..., Loan], collector: Any) -> None:
    for dpd in (3, 40, 70, 100):
        make_overdue_loan(dpd=dpd)
    assert run() > 0
    snapshot = list(CollectionCase.objects.order_by("pk").values())
    events = CaseEvent.objects.count()
    audits = AuditEvent.objects.count()

    assert run() == 0
    assert list(CollectionCase.objects.order_by("pk").values()) == snapshot
    assert CaseEvent.objects.count() == events
    assert AuditEvent.objects.count() == audits


def test_one_open_case_per_loan_is_a_database_rule(make_overdue_loan: Callable[..., Loan]) -> None:
    from django.db import IntegrityError, transaction

    loan = make_overdue_loan(dpd=3)
    run()
    case = CollectionCase.objects.get(loan=loan)
    with pytest.raises(IntegrityError), transaction.atomic():
        CollectionCase.objects.create(
            loan=loan, customer=loan.customer, level="reminder", responsible_role="service", opened_on=D, opened_dpd=3
        )
    assert CollectionCase.objects.filter(loan=loan).count() == 1 and case.status == "open"


def test_escalates_with_the_bucket_never_down_and_keeps_history(
    make_overdue_loan: Callable[..., Loan], service_staff: Any, collector: Any, risk_staff: Any
) -> None:
    loan = make_overdue_loan(dpd=10)
    run(D)
    case = CollectionCase.objects.get(loan=loan)
    assert (case.level, case.assigned_to) == ("reminder", service_staff)

    set_state(loan, days_past_due=31, bucket="M2")
    run(D + days(21))
    case.refresh_from_db()
    assert (case.level, case.responsible_role, case.assigned_to) == ("collector", "collector", collector)

    set_state(loan, days_past_due=61, bucket="M3")
    run(D + days(51))
    case.refresh_from_db()
    # same role (collector): the case stays with its collector
    assert (case.level, case.responsible_role, case.assigned_to) == ("field_visit", "collector", collector)

    set_state(loan, days_past_due=91, bucket="M3+")
    run(D + days(81))
    case.refresh_from_db()
    assert (case.level, case.responsible_role, case.assigned_to) == ("legal", "risk", risk_staff)

    set_state(loan, days_past_due=20, bucket="M1")  # a partial payment: the bucket falls back
    assert run(D + days(82)) == 0
    case.refresh_from_db()
    assert case.level == "legal"

    history = list(case.events.filter(kind="escalated").values_list("from_level", "to_level", "role", "business_date"))
    assert history == [
        ("reminder", "collector", "collector", D + days(21)),
        ("collector", "field_visit", "collector", D + days(51)),
        ("field_visit", "legal", "risk", D + days(81)),
    ]
    audited = AuditEvent.objects.filter(action="collection_case.escalated", subject_id=str(case.pk))
    assert [e.data["to_level"] for e in audited.order_by("id")] == ["collector", "field_visit", "legal"]
    assigned = list(case.events.filter(kind="assigned").values_list("assigned_to", "role"))
    assert assigned == [(service_staff.pk, "service"), (collector.pk, "collector"), (risk_staff.pk, "risk")]


def test_a_loan_that_jumps_buckets_goes_straight_to_its_level(
    make_overdue_loan: Callable[..., Loan], service_staff: Any
) -> None:
    loan = make_overdue_loan(dpd=5)
    run(D)
    set_state(loan, days_past_due=95, bucket="M3+")
    run(D + days(1))
    case = CollectionCase.objects.get(loan=loan)
    assert case.level == "legal" and case.assigned_to is None  # no risk staff exists: stays unassigned
    assert list(case.events.filter(kind="escalated").values_list("from_level", "to_level")) == [("reminder", "legal")]


def test_assignment_by_load_fewest_open_cases_first(
    make_overdue_loan: Callable[..., Loan], collector: Any, collector2: Any
) -> None:
    busy = [make_overdue_loan(dpd=40) for _ in range(2)]
    run(D)
    # put both existing cases on the first collector
    CollectionCase.objects.filter(loan__in=busy).update(assigned_to=collector)
    new = [make_overdue_loan(dpd=35 + i) for i in range(5)]
    run(D + days(1))
    loads = {
        user.pk: CollectionCase.objects.filter(assigned_to=user, status="open").count()
        for user in (collector, collector2)
    }
    # 2+0 → the first two new cases to collector2, then ties go to the lower user id: 4 and 3
    assert loads == {collector.pk: 4, collector2.pk: 3}
    # the most overdue new case went to the least-loaded collector first
    most_overdue = CollectionCase.objects.get(loan=new[-1])
    assert most_overdue.assigned_to == collector2


def test_balance_by_load_is_water_filling() -> None:
    result = balance_by_load([(2, 10), (0, 20), (5, 30)], [1, 2, 3, 4, 5])
    assert result == {20: [1, 2, 4], 10: [3, 5]}


def test_assignment_skips_inactive_staff_and_other_roles(
    make_overdue_loan: Callable[..., Loan], collector: Any, collector2: Any, service_staff: Any
) -> None:
    collector2.is_active = False
    collector2.save(update_fields=["is_active"])
    loans = [make_overdue_loan(dpd=40) for _ in range(3)]
    run()
    assert set(CollectionCase.objects.filter(loan__in=loans).values_list("assigned_to", flat=True)) == {collector.pk}


def test_queries_do_not_grow_with_the_number_of_cases(
    make_overdue_loan: Callable[..., Loan], collector: Any, service_staff: Any
) -> None:
    def measure(n: int, day: date) -> int:
        for i in range(n):
            make_overdue_loan(dpd=5 + i % 50)
        with CaptureQueriesContext(connection) as ctx:
            run(day)
        return len(ctx.captured_queries)

    few = measure(2, D)
    CollectionCase.objects.update(status="closed", outcome="cured", closed_on=D)
    Loan.objects.update(days_past_due=0, bucket="M0", status="active")
    many = measure(40, D + days(1))
    # the 2 closures only add their own constant statements; nothing scales per case
    assert many <= few + 6, (few, many)


def test_closes_on_cure_settlement_and_write_off_with_outcome(
    make_overdue_loan: Callable[..., Loan], collector: Any, service_staff: Any
) -> None:
    cured, settled, archived, written_off, still = (make_overdue_loan(dpd=40) for _ in range(5))
    run(D)
    set_state(cured, days_past_due=0, bucket="M0", status=LoanStatus.ACTIVE)
    set_state(settled, days_past_due=0, status=LoanStatus.SETTLED)
    set_state(archived, days_past_due=0, status=LoanStatus.ARCHIVED)
    set_state(written_off, status=LoanStatus.WRITTEN_OFF)
    run(D + days(1))
    outcome = dict(CollectionCase.objects.values_list("loan_id", "outcome"))
    assert outcome == {
        cured.pk: CaseOutcome.CURED,
        settled.pk: CaseOutcome.SETTLED,
        archived.pk: CaseOutcome.SETTLED,
        written_off.pk: CaseOutcome.WRITTEN_OFF,
        still.pk: "",
    }
    closed = CollectionCase.objects.get(loan=cured)
    assert (closed.status, closed.closed_on) == (CaseStatus.CLOSED, D + days(1))
    assert closed.events.last().kind == "closed" and closed.events.last().outcome == "cured"
    assert CaseOutcome.CURED.label == "已结清逾期"


def test_a_cured_loan_that_defaults_again_gets_a_new_case(
    make_overdue_loan: Callable[..., Loan], service_staff: Any
) -> None:
    loan = make_overdue_loan(dpd=3)
    run(D)
    set_state(loan, days_past_due=0, bucket="M0", status=LoanStatus.ACTIVE)
    run(D + days(1))
    set_state(loan, days_past_due=1, bucket="M1", status=LoanStatus.OVERDUE)
    run(D + days(30))
    assert list(CollectionCase.objects.filter(loan=loan).order_by("pk").values_list("status", "outcome")) == [
        ("closed", "cured"),
        ("open", ""),
    ]


def test_id_range_touches_only_its_chunk(make_overdue_loan: Callable[..., Loan], service_staff: Any) -> None:
    loans = [make_overdue_loan(dpd=5) for _ in range(4)]
    ids = sorted(loan.pk for loan in loans)
    collections_run(business_date=D, id_range=(ids[0], ids[2]))
    assert set(CollectionCase.objects.values_list("loan_id", flat=True)) == set(ids[:2])
    collections_run(business_date=D, id_range=(ids[2], ids[-1] + 1))
    assert set(CollectionCase.objects.values_list("loan_id", flat=True)) == set(ids)


# --- promises to pay ----------------------------------------------------------------------------


@pytest.fixture
def open_case(make_overdue_loan: Callable[..., Loan], service_staff: Any, collector: Any) -> CollectionCase:
    loan = make_overdue_loan(dpd=10)
    run(D)
    return CollectionCase.objects.get(loan=loan)


def test_promise_kept_when_paid_by_the_date(open_case: CollectionCase, collector: Any) -> None:
    p = promise(open_case, "500.00", D + days(5), D, collector)
    pay(open_case.loan, "300.00", D + days(1), by=collector)
    run(D + days(1))
    p.refresh_from_db()
    assert p.status == PromiseStatus.PENDING  # 300 of 500 so far, date not passed
    pay(open_case.loan, "200.00", D + days(5), by=collector)
    run(D + days(5))
    p.refresh_from_db()
    assert (p.status, p.paid_amount, p.evaluated_on) == ("kept", Decimal("500.00"), D + days(5))
    open_case.refresh_from_db()
    assert open_case.level == "reminder"  # a kept promise does not escalate


def test_promise_broken_after_the_date_escalates_the_case(
    open_case: CollectionCase, collector: Any, service_staff: Any
) -> None:
    p = promise(open_case, "500.00", D + days(5), D, collector)
    pay(open_case.loan, "100.00", D - days(1), by=collector)  # before the promise: does not count
    pay(open_case.loan, "450.00", D + days(2), by=collector, reversed_=True)  # reversed: does not count
    pay(open_case.loan, "499.00", D + days(6), by=collector)  # too late
    run(D + days(5))
    p.refresh_from_db()
    assert p.status == "pending"  # the promised day itself is still open
    touched = run(D + days(6))
    p.refresh_from_db()
    assert (p.status, p.paid_amount, p.evaluated_on) == ("broken", Decimal("0.00"), D + days(6))
    open_case.refresh_from_db()
    assert (open_case.level, open_case.responsible_role, open_case.assigned_to) == ("collector", "collector", collector)
    event = open_case.events.get(kind=CaseEventKind.PROMISE_BROKEN)
    assert (event.from_level, event.to_level, event.role) == ("reminder", "collector", "collector")
    assert touched >= 3  # promise, case, assignment
    assert run(D + days(6)) == 0  # idempotent


def test_broken_promise_at_the_top_level_flags_priority(
    make_overdue_loan: Callable[..., Loan], risk_staff: Any, collector: Any
) -> None:
    loan = make_overdue_loan(dpd=100)
    run(D)
    case = CollectionCase.objects.get(loan=loan)
    assert case.level == "legal"
    promise(case, "1000.00", D + days(2), D, collector)
    run(D + days(3))
    case.refresh_from_db()
    assert (case.level, case.priority, case.priority_reason) == ("legal", True, "承诺还款未兑现")


def test_broken_promise_on_a_closed_case_does_not_escalate(open_case: CollectionCase, collector: Any) -> None:
    p = promise(open_case, "800.00", D + days(2), D, collector)
    set_state(open_case.loan, days_past_due=0, bucket="M0", status=LoanStatus.ACTIVE)
    run(D + days(1))  # cured (e.g. a payment before the promise was recorded)
    run(D + days(3))
    p.refresh_from_db()
    open_case.refresh_from_db()
    assert p.status == "broken" and open_case.status == "closed" and open_case.level == "reminder"
