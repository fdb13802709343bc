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
        "allowed_terms": "6, 12, 24, 36",
        "rate_A_min_percent": "7.2",
        "rate_A_max_percent": "9",
        "rate_B_min_percent": "9",
        "rate_B_max_percent": "12",
        "rate_C_min_percent": "10",
        "rate_C_max_percent": "18",
        "min_age": "20",
        "max_age": "60",
        "excluded_industries": ["K", "J"],
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
    assert "A 级最低年利率（%）" in response.content.decode()
    response = client.post(CREATE, form_data())
    product = Product.objects.get(code="consumer-std")
    assert response.status_code == 302
    assert response["Location"] == detail(product)
    assert product.allowed_terms == [6, 12, 24, 36]
    assert (product.min_term_months, product.max_term_months) == (6, 36)
    assert product.rate_bands == {
        "A": {"min_rate": "0.072000", "max_rate": "0.090000"},
        "B": {"min_rate": "0.090000", "max_rate": "0.120000"},
        "C": {"min_rate": "0.100000", "max_rate": "0.180000"},
    }
    assert (product.min_rate, product.max_rate) == (D("0.072000"), D("0.180000"))  # the span of the bands
    assert (product.min_age, product.max_age, product.excluded_industries) == (20, 60, ["K", "J"])
    assert product.version == 1
    assert (product.penalty_surcharge, product.origination_fee_rate) == (D("0.500000"), D("0.010000"))
    assert product.repayment_methods == ["equal_installment", "equal_principal"]
    assert product.is_active is True
    assert AuditEvent.objects.filter(action="product.create", subject_id=str(product.pk)).exists()


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"min_amount": "500000"}, "max_amount", "最高金额不能低于最低金额"),
        ({"allowed_terms": "6, 十二"}, "allowed_terms", "期限只能是整数月数，用逗号分隔，如 3, 6, 12"),
        ({"allowed_terms": "6, 480"}, "allowed_terms", "期限 480 个月应在 1 至 360 个月之间"),
        ({"rate_A_min_percent": "10"}, "rate_A_max_percent", "A 级的最高利率不能低于最低利率"),
        ({"rate_B_max_percent": ""}, "rate_B_max_percent", "请同时填写 B 级的最低和最高利率"),
        ({"min_age": "16"}, "min_age", "年龄应在 18 至 100 周岁之间（未满 18 周岁不能独立借款）"),
        ({"min_age": "61"}, "max_age", "最高年龄不能低于最低年龄"),
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


def test_create_without_any_rate_band_is_refused(client: Client, product_manager: Any) -> None:
    client.force_login(product_manager)
    blank = {f"rate_{grade}_{end}_percent": "" for grade in "ABCDE" for end in ("min", "max")}
    response = client.post(CREATE, form_data(**blank))
    assert response.status_code == 400
    assert "请至少为一个风险等级设置利率区间（不准入的等级留空）" in response.context["form"].non_field_errors()
    assert Product.objects.count() == 0


def test_create_with_a_duplicate_code_is_a_field_error(client: Client, product_manager: Any, product: Product) -> None:
    client.force_login(product_manager)
    response = client.post(CREATE, form_data(code=product.code))
    assert response.status_code == 400
    assert response.context["form"].errors["code"] == ["该产品代码已存在"]
    assert Product.objects.count() == 1


def test_edit_shows_rates_as_percentages_and_saves(client: Client, product_manager: Any, product: Product) -> None:
    client.force_login(product_manager)
    form = client.get(edit(product)).context["form"]
    # a product without per-grade bands: every grade at the product's whole range
    assert [form[f"rate_{g}_min_percent"].value() for g in "ABCDE"] == ["4"] * 5
    assert form["rate_E_max_percent"].value() == "20"
    assert form["allowed_terms"].value() == ", ".join(str(n) for n in range(3, 37))
    assert form.fields["code"].disabled
    response = client.post(edit(product), form_data(code="ignored", rate_A_min_percent="4.35", name="改名"))
    assert response.status_code == 302
    product.refresh_from_db()
    assert product.name == "改名"
    assert product.code != "ignored"  # the code is fixed once created
    assert product.min_rate == D("0.043500")
    assert product.version == 1  # no loan uses it: changed in place
    event = AuditEvent.objects.get(action="product.update", subject_id=str(product.pk))
    assert "name" in event.after


def test_edit_of_a_product_in_use_writes_a_new_version(
    client: Client, product_manager: Any, product: Product, customer: Customer
) -> None:
    from underwriting.tests.helpers import make_loan

    loan = make_loan(customer=customer, product=product)
    client.force_login(product_manager)
    assert "将生成新版本 v2" in client.get(edit(product)).content.decode()
    response = client.post(edit(product), form_data(name="改名"))
    successor = Product.objects.get(code=product.code, version=2)
    assert response.status_code == 302 and response["Location"] == detail(successor)
    product.refresh_from_db()
    loan.refresh_from_db()
    assert (product.name, product.retired_at is not None, loan.product_id) == ("个人消费贷（测试）", True, product.pk)
    page = client.get(detail(product)).content.decode()
    assert "此版本已" in page and "查看当前版本 v2" in page
    assert client.get(edit(product)).status_code == 302  # a retired version is not edited


def test_edit_with_bad_range_changes_nothing(client: Client, product_manager: Any, product: Product) -> None:
    client.force_login(product_manager)
    response = client.post(edit(product), form_data(min_amount="900000", name="改名"))
    assert response.status_code == 400
    assert response.context["form"].errors["max_amount"] == ["最高金额不能低于最低金额"]
    product.refresh_from_db()
    assert product.name != "改名"
