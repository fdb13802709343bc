"""Promise to pay (承诺还款): recorded by the service, evaluated by the COB step."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied

from compliance.models import AuditEvent
from loan_collections.batch import collections_run
from loan_collections.case_models import CollectionCase, PromiseToPay
from loan_collections.services import promise_create
from loan_collections.tests.cases.conftest import D, days, pay
from loanops.exceptions import DomainError, InputError

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(make_case: Callable[..., Any], collector: Any) -> CollectionCase:
    return make_case(assigned_to=collector)


def test_promise_is_recorded_on_the_business_date_and_audited(case: CollectionCase, collector: Any) -> None:
    promise = promise_create(actor=collector, case_id=case.pk, amount="1066.19", promised_date=D + days(7))
    assert (promise.amount, promise.made_on, promise.status, promise.loan_id) == (
        Decimal("1066.19"), D, "pending", case.loan_id,
    )  # fmt: skip
    assert AuditEvent.objects.get(action="collection_promise.create").data["promise_id"] == promise.pk


@pytest.mark.parametrize(
    ("amount", "promised", "field"),
    [
        ("0", D + days(3), "amount"),
        ("-5", D + days(3), "amount"),
        ("abc", D + days(3), "amount"),
        ("100.00", D - days(1), "promised_date"),
        ("100.00", D + days(31), "promised_date"),
    ],
)
def test_bad_promises_are_refused_and_change_nothing(
    case: CollectionCase, collector: Any, amount: str, promised: date, field: str
) -> None:
    with pytest.raises(InputError) as info:
        promise_create(actor=collector, case_id=case.pk, amount=amount, promised_date=promised)
    assert field in info.value.fields
    assert not PromiseToPay.objects.exists() and not AuditEvent.objects.exists()


def test_promise_on_the_last_allowed_day_and_today(case: CollectionCase, collector: Any) -> None:
    promise_create(actor=collector, case_id=case.pk, amount="100", promised_date=D + days(30))
    PromiseToPay.objects.update(status="kept")
    assert promise_create(actor=collector, case_id=case.pk, amount="100", promised_date=D).made_on == D


def test_one_pending_promise_per_case(case: CollectionCase, collector: Any) -> None:
    promise_create(actor=collector, case_id=case.pk, amount="100", promised_date=D + days(3))
    with pytest.raises(DomainError) as info:
        promise_create(actor=collector, case_id=case.pk, amount="200", promised_date=D + days(4))
    assert info.value.code == "promise_pending" and PromiseToPay.objects.count() == 1


def test_promise_needs_permission_an_open_case_and_access(
    case: CollectionCase, collector2: Any, outsider: Any, collector: Any
) -> None:
    with pytest.raises(PermissionDenied):
        promise_create(actor=outsider, case_id=case.pk, amount="100", promised_date=D)
    with pytest.raises(CollectionCase.DoesNotExist):
        promise_create(actor=collector2, case_id=case.pk, amount="100", promised_date=D)
    CollectionCase.objects.filter(pk=case.pk).update(status="closed", outcome="settled", closed_on=D)
    with pytest.raises(DomainError):
        promise_create(actor=collector, case_id=case.pk, amount="100", promised_date=D)
    assert not PromiseToPay.objects.exists()


def test_recorded_promise_is_kept_or_broken_by_the_cob_step(
    case: CollectionCase, collector: Any, make_case: Callable[..., Any]
) -> None:
    kept = promise_create(actor=collector, case_id=case.pk, amount="500", promised_date=D + days(2))
    other = make_case(assigned_to=collector)
    broken = promise_create(actor=collector, case_id=other.pk, amount="500", promised_date=D + days(2))
    pay(case.loan, "500.00", D + days(2), by=collector)
    pay(other.loan, "499.99", D + days(2), by=collector)
    collections_run(business_date=D + days(3), id_range=None)
    kept.refresh_from_db()
    broken.refresh_from_db()
    assert (kept.status, broken.status, broken.paid_amount) == ("kept", "broken", Decimal("499.99"))
    other.refresh_from_db()
    assert other.level == "field_visit"  # collector → next level
