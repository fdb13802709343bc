"""Product catalogue pages: list, detail with a sample schedule, create and edit through the services."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from applications.models import Customer, Product
from compliance.models import AuditEvent

pytestmark = pytest.mark.django_db
D = Decimal
LIST = "/backoffice/products/"
CREATE = "/backoffice/products/new/"


def detail(product: Product) -> str:
    return f"/backoffice/products/{product.pk}/"


def edit(product: Product) -> str:
    return f"/backoffice/products/{product.pk}/edit/"


def form_data(**overrides: str | list[str]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "code": "consumer-std",
        "name": "个人消费贷（标准）",
        "applicant_type": "individual",
        "min_amount": "10000",
        "max_amount": "300000",
        "min_term_months": "6",
        "max_term_months": "36",
        "min_rate_percent": "7.2",
        "max_rate_percent": "18",
        "repayment_methods": ["equal_installment", "equal_principal"],
        "required_documents": ["id_front", "id_back", "income_proof", "credit_auth"],
        "penalty_surcharge_percent": "50",
        "prepayment_fee_rate_percent": "0",
        "origination_fee_rate_percent": "1",
        "is_active": "on",
    }
    data.update(overrides)
    return data


# --- access -------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["ops", "risk", "manager", "product_manager", "service_user"])
def test_staff_with_view_product_see_list_and_detail(
    client: Client, product: Product, role: str, request: pytest.FixtureRequest
) -> None:
    client.force_login(request.getfixturevalue(role))
    response = client.get(LIST)
    assert response.status_code == 200
    assert product.name in response.content.decode()
    assert client.get(detail(product)).status_code == 200


@pytest.mark.parametrize("role", ["ops", "risk", "manager", "service_user"])
def test_only_product_managers_may_create_or_edit(
    client: Client, product: Product, role: str, request: pytest.FixtureRequest
) -> None:
    client.force_login(request.getfixturevalue(role))
    assert client.get(CREATE).status_code == 403
    assert client.post(CREATE, form_data()).status_code == 403
    assert client.get(edit(product)).status_code == 403
    assert client.post(edit(product), form_data(name="改名")).status_code == 403
    assert not Product.objects.filter(code="consumer-std").exists()
    assert "新建产品" not in client.get(LIST).content.decode()


def test_customers_get_403(client: Client, customer: Customer, product: Product) -> None:
    client.force_login(customer.user)
    for url in (LIST, detail(product), CREATE, edit(product)):
        assert client.get(url).status_code == 403


def test_anonymous_is_sent_to_login(client: Client, product: Product) -> None:
    for url in (LIST, detail(product), CREATE, edit(product)):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")


def test_unknown_product_is_404(client: Client, product_manager: Any) -> None:
    client.force_login(product_manager)
    assert client.get("/backoffice/products/999999/").status_code == 404
    assert client.get("/backoffice/products/999999/edit/").status_code == 404


# --- pages --------------------------------------------------------------------------------------


def test_list_is_one_query_for_the_products(
    client: Client, product_manager: Any, django_assert_max_num_queries: Any
) -> None:
    from underwriting.tests.helpers import make_product

    for _ in range(15):
        make_product()
    client.force_login(product_manager)
    with django_assert_max_num_queries(8):
        response = client.get(LIST)
    assert response.status_code == 200
    assert "新建产品" in response.content.decode()


def test_detail_previews_max_amount_min_rate_max_term_first_method(client: Client, ops: Any, product: Product) -> None:
    client.force_login(ops)
    response = client.get(detail(product))
    preview = response.context["preview"]
    assert preview["principal"] == product.max_amount
    assert preview["annual_rate"] == product.min_rate
    assert len(preview["rows"]) == product.max_term_months
    assert preview["method_label"] == "等额本息"
    assert preview["summary"]["total_principal"] == product.max_amount
    assert preview["apr"] == product.min_rate  # no fee on this product
    assert "样例还款计划" in response.content.decode()


def test_detail_apr_includes_the_origination_fee(client: Client, ops: Any, product: Product) -> None:
    Product.objects.filter(pk=product.pk).update(origination_fee_rate=D("0.02"))
    client.force_login(ops)
    preview = client.get(detail(product)).context["preview"]
    assert preview["principal_received"] == product.max_amount * D("0.98")
    assert preview["apr"] > product.min_rate


# --- create / edit ------------------------------------------------------------------------------


def test_create_product(client: Client, product_manager: Any) -> None:
    client.force_login(product_manager)
    response = client.get(CREATE)
    assert response.status_code == 200
    assert "最低年利率（%）" in response.content.decode()
    response = client.post(CREATE, form_data())
    product = Product.objects.get(code="consumer-std")
    assert response.status_code == 302
    assert response["Location"] == detail(product)
    assert (product.min_rate, product.max_rate) == (D("0.072000"), D("0.180000"))
    assert (product.penalty_surcharge, product.origination_fee_rate) == (D("0.500000"), D("0.010000"))
    assert product.repayment_methods == ["equal_installment", "equal_principal"]
    assert product.is_active is True
    assert AuditEvent.objects.filter(action="product.create", subject_id=str(product.pk)).exists()


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"min_amount": "500000"}, "max_amount", "最高金额不能低于最低金额"),
        ({"min_term_months": "48"}, "max_term_months", "最长期限不能短于最短期限"),
        ({"min_rate_percent": "20"}, "max_rate_percent", "最高利率不能低于最低利率"),
        ({"repayment_methods": []}, "repayment_methods", "请至少选择一种还款方式"),
        ({"code": "has space"}, "code", "产品代码只能包含字母、数字、连字符和下划线，最长 40 个字符"),
    ],
)
def test_create_with_bad_input_shows_the_field_error_and_writes_nothing(
    client: Client, product_manager: Any, overrides: dict[str, Any], field: str, message: str
) -> None:
    client.force_login(product_manager)
    response = client.post(CREATE, form_data(**overrides))
    assert response.status_code == 400
    assert response.context["form"].errors[field] == [message]
    assert message in response.content.decode()
    assert Product.objects.count() == 0
    assert not AuditEvent.objects.filter(action="product.create").exists()


def test_create_with_a_duplicate_code_is_a_field_error(client: Client, product_manager: Any, product: Product) -> None:
    client.force_login(product_manager)
    response = client.post(CREATE, form_data(code=product.code))
    assert response.status_code == 400
    assert response.context["form"].errors["code"] == ["该产品代码已存在"]
    assert Product.objects.count() == 1


def test_edit_shows_rates_as_percentages_and_saves(client: Client, product_manager: Any, product: Product) -> None:
    client.force_login(product_manager)
    form = client.get(edit(product)).context["form"]
    assert form["min_rate_percent"].value() == "4"
    assert form["max_rate_percent"].value() == "20"
    assert form.fields["code"].disabled
    response = client.post(edit(product), form_data(code="ignored", min_rate_percent="4.35", name="改名"))
    assert response.status_code == 302
    product.refresh_from_db()
    assert product.name == "改名"
    assert product.code != "ignored"  # the code is fixed once created
    assert product.min_rate == D("0.043500")
    event = AuditEvent.objects.get(action="product.update", subject_id=str(product.pk))
    assert "name" in event.after


def test_edit_with_bad_range_changes_nothing(client: Client, product_manager: Any, product: Product) -> None:
    client.force_login(product_manager)
    response = client.post(edit(product), form_data(min_amount="900000", name="改名"))
    assert response.status_code == 400
    assert response.context["form"].errors["max_amount"] == ["最高金额不能低于最低金额"]
    product.refresh_from_db()
    assert product.name != "改名"
