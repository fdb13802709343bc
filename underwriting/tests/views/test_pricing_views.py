"""Back-office pages: the matching panel on a loan, the make-offer page's cap, the LPR table (four eyes)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from applications.models import Customer, Loan, Product
from underwriting.models import LoanPrimeRate
from underwriting.tests.helpers import make_product, make_user

pytestmark = pytest.mark.django_db
D = Decimal
LPRS = "/backoffice/lprs/"


def matching_url(loan: Loan) -> str:
    return f"/backoffice/loans/{loan.pk}/product-matching/"


def test_matching_panel_lists_every_product_with_reasons(client: Client, risk: Any, draft_loan: Loan) -> None:
    make_product(code="zz-short", allowed_terms=[3, 6], min_term_months=3, max_term_months=6)
    client.force_login(risk)
    response = client.get(matching_url(draft_loan), headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html  # an htmx fragment
    assert "申请期限 12 个月不在该产品的可选期限（3、6 个月）之内" in html
    assert "本笔申请的产品" in html
    assert "年化利率上限 12.00%" in html
    page = client.get(matching_url(draft_loan)).content.decode()
    assert "<html" in page and "产品匹配" in page


def test_the_loan_page_loads_the_matching_panel(client: Client, ops: Any, draft_loan: Loan) -> None:
    client.force_login(ops)
    html = client.get(f"/backoffice/loans/{draft_loan.pk}/").content.decode()
    assert f'hx-get="{matching_url(draft_loan)}"' in html


def test_matching_panel_query_count(
    client: Client, risk: Any, draft_loan: Loan, django_assert_max_num_queries: Any
) -> None:
    for n in range(15):
        make_product(code=f"qc-{n:02d}")
    client.force_login(risk)
    with django_assert_max_num_queries(15):  # session, user, permissions, loan, grade, cap: not per product
        response = client.get(matching_url(draft_loan), headers={"HX-Request": "true"})
    assert response.status_code == 200


def test_customers_and_anonymous_cannot_open_matching(client: Client, draft_loan: Loan, customer: Customer) -> None:
    assert client.get(matching_url(draft_loan)).status_code == 302
    client.force_login(customer.user)
    assert client.get(matching_url(draft_loan)).status_code == 403


def test_make_offer_page_shows_the_grade_band_and_the_cap(client: Client, risk: Any, approved_loan: Loan) -> None:
    other = make_product(code="other", name="备选产品")
    client.force_login(risk)
    response = client.get(f"/backoffice/loans/{approved_loan.pk}/make-offer/")
    html = response.content.decode()
    assert "年化利率上限" in html and "12.00%" in html and "LPR 3.00% × 4" in html
    assert f"{response.context['offer_grade']}" in html  # the grade of the risk assessment
    choices = dict(response.context["form"].fields["product_id"].choices)
    assert other.pk in choices and approved_loan.product_id in choices


# --- LPR table -------------------------------------------------------------------------------------


def test_lpr_page_shows_todays_cap_and_history(client: Client, product_manager: Any) -> None:
    client.force_login(product_manager)  # may look, not propose
    response = client.get(LPRS)
    html = response.content.decode()
    assert response.status_code == 200
    assert "2024-10-21" in html and "3.10%" in html and "民间借贷" in html
    assert "提交复核" not in html
    assert client.post(LPRS, {"published_on": "2025-06-20", "one_year_rate_percent": "3"}).status_code == 403


def test_lpr_propose_and_approve_by_two_managers(client: Client, manager: Any) -> None:
    other = make_user("manager-b", "manager")
    client.force_login(manager)
    day = timezone.localdate().isoformat()
    response = client.post(LPRS, {"published_on": day, "one_year_rate_percent": "2.9", "note": "官网公布"})
    assert response.status_code == 302
    row = LoanPrimeRate.objects.get(published_on=day)
    assert (row.one_year_rate, row.status) == (D("0.029000"), "proposed")
    page = client.get(LPRS).content.decode()
    assert "待其他经理复核" in page and f"/backoffice/lprs/{row.pk}/approve/" not in page
    client.post(f"/backoffice/lprs/{row.pk}/approve/")  # refused: the proposer
    assert LoanPrimeRate.objects.get(pk=row.pk).status == "proposed"
    client.force_login(other)
    assert f"/backoffice/lprs/{row.pk}/approve/" in client.get(LPRS).content.decode()
    client.post(f"/backoffice/lprs/{row.pk}/approve/", {"note": "已核对"})
    assert LoanPrimeRate.objects.get(pk=row.pk).status == "approved"


def test_lpr_bad_input_is_a_field_error(client: Client, manager: Any) -> None:
    client.force_login(manager)
    count = LoanPrimeRate.objects.count()
    response = client.post(LPRS, {"published_on": "2025-05-20", "one_year_rate_percent": "3"})
    assert response.status_code == 400
    assert "2025-05-20 已有已生效的LPR记录" in response.context["form"].errors["published_on"][0]
    assert LoanPrimeRate.objects.count() == count


def test_product_list_shows_versions_and_terms(client: Client, product_manager: Any, product: Product) -> None:
    Product.objects.filter(pk=product.pk).update(
        allowed_terms=[6, 12], rate_bands={"A": {"min_rate": "0.05", "max_rate": "0.06"}}
    )
    client.force_login(product_manager)
    html = client.get("/backoffice/products/").content.decode()
    assert f"{product.code} · v1" in html and "6、12" in html
