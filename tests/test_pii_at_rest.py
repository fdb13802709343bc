"""Personal data at rest: ciphertext in the columns, keyed-hash lookups, login by phone, key rotation,
the data migration helper, audited unmasking and the production key check."""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth import authenticate
from django.core.exceptions import FieldError, PermissionDenied
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from applications.models import Customer
from applications.services import customer_update
from compliance.migration_ops import encrypt_columns
from compliance.models import AuditEvent
from compliance.pii import FERNET_PREFIX, PiiDecryptError, pii_hash
from compliance.services import pii_reveal
from tests.conftest import PASSWORD, make_customer

pytestmark = pytest.mark.django_db


def _raw(table: str, columns: str, pk: int) -> tuple[Any, ...]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()


def test_customer_columns_hold_no_plaintext(customer: Customer) -> None:
    raw_id, raw_phone, id_hash, phone_hash = _raw(
        "applications_customer", "id_number, phone, id_number_hash, phone_hash", customer.pk
    )
    for raw, clear in ((raw_id, customer.id_number), (raw_phone, customer.phone)):
        assert raw.startswith(FERNET_PREFIX)
        assert clear not in raw and clear[-4:] not in raw and clear[:6] not in raw
    assert (id_hash, phone_hash) == (pii_hash(customer.id_number), pii_hash(customer.phone))
    assert len(phone_hash) == 64 and customer.phone not in phone_hash
    # the model gives the clear value back
    assert Customer.objects.get(pk=customer.pk).phone == customer.phone


def test_disbursement_account_holds_no_plaintext(loan: Any, advance_loan: Any) -> None:
    from contracts.models import Disbursement

    advance_loan(loan, "disbursement_pending")
    disbursement = Disbursement.objects.get(loan=loan)
    (raw,) = _raw("contracts_disbursement", "bank_account", disbursement.pk)
    assert raw.startswith(FERNET_PREFIX) and "6222021234567890123" not in raw
    assert disbursement.bank_account == "6222021234567890123"
    assert disbursement.masked_account == "6222***********0123"


def test_encrypted_fields_refuse_lookups_use_the_hash(customer: Customer) -> None:
    with pytest.raises(FieldError):
        list(Customer.objects.filter(phone=customer.phone))
    assert Customer.objects.get(phone_hash=pii_hash(customer.phone)) == customer
    assert Customer.objects.get(id_number_hash=pii_hash(customer.id_number.lower())) == customer


def test_hash_follows_an_update(customer: Customer, ops_user: Any) -> None:
    customer_update(actor=ops_user, customer_id=customer.pk, data={"phone": "13755556666"})
    (phone_hash,) = _raw("applications_customer", "phone_hash", customer.pk)
    assert phone_hash == pii_hash("13755556666")
    assert authenticate(phone="13755556666", password=PASSWORD) == customer.user


def test_portal_login_and_token_by_phone(client: Any, customer: Customer) -> None:
    assert customer.user is not None and customer.phone not in customer.user.username
    assert authenticate(phone=customer.phone, password=PASSWORD) == customer.user
    assert authenticate(username=customer.phone, password=PASSWORD) == customer.user
    assert authenticate(phone=customer.phone, password="wrong") is None
    response = client.post(reverse("api:auth-token"), {"username": customer.phone, "password": PASSWORD})
    assert response.status_code == 200 and response.json()["token"]
    response = client.post(reverse("portal:login"), {"phone": customer.phone, "password": PASSWORD})
    assert response.status_code == 302


