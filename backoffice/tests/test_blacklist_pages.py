"""Back-office blacklist pages: list (masked), add, deactivate, CSV import with per-row errors."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from backoffice.tests.conftest import login
from compliance.models import BlacklistEntry
from compliance.services import blacklist_add

pytestmark = pytest.mark.django_db

ID_NUMBER = "11010519491231002X"


def test_list_shows_masked_identifiers_without_n_plus_one(
    client: Any, risk: Any, django_assert_max_num_queries: Any
) -> None:
    for index in range(5):
        blacklist_add(actor=risk, phone=f"1370000{index:04d}", reason=f"原因{index}", source="internal")
    blacklist_add(actor=risk, id_number=ID_NUMBER, name="张黑", reason="冒名", source="court")
    login(client, risk)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("backoffice:blacklist-list"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "110105********002X" in body and ID_NUMBER not in body
    assert "137****0003" in body
    assert "冒名" in body


def test_search_by_full_identifier(client: Any, risk: Any) -> None:
    blacklist_add(actor=risk, id_number=ID_NUMBER, name="张黑", reason="冒名", source="court")
    blacklist_add(actor=risk, phone="13700001234", name="李灰", reason="x", source="internal")
    login(client, risk)
    body = client.get(reverse("backoffice:blacklist-list"), {"q": ID_NUMBER}).content.decode()
    assert "张黑" in body and "李灰" not in body


def test_add_page_with_field_errors_then_success(client: Any, manager: Any) -> None:
    login(client, manager)
    url = reverse("backoffice:blacklist-create")
    response = client.post(url, {"phone": "123", "source": "internal", "reason": "x"})
    assert response.status_code == 400
    assert "phone" in response.context["form"].errors
    assert not BlacklistEntry.objects.exists()
    response = client.post(url, {"phone": "13700005678", "source": "internal", "reason": "x"})
    assert response.status_code == 302
    assert BlacklistEntry.objects.get().added_by == manager


def test_deactivate(client: Any, risk: Any) -> None:
    entry = blacklist_add(actor=risk, phone="13700005678", reason="x", source="internal")
    login(client, risk)
    response = client.post(reverse("backoffice:blacklist-deactivate", args=[entry.pk]), {"reason": "误报"})
    assert response.status_code == 302
    entry.refresh_from_db()
    assert not entry.active and entry.deactivation_reason == "误报"


def test_import_page_reports_row_errors_and_imports_nothing(client: Any, risk: Any) -> None:
    login(client, risk)
    content = "\ufeff手机号,原因\r\n13700001111,ok\r\n12345,bad\r\n".encode()
    upload = SimpleUploadedFile("list.csv", content, content_type="text/csv")
    response = client.post(reverse("backoffice:blacklist-import"), {"file": upload, "default_source": "internal"})
    assert response.status_code == 400
    assert "第 3 行 phone" in response.content.decode()
    assert not BlacklistEntry.objects.exists()
    upload = SimpleUploadedFile("list.csv", "手机号,原因\r\n13700001111,ok\r\n".encode(), content_type="text/csv")
    response = client.post(reverse("backoffice:blacklist-import"), {"file": upload, "default_source": "internal"})
    assert response.status_code == 302
    assert BlacklistEntry.objects.count() == 1


@pytest.mark.parametrize("url_name", ["backoffice:blacklist-list", "backoffice:blacklist-create"])
def test_ops_and_service_are_refused(client: Any, ops: Any, service: Any, url_name: str) -> None:
    for user in (ops, service):
        login(client, user)
        assert client.get(reverse(url_name)).status_code == 403
