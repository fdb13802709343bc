"""The approval authority matrix is configurable in the back office by the department manager."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse

from applications.models import Loan, LoanStatus
from compliance.models import AuditEvent
from loanops.exceptions import InputError
from underwriting.models import ApprovalAuthority, ApprovalStep
from underwriting.risk_services import authority_save
from underwriting.services import loan_approve

pytestmark = pytest.mark.django_db


def row_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "position": "10",
        "grades": ["A", "B", "C"],
        "max_amount": "50000.00",
        "levels": "1",
        "description": "A–C 级且不超过 5 万元：一级审批",
    }
    data.update(changes)
    return data


def test_manager_lowers_the_one_level_limit_and_approvals_follow(
    client: Client, manager: Any, risk: Any, review_loan: Loan
) -> None:
    first = ApprovalAuthority.objects.get(position=10)
    client.force_login(manager)
    url = reverse("backoffice:authority-edit", args=[first.pk])
    assert client.get(url).status_code == 200
    assert client.post(url, row_data()).status_code == 302
    assert ApprovalAuthority.objects.get(pk=first.pk).max_amount == Decimal("50000.00")
    assert AuditEvent.objects.filter(action="approval_authority.update").exists()
    # 100,000 is now above the one-level limit: the risk manager's approval is only the first level
    step = loan_approve(actor=risk, loan_id=review_loan.pk, approved_amount=None, note="同意")
    assert isinstance(step, ApprovalStep) and step.levels_required == 2
    assert Loan.objects.get(pk=review_loan.pk).status == LoanStatus.RISK_REVIEW


def test_manager_adds_a_row(client: Client, manager: Any) -> None:
    client.force_login(manager)
    response = client.post(reverse("backoffice:authority-create"), row_data(position="5", grades=["A"], levels="2"))
    assert response.status_code == 302
    assert ApprovalAuthority.objects.get(position=5).grades == ["A"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"grades": []}, "grades"),
        ({"levels": "3"}, "levels"),
        ({"max_amount": "-5"}, "max_amount"),
        ({"position": "20"}, "position"),  # taken by another row
    ],
)
def test_bad_rows_are_400_and_change_nothing(client: Client, manager: Any, changes: dict[str, Any], field: str) -> None:
    first = ApprovalAuthority.objects.get(position=10)
    before = list(ApprovalAuthority.objects.values_list("position", "grades", "max_amount", "levels"))
    client.force_login(manager)
    response = client.post(reverse("backoffice:authority-edit", args=[first.pk]), row_data(**changes))
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert list(ApprovalAuthority.objects.values_list("position", "grades", "max_amount", "levels")) == before


def test_only_the_manager_changes_the_matrix(client: Client, risk: Any, ops: Any) -> None:
    first = ApprovalAuthority.objects.get(position=10)
    for user in (risk, ops):
        client.force_login(user)
        assert client.post(reverse("backoffice:authority-edit", args=[first.pk]), row_data()).status_code == 403
        with pytest.raises(PermissionDenied):
            authority_save(actor=user, data=row_data(), authority_id=first.pk)
    assert ApprovalAuthority.objects.get(pk=first.pk).max_amount == Decimal("200000.00")


def test_service_validates_without_the_form(manager: Any) -> None:
    with pytest.raises(InputError) as error:
        authority_save(actor=manager, data={"position": 1.5, "grades": ["Z"], "levels": True})
    assert {"position", "grades", "levels"} <= set(error.value.fields)