def test_rotate_pii_keys(settings: Any, customer: Customer) -> None:
    old_keys = list(settings.LOANOPS_PII_KEYS)
    new_key = Fernet.generate_key().decode()
    settings.LOANOPS_PII_KEYS = [new_key, *old_keys]
    out = StringIO()
    call_command("rotate_pii_keys", stdout=out)
    assert "applications_customer: " in out.getvalue() and "contracts_disbursement" in out.getvalue()
    settings.LOANOPS_PII_KEYS = [new_key]  # the old key is gone: everything still reads
    fresh = Customer.objects.get(pk=customer.pk)
    assert (fresh.phone, fresh.id_number) == (customer.phone, customer.id_number)
    settings.LOANOPS_PII_KEYS = old_keys  # and the old key alone no longer does
    with pytest.raises(PiiDecryptError):
        Customer.objects.get(pk=customer.pk)


def test_data_migration_helper_encrypts_legacy_rows(customer: Customer, ops_user: Any) -> None:
    other = make_customer()
    with connection.cursor() as cursor:  # a row as it was before encryption
        cursor.execute(
            "UPDATE applications_customer SET id_number = %s, phone = %s, id_number_hash = '', phone_hash = %s "
            "WHERE id = %s",
            ["110105199003071239", "13812340000", "legacy", other.pk],
        )

    class Editor:
        connection = connection
        quote_name = staticmethod(connection.ops.quote_name)

    changed = encrypt_columns(
        Editor(), table="applications_customer", columns={"id_number": "id_number_hash", "phone": "phone_hash"}
    )
    assert changed == 1  # the already encrypted row is left alone
    raw_id, raw_phone = _raw("applications_customer", "id_number, phone", other.pk)
    assert raw_id.startswith(FERNET_PREFIX) and raw_phone.startswith(FERNET_PREFIX)
    migrated = Customer.objects.get(phone_hash=pii_hash("13812340000"))
    assert (migrated.pk, migrated.id_number) == (other.pk, "110105199003071239")


# --- seeing it unmasked ------------------------------------------------------------------------


def test_reveal_needs_the_permission_and_is_audited(customer: Customer, ops_user: Any, risk_user: Any) -> None:
    with pytest.raises(PermissionDenied):
        pii_reveal(actor=ops_user, subject=customer, field="phone")
    assert not AuditEvent.objects.filter(action="pii.reveal").exists()
    assert pii_reveal(actor=risk_user, subject=customer, field="id_number") == customer.id_number
    event = AuditEvent.objects.get(action="pii.reveal")
    assert (event.actor, event.subject_id, event.data) == (risk_user, str(customer.pk), {"field": "id_number"})


def test_backoffice_reveal_button(client: Any, customer: Customer, ops_user: Any, manager_user: Any) -> None:
    url = reverse("backoffice:customer-reveal", args=[customer.pk, "phone"])
    client.force_login(ops_user)
    page = client.get(reverse("backoffice:customer-detail", args=[customer.pk])).content.decode()
    assert "显示完整号码" not in page and customer.phone not in page
    assert client.post(url).status_code == 403
    client.force_login(manager_user)
    page = client.get(reverse("backoffice:customer-detail", args=[customer.pk])).content.decode()
    assert "显示完整号码" in page and customer.phone not in page
    response = client.post(url, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and customer.phone in response.content.decode()
    assert AuditEvent.objects.filter(action="pii.reveal", actor=manager_user).count() == 1
    assert client.post(reverse("backoffice:customer-reveal", args=[customer.pk, "name"])).status_code == 404


def test_production_settings_refuse_to_start_without_keys() -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "loanops.settings.prod",
        "SECRET_KEY": "x" * 50,
        "DATABASE_URL": "postgres://u:p@localhost:5432/db",
        "CELERY_BROKER_URL": "redis://localhost:6379/0",
    }
    env.pop("LOANOPS_PII_KEYS", None)
    env.pop("LOANOPS_PII_HASH_KEY", None)
    code = "import django; django.setup()"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    assert result.returncode != 0 and "LOANOPS_PII_KEYS" in result.stderr
    env["LOANOPS_PII_KEYS"] = Fernet.generate_key().decode()
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    assert result.returncode != 0 and "LOANOPS_PII_HASH_KEY" in result.stderr
    env["LOANOPS_PII_HASH_KEY"] = "h" * 32
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
