"""product_create / product_update: the product manager's catalogue, field-level validation, audit."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied

from applications.models import Product
from compliance.models import AuditEvent
from loanops.exceptions import InputError
from underwriting.services import product_create, product_update
from underwriting.tests.helpers import make_product

pytestmark = pytest.mark.django_db

D = Decimal


def product_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "code": "consumer-std",
        "name": "个人消费贷（标准）",
        "applicant_type": "individual",
        "min_amount": "10000",
        "max_amount": "300000",
        "min_term_months": 6,
        "max_term_months": 36,
        "min_rate": "0.072",
        "max_rate": "0.18",
        "repayment_methods": ["equal_installment", "equal_principal"],
        "required_documents": ["id_front", "id_back", "income_proof", "credit_auth"],
    }
    data.update(overrides)
    return data


def test_create_product(product_manager: Any) -> None:
    product = product_create(actor=product_manager, data=product_data(origination_fee_rate="0.01"))
    product.refresh_from_db()
    assert product.code == "consumer-std"
    assert (product.min_amount, product.max_amount) == (D("10000.00"), D("300000.00"))
    assert (product.min_rate, product.max_rate) == (D("0.072000"), D("0.180000"))
    assert product.origination_fee_rate == D("0.010000")
    assert product.penalty_surcharge == D("0.500000")
    assert product.is_active is True
    event = AuditEvent.objects.get(action="product.create")
    assert event.subject_id == str(product.pk)
    assert event.after["code"] == "consumer-std"


def test_create_enterprise_product_gets_enterprise_checklist_by_default(product_manager: Any) -> None:
    data = product_data(code="sme", applicant_type="enterprise")
    del data["required_documents"]
    product = product_create(actor=product_manager, data=data)
    assert "business_license" in product.required_documents


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"code": ""}, "code"),
        ({"code": "has space"}, "code"),
        ({"name": " "}, "name"),
        ({"applicant_type": "alien"}, "applicant_type"),
        ({"min_amount": "0"}, "min_amount"),
        ({"min_amount": "-100"}, "min_amount"),
        ({"max_amount": "abc"}, "max_amount"),
        ({"min_amount": "500000"}, "max_amount"),  # min > max
        ({"min_term_months": 0}, "min_term_months"),
        ({"max_term_months": 361}, "max_term_months"),
        ({"min_term_months": 40}, "max_term_months"),  # min > max
        ({"min_term_months": "six"}, "min_term_months"),
        ({"min_rate": "-0.01"}, "min_rate"),
        ({"max_rate": "1.01"}, "max_rate"),
        ({"min_rate": "0.2"}, "max_rate"),  # min > max
        ({"penalty_surcharge": "2"}, "penalty_surcharge"),
        ({"origination_fee_rate": "x"}, "origination_fee_rate"),
        ({"repayment_methods": []}, "repayment_methods"),
        ({"repayment_methods": ["balloon"]}, "repayment_methods"),
        ({"repayment_methods": "equal_installment"}, "repayment_methods"),
        ({"required_documents": ["passport"]}, "required_documents"),
        ({"is_active": "maybe"}, "is_active"),
    ],
)
def test_create_bad_input_writes_nothing(product_manager: Any, overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError) as exc_info:
        product_create(actor=product_manager, data=product_data(**overrides))
    assert field in exc_info.value.fields, exc_info.value.fields
    assert not Product.objects.exists()
    assert not AuditEvent.objects.exists()


def test_duplicate_code_is_a_field_error(product_manager: Any) -> None:
    make_product(code="consumer-std")
    with pytest.raises(InputError) as exc_info:
        product_create(actor=product_manager, data=product_data())
    assert "code" in exc_info.value.fields


@pytest.mark.parametrize("role_fixture", ["ops", "risk", "service_user"])
def test_create_needs_permission(request: pytest.FixtureRequest, role_fixture: str) -> None:
    with pytest.raises(PermissionDenied):
        product_create(actor=request.getfixturevalue(role_fixture), data=product_data())
    assert not Product.objects.exists()


def test_update_changes_only_given_fields_and_audits(product_manager: Any) -> None:
    product = make_product(code="p-update")
    updated = product_update(
        actor=product_manager, product_id=product.pk, data={"max_rate": "0.15", "is_active": False, "bogus": 1}
    )
    updated.refresh_from_db()
    assert updated.max_rate == D("0.150000")
    assert updated.is_active is False
    assert updated.min_amount == product.min_amount
    event = AuditEvent.objects.get(action="product.update")
    assert set(event.after) == {"max_rate", "is_active"}
    assert event.before == {"max_rate": "0.200000", "is_active": True}


def test_update_without_changes_writes_nothing(product_manager: Any) -> None:
    product = make_product()
    product_update(actor=product_manager, product_id=product.pk, data={"max_rate": "0.2"})
    assert not AuditEvent.objects.exists()


def test_update_bad_input_writes_nothing(product_manager: Any) -> None:
    product = make_product()
    with pytest.raises(InputError) as exc_info:
        product_update(actor=product_manager, product_id=product.pk, data={"min_rate": "0.5", "name": ""})
    assert set(exc_info.value.fields) == {"max_rate", "name"}
    product.refresh_from_db()
    assert product.min_rate == D("0.040000")
    assert not AuditEvent.objects.exists()


def test_update_needs_permission(ops: Any) -> None:
    product = make_product()
    with pytest.raises(PermissionDenied):
        product_update(actor=ops, product_id=product.pk, data={"name": "x"})
