"""Role × transition matrix, the FSM graph snapshot, and the single write path's refusals."""

from __future__ import annotations

from decimal import Decimal

import django_fsm as fsm
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db import transaction

from applications.lifecycle import available_transitions, loan_transition
from applications.models import TRANSITIONS, Customer, Loan, LoanStageEvent, LoanStatus, Product
from compliance.models import AuditEvent
from loanops import roles
from loanops.exceptions import InvalidTransition

pytestmark = pytest.mark.django_db

S = LoanStatus

# Who may take each transition. Written out by hand on purpose: this is the policy under test.
EXPECTED: dict[str, set[str]] = {
    "submit": {roles.OPS, roles.CUSTOMER},
    "request_supplement": {roles.OPS, roles.RISK},
    "start_review": {roles.OPS},
    "approve": {roles.RISK, roles.MANAGER},
    "reject": {roles.RISK, roles.MANAGER},
    "make_offer": {roles.OPS, roles.RISK},
    "accept_offer": {roles.OPS, roles.CUSTOMER},
    "sign_contract": {roles.CUSTOMER},
    "prepare_disbursement": {roles.OPS},
    "disburse": {roles.MANAGER},
    "withdraw": {roles.OPS, roles.MANAGER, roles.CUSTOMER},
    "mark_overdue": {roles.SYSTEM},
    "cure": {roles.SYSTEM},
    "settle": {roles.OPS, roles.SYSTEM},
    "archive": {roles.OPS},
    "write_off": {roles.MANAGER},
}

# The state graph of DESIGN.md §2 (source states → target). A change here is a product decision.
GRAPH: dict[str, tuple[set[str], str]] = {
    "submit": ({S.DRAFT, S.SUPPLEMENT_REQUIRED}, S.SUBMITTED),
    "request_supplement": ({S.SUBMITTED, S.RISK_REVIEW}, S.SUPPLEMENT_REQUIRED),
    "start_review": ({S.SUBMITTED}, S.RISK_REVIEW),
    "approve": ({S.RISK_REVIEW}, S.APPROVED),
    "reject": ({S.RISK_REVIEW}, S.REJECTED),
    "make_offer": ({S.APPROVED}, S.OFFERED),
    "accept_offer": ({S.OFFERED}, S.CONTRACT_PENDING),
    "sign_contract": ({S.CONTRACT_PENDING}, S.CONTRACT_SIGNED),
    "prepare_disbursement": ({S.CONTRACT_SIGNED}, S.DISBURSEMENT_PENDING),
    "disburse": ({S.DISBURSEMENT_PENDING}, S.ACTIVE),
    "withdraw": (
        {
            S.DRAFT,
            S.SUBMITTED,
            S.SUPPLEMENT_REQUIRED,
            S.RISK_REVIEW,
            S.APPROVED,
            S.OFFERED,
            S.CONTRACT_PENDING,
            S.CONTRACT_SIGNED,
            S.DISBURSEMENT_PENDING,
        },
        S.WITHDRAWN,
    ),
    "mark_overdue": ({S.ACTIVE}, S.OVERDUE),
    "cure": ({S.OVERDUE}, S.ACTIVE),
    "settle": ({S.ACTIVE, S.OVERDUE}, S.SETTLED),
    "archive": ({S.SETTLED}, S.ARCHIVED),
    "write_off": ({S.OVERDUE}, S.WRITTEN_OFF),
}


def _graph_of_model() -> dict[str, tuple[set[str], str]]:
    graph: dict[str, tuple[set[str], str]] = {}
    for t in Loan._meta.get_field("status").get_all_transitions(Loan):  # type: ignore[attr-defined]
        sources, _ = graph.get(t.name, (set(), t.target))
        sources.add(t.source)
        graph[t.name] = (sources, t.target)
    return graph


def test_fsm_graph_snapshot() -> None:
    assert _graph_of_model() == GRAPH
    assert set(TRANSITIONS) == set(GRAPH)


def test_every_state_is_reachable_from_draft() -> None:
    reached, frontier = {S.DRAFT.value}, [S.DRAFT.value]
    while frontier:
        state = frontier.pop()
        for sources, target in GRAPH.values():
            if state in sources and target not in reached:
                reached.add(target)
                frontier.append(target)
    assert reached == set(S.values)


@pytest.fixture
def role_users() -> dict[str, object]:
    user_model = get_user_model()
    users: dict[str, object] = {}
    for role in (*roles.STAFF_ROLES, roles.CUSTOMER):
        user = user_model.objects.create_user(username=f"u-{role}", password="x" * 12, is_staff=role != roles.CUSTOMER)
        user.groups.add(Group.objects.get(name=role))
        users[role] = user
    users[roles.SYSTEM] = user_model.objects.get(username="system")
    users["nobody"] = user_model.objects.create_user(username="nobody", password="x" * 12, is_staff=True)
    return users


