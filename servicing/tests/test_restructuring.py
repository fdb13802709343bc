"""Extension (展期) / restructuring (重组): request, risk (and manager above the limit) approval, a new schedule
version, the restructured flag and its 关注 floor; refusals write nothing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from applications.models import Loan, LoanStatus, RiskClass
from compliance.models import AuditEvent
from loanops.exceptions import ConflictError, DomainError, InputError, InvalidTransition
from servicing.models import Installment, Restructuring, RiskClassChange, ScheduleVersion
from servicing.selectors import ledger_check, loan_balances, schedule_current
from servicing.services import installments_fall_due, penalties_accrue
from servicing.services.classification import CLASSIFY
from servicing.services.restructuring import restructuring_approve, restructuring_reject, restructuring_request
from servicing.tests.conftest import START, make_customer, make_user, set_business_date

pytestmark = pytest.mark.django_db


def _counts() -> tuple[int, ...]:
    return (
        Restructuring.objects.count(),
        ScheduleVersion.objects.count(),
        Installment.objects.count(),
        AuditEvent.objects.count(),
        RiskClassChange.objects.count(),
    )


def test_extension_approved_by_risk_writes_a_new_schedule_version(active_loan: Loan, ops: Any, risk: Any) -> None:
    request_row = restructuring_request(
        actor=ops, loan_id=active_loan.pk, kind="extension", term_months=18, reason="经营周期拉长"
    )
    assert request_row.status == Restructuring.Status.REQUESTED and not request_row.needs_manager
    assert ScheduleVersion.objects.filter(loan=active_loan).count() == 1  # nothing happens before approval
    approved = restructuring_approve(actor=risk, restructuring_id=request_row.pk, note="同意展期")
    assert approved.status == Restructuring.Status.APPROVED
    assert approved.risk_approved_by == risk
    version = ScheduleVersion.objects.get(loan=active_loan, is_current=True)
    assert version.version == 2 and approved.schedule_version == version
    rows = schedule_current(active_loan)
    assert len(rows) == 18  # nothing was due yet on START: all 12 replaced by 18
    assert sum((row.principal_due for row in rows), Decimal("0")) == Decimal("12000.00")
    assert rows[0].due_date == date(2025, 2, 15) and rows[-1].due_date == date(2026, 7, 15)
    loan = Loan.objects.get(pk=active_loan.pk)
    assert loan.restructured_on == START
    assert loan.restructure_observation_until == date(2025, 7, 15)  # six months (a setting)
    assert loan.risk_class == RiskClass.SPECIAL_MENTION  # the floor applies at once
    assert AuditEvent.objects.filter(action="loan.restructure", subject_id=str(loan.pk)).exists()
    assert ledger_check() == []
    # the classify step keeps 关注 through the observation period, then lets it go
    assert CLASSIFY.run(business_date=date(2025, 7, 15)) == 0
    assert CLASSIFY.run(business_date=date(2025, 7, 16)) == 1
    assert Loan.objects.get(pk=loan.pk).risk_class == RiskClass.NORMAL


def test_restructuring_of_an_overdue_loan_rolls_over_arrears(active_loan: Loan, ops: Any, risk: Any) -> None:
    late = date(2025, 4, 20)  # installments 1–3 due and unpaid
    set_business_date(late)
    installments_fall_due(business_date=late)
    penalties_accrue(business_date=late)
    Loan.objects.filter(pk=active_loan.pk).update(status=LoanStatus.OVERDUE, days_past_due=64)
    before = loan_balances(active_loan)
    request_row = restructuring_request(
        actor=ops,
        loan_id=active_loan.pk,
        kind="restructuring",
        term_months=24,
        annual_rate="0.090000",
        repayment_method="equal_principal",
        reason="重组",
    )
    restructuring_approve(actor=risk, restructuring_id=request_row.pk)
    version = ScheduleVersion.objects.get(loan=active_loan, is_current=True)
    assert (version.annual_rate, version.repayment_method) == (Decimal("0.090000"), "equal_principal")
    rows = schedule_current(active_loan)
    assert len(rows) == 3 + 24
    new = rows[3:]
    assert new[0].due_date == date(2025, 5, 15)
    assert sum((row.principal_due for row in new), Decimal("0")) == Decimal("12000.00")
    assert all(row.principal_due == row.principal_paid for row in rows[:3])  # arrears principal rolled over
    assert loan_balances(active_loan) == before  # the ledger does not move
    assert ledger_check() == []


def test_above_the_limit_a_manager_approves_after_risk(
    settings: Any, active_loan: Loan, ops: Any, risk: Any, manager: Any
) -> None:
    settings.LOANOPS_RESTRUCTURE_MANAGER_LIMIT = "10000.00"
    request_row = restructuring_request(actor=ops, loan_id=active_loan.pk, kind="extension", term_months=24, reason="r")
    assert request_row.needs_manager
    with pytest.raises(PermissionDenied):  # the manager does not hold risk's approval
        restructuring_approve(actor=manager, restructuring_id=request_row.pk)
    row = restructuring_approve(actor=risk, restructuring_id=request_row.pk)
    assert row.status == Restructuring.Status.RISK_APPROVED
    assert ScheduleVersion.objects.filter(loan=active_loan).count() == 1
    with pytest.raises(PermissionDenied):  # risk may not do the manager's step
        restructuring_approve(actor=risk, restructuring_id=request_row.pk)
    row = restructuring_approve(actor=manager, restructuring_id=request_row.pk, note="同意")
    assert row.status == Restructuring.Status.APPROVED
    assert (row.risk_approved_by, row.manager_approved_by) == (risk, manager)
    assert ScheduleVersion.objects.get(loan=active_loan, is_current=True).version == 2
    with pytest.raises(ConflictError):
        restructuring_approve(actor=manager, restructuring_id=request_row.pk)


def test_requester_cannot_approve_own_request(active_loan: Loan, risk: Any) -> None:
    risk.user_permissions.add(Permission.objects.get(codename="request_restructuring"))
    requester = type(risk).objects.get(pk=risk.pk)
    request_row = restructuring_request(
        actor=requester, loan_id=active_loan.pk, kind="extension", term_months=18, reason="r"
    )
    counts = _counts()
    with pytest.raises(PermissionDenied):
        restructuring_approve(actor=requester, restructuring_id=request_row.pk)
    assert _counts() == counts
    assert Restructuring.objects.get(pk=request_row.pk).status == Restructuring.Status.REQUESTED


def test_reject(active_loan: Loan, ops: Any, risk: Any) -> None:
    request_row = restructuring_request(actor=ops, loan_id=active_loan.pk, kind="extension", term_months=18, reason="r")
    with pytest.raises(InputError):
        restructuring_reject(actor=risk, restructuring_id=request_row.pk, note=" ")
    row = restructuring_reject(actor=risk, restructuring_id=request_row.pk, note="还款来源不足")
    assert row.status == Restructuring.Status.REJECTED and row.rejected_by == risk
    assert ScheduleVersion.objects.filter(loan=active_loan).count() == 1
    assert Loan.objects.get(pk=active_loan.pk).restructured_on is None
    # a new request may follow a rejected one
    restructuring_request(actor=ops, loan_id=active_loan.pk, kind="extension", term_months=20, reason="r2")


@pytest.mark.parametrize(
    ("kwargs", "error", "code"),
    [
        ({"kind": "extension", "term_months": 0}, InputError, "invalid"),
        ({"kind": "extension", "term_months": "abc"}, InputError, "invalid"),
        ({"kind": "postpone", "term_months": 18}, InputError, "invalid"),
        ({"kind": "extension", "term_months": 18, "annual_rate": "0.08"}, InputError, "invalid"),
        ({"kind": "restructuring", "term_months": 18, "annual_rate": "-0.01"}, InputError, "invalid"),
        ({"kind": "restructuring", "term_months": 18, "repayment_method": "barter"}, InputError, "invalid"),
        ({"kind": "extension", "term_months": 12}, DomainError, "bad_term"),  # not longer than the 12 left
        ({"kind": "extension", "term_months": 361}, InputError, "invalid"),
    ],
)
def test_bad_input_changes_nothing(active_loan: Loan, ops: Any, kwargs: dict[str, Any], error: Any, code: str) -> None:
    counts = _counts()
    with pytest.raises(error) as caught:
        restructuring_request(actor=ops, loan_id=active_loan.pk, reason="r", **kwargs)
    assert caught.value.code == code
    assert _counts() == counts


def test_term_beyond_product_maximum(active_loan: Loan, ops: Any) -> None:
    product = active_loan.product
    product.max_term_months = 24
    product.save()
    with pytest.raises(DomainError) as caught:
        restructuring_request(actor=ops, loan_id=active_loan.pk, kind="extension", term_months=25, reason="r")
    assert caught.value.code == "bad_term"


def test_state_and_permission_refusals(active_loan: Loan, ops: Any, risk: Any) -> None:
    with pytest.raises(PermissionDenied):
        restructuring_request(actor=risk, loan_id=active_loan.pk, kind="extension", term_months=18, reason="r")
    restructuring_request(actor=ops, loan_id=active_loan.pk, kind="extension", term_months=18, reason="r")
    with pytest.raises(ConflictError):
        restructuring_request(actor=ops, loan_id=active_loan.pk, kind="extension", term_months=20, reason="r")
    Loan.objects.filter(pk=active_loan.pk).update(status=LoanStatus.SETTLED)
    Restructuring.objects.all().delete()
    counts = _counts()
    with pytest.raises(InvalidTransition):
        restructuring_request(actor=ops, loan_id=active_loan.pk, kind="extension", term_months=18, reason="r")
    assert _counts() == counts


def test_approval_refused_when_loan_left_servicing(active_loan: Loan, ops: Any, risk: Any) -> None:
    request_row = restructuring_request(actor=ops, loan_id=active_loan.pk, kind="extension", term_months=18, reason="r")
    Loan.objects.filter(pk=active_loan.pk).update(status=LoanStatus.SETTLED)
    with pytest.raises(InvalidTransition):
        restructuring_approve(actor=risk, restructuring_id=request_row.pk)
    assert Restructuring.objects.get(pk=request_row.pk).status == Restructuring.Status.REQUESTED


# --- API (customer from the portal side, risk approval) ----------------------------------------------


def test_api_customer_requests_and_risk_approves(api: Any, active_loan: Loan, risk: Any, loan_factory: Any) -> None:
    user = make_user("13900001111", "customer", staff=False)
    customer = make_customer(user=user)
    Loan.objects.filter(pk=active_loan.pk).update(customer=customer)
    other = loan_factory(status=LoanStatus.ACTIVE)
    url = reverse("api:loan-restructurings", args=[active_loan.pk])
    api.force_authenticate(user)
    body = {"kind": "extension", "term_months": 18, "reason": "收入下降"}
    assert api.post(reverse("api:loan-restructurings", args=[other.pk]), body, format="json").status_code == 404
    assert api.post(url, {**body, "term_months": 0}, format="json").status_code == 400
    response = api.post(url, body, format="json")
    assert response.status_code == 201, response.content
    request_id = response.json()["id"]
    assert response.json()["status"] == "requested"
    assert api.post(url, body, format="json").status_code == 409
    approve = reverse("api:restructuring-approve", args=[request_id])
    assert api.post(approve, {}, format="json").status_code == 403
    api.force_authenticate(risk)
    response = api.post(approve, {"note": "同意"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "approved"
    assert response.json()["schedule_version"] == 2
    listing = api.get(url).json()
    assert [row["status"] for row in listing] == ["approved"]
    reject = reverse("api:restructuring-reject", args=[request_id])
    assert api.post(reject, {"note": "x"}, format="json").status_code == 409
