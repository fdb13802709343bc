"""COB step 7: industry overdue rates, warnings to managers, restrictions imposed, audited and lifted."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse

from applications.models import Customer, Loan
from compliance.models import AuditEvent
from loan_collections.early_warning import EARLY_WARNING_STEP, early_warning_run, industry_restriction_lift
from loan_collections.post_loan import IndustryRiskSnapshot, WarningLevel
from loanops.exceptions import InputError, InvalidTransition
from notifications.models import Channel, OutboxMessage
from servicing.tests.conftest import START, set_business_date
from underwriting.industry_restrictions import IndustryRestriction

pytestmark = pytest.mark.django_db

D1 = START + timedelta(days=1)


@pytest.fixture
def book(business_date: date, loan_factory: Any, manager: Any) -> Any:
    """`book(industry, healthy, overdue)`: two disbursed loans of that industry, the second 10 days past due."""
    from servicing.services import loan_disburse

    def build(industry: str, healthy: str, overdue: str) -> tuple[Loan, Loan]:
        loans = []
        for principal in (healthy, overdue):
            loan = loan_disburse(actor=manager, loan_id=loan_factory(principal=principal).pk)
            Customer.objects.filter(pk=loan.customer_id).update(industry=industry)
            loans.append(loan)
        Loan.objects.filter(pk=loans[1].pk).update(days_past_due=10, bucket="M1")
        return loans[0], loans[1]

    return build


def _level(industry: str, day: date = D1) -> str:
    return IndustryRiskSnapshot.objects.get(business_date=day, industry=industry).level


@pytest.mark.parametrize(
    ("healthy", "overdue", "level"),
    [
        ("95000.00", "5000.00", WarningLevel.NORMAL),  # exactly 5 %: not above the warning threshold
        ("94999.00", "5001.00", WarningLevel.WARNING),
        ("90000.00", "10000.00", WarningLevel.WARNING),  # exactly 10 %: not above the restriction threshold
        ("89990.00", "10010.00", WarningLevel.RESTRICTION),
    ],
)
def test_thresholds_at_their_edges(book: Any, healthy: str, overdue: str, level: str) -> None:
    book("F", healthy, overdue)
    early_warning_run(business_date=D1)
    snapshot = IndustryRiskSnapshot.objects.get(business_date=D1, industry="F")
    assert snapshot.level == level
    assert (snapshot.outstanding_principal, snapshot.loan_count) == (Decimal("100000.00"), 2)
    assert snapshot.overdue_principal == Decimal(overdue)
    assert IndustryRestriction.objects.filter(industry="F").exists() == (level == WarningLevel.RESTRICTION)


def test_rate_counts_outstanding_principal_only(book: Any, ops: Any) -> None:
    from servicing.services import repayment_record

    healthy, _ = book("F", "95000.00", "5000.00")
    set_business_date(START + timedelta(days=31))
    repayment_record(
        actor=ops, loan_id=healthy.pk, amount="20000.00", paid_on=START + timedelta(days=31), channel="bank_transfer"
    )
    early_warning_run(business_date=START + timedelta(days=31))
    snapshot = IndustryRiskSnapshot.objects.get(industry="F")
    assert snapshot.outstanding_principal < Decimal("95000.00") + Decimal("5000.00")
    assert snapshot.level == WarningLevel.WARNING  # 5 000 / (less than 100 000) > 5 %


def test_warning_notifies_managers_once(book: Any, manager: Any, risk: Any, ops: Any) -> None:
    manager.email = "boss@example.com"
    manager.save(update_fields=["email"])
    book("F", "94000.00", "6000.00")
    assert EARLY_WARNING_STEP.run(business_date=D1, id_range=(1, 2)) == 1  # not chunked: whole book
    messages = OutboxMessage.objects.filter(kind="early_warning")
    in_app = set(messages.filter(channel=Channel.IN_APP).values_list("recipient_user_id", flat=True))
    assert {manager.pk, risk.pk} <= in_app and ops.pk not in in_app
    email = messages.get(channel=Channel.EMAIL)
    assert email.recipient == "boss@example.com" and "F 批发和零售业" in email.subject and "6.00%" in email.subject
    count = messages.count()
    # Rerun of D: nothing changes; next day at the same level: no new alert.
    assert early_warning_run(business_date=D1) == 0
    early_warning_run(business_date=D1 + timedelta(days=1))
    assert OutboxMessage.objects.filter(kind="early_warning").count() == count
    assert AuditEvent.objects.filter(action="industry_warning.level_change").count() == 1
    event = AuditEvent.objects.get(action="industry_warning.level_change")
    assert (event.before, event.after["level"], event.actor_name) == ({"level": "normal"}, "warning", "system")


def test_restriction_imposed_audited_lifted_and_rearmed(book: Any, manager: Any, risk: Any) -> None:
    _, late = book("F", "80000.00", "20000.00")
    assert early_warning_run(business_date=D1) == 2  # snapshot + restriction
    restriction = IndustryRestriction.objects.get(industry="F", lifted_at__isnull=True)
    assert (restriction.factor, restriction.overdue_rate, restriction.imposed_on) == (
        Decimal("0.5000"),
        Decimal("0.200000"),
        D1,
    )
    imposed = AuditEvent.objects.get(action="industry_restriction.impose")
    assert imposed.actor_name == "system" and imposed.subject_id == str(restriction.pk)
    assert early_warning_run(business_date=D1) == 0  # rerun
    assert IndustryRestriction.objects.count() == 1
    # Only a manager lifts it, with a reason.
    with pytest.raises(PermissionDenied):
        industry_restriction_lift(actor=risk, restriction_id=restriction.pk, reason="x")
    with pytest.raises(InputError):
        industry_restriction_lift(actor=manager, restriction_id=restriction.pk, reason="")
    assert IndustryRestriction.objects.get().lifted_at is None
    set_business_date(D1)
    industry_restriction_lift(actor=manager, restriction_id=restriction.pk, reason="已核实，行业风险可控")
    lift = AuditEvent.objects.get(action="industry_restriction.lift")
    assert lift.actor_id == manager.pk and lift.reason == "已核实，行业风险可控"
    with pytest.raises(InvalidTransition):
        industry_restriction_lift(actor=manager, restriction_id=restriction.pk, reason="again")
    # Still above the threshold on the following days: the manager's lift stands.
    early_warning_run(business_date=D1 + timedelta(days=1))
    assert not IndustryRestriction.objects.filter(lifted_at__isnull=True).exists()
    # The rate falls back, then rises again: a new restriction.
    Loan.objects.filter(pk=late.pk).update(days_past_due=0, bucket="M0")
    early_warning_run(business_date=D1 + timedelta(days=2))
    assert _level("F", D1 + timedelta(days=2)) == WarningLevel.NORMAL
    Loan.objects.filter(pk=late.pk).update(days_past_due=40, bucket="M2")
    early_warning_run(business_date=D1 + timedelta(days=3))
    assert IndustryRestriction.objects.filter(
        industry="F", lifted_at__isnull=True, imposed_on=D1 + timedelta(days=3)
    ).exists()


def test_industries_are_separate_and_thresholds_are_settings(book: Any, settings: Any) -> None:
    book("F", "80000.00", "20000.00")
    book("C", "99000.00", "1000.00")
    settings.LOANOPS_EARLY_WARNING_THRESHOLD = "0.005"
    settings.LOANOPS_EARLY_RESTRICTION_THRESHOLD = "0.5"
    settings.LOANOPS_EARLY_RESTRICTION_FACTOR = "0.8"
    early_warning_run(business_date=D1)
    assert (_level("F"), _level("C")) == (WarningLevel.WARNING, WarningLevel.WARNING)
    assert not IndustryRestriction.objects.exists()


def test_query_count_does_not_grow_with_loans(book: Any, django_assert_max_num_queries: Any) -> None:
    for industry in "CFGHI":
        book(industry, "80000.00", "20000.00")
    with django_assert_max_num_queries(30):
        early_warning_run(business_date=D1)
    assert IndustryRestriction.objects.count() == 5


# --- the page --------------------------------------------------------------------------------------


def test_warning_page_and_lift_through_it(book: Any, manager: Any, risk: Any, ops: Any) -> None:
    book("F", "80000.00", "20000.00")
    early_warning_run(business_date=D1)
    url = reverse("backoffice:industry-warnings")
    risk_client, manager_client = Client(), Client()
    risk_client.force_login(risk)
    manager_client.force_login(manager)
    page = risk_client.get(url).content.decode()
    assert "F 批发和零售业" in page and "20.00%" in page and "解除限制" not in page
    ops_client = Client()
    ops_client.force_login(ops)
    assert ops_client.get(url).status_code == 403
    restriction = IndustryRestriction.objects.get()
    lift_url = reverse("backoffice:industry-restriction-lift", args=[restriction.pk])
    assert risk_client.post(lift_url, {"reason": "x"}).status_code == 403
    assert manager_client.post(lift_url, {"reason": ""}).status_code == 400
    assert "解除限制" in manager_client.get(url).content.decode()
    assert manager_client.post(lift_url, {"reason": "风险可控"}).status_code == 302
    assert IndustryRestriction.objects.get().lifted_at is not None


def test_manager_approves_a_waiting_offer_on_the_page(
    book: Any, manager: Any, risk: Any, django_assert_max_num_queries: Any
) -> None:
    book("F", "80000.00", "20000.00")
    early_warning_run(business_date=D1)
    applicant = Customer.objects.filter(industry="F").first()
    assert applicant is not None
    waiting = Loan.objects.create(
        customer=applicant,
        product=Loan.objects.filter(customer=applicant).first().product,  # type: ignore[union-attr]
        requested_amount=Decimal("300000.00"),
        requested_term_months=12,
        purpose="经营周转",
        status="approved",
    )
    client = Client()
    client.force_login(manager)
    url = reverse("backoffice:industry-warnings")
    client.get(url)
    with django_assert_max_num_queries(15):
        page = client.get(url).content.decode()
    assert "受限行业待审批要约" in page and "500,000.00" in page  # product max 1 000 000 × 0.5
    approve = reverse("backoffice:restricted-offer-approve", args=[waiting.pk])
    risk_client = Client()
    risk_client.force_login(risk)
    assert risk_client.post(approve, {"note": "x"}).status_code == 403
    assert client.post(approve, {"note": ""}).status_code == 400
    response = client.post(approve, {"note": "同意"})
    assert response.status_code == 302, response.content.decode()[-3000:]
    assert AuditEvent.objects.filter(
        action="underwriting.restricted_offer_approve", subject_id=str(waiting.pk)
    ).exists()
    assert client.post(approve, {"note": "again"}).status_code == 422  # already approved


def test_a_rerun_of_d_keeps_the_snapshot_of_ds_close(book: Any) -> None:
    """D's figures are the book at D's close: a rerun after online work has moved the book changes nothing."""
    _, late = book("F", "80000.00", "20000.00")
    assert early_warning_run(business_date=D1) == 2
    before = list(
        IndustryRiskSnapshot.objects.filter(business_date=D1).values_list("industry", "overdue_rate", "level")
    )
    Loan.objects.filter(pk=late.pk).update(days_past_due=0, bucket="M0")  # e.g. the arrears paid on D
    assert early_warning_run(business_date=D1) == 0
    after = list(IndustryRiskSnapshot.objects.filter(business_date=D1).values_list("industry", "overdue_rate", "level"))
    assert after == before
    # the next date sees the payment
    early_warning_run(business_date=D1 + timedelta(days=1))
    assert _level("F", D1 + timedelta(days=1)) == WarningLevel.NORMAL
