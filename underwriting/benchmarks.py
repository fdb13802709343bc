"""``python manage.py bench intake``: full risk assessments per second on one core.

Seeds a set of applications in risk review (customers with varied profiles, credit-report summaries, a few
repeat applicants) inside one transaction, then runs the real service `assessment_run` — lock the loan,
check permission and state, read customer, product, credit report, the active scorecard and the same
person's recent applications, evaluate every rule and the scorecard, insert the assessment and its audit row
— round-robin over the set for about ``--seconds``. Everything is rolled back at the end, so the command
leaves the database as it found it. Target: at least 200 assessments per second.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.db.models import Count
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from applications.models import Customer, Loan, LoanStatus, Product
from loanops import roles
from underwriting.assessment import CreditReportSummary, RiskAssessment
from underwriting.risk_services import assessment_run, ensure_risk_defaults

__all__ = ["bench_intake"]

APPLICATIONS = 300
#: valid 居民身份证 numbers (GB 11643 check digits), different birth years
_ID_NUMBERS = ("110105199003070025", "110105198501010012", "11010519491231002X", "110105200201010019")


def _id_number(index: int) -> str:
    return _ID_NUMBERS[index % len(_ID_NUMBERS)]


def _seed(count: int) -> tuple[list[int], Any]:
    ensure_risk_defaults()
    now = timezone.now()
    product = Product.objects.create(
        code=f"bench-intake-{now:%H%M%S%f}",
        name="压测产品",
        applicant_type="individual",
        min_amount=Decimal("10000.00"),
        max_amount=Decimal("500000.00"),
        min_term_months=3,
        max_term_months=36,
        min_rate=Decimal("0.060000"),
        max_rate=Decimal("0.180000"),
    )
    customers = Customer.objects.bulk_create(
        Customer(
            kind="individual",
            name=f"压测客户{index}",
            id_number=_id_number(index),
            phone=f"199{now:%M%S}{index:04d}"[:11],
            industry="FIC"[index % 3],
            annual_income=Decimal(60000 + 20000 * (index % 12)),
            years_in_business=index % 15,
        )
        for index in range(count)
    )
    loans = Loan.objects.bulk_create(
        Loan(
            customer=customer,
            product=product,
            requested_amount=Decimal(20000 + 10000 * (index % 20)),
            requested_term_months=(12, 24, 36)[index % 3],
            purpose="经营周转",
            status=LoanStatus.RISK_REVIEW,
        )
        for index, customer in enumerate(customers)
    )
    if loans and loans[0].pk is None:  # a backend that cannot return ids from a bulk insert
        loans = list(Loan.objects.filter(product=product).order_by("pk"))
    actor = get_user_model().objects.create_user(username=f"bench-risk-{now:%H%M%S%f}", is_staff=True)
    actor.groups.add(Group.objects.get(name=roles.RISK))
    actor = get_user_model().objects.get(pk=actor.pk)
    CreditReportSummary.objects.bulk_create(
        CreditReportSummary(
            loan=loan,
            report_date=timezone.localdate() - timedelta(days=index % 20),
            current_overdue_count=1 if index % 29 == 0 else 0,
            overdue_count_24m=index % 5,
            max_dpd_24m=(0, 10, 35, 70, 120)[index % 5],
            inquiries_6m=index % 9,
            total_debt=Decimal(5000 * (index % 40)),
            monthly_debt_payment=Decimal(300 * (index % 10)),
            verified_annual_income=None if index % 4 == 0 else Decimal(55000 + 20000 * (index % 12)),
            collateral_value=Decimal(50000 * (index % 7)),
            entered_by=actor,
        )
        for index, loan in enumerate(loans)
        if index % 10 != 9  # every tenth application without a credit report
    )
    return [loan.pk for loan in loans], actor


def bench_intake(*, seconds: float = 3.0, write: Callable[[str], object] = print) -> float:
    """Run full assessments for about ``seconds`` seconds; return assessments per second.

    The last line written is exactly ``bench intake assessments_per_s=<n>`` with ``n`` an integer.
    """
    with transaction.atomic():
        t0 = time.perf_counter()
        loan_ids, actor = _seed(APPLICATIONS)
        seeded = time.perf_counter() - t0
        # warm up: permission cache, compiled scorecard, code paths; and count one assessment's queries
        assessment_run(actor=actor, loan_id=loan_ids[0])
        with CaptureQueriesContext(connection) as queries:
            assessment_run(actor=actor, loan_id=loan_ids[1])
        clock = time.perf_counter
        done = 0
        cpu_started = time.process_time()
        started = clock()
        deadline = started + max(seconds, 0.0)
        for loan_id in itertools.cycle(loan_ids):
            assessment_run(actor=actor, loan_id=loan_id)
            done += 1
            if clock() >= deadline:
                break
        total = clock() - started
        cpu = time.process_time() - cpu_started
        stored = RiskAssessment.objects.filter(loan_id__in=loan_ids)
        knocked_out = stored.filter(knocked_out=True).count()
        grades = dict(stored.values_list("grade").annotate(n=Count("pk")).order_by("grade"))
        transaction.set_rollback(True)  # leave the database as it was
    rate = done / total if total > 0 else 0.0
    write(
        f"bench intake applications={len(loan_ids)} seeded_in_s={seeded:.2f} queries_per_assessment="
        f"{len(queries.captured_queries)} database={connection.vendor}"
    )
    write(
        f"bench intake assessments={done} seconds={total:.2f} ms_per_assessment={1000 / rate if rate else 0:.3f} "
        f"cpu_s={cpu:.2f} knocked_out={knocked_out} grades={','.join(f'{g}:{n}' for g, n in grades.items())}"
    )
    write(f"bench intake assessments_per_s={int(rate)}")
    return rate
