"""申请贷款: a customer opens an application for themself through applications.services.loan_create."""

from __future__ import annotations

import pytest
from django.urls import reverse

from applications.models import Loan, LoanStatus

pytestmark = pytest.mark.django_db


def _data(product, **overrides):
    data = {
        "product": product.pk,
        "requested_amount": "60000",
        "requested_term_months": "12",
        "purpose": "购买经营设备",
        "repayment_source": "工资收入",
    }
    data.update(overrides)
    return data


def test_apply_creates_a_draft_for_me_and_goes_to_the_loan_page(customer_client, customer, product):
    response = customer_client.post(reverse("portal:apply"), _data(product))
    loan = Loan.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:loan-detail", args=[loan.pk])
    assert loan.customer == customer
    assert loan.status == LoanStatus.DRAFT
    assert loan.requested_amount == 60000
    assert loan.created_by == customer.user
    page = customer_client.get(response["Location"])
    html = page.content.decode()
    assert "申请材料清单" in html
    assert "提交申请" in html


def test_amount_outside_the_product_range_is_a_field_error(customer_client, product):
    response = customer_client.post(reverse("portal:apply"), _data(product, requested_amount="999999999"))
    assert response.status_code == 400
    assert "申请金额应在" in response.content.decode()
    assert "requested_amount" in response.context["form"].errors
    assert not Loan.objects.exists()


def test_missing_purpose_is_a_form_error(customer_client, product):
    response = customer_client.post(reverse("portal:apply"), _data(product, purpose=""))
    assert response.status_code == 400
    assert "purpose" in response.context["form"].errors
    assert not Loan.objects.exists()


def test_cannot_apply_for_another_applicant_types_product(customer_client):
    from portal.tests.conftest import make_product

    enterprise_product = make_product(applicant_type="enterprise", name="小微经营贷")
    response = customer_client.post(reverse("portal:apply"), _data(enterprise_product))
    assert response.status_code == 400
    assert not Loan.objects.exists()
