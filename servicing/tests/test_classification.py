"""Five-category classification (五级分类): the COB step at every DPD boundary, product overrides, the
restructured floor and its expiry, manual downgrades, four-eyes upgrades, history, and the NPL ratio."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from applications.models import Loan, LoanStatus, RiskClass
from compliance.models import AuditEvent
from loanops.exceptions import ConflictError, DomainError, InputError
from servicing.models import RiskClassChange, RiskClassUpgradeRequest
from servicing.selectors import npl_ratio
from servicing.services.classification import (
    CLASSIFY,
    risk_class_downgrade,
    risk_class_upgrade_decide,
    risk_class_upgrade_request,
)
from servicing.tests.conftest import START, make_user

pytestmark = pytest.mark.django_db

C = RiskClass


def _set(loan: Loan, *, dpd: int, **fields: Any) -> None:
    """What the bucket step leaves behind: DPD (and status overdue when DPD > 0)."""
    status = LoanStatus.OVERDUE if dpd else LoanStatus.ACTIVE
    Loan.objects.filter(pk=loan.pk).update(days_past_due=dpd, status=status, **fields)


def _run(day: date = START) -> int:
    return CLASSIFY.run(business_date=day, id_range=None)


def _class(loan: Loan) -> str:
    return Loan.objects.get(pk=loan.pk).risk_class


@pytest.mark.parametrize(
    ("dpd", "expected"),
    [
        (0, C.NORMAL),
        (1, C.SPECIAL_MENTION),
        (90, C.SPECIAL_MENTION),
        (91, C.SUBSTANDARD),
        (270, C.SUBSTANDARD),
        (271, C.DOUBTFUL),
        (360, C.DOUBTFUL),
        (361, C.LOSS),
    ],
)
def test_classify_at_every_dpd_boundary(active_loan: Loan, dpd: int, expected: str) -> None:
    _set(active_loan, dpd=dpd)
    touched = _run()
    assert _class(active_loan) == expected
    changes = list(RiskClassChange.objects.filter(loan=active_loan))
    if expected == C.NORMAL:
        assert touched == 0
        assert changes == []
    else:
        assert touched == 1
        [change] = changes
        assert (change.from_class, change.to_class, change.source) == (C.NORMAL, expected, "auto")
        assert (change.days_past_due, change.business_date, change.actor.username) == (dpd, START, "system")
    assert _run() == 0  # idempotent for the date
    assert RiskClassChange.objects.filter(loan=active_loan).count() == len(changes)


def test_classify_is_set_based_and_chunked(
    business_date: date, loan_factory: Callable[..., Loan], django_assert_max_num_queries: Any
) -> None:
    loans = [loan_factory(status=LoanStatus.ACTIVE) for _ in range(6)]
    for loan, dpd in zip(loans, (0, 5, 95, 300, 400, 30), strict=True):
        _set(loan, dpd=dpd)
    with django_assert_max_num_queries(8):
        touched = CLASSIFY.run(business_date=START, id_range=(loans[0].pk, loans[3].pk))
    assert touched == 2  # loans[1] and loans[2]; loans[0] stays normal, the rest are outside the range
    assert [_class(loan) for loan in loans] == [
        C.NORMAL,
        C.SPECIAL_MENTION,
        C.SUBSTANDARD,
        C.NORMAL,
        C.NORMAL,
        C.NORMAL,
    ]
    with django_assert_max_num_queries(8):
        assert _run() == 3
    assert [_class(loan) for loan in loans] == [
        C.NORMAL, C.SPECIAL_MENTION, C.SUBSTANDARD, C.DOUBTFUL, C.LOSS, C.SPECIAL_MENTION,
    ]  # fmt: skip
    assert RiskClassChange.objects.count() == 5


def test_loans_not_in_servicing_are_left_alone(active_loan: Loan) -> None:
    Loan.objects.filter(pk=active_loan.pk).update(status=LoanStatus.SETTLED, days_past_due=400)
    assert _run() == 0
    assert _class(active_loan) == C.NORMAL


def test_product_override(active_loan: Loan, loan_factory: Callable[..., Loan]) -> None:
    other = loan_factory(status=LoanStatus.ACTIVE)
    product = active_loan.product
    product.dpd_floor_substandard = 61
    product.dpd_floor_loss = 181
    product.save()
    _set(active_loan, dpd=61)
    _set(other, dpd=61)
    _run()
    assert (_class(active_loan), _class(other)) == (C.SUBSTANDARD, C.SPECIAL_MENTION)
    _set(active_loan, dpd=180)
    _run()
    assert _class(active_loan) == C.SUBSTANDARD  # doubtful stays at the default 271 > 180
    _set(active_loan, dpd=181)
    _run()
    assert _class(active_loan) == C.LOSS
    _set(active_loan, dpd=60)
    _run()
    assert _class(active_loan) == C.SPECIAL_MENTION


def test_floor_improves_automatically_when_loan_cures(active_loan: Loan) -> None:
    _set(active_loan, dpd=100)
    _run()
    assert _class(active_loan) == C.SUBSTANDARD
    _set(active_loan, dpd=0)
    assert _run(START + timedelta(days=1)) == 1
    assert _class(active_loan) == C.NORMAL
    assert list(RiskClassChange.objects.filter(loan=active_loan).values_list("to_class", flat=True)) == [
        C.SUBSTANDARD,
        C.NORMAL,
    ]


def test_restructured_floor_and_its_expiry(active_loan: Loan) -> None:
    until = START + timedelta(days=180)
    _set(active_loan, dpd=0, restructured_on=START, restructure_observation_until=until)
    _run(START)
    assert _class(active_loan) == C.SPECIAL_MENTION
    _run(until)
    assert _class(active_loan) == C.SPECIAL_MENTION  # the last day of the observation period
    _set(active_loan, dpd=95)
    _run(until)
    assert _class(active_loan) == C.SUBSTANDARD  # DPD is worse than the restructured floor
    _set(active_loan, dpd=0)
    _run(until + timedelta(days=1))
    assert _class(active_loan) == C.NORMAL  # observation over, loan current


# --- manual downgrade ------------------------------------------------------------------------------


def test_manual_downgrade_is_immediate_audited_and_sticks(active_loan: Loan, risk: Any) -> None:
    change = risk_class_downgrade(actor=risk, loan_id=active_loan.pk, risk_class=C.DOUBTFUL, reason="经营停滞")
    loan = Loan.objects.get(pk=active_loan.pk)
    assert (loan.risk_class, loan.risk_class_manual) == (C.DOUBTFUL, True)
    assert (change.source, change.actor, change.reason, change.from_class) == ("manual", risk, "经营停滞", C.NORMAL)
    event = AuditEvent.objects.get(action="loan.risk_class_manual", subject_id=str(loan.pk))
    assert event.after == {"risk_class": C.DOUBTFUL, "risk_class_manual": True}
    assert _run() == 0  # the batch does not improve a manual downgrade
    assert _class(active_loan) == C.DOUBTFUL
    _set(active_loan, dpd=400)  # the floor passes the manual class: it takes over
    _run()
    loan = Loan.objects.get(pk=active_loan.pk)
    assert (loan.risk_class, loan.risk_class_manual) == (C.LOSS, False)
    _set(active_loan, dpd=0)
    _run()
    assert _class(active_loan) == C.NORMAL  # no manual downgrade in force any more: follows the floor


def test_manual_downgrade_equal_to_floor_takes_no_manual_flag(active_loan: Loan, risk: Any) -> None:
    _set(active_loan, dpd=100)
    risk_class_downgrade(actor=risk, loan_id=active_loan.pk, risk_class=C.SUBSTANDARD, reason="逾期超过90天")
    loan = Loan.objects.get(pk=active_loan.pk)
    assert (loan.risk_class, loan.risk_class_manual) == (C.SUBSTANDARD, False)


@pytest.mark.parametrize(
    ("role", "target", "reason", "error"),
    [
        ("ops", C.DOUBTFUL, "x", PermissionDenied),
        ("manager", C.DOUBTFUL, "x", PermissionDenied),
        ("risk", C.NORMAL, "x", DomainError),  # not lower quality than now
        ("risk", "bad", "x", InputError),
        ("risk", C.LOSS, "  ", InputError),
    ],
)
def test_downgrade_refusals_change_nothing(active_loan: Loan, role: str, target: str, reason: str, error: Any) -> None:
    actor = make_user(f"u-{role}", role)
    events = AuditEvent.objects.count()
    with pytest.raises(error):
        risk_class_downgrade(actor=actor, loan_id=active_loan.pk, risk_class=target, reason=reason)
    assert _class(active_loan) == C.NORMAL
    assert RiskClassChange.objects.count() == 0
    assert AuditEvent.objects.count() == events


def test_downgrade_needs_a_loan_in_servicing(active_loan: Loan, risk: Any) -> None:
    Loan.objects.filter(pk=active_loan.pk).update(status=LoanStatus.SETTLED)
    with pytest.raises(DomainError):
        risk_class_downgrade(actor=risk, loan_id=active_loan.pk, risk_class=C.LOSS, reason="x")


# --- upgrade: four eyes ----------------------------------------------------------------------------


def test_upgrade_four_eyes(active_loan: Loan, risk: Any, manager: Any, manager2: Any) -> None:
    risk_class_downgrade(actor=risk, loan_id=active_loan.pk, risk_class=C.DOUBTFUL, reason="担保人失联")
    request_row = risk_class_upgrade_request(
        actor=risk, loan_id=active_loan.pk, risk_class=C.NORMAL, reason="担保人已联系上"
    )
    assert _class(active_loan) == C.DOUBTFUL  # a request changes nothing yet
    risk.user_permissions.add(Permission.objects.get(codename="approve_risk_class_upgrade"))
    requester = type(risk).objects.get(pk=risk.pk)  # fresh permission cache: now holds the approval permission
    assert requester.has_perm("servicing.approve_risk_class_upgrade")
    with pytest.raises(PermissionDenied):  # ...but may still not approve their own request
        risk_class_upgrade_decide(actor=requester, request_id=request_row.pk, approve=True)
    assert _class(active_loan) == C.DOUBTFUL
    with pytest.raises(ConflictError):
        risk_class_upgrade_request(actor=risk, loan_id=active_loan.pk, risk_class=C.SUBSTANDARD, reason="again")
    risk_class_upgrade_decide(actor=manager, request_id=request_row.pk, approve=True, note="同意")
    loan = Loan.objects.get(pk=active_loan.pk)
    assert (loan.risk_class, loan.risk_class_manual) == (C.NORMAL, False)
    last = RiskClassChange.objects.filter(loan=loan).last()
    assert last is not None
    assert (last.source, last.actor, last.from_class, last.to_class) == (
        "approved_upgrade",
        manager,
        C.DOUBTFUL,
        C.NORMAL,
    )
    with pytest.raises(ConflictError):
        risk_class_upgrade_decide(actor=manager2, request_id=request_row.pk, approve=True)


def test_upgrade_rejected_changes_nothing(active_loan: Loan, risk: Any, manager: Any) -> None:
    risk_class_downgrade(actor=risk, loan_id=active_loan.pk, risk_class=C.LOSS, reason="失联")
    request_row = risk_class_upgrade_request(actor=risk, loan_id=active_loan.pk, risk_class=C.DOUBTFUL, reason="r")
    row = risk_class_upgrade_decide(actor=manager, request_id=request_row.pk, approve=False, note="证据不足")
    assert row.status == RiskClassUpgradeRequest.Status.REJECTED
    assert _class(active_loan) == C.LOSS
    assert RiskClassChange.objects.filter(loan=active_loan).count() == 1


def test_upgrade_not_below_the_floor(active_loan: Loan, risk: Any) -> None:
    _set(active_loan, dpd=100)
    _run()
    with pytest.raises(DomainError) as caught:
        risk_class_upgrade_request(actor=risk, loan_id=active_loan.pk, risk_class=C.NORMAL, reason="r")
    assert caught.value.code == "below_floor"
    assert RiskClassUpgradeRequest.objects.count() == 0


def test_upgrade_to_a_class_above_floor_keeps_manual(active_loan: Loan, risk: Any, manager: Any) -> None:
    risk_class_downgrade(actor=risk, loan_id=active_loan.pk, risk_class=C.LOSS, reason="失联")
    request_row = risk_class_upgrade_request(actor=risk, loan_id=active_loan.pk, risk_class=C.DOUBTFUL, reason="r")
    risk_class_upgrade_decide(actor=manager, request_id=request_row.pk, approve=True)
    loan = Loan.objects.get(pk=active_loan.pk)
    assert (loan.risk_class, loan.risk_class_manual) == (C.DOUBTFUL, True)
    _run()
    assert _class(active_loan) == C.DOUBTFUL


def test_upgrade_request_and_decision_permissions(active_loan: Loan, ops: Any, risk: Any, manager: Any) -> None:
    with pytest.raises(PermissionDenied):
        risk_class_upgrade_request(actor=ops, loan_id=active_loan.pk, risk_class=C.NORMAL, reason="r")
    risk_class_downgrade(actor=risk, loan_id=active_loan.pk, risk_class=C.LOSS, reason="失联")
    request_row = risk_class_upgrade_request(actor=risk, loan_id=active_loan.pk, risk_class=C.DOUBTFUL, reason="r")
    other_risk = make_user("risk2", "risk")
    with pytest.raises(PermissionDenied):
        risk_class_upgrade_decide(actor=other_risk, request_id=request_row.pk, approve=True)
    assert _class(active_loan) == C.LOSS


# --- NPL ratio -------------------------------------------------------------------------------------


def test_npl_ratio(business_date: date, loan_factory: Callable[..., Loan], manager: Any) -> None:
    from servicing.services import loan_disburse

    assert npl_ratio()["ratio"] is None  # no book, no ratio
    loans = [loan_disburse(actor=manager, loan_id=loan_factory(principal=p).pk) for p in ("10000.00", "30000.00")]
    loans.append(loan_disburse(actor=manager, loan_id=loan_factory(principal="60000.00").pk))
    _set(loans[1], dpd=100)  # substandard
    _set(loans[2], dpd=10)  # special mention: not NPL
    _run()
    figures = npl_ratio()
    assert figures["outstanding_principal"] == Decimal("100000.00")
    assert figures["npl_principal"] == Decimal("30000.00")
    assert figures["ratio"] == Decimal("0.300000")
    assert figures["by_class"][C.SPECIAL_MENTION] == Decimal("60000.00")


def test_api_classification_endpoints(api: Any, active_loan: Loan, risk: Any, manager: Any) -> None:
    api.force_authenticate(risk)
    url = reverse("api:loan-risk-class", args=[active_loan.pk])
    response = api.post(url, {"risk_class": "doubtful", "reason": "经营停滞"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["risk_class"] == "doubtful"
    assert api.post(url, {"risk_class": "nope", "reason": "x"}, format="json").status_code == 400
    response = api.post(url, {"risk_class": "normal", "reason": "好转"}, format="json")
    assert response.status_code == 202, response.content
    request_id = response.json()["upgrade_request"]["id"]
    decide = reverse("api:risk-class-upgrade-decide", args=[request_id])
    assert api.post(decide, {"approve": True}, format="json").status_code == 403  # requester, and no permission
    api.force_authenticate(manager)
    assert api.post(url, {"risk_class": "loss", "reason": "x"}, format="json").status_code == 403
    response = api.post(decide, {"approve": True, "note": "同意"}, format="json")
    assert response.status_code == 200, response.content
    assert _class(active_loan) == C.NORMAL
    history = api.get(reverse("api:loan-risk-class", args=[active_loan.pk])).json()
    assert [row["to_class"] for row in history["history"]] == ["doubtful", "normal"]
    assert history["history"][0]["to_class_display"] == "可疑"
