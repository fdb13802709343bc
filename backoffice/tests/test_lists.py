"""Loan and customer lists: search, filters, pagination, htmx fragments and bounded query counts."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from applications.models import Customer
from backoffice.tests.conftest import login

pytestmark = pytest.mark.django_db


def make_customers(n: int, start: int = 0) -> list[Customer]:
    return [
        Customer.objects.create(
            kind="individual", name=f"客户{start + i:03d}", phone=f"1370000{start + i:04d}", industry="F"
        )
        for i in range(n)
    ]


def make_loans(make_loan: Callable[..., Any], n: int, start: int = 0) -> None:
    statuses = ["submitted", "risk_review", "active", "overdue", "settled"]
    for i, customer in enumerate(make_customers(n, start)):
        make_loan(statuses[i % len(statuses)], customer=customer, bucket="M1" if i % 5 == 3 else "M0")


@pytest.mark.parametrize("page", ["backoffice:loan-list", "backoffice:queue", "backoffice:customer-list"])
def test_list_query_count_does_not_grow_with_rows(
    client: Any,
    make_loan: Callable[..., Any],
    make_user: Callable[..., Any],
    page: str,
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    user = make_user("ops", "risk", "manager", "service")
    login(client, user)
    url = reverse(page)
    make_loans(make_loan, 5)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    make_loans(make_loan, 25, start=100)  # 30 loans: more than one page of the list
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).status_code == 200
    assert len(many.captured_queries) == len(few.captured_queries)


def test_loan_list_with_30_loans_is_bounded(
    client: Any, make_loan: Callable[..., Any], ops: Any, django_assert_max_num_queries: Any
) -> None:
    make_loans(make_loan, 30)
    login(client, ops)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("backoffice:loan-list"))
    assert response.status_code == 200
    assert len(response.context["page_obj"].object_list) == 25
    assert response.context["page_obj"].paginator.count == 30
    second = client.get(reverse("backoffice:loan-list"), {"page": 2})
    assert len(second.context["page_obj"].object_list) == 5


def test_loan_list_search_and_filters(client: Any, make_loan: Callable[..., Any], product: Any, ops: Any) -> None:
    from applications.models import Product

    other_product = Product.objects.create(
        code="biz",
        name="小微经营贷",
        applicant_type="enterprise",
        min_amount=Decimal("10000"),
        max_amount=Decimal("1000000"),
        min_term_months=6,
        max_term_months=36,
        min_rate=Decimal("0.06"),
        max_rate=Decimal("0.15"),
    )
    lisi = Customer.objects.create(kind="individual", name="李四", phone="13611112222", industry="C")
    a = make_loan("submitted")  # 张三, 13800138000
    b = make_loan("overdue", customer=lisi, bucket="M2")
    c = make_loan("active", customer=lisi, product=other_product)
    login(client, ops)
    url = reverse("backoffice:loan-list")

    def refs(**params: Any) -> set[str]:
        response = client.get(url, params)
        assert response.status_code == 200
        return {loan.reference for loan in response.context["page_obj"].object_list}

    assert refs() == {a.reference, b.reference, c.reference}
    assert refs(q="李四") == {b.reference, c.reference}
    assert refs(q="138 0013 8000") == {a.reference}
    assert refs(q=a.reference) == {a.reference}
    assert refs(status="overdue") == {b.reference}
    assert refs(product=other_product.pk) == {c.reference}
    assert refs(bucket="M2") == {b.reference}
    assert refs(q="李四", status="active") == {c.reference}
    assert refs(status="no-such-status") == {a.reference, b.reference, c.reference}  # ignored


def test_loan_list_htmx_returns_only_the_results(client: Any, make_loan: Callable[..., Any], ops: Any) -> None:
    loan = make_loan("submitted")
    login(client, ops)
    response = client.get(reverse("backoffice:loan-list"), {"q": "张"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "<html" not in html and 'class="filter-bar"' not in html
    assert loan.reference in html


def test_customer_list_search_masks_personal_data(client: Any, customer: Any, ops: Any) -> None:
    make_customers(3)
    login(client, ops)
    response = client.get(reverse("backoffice:customer-list"), {"q": "13800138000"}, HTTP_HX_REQUEST="true")
    customers = list(response.context["page_obj"].object_list)
    assert customers == [customer]
    rows = response.content.decode().split("<tbody>", 1)[1]  # the result rows (the query itself is echoed)
    assert "138****8000" in rows and "13800138000" not in rows
    assert "110105********0025" in rows and "110105199003070025" not in rows
    response = client.get(reverse("backoffice:customer-list"), {"q": "110105199003070025"})
    assert list(response.context["page_obj"].object_list) == [customer]
