"""Repayment entry by ops: allocation shown, field errors mapped, nothing written on refusal."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse

from backoffice.tests.conftest import login
from compliance.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_form_defaults_to_the_business_date(client: Any, active_loan: Any, ops: Any) -> None:
    from servicing.services import business_date_get

    login(client, ops)
    response = client.get(reverse("backoffice:loan-repayment", args=[active_loan.pk]))
    assert response.status_code == 200
    assert response.context["form"].initial["paid_on"] == business_date_get()
    assert "应收本金" in response.content.decode()


def test_record_repayment_shows_the_allocation(client: Any, active_loan: Any, ops: Any) -> None:
    from servicing.models import Repayment
    from servicing.services import business_date_get

    login(client, ops)
    url = reverse("backoffice:loan-repayment", args=[active_loan.pk])
    data = {
        "amount": "1500.00",
        "paid_on": business_date_get().isoformat(),
        "channel": "bank_transfer",
        "reference": "TX001",
    }
    response = client.post(url, data, follow=True)
    assert response.status_code == 200
    repayment = Repayment.objects.get(loan=active_loan)
    assert repayment.reference == "TX001" and repayment.recorded_by == ops
    html = response.content.decode()
    assert "已登记还款 1,500.00 元" in html
    assert "利息" in html and "本金" in html
    assert AuditEvent.objects.filter(action="repayment.record").exists()


def test_future_date_is_a_field_error_and_writes_nothing(client: Any, active_loan: Any, ops: Any) -> None:
    from servicing.models import Repayment
    from servicing.services import business_date_get

    login(client, ops)
    before = AuditEvent.objects.count()
    url = reverse("backoffice:loan-repayment", args=[active_loan.pk])
    future = (business_date_get() + timedelta(days=3)).isoformat()
    response = client.post(url, {"amount": "100", "paid_on": future, "channel": "wechat"})
    assert response.status_code == 400
    assert "paid_on" in response.context["form"].errors
    assert not Repayment.objects.exists()
    assert AuditEvent.objects.count() == before


def test_not_repayable_loan_is_409(client: Any, make_loan: Callable[..., Any], ops: Any) -> None:
    from servicing.services import business_date_get

    loan = make_loan("submitted")
    login(client, ops)
    url = reverse("backoffice:loan-repayment", args=[loan.pk])
    response = client.post(url, {"amount": "100", "paid_on": business_date_get().isoformat(), "channel": "wechat"})
    assert response.status_code == 409


def test_detail_of_an_active_loan(client: Any, active_loan: Any, ops: Any) -> None:
    login(client, ops)
    html = client.get(reverse("backoffice:loan-detail", args=[active_loan.pk])).content.decode()
    assert reverse("backoffice:loan-repayment", args=[active_loan.pk]) in html
    assert html.count('<td class="num">12</td>') == 1  # the 12th installment row
    assert "12,000.00" in html
    assert "ops-wang" in html and "manager-zhao" in html  # maker and checker
