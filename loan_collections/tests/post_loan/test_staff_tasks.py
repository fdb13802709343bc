"""COB step 8: return visits (回访) and post-loan reviews (贷后检查) in the staff queues (我的任务)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse

from applications.models import Loan
from compliance.models import AuditEvent
from loan_collections.post_loan import StaffTask, StaffTaskKind, StaffTaskStatus
from loan_collections.staff_tasks import (
    STAFF_TASKS_STEP,
    review_disbursement_dates,
    staff_task_complete,
    staff_tasks_create,
)
from loanops.exceptions import InputError, InvalidTransition
from servicing.tests.conftest import START, make_user

pytestmark = pytest.mark.django_db


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


@pytest.fixture
def big_loan(business_date: date, loan_factory: Any, manager: Any) -> Loan:
    from servicing.services import loan_disburse

    return loan_disburse(actor=manager, loan_id=loan_factory(principal="500000.00").pk)


@pytest.fixture
def service() -> Any:
    return make_user("service1", "service")


def test_return_visit_seven_days_after_disbursement_once(active_loan: Loan) -> None:
    assert active_loan.disbursed_on == START
    assert staff_tasks_create(business_date=START + timedelta(days=6)) == 0
    assert STAFF_TASKS_STEP.run(business_date=START + timedelta(days=7)) == 1
    assert STAFF_TASKS_STEP.run(business_date=START + timedelta(days=7)) == 0
    assert staff_tasks_create(business_date=START + timedelta(days=8)) == 0
    task = StaffTask.objects.get()
    assert (task.kind, task.loan_id, task.due_date, task.status) == (
        StaffTaskKind.RETURN_VISIT,
        active_loan.pk,
        START + timedelta(days=7),
        StaffTaskStatus.OPEN,
    )


def test_post_loan_reviews_every_three_months_for_large_loans(active_loan: Loan, big_loan: Loan) -> None:
    days = _days(START, date(2025, 7, 31))
    assert sum(staff_tasks_create(business_date=day) for day in days) == 2 + 2  # two visits, two reviews
    assert sum(staff_tasks_create(business_date=day) for day in days) == 0  # rerun of every date
    reviews = StaffTask.objects.filter(kind=StaffTaskKind.POST_LOAN_REVIEW)
    assert list(reviews.values_list("loan_id", "due_date")) == [
        (big_loan.pk, date(2025, 4, 15)),
        (big_loan.pk, date(2025, 7, 15)),
    ]


def test_review_dates_clamp_month_ends() -> None:
    assert date(2025, 1, 31) in review_disbursement_dates(date(2025, 4, 30), every_months=3)
    assert review_disbursement_dates(date(2025, 2, 28), every_months=3)[:3] == [
        date(2024, 11, 28),
        date(2024, 11, 29),
        date(2024, 11, 30),
    ]
    assert date(2024, 8, 28) in review_disbursement_dates(date(2025, 2, 28), every_months=3)  # 6 months


def test_settings_change_offsets(active_loan: Loan, big_loan: Loan, settings: Any) -> None:
    settings.LOANOPS_RETURN_VISIT_DAYS = 3
    settings.LOANOPS_POST_LOAN_REVIEW_MIN_PRINCIPAL = "10000.00"
    settings.LOANOPS_POST_LOAN_REVIEW_MONTHS = 1
    assert staff_tasks_create(business_date=START + timedelta(days=3)) == 2
    assert staff_tasks_create(business_date=date(2025, 2, 15)) == 2  # both loans reviewed monthly


def test_closed_loans_and_other_chunks_get_no_tasks(active_loan: Loan, big_loan: Loan) -> None:
    day = START + timedelta(days=7)
    Loan.objects.filter(pk=big_loan.pk).update(status="settled")
    assert staff_tasks_create(business_date=day, id_range=(active_loan.pk + 1, active_loan.pk + 100)) == 0
    assert staff_tasks_create(business_date=day, id_range=(active_loan.pk, active_loan.pk + 1)) == 1


def test_complete_with_a_note_is_audited(active_loan: Loan, service: Any, risk: Any) -> None:
    staff_tasks_create(business_date=START + timedelta(days=7))
    task = StaffTask.objects.get()
    with pytest.raises(PermissionDenied):
        staff_task_complete(actor=risk, task_id=task.pk, note="x")
    with pytest.raises(InputError):
        staff_task_complete(actor=service, task_id=task.pk, note="  ")
    assert StaffTask.objects.get().status == StaffTaskStatus.OPEN
    assert not AuditEvent.objects.filter(action__startswith="staff_task").exists()
    staff_task_complete(actor=service, task_id=task.pk, note="客户确认已收到款项，用途与申请一致")
    task.refresh_from_db()
    assert (task.status, task.completed_by_id) == (StaffTaskStatus.DONE, service.pk)
    event = AuditEvent.objects.get(action="staff_task.return_visit.complete")
    assert event.reason == "客户确认已收到款项，用途与申请一致" and event.data["loan_id"] == active_loan.pk
    with pytest.raises(InvalidTransition):
        staff_task_complete(actor=service, task_id=task.pk, note="again")


def test_review_is_completed_by_risk_not_service(big_loan: Loan, service: Any, risk: Any) -> None:
    staff_tasks_create(business_date=date(2025, 4, 15))
    task = StaffTask.objects.get(kind=StaffTaskKind.POST_LOAN_REVIEW)
    with pytest.raises(PermissionDenied):
        staff_task_complete(actor=service, task_id=task.pk, note="x")
    staff_task_complete(actor=risk, task_id=task.pk, note="经营正常，抵押物无变化")
    assert StaffTask.objects.get(pk=task.pk).status == StaffTaskStatus.DONE


# --- the queue page -------------------------------------------------------------------------------


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_queues_by_role(active_loan: Loan, big_loan: Loan, service: Any, risk: Any, manager: Any, ops: Any) -> None:
    staff_tasks_create(business_date=START + timedelta(days=7))
    staff_tasks_create(business_date=date(2025, 4, 15))
    url = reverse("backoffice:my-tasks")
    service_page = _client(service).get(url).content.decode()
    assert service_page.count("放款回访") >= 2 and "贷后检查</td>" not in service_page
    risk_page = _client(risk).get(url).content.decode()
    assert "贷后检查</td>" in risk_page and "放款回访</td>" not in risk_page
    manager_page = _client(manager).get(url).content.decode()
    assert "放款回访</td>" in manager_page and "贷后检查</td>" in manager_page
    assert 'name="note"' not in manager_page  # read-only for managers
    assert _client(ops).get(url).status_code == 403
    assert Client().get(url).status_code == 302


def test_complete_through_the_page(active_loan: Loan, service: Any, risk: Any) -> None:
    staff_tasks_create(business_date=START + timedelta(days=7))
    task = StaffTask.objects.get()
    url = reverse("backoffice:staff-task-complete", args=[task.pk])
    assert _client(risk).post(url, {"note": "x"}).status_code == 403
    assert _client(service).post(url, {"note": ""}).status_code == 400
    assert StaffTask.objects.get().status == StaffTaskStatus.OPEN
    response = _client(service).post(url, {"note": "已电话回访"})
    assert response.status_code == 302
    assert StaffTask.objects.get().note == "已电话回访"
    assert _client(service).post(url, {"note": "again"}).status_code == 409
    done = _client(service).get(reverse("backoffice:my-tasks") + "?status=done").content.decode()
    assert "已电话回访" in done


def test_queue_query_count_does_not_grow(
    loan_factory: Any, manager: Any, service: Any, business_date: date, django_assert_max_num_queries: Any
) -> None:
    from servicing.services import loan_disburse

    for _ in range(12):
        loan_disburse(actor=manager, loan_id=loan_factory().pk)
    assert staff_tasks_create(business_date=START + timedelta(days=7)) == 12
    client = _client(service)
    client.get(reverse("backoffice:my-tasks"))
    with django_assert_max_num_queries(12):
        response = client.get(reverse("backoffice:my-tasks"))
    assert response.content.decode().count('name="note"') == 12


def test_review_dates_match_the_forward_rule() -> None:
    from loan_collections.staff_tasks import _add_months

    expected: dict[date, set[date]] = {}
    for disbursed in _days(date(2022, 12, 1), date(2024, 12, 31)):
        for months in (3, 6, 9, 12):
            expected.setdefault(_add_months(disbursed, months), set()).add(disbursed)
    for day in _days(date(2024, 1, 1), date(2024, 12, 31)):
        assert set(review_disbursement_dates(day, every_months=3, max_months=12)) == expected[day], day
