"""Identity checks at intake: ID checksum and birth date (age at the business date within the product's
range), mainland mobile, name, the enterprise facts, purpose and repayment source, duplicate applications."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.urls import reverse

from applications.models import ApplicantType, Customer, Loan, LoanStatus, Product
from applications.services import customer_create, loan_create, loan_submit, loan_withdraw
from loanops.exceptions import DomainError, InputError
from tests.conftest import customer_data, make_customer, make_id_number, pdf_upload

pytestmark = pytest.mark.django_db

USCC = "91110108MA01KPGK0L"


def _apply(actor: Any, customer: Customer, product: Product, **overrides: Any) -> Loan:
    data: dict[str, Any] = {
        "requested_amount": "50000.00",
        "requested_term_months": 12,
        "purpose": "家庭装修",
        "repayment_source": "工资收入",
    }
    data.update(overrides)
    return loan_create(actor=actor, customer_id=customer.pk, product_id=product.pk, **data)


_BUSINESS_DAY: dict[str, date] = {}


def fixed_business_date() -> date:
    """Stands in for servicing's business date (settings.LOANOPS_BUSINESS_DATE) in these tests."""
    return _BUSINESS_DAY["day"]


@pytest.fixture
def business_day(settings: Any) -> Any:
    settings.LOANOPS_BUSINESS_DATE = f"{__name__}.fixed_business_date"

    def set_day(day: date) -> None:
        _BUSINESS_DAY["day"] = day

    return set_day


# --- customer records ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id_number", "110105194912310021"),  # wrong check digit
        ("id_number", "110105199002300012"),  # 30 February
        ("id_number", "1101051990010100"),  # too short
        ("phone", "12812345678"),  # second digit must be 3–9
        ("phone", "1391234567"),  # 10 digits
        ("phone", "23912345678"),
        ("name", "   "),
    ],
)
def test_bad_identity_is_a_field_error_and_writes_nothing(ops_user: Any, field: str, value: str) -> None:
    with pytest.raises(InputError) as info:
        customer_create(actor=ops_user, data=customer_data(**{field: value}))
    assert field in info.value.fields
    assert not Customer.objects.exists()


def test_phone_is_normalised(ops_user: Any) -> None:
    customer = customer_create(actor=ops_user, data=customer_data(phone="+86 139-1234-5678"))
    assert customer.phone == "13912345678"


def test_enterprise_needs_its_facts(ops_user: Any) -> None:
    base = customer_data(kind=ApplicantType.ENTERPRISE, name="某某科技有限公司", id_number="", annual_income="0")
    with pytest.raises(InputError) as info:
        customer_create(actor=ops_user, data=base)
    assert {"uscc", "legal_representative", "registered_capital", "annual_income"} <= set(info.value.fields)
    with pytest.raises(InputError) as info:
        customer_create(actor=ops_user, data={**base, "uscc": "91110108MA01KPGK0X"})
    assert "校验位" in info.value.fields["uscc"][0]
    customer = customer_create(
        actor=ops_user,
        data={
            **base,
            "uscc": USCC.lower(),
            "legal_representative": "赵六",
            "registered_capital": "5000000",
            "annual_income": "12000000",
            "years_in_business": 8,
        },
    )
    assert (customer.uscc, customer.registered_capital, customer.years_in_business) == (USCC, 5000000, 8)


def test_api_takes_registered_capital(api_client_for: Any, ops_user: Any) -> None:
    payload = {
        **customer_data(kind="enterprise", name="某某商贸有限公司", id_number=""),
        "uscc": USCC,
        "legal_representative": "赵六",
        "registered_capital": "1000000.00",
    }
    response = api_client_for(ops_user).post("/api/v1/customers/", payload, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["registered_capital"] == "1000000.00"
    bad = api_client_for(ops_user).post("/api/v1/customers/", {**payload, "registered_capital": "0"}, format="json")
    assert bad.status_code == 400 and "registered_capital" in bad.json()["fields"]


# --- age at the business date --------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "allowed"),
    [
        (date(2024, 5, 19), False),  # the day before the 18th birthday
        (date(2024, 5, 20), True),  # 18 today
        (date(2072, 5, 19), True),  # still 65
        (date(2072, 5, 20), False),  # 66 today
    ],
)
def test_age_on_the_business_date_within_the_product_range(
    product: Product, ops_user: Any, business_day: Any, day: date, allowed: bool
) -> None:
    product.min_age, product.max_age = 18, 65
    product.save(update_fields=["min_age", "max_age"])
    customer = make_customer(id_number=make_id_number(birth="20060520"))
    business_day(day)
    if allowed:
        assert _apply(ops_user, customer, product).status == LoanStatus.DRAFT
    else:
        with pytest.raises(InputError) as info:
            _apply(ops_user, customer, product)
        assert "18–65 周岁" in info.value.fields["product"][0]
        assert not Loan.objects.exists()