@pytest.fixture
def product() -> Product:
    return Product.objects.create(
        code="p",
        name="产品",
        applicant_type="individual",
        min_amount=Decimal("1000"),
        max_amount=Decimal("100000"),
        min_term_months=3,
        max_term_months=36,
        min_rate=Decimal("0.05"),
        max_rate=Decimal("0.2"),
    )


def _loan(product: Product, status: str, prepared_by: object = None) -> Loan:
    customer = Customer.objects.create(
        kind="individual", name="张三", phone=f"138{Loan.objects.count():08d}", industry="F"
    )
    return Loan.objects.create(
        customer=customer,
        product=product,
        requested_amount=Decimal("5000"),
        requested_term_months=12,
        purpose="经营周转",
        status=status,
        prepared_by=prepared_by,
        principal=Decimal("5000"),
        annual_rate=Decimal("0.1"),
        term_months=12,
        repayment_method="equal_installment",
        first_due_date="2026-12-23",
    )


@pytest.mark.parametrize("transition", sorted(EXPECTED))
def test_role_permission_matrix(transition: str, role_users: dict[str, object], product: Product) -> None:
    source = sorted(GRAPH[transition][0])[0]
    maker = role_users[roles.OPS]
    loan = _loan(product, source, prepared_by=maker)
    allowed = {role for role, user in role_users.items() if fsm.has_transition_perm(getattr(loan, transition), user)}
    assert allowed == EXPECTED[transition]


def test_four_eyes_the_maker_cannot_check(role_users: dict[str, object], product: Product) -> None:
    manager = role_users[roles.MANAGER]
    loan = _loan(product, S.DISBURSEMENT_PENDING, prepared_by=manager)
    assert not fsm.has_transition_perm(loan.disburse, manager)
    assert "disburse" not in available_transitions(loan, manager)


def test_illegal_transition_is_refused_and_writes_nothing(role_users: dict[str, object], product: Product) -> None:
    loan = _loan(product, S.DRAFT)
    before = (AuditEvent.objects.count(), LoanStageEvent.objects.count())
    with pytest.raises(InvalidTransition), transaction.atomic():
        loan_transition(loan, "approve", actor=role_users[roles.RISK], reason="x")
    loan.refresh_from_db()
    assert loan.status == S.DRAFT
    assert (AuditEvent.objects.count(), LoanStageEvent.objects.count()) == before


def test_transition_without_permission_is_refused(role_users: dict[str, object], product: Product) -> None:
    loan = _loan(product, S.RISK_REVIEW)
    with pytest.raises(PermissionDenied), transaction.atomic():
        loan_transition(loan, "approve", actor=role_users[roles.OPS], reason="x")
    loan.refresh_from_db()
    assert loan.status == S.RISK_REVIEW
    assert not AuditEvent.objects.filter(action="loan.approve").exists()


def test_transition_audits_and_records_stage(role_users: dict[str, object], product: Product) -> None:
    loan = _loan(product, S.RISK_REVIEW)
    with transaction.atomic():
        loan_transition(loan, "approve", actor=role_users[roles.RISK], reason="收入稳定")
    loan.refresh_from_db()
    assert loan.status == S.APPROVED
    event = AuditEvent.objects.get(action="loan.approve", subject_id=str(loan.pk))
    assert (event.before, event.after, event.reason) == (
        {"status": "risk_review"},
        {"status": "approved"},
        "收入稳定",
    )
    assert event.actor == role_users[roles.RISK]
    stage = LoanStageEvent.objects.get(loan=loan)
    assert (stage.from_status, stage.to_status, stage.transition) == ("risk_review", "approved", "approve")


def test_status_cannot_be_assigned_directly(product: Product) -> None:
    loan = _loan(product, S.DRAFT)
    with pytest.raises(AttributeError):
        loan.status = S.APPROVED  # type: ignore[misc]


def test_stale_copy_cannot_overwrite_a_concurrent_transition(role_users: dict[str, object], product: Product) -> None:
    loan = _loan(product, S.RISK_REVIEW)
    stale = Loan.objects.get(pk=loan.pk)
    with transaction.atomic():
        loan_transition(loan, "approve", actor=role_users[roles.RISK], reason="ok")
    with pytest.raises(fsm.ConcurrentTransition), transaction.atomic():
        loan_transition(stale, "reject", actor=role_users[roles.RISK], reason="late")
    assert Loan.objects.get(pk=loan.pk).status == S.APPROVED
