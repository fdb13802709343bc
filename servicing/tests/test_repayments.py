"""repayment_record / repayment_reverse / settlement against the database, with the ledger checked after each."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied

from applications.models import LoanStageEvent, LoanStatus
from compliance.models import AuditEvent
from loanops.exceptions import DomainError, InputError, InvalidTransition
from servicing.models import (
    Installment,
    InstallmentStatus,
    JournalEntry,
    Repayment,
    RepaymentAllocation,
)
from servicing.selectors import loan_balances, schedule_current
from servicing.services import (
    installments_fall_due,
    loan_archive,
    loan_settle,
    repayment_record,
    repayment_reverse,
)
from servicing.tests.conftest import charge, make_user, set_business_date

pytestmark = pytest.mark.django_db
D = Decimal


def pay(loan, actor, amount, paid_on=None, **kwargs):
    return repayment_record(
        actor=actor,
        loan_id=loan.pk,
        amount=amount,
        paid_on=paid_on or date(2025, 1, 15),
        channel=kwargs.pop("channel", "bank_transfer"),
        **kwargs,
    )


def pay_everything(loan, actor, extra="0.00"):
    """Move to the last due date (everything due) and pay all of it (plus ``extra``)."""
    last = schedule_current(loan)[-1].due_date
    set_business_date(last)
    installments_fall_due(business_date=last)
    total = sum(i.outstanding for i in schedule_current(loan))
    return pay(loan, actor, str(total + D(extra)), last)


def allocations(repayment):
    return [
        (a.installment.period if a.installment else None, a.component, a.amount)
        for a in repayment.allocations.select_related("installment").order_by("id")
    ]


def test_partial_payment_of_a_due_installment(active_loan, ops):
    set_business_date(date(2025, 2, 20))
    repayment = pay(active_loan, ops, "500.00", date(2025, 2, 20))
    assert allocations(repayment) == [(1, "interest", D("120.00")), (1, "principal", D("380.00"))]
    first = schedule_current(active_loan)[0]
    assert (first.interest_paid, first.principal_paid, first.status) == (D("120.00"), D("380.00"), "due")
    assert first.interest_booked
    balances = loan_balances(active_loan)
    assert balances["principal_receivable"] == D("11620.00")
    assert balances["interest_receivable"] == D("0.00")
    assert AuditEvent.objects.filter(action="repayment.record", subject_id=str(active_loan.pk)).exists()


def test_exact_installment_marks_it_paid(active_loan, ops):
    set_business_date(date(2025, 2, 15))
    repayment = pay(active_loan, ops, "1066.19", date(2025, 2, 15))
    assert allocations(repayment) == [(1, "interest", D("120.00")), (1, "principal", D("946.19"))]
    first, second = schedule_current(active_loan)[:2]
    assert (first.status, first.paid_on) == (InstallmentStatus.PAID, date(2025, 2, 15))
    assert second.principal_paid == D("0.00") and not second.interest_booked


def test_payment_before_the_due_date_books_that_interest_early(active_loan, ops):
    repayment = pay(active_loan, ops, "200.00", date(2025, 1, 15))
    assert allocations(repayment) == [(1, "interest", D("120.00")), (1, "principal", D("80.00"))]
    assert JournalEntry.objects.filter(loan=active_loan, kind="accrual").count() == 1
    assert loan_balances(active_loan)["interest_receivable"] == D("0.00")


# fee → penalty → interest → principal, across the due installments, oldest first (art. 561)
@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("15.00", [(1, "fee", "15.00")]),
        ("40.00", [(1, "fee", "20.00"), (1, "penalty", "8.00"), (2, "penalty", "6.00"), (1, "interest", "6.00")]),
        (
            "300.00",
            [
                (1, "fee", "20.00"),
                (1, "penalty", "8.00"),
                (2, "penalty", "6.00"),
                (1, "interest", "120.00"),
                (2, "interest", "110.54"),
                (1, "principal", "35.46"),
            ],
        ),
        (
            "2200.00",
            [
                (1, "fee", "20.00"),
                (1, "penalty", "8.00"),
                (2, "penalty", "6.00"),
                (1, "interest", "120.00"),
                (2, "interest", "110.54"),
                (1, "principal", "946.19"),
                (2, "principal", "955.65"),
                (3, "interest", "33.62"),
            ],
        ),
    ],
)
def test_allocation_order_over_overdue_installments(active_loan, ops, amount, expected):
    set_business_date(date(2025, 3, 20))
    installments_fall_due(business_date=date(2025, 3, 20))
    first, second = schedule_current(active_loan)[:2]
    charge(first, "fee", "20.00")
    charge(first, "penalty", "8.00")
    charge(second, "penalty", "6.00")
    repayment = pay(active_loan, ops, amount, date(2025, 3, 20))
    assert allocations(repayment) == [(p, c, D(a)) for p, c, a in expected]
    assert sum(a for *_, a in allocations(repayment)) == D(amount)


def test_full_repayment_settles_and_overpayment_goes_to_suspense(active_loan, ops):
    repayment = pay_everything(active_loan, ops, extra="100.00")
    active_loan.refresh_from_db()
    assert active_loan.status == LoanStatus.SETTLED
    assert active_loan.settled_on == date(2026, 1, 15)
    assert all(i.status == InstallmentStatus.PAID for i in schedule_current(active_loan))
    assert RepaymentAllocation.objects.get(repayment=repayment, component="overpayment").amount == D("100.00")
    balances = loan_balances(active_loan)
    assert balances["total_receivable"] == D("0.00")
    assert balances["overpayment"] == D("100.00")
    with pytest.raises(InvalidTransition) as info:
        pay(active_loan, ops, "1.00")
    assert info.value.code == "loan_not_repayable"


def test_settlement_by_a_clerk_without_settle_permission_runs_as_system(active_loan):
    clerk = make_user("clerk", None)
    clerk.user_permissions.add(
        Permission.objects.get(codename="add_repayment"), Permission.objects.get(codename="view_loan")
    )
    clerk = get_user_model().objects.get(pk=clerk.pk)
    pay_everything(active_loan, clerk)
    event = LoanStageEvent.objects.get(loan=active_loan, transition="settle")
    assert event.actor.username == "system"


def test_several_partial_payments_add_up(active_loan, ops):
    set_business_date(date(2025, 4, 16))
    installments_fall_due(business_date=date(2025, 4, 16))
    for amount in ("100.00", "1000.00", "0.01", "2000.00"):
        pay(active_loan, ops, amount, date(2025, 4, 16))
    paid = sum(i.total_paid for i in schedule_current(active_loan))
    assert paid == D("3100.01")
    assert loan_balances(active_loan)["principal_receivable"] == D("12000.00") - sum(
        i.principal_paid for i in schedule_current(active_loan)
    )


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("amount", {"amount": "0"}),
        ("amount", {"amount": "-5.00"}),
        ("amount", {"amount": "10.001"}),
        ("amount", {"amount": "abc"}),
        ("paid_on", {"paid_on": date(2025, 1, 16)}),  # after the business date
        ("paid_on", {"paid_on": date(2025, 1, 1)}),  # before the disbursement
        ("paid_on", {"paid_on": "2025-01-15"}),
        ("channel", {"channel": "cash_in_envelope"}),
        ("reference", {"reference": "x" * 65}),
    ],
)
def test_input_errors_are_field_level_and_write_nothing(active_loan, ops, field, kwargs):
    params = {"amount": "100.00", "paid_on": date(2025, 1, 15), "channel": "bank_transfer", **kwargs}
    entries = JournalEntry.objects.count()
    with pytest.raises(InputError) as info:
        repayment_record(actor=ops, loan_id=active_loan.pk, **params)
    assert field in info.value.fields
    assert info.value.http_status == 400
    assert not Repayment.objects.exists()
    assert JournalEntry.objects.count() == entries


def test_customer_cannot_record_a_repayment(active_loan):
    user = make_user("c1", "customer", staff=False)
    active_loan.customer.user = user
    active_loan.customer.save(update_fields=["user"])
    with pytest.raises(PermissionDenied):
        pay(active_loan, user, "100.00")


def test_reversal_restores_balances_and_statuses(active_loan, ops, manager):
    set_business_date(date(2025, 2, 15))
    before = loan_balances(active_loan)
    first_before = schedule_current(active_loan)[0]
    repayment = pay(active_loan, ops, "1500.00", date(2025, 2, 15))
    assert schedule_current(active_loan)[0].status == InstallmentStatus.PAID

    reversed_ = repayment_reverse(actor=manager, repayment_id=repayment.pk, reason="重复入账")
    assert reversed_.reversed_at is not None and reversed_.reversed_by == manager
    after = loan_balances(active_loan)
    # interest booked for the payment (period 1 due, period 2 paid early) stays booked and is receivable again
    assert after["principal_receivable"] == before["principal_receivable"]
    assert after["interest_receivable"] == D("120.00") + D("110.54")
    first, second = schedule_current(active_loan)[:2]
    assert (first.principal_paid, first.interest_paid, first.status, first.paid_on) == (
        D("0.00"),
        D("0.00"),
        InstallmentStatus.DUE,
        None,
    )
    assert first.principal_due == first_before.principal_due
    assert (second.principal_paid, second.interest_paid, second.status) == (D("0.00"), D("0.00"), "pending")
    entry = JournalEntry.objects.get(kind="reversal")
    assert entry.reverses_id == repayment.journal_entry_id
    assert AuditEvent.objects.filter(action="repayment.reverse").exists()

    with pytest.raises(DomainError) as info:
        repayment_reverse(actor=manager, repayment_id=repayment.pk, reason="again")
    assert info.value.code == "already_reversed"


def test_reversal_needs_a_reason_and_a_manager(active_loan, ops, manager):
    repayment = pay(active_loan, ops, "100.00")
    with pytest.raises(PermissionDenied):
        repayment_reverse(actor=ops, repayment_id=repayment.pk, reason="x")
    with pytest.raises(InputError) as info:
        repayment_reverse(actor=manager, repayment_id=repayment.pk, reason="  ")
    assert "reason" in info.value.fields
    assert Repayment.objects.get(pk=repayment.pk).reversed_at is None


def test_reversal_on_a_settled_loan_is_refused(active_loan, ops, manager):
    repayment = pay_everything(active_loan, ops)
    with pytest.raises(DomainError) as info:
        repayment_reverse(actor=manager, repayment_id=repayment.pk, reason="误操作")
    assert info.value.code == "loan_closed"


def test_settle_refuses_outstanding_balance_then_archive(active_loan, ops):
    with pytest.raises(DomainError) as info:
        loan_settle(actor=ops, loan_id=active_loan.pk)
    assert info.value.code == "outstanding_balance"
    pay_everything(active_loan, ops)
    loan = loan_archive(actor=ops, loan_id=active_loan.pk, reason="归档")
    assert loan.status == LoanStatus.ARCHIVED


def test_installments_fall_due_is_idempotent(active_loan, loan_factory, manager):
    other = loan_factory(principal="6000.00", first_due_date=date(2025, 2, 28))
    from servicing.services import loan_disburse

    loan_disburse(actor=manager, loan_id=other.pk)
    set_business_date(date(2025, 3, 15))
    first = installments_fall_due(business_date=date(2025, 3, 15))
    again = installments_fall_due(business_date=date(2025, 3, 15))
    # Feb 15 + Mar 15 of the first loan, Feb 28 of the second (its Mar 28 is not due yet)
    assert first == {"interest_booked": 3, "became_due": 3}
    assert again == {"interest_booked": 0, "became_due": 0}
    assert loan_balances(active_loan)["interest_receivable"] == D("120.00") + D("110.54")
    assert Installment.objects.filter(interest_booked=True).count() == 3


def test_product_allocation_order_is_used_and_validated(active_loan, ops):
    from django.core.exceptions import ValidationError

    from applications.models import Product

    product = Product.objects.get(pk=active_loan.product_id)
    product.allocation_order = ["principal", "interest", "penalty", "fee"]
    product.full_clean()
    product.save(update_fields=["allocation_order"])
    set_business_date(date(2025, 3, 20))
    installments_fall_due(business_date=date(2025, 3, 20))
    first = schedule_current(active_loan)[0]
    charge(first, "fee", "20.00")
    repayment = pay(active_loan, ops, "2000.00", date(2025, 3, 20))
    assert allocations(repayment) == [
        (1, "principal", D("946.19")),
        (2, "principal", D("955.65")),
        (1, "interest", D("98.16")),
    ]
    product.allocation_order = ["fee", "interest", "principal"]
    with pytest.raises(ValidationError) as info:
        product.full_clean()
    assert "allocation_order" in info.value.message_dict