def test_leap_day_birthday(product: Product, ops_user: Any, business_day: Any) -> None:
    customer = make_customer(id_number=make_id_number(birth="20040229"))
    business_day(date(2022, 2, 28))  # 17 until 1 March in a common year
    with pytest.raises(InputError):
        _apply(ops_user, customer, product)
    business_day(date(2022, 3, 1))
    assert _apply(ops_user, customer, product).status == LoanStatus.DRAFT


# --- purpose and repayment source -----------------------------------------------------------


def test_purpose_and_repayment_source_are_required(customer: Customer, customer_user: Any, product: Product) -> None:
    with pytest.raises(InputError) as info:
        _apply(customer_user, customer, product, purpose=" ", repayment_source="")
    assert {"purpose", "repayment_source"} <= set(info.value.fields)
    assert not Loan.objects.exists()


def test_submit_refuses_a_draft_without_repayment_source(
    customer: Customer, customer_user: Any, product: Product
) -> None:
    loan = _apply(customer_user, customer, product)
    for doc_type in product.required_documents:
        from applications.services import document_upload

        document_upload(actor=customer_user, loan_id=loan.pk, doc_type=doc_type, upload=pdf_upload())
    Loan.objects.filter(pk=loan.pk).update(repayment_source="")  # a draft from before the field was required
    with pytest.raises(InputError) as info:
        loan_submit(actor=customer_user, loan_id=loan.pk)
    assert "repayment_source" in info.value.fields
    assert Loan.objects.get(pk=loan.pk).status == LoanStatus.DRAFT


def test_api_field_errors(api_client_for: Any, customer_user: Any, product: Product) -> None:
    response = api_client_for(customer_user).post(
        "/api/v1/loans/",
        {"product": product.pk, "requested_amount": "50000.00", "requested_term_months": 12, "purpose": "x"},
        format="json",
    )
    assert response.status_code == 400
    assert "repayment_source" in response.json()["fields"]


# --- a second open application for the same ID ----------------------------------------------


def test_second_open_application_is_refused_by_default(
    customer: Customer, customer_user: Any, product: Product, ops_user: Any
) -> None:
    first = _apply(customer_user, customer, product)
    with pytest.raises(DomainError) as info:
        _apply(customer_user, customer, product)
    assert info.value.code == "duplicate_application"
    assert first.reference not in info.value.message  # the customer gets a plain sentence
    # the same ID number under another customer record (another phone) is the same applicant
    twin = make_customer(id_number=customer.id_number)
    with pytest.raises(DomainError) as info:
        _apply(ops_user, twin, product)
    assert first.reference in info.value.message  # staff see which application
    assert Loan.objects.count() == 1
    loan_withdraw(actor=customer_user, loan_id=first.pk, reason="不需要了")
    assert _apply(customer_user, customer, product).status == LoanStatus.DRAFT


def test_flag_mode_records_the_duplicate_on_the_loan_for_staff(
    client: Any, settings: Any, customer: Customer, customer_user: Any, product: Product, ops_user: Any
) -> None:
    settings.LOANOPS_DUPLICATE_APPLICATION = "flag"
    first = _apply(customer_user, customer, product)
    assert first.intake_flags == []
    second = _apply(customer_user, customer, product)
    assert [flag["code"] for flag in second.intake_flags] == ["duplicate_application"]
    assert second.intake_flags[0]["loans"] == [first.reference]
    client.force_login(ops_user)
    html = client.get(reverse("backoffice:loan-detail", args=[second.pk])).content.decode()
    assert 'id="intake-flags"' in html and first.reference in html
    first_html = client.get(reverse("backoffice:loan-detail", args=[first.pk])).content.decode()
    assert 'id="intake-flags"' not in first_html


def test_enterprise_duplicates_are_found_by_uscc(ops_user: Any) -> None:
    product = Product.objects.create(
        code="sme",
        name="小微经营贷",
        applicant_type=ApplicantType.ENTERPRISE,
        min_amount="10000",
        max_amount="1000000",
        min_term_months=3,
        max_term_months=36,
        min_rate="0.05",
        max_rate="0.15",
    )
    data = customer_data(
        kind="enterprise",
        name="某某科技有限公司",
        id_number="",
        uscc=USCC,
        legal_representative="赵六",
        registered_capital="1000000",
    )
    company = customer_create(actor=ops_user, data=data)
    twin = customer_create(actor=ops_user, data={**data, "phone": "13700009999"})
    _apply(ops_user, company, product)
    with pytest.raises(DomainError) as info:
        _apply(ops_user, twin, product)
    assert info.value.code == "duplicate_application"
