"""Disbursement bank account encrypted at rest (issue 4); existing rows encrypted in place."""

from django.db import migrations

import compliance.fields
from compliance.migration_ops import decrypt_columns, encrypt_columns


def encrypt_accounts(apps, schema_editor):
    table = apps.get_model("contracts", "Disbursement")._meta.db_table
    encrypt_columns(schema_editor, table=table, columns={"bank_account": None})


def decrypt_accounts(apps, schema_editor):
    table = apps.get_model("contracts", "Disbursement")._meta.db_table
    decrypt_columns(schema_editor, table=table, columns=["bank_account"])


class Migration(migrations.Migration):
    dependencies = [
        ("contracts", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="disbursement",
            name="bank_account",
            field=compliance.fields.EncryptedTextField(verbose_name="收款账号"),
        ),
        migrations.RunPython(encrypt_accounts, decrypt_accounts),
    ]
