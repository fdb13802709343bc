"""Customer ID number and phone encrypted at rest, with keyed lookup hashes (issue 4).

The hash columns are added without uniqueness, the existing rows are encrypted and hashed in place, and
only then is `phone_hash` made unique. Portal logins whose username was the plaintext phone number get a
random username (customers still log in with their phone: applications.auth.PhoneBackend).
"""

import secrets

from django.db import migrations

import compliance.fields
from compliance.migration_ops import decrypt_columns, encrypt_columns


def encrypt_customers(apps, schema_editor):
    customer = apps.get_model("applications", "Customer")
    user_model = apps.get_model("auth", "User")
    table = customer._meta.db_table
    quote = schema_editor.quote_name
    # Usernames equal to the customer's phone (read before the phone column is encrypted).
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            f"SELECT u.id FROM {quote(user_model._meta.db_table)} u JOIN {quote(table)} c "  # noqa: S608
            f"ON c.user_id = u.id WHERE u.username = c.phone"
        )
        user_ids = [row[0] for row in cursor.fetchall()]
    for user_id in user_ids:
        user_model.objects.filter(pk=user_id).update(username=f"c-{secrets.token_hex(10)}")
    encrypt_columns(schema_editor, table=table, columns={"id_number": "id_number_hash", "phone": "phone_hash"})


def decrypt_customers(apps, schema_editor):
    customer = apps.get_model("applications", "Customer")
    decrypt_columns(schema_editor, table=customer._meta.db_table, columns=["id_number", "phone"])


class Migration(migrations.Migration):
    dependencies = [
        ("applications", "0007_customer_registered_capital_loan_intake_flags"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.AddField(
            model_name="customer",
            name="id_number_hash",
            field=compliance.fields.PiiHashField(db_index=True, source="id_number"),
        ),
        migrations.AddField(
            model_name="customer",
            name="phone_hash",
            field=compliance.fields.PiiHashField(source="phone"),  # made unique (and indexed) below
        ),
        migrations.AlterField(
            model_name="customer",
            name="id_number",
            field=compliance.fields.EncryptedTextField(blank=True, default="", verbose_name="身份证号"),
        ),
        migrations.AlterField(
            model_name="customer",
            name="phone",
            field=compliance.fields.EncryptedTextField(verbose_name="手机号"),
        ),
        migrations.RunPython(encrypt_customers, decrypt_customers),
        migrations.AlterField(
            model_name="customer",
            name="phone_hash",
            field=compliance.fields.PiiHashField(source="phone", unique=True),
        ),
    ]
