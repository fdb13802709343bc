"""Who gets in, and whose loans they see: login by phone, ownership (404), staff (403), bounded queries."""

from __future__ import annotations

import pytest
from django.contrib.auth import SESSION_KEY
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from applications.models import LoanDocument, LoanStatus
from loanops import roles
from portal.tests.conftest import PASSWORD, make_customer, make_loan, make_product, make_staff, pdf_upload

pytestmark = pytest.mark.django_db


def test_login_by_phone_and_password(customer):
    client = Client()
    response = client.post(reverse("portal:login"), {"phone": customer.phone, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:home")
    assert int(client.session[SESSION_KEY]) == customer.user.pk
    assert client.get(reverse("portal:home")).status_code == 200


def test_login_follows_a_safe_next_only(customer, loan_factory):
    loan = loan_factory()
    detail = reverse("portal:loan-detail", args=[loan.pk])
    client = Client()
    response = client.post(reverse("portal:login"), {"phone": customer.phone, "password": PASSWORD, "next": detail})
    assert response["Location"] == detail
    client = Client()
    response = client.post(
        reverse("portal:login"), {"phone": customer.phone, "password": PASSWORD, "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("portal:home")


def test_wrong_password_fails(customer):
    client = Client()
    response = client.post(reverse("portal:login"), {"phone": customer.phone, "password": "not-the-password"})
    assert response.status_code == 200
    assert SESSION_KEY not in client.session
    assert "手机号或密码不正确" in response.content.decode()


def test_unknown_phone_fails():
    client = Client()
    response = client.post(reverse("portal:login"), {"phone": "13700000000", "password": PASSWORD})
    assert response.status_code == 200
    assert SESSION_KEY not in client.session


def test_anonymous_goes_to_portal_login(loan_factory):
    loan = loan_factory()
    for url in (reverse("portal:home"), reverse("portal:apply"), reverse("portal:loan-detail", args=[loan.pk])):
        response = Client().get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("portal:login") + "?next=")


def test_staff_get_403_on_portal_pages(loan_factory):
    loan = loan_factory()
    client = Client()
    client.force_login(make_staff(roles.OPS))
    for url in (reverse("portal:home"), reverse("portal:apply"), reverse("portal:loan-detail", args=[loan.pk])):
        assert client.get(url).status_code == 403
    response = client.post(reverse("portal:loan-submit", args=[loan.pk]))
    assert response.status_code == 403
    loan.refresh_from_db()
    assert loan.status == LoanStatus.DRAFT


def test_home_lists_only_my_loans(customer_client, customer, other_customer, product):
    mine = make_loan(customer, product, purpose="我的借款")
    theirs = make_loan(other_customer, product, purpose="别人的借款")
    response = customer_client.get(reverse("portal:home"))
    assert response.status_code == 200
    loans = [card["loan"] for card in response.context["cards"]]
    assert loans == [mine]
    html = response.content.decode()
    assert mine.reference in html
    assert theirs.reference not in html
    assert reverse("portal:loan-detail", args=[theirs.pk]) not in html
    assert "申请贷款" in html


def test_home_shows_stage_in_customer_words_and_next_step(customer_client, loan_factory):
    loan_factory(status=LoanStatus.RISK_REVIEW)
    loan_factory(status=LoanStatus.CONTRACT_PENDING)
    html = customer_client.get(reverse("portal:home")).content.decode()
    assert "审核中" in html
    assert "风控审查中，无需您操作。" in html
    assert "待签约" in html
    assert "请阅读借款合同并完成电子签名。" in html


def test_others_loans_are_404_everywhere(customer_client, other_customer, product):
    theirs = make_loan(other_customer, product)
    assert customer_client.get(reverse("portal:loan-detail", args=[theirs.pk])).status_code == 404
    response = customer_client.post(
        reverse("portal:document-upload", args=[theirs.pk, "id_front"]), {"doc-id_front-file": pdf_upload()}
    )
    assert response.status_code == 404
    assert not LoanDocument.objects.filter(loan=theirs).exists()
    for name in ("portal:loan-submit", "portal:loan-withdraw", "portal:offer-accept", "portal:contract-sign"):
        response = customer_client.post(reverse(name, args=[theirs.pk]), {"reason": "x", "consent": "on"})
        assert response.status_code == 404, name
    theirs.refresh_from_db()
    assert theirs.status == LoanStatus.DRAFT
    assert customer_client.get(reverse("portal:loan-detail", args=[999999])).status_code == 404


def test_home_queries_are_bounded(customer_client, customer, django_assert_max_num_queries):
    products = [make_product(), make_product(name="经营贷")]
    statuses = [
        LoanStatus.DRAFT,
        LoanStatus.SUBMITTED,
        LoanStatus.SUPPLEMENT_REQUIRED,
        LoanStatus.RISK_REVIEW,
        LoanStatus.OFFERED,
        LoanStatus.CONTRACT_PENDING,
        LoanStatus.ACTIVE,
        LoanStatus.SETTLED,
        LoanStatus.REJECTED,
        LoanStatus.WITHDRAWN,
    ]
    make_loan(customer, products[0], status=LoanStatus.DRAFT)
    with CaptureQueriesContext(connection) as one_loan:
        customer_client.get(reverse("portal:home"))
    for index, status in enumerate(statuses):
        make_loan(customer, products[index % 2], status=status)
    # session, user, customer, loans (+customer, product), documents, the role context processor
    with django_assert_max_num_queries(7):
        response = customer_client.get(reverse("portal:home"))
    assert response.status_code == 200
    assert len(response.context["cards"]) == 11
    with CaptureQueriesContext(connection) as many_loans:
        customer_client.get(reverse("portal:home"))
    assert len(many_loans.captured_queries) == len(one_loan.captured_queries)


def test_customer_without_loans_sees_empty_state(customer_client):
    html = customer_client.get(reverse("portal:home")).content.decode()
    assert "您还没有贷款申请" in html


def test_enterprise_customer_only_sees_enterprise_products():
    enterprise = make_customer(kind="enterprise", name="某某商贸有限公司")
    make_product(name="个人消费贷")
    make_product(name="小微经营贷", applicant_type="enterprise", required_documents=["business_license"])
    make_product(name="停售产品", applicant_type="enterprise", is_active=False)
    client = Client()
    client.force_login(enterprise.user)
    response = client.get(reverse("portal:apply"))
    names = [product.name for product in response.context["products"]]
    assert names == ["小微经营贷"]


def test_login_page_renders_and_a_logged_in_customer_skips_it(customer, customer_client):
    html = Client().get(reverse("portal:login")).content.decode()
    assert 'name="phone"' in html
    assert 'name="password"' in html
    response = customer_client.get(reverse("portal:login"))
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:home")


def test_staff_get_403_on_contract_download_and_uploads(loan_factory):
    loan = loan_factory()
    client = Client()
    client.force_login(make_staff(roles.OPS))
    assert client.get(reverse("portal:contract-download", args=[1])).status_code == 403
    response = client.post(
        reverse("portal:document-upload", args=[loan.pk, "id_front"]), {"doc-id_front-file": pdf_upload()}
    )
    assert response.status_code == 403
    assert not LoanDocument.objects.filter(loan=loan).exists()


def test_anonymous_post_changes_nothing(loan_factory):
    loan = loan_factory()
    response = Client().post(reverse("portal:loan-withdraw", args=[loan.pk]), {"reason": "x"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("portal:login"))
    loan.refresh_from_db()
    assert loan.status == LoanStatus.DRAFT
