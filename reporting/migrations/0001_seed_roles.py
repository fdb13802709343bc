from django.db import migrations

from loanops.roles import ensure_system_user, sync_roles


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("compliance", "0001_initial"),
        ("applications", "0001_initial"),
        ("servicing", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(sync_roles, migrations.RunPython.noop),
        migrations.RunPython(ensure_system_user, migrations.RunPython.noop),
    ]
