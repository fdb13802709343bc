"""Collections' phone numbers encrypted at rest, with keyed lookup hashes (as the customer's, issue 4).

A named contact's phone and the number on each contact-log line become Fernet tokens; the unique named
contact per customer and phone and the per-number daily dial count use the hash columns. Existing rows are
encrypted and hashed in place before the constraint and the index on the hashes are created.
"""

import compliance.fields
from compliance.migration_ops import decrypt_columns, encrypt_columns
from django.conf import settings
from django.db import migrations, models


def encrypt_numbers(apps, schema_editor):
    for model, column in (("NamedContact", "phone"), ("ContactAttempt", "number")):
        table = apps.get_model("collections", model)._meta.db_table
        encrypt_columns(schema_editor, table=table, columns={column: f"{column}_hash"})


def decrypt_numbers(apps, schema_editor):
    for model, column in (("NamedContact", "phone"), ("ContactAttempt", "number")):
        table = apps.get_model("collections", model)._meta.db_table
        decrypt_columns(schema_editor, table=table, columns=[column])


class Migration(migrations.Migration):

    dependencies = [
        ('applications', '0009_lean_indexes'),
        ('collections', '0004_lean_indexes'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='namedcontact',
            name='named_contact_phone_unique',
        ),
        migrations.RemoveIndex(
            model_name='contactattempt',
            name='contact_number_day_idx',
        ),
        migrations.AddField(
            model_name='contactattempt',
            name='number_hash',
            field=compliance.fields.PiiHashField(source='number'),
        ),
        migrations.AddField(
            model_name='namedcontact',
            name='phone_hash',
            field=compliance.fields.PiiHashField(source='phone'),
        ),
        migrations.AlterField(
            model_name='contactattempt',
            name='number',
            field=compliance.fields.EncryptedTextField(blank=True, default='', verbose_name='拨打/发送号码'),
        ),
        migrations.AlterField(
            model_name='namedcontact',
            name='phone',
            field=compliance.fields.EncryptedTextField(verbose_name='联系电话'),
        ),
        migrations.RunPython(encrypt_numbers, decrypt_numbers),
        migrations.AddIndex(
            model_name='contactattempt',
            index=models.Index(fields=['number_hash', 'local_date'], name='contact_number_day_idx'),
        ),
        migrations.AddConstraint(
            model_name='namedcontact',
            constraint=models.UniqueConstraint(condition=models.Q(('is_active', True)), fields=('customer', 'phone_hash'), name='named_contact_phone_unique'),
        ),
    ]
