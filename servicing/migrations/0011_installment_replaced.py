"""Installment status "replaced": the unpaid installments of superseded schedule versions.

The data step marks the existing ones (before the open-installment index is rebuilt without them); its
reverse gives them back the status their fields imply (they are inert either way: nothing reads a
superseded version's installments as receivable).
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("applications", "0009_lean_indexes"),
        ("servicing", "0010_journal_fewer_indexes"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="installment",
            name="installment_open_idx",
        ),
        migrations.AlterField(
            model_name="installment",
            name="status",
            field=models.CharField(
                choices=[
                    ("pending", "未到期"),
                    ("due", "已到期"),
                    ("overdue", "逾期"),
                    ("paid", "已还清"),
                    ("replaced", "已被新计划取代"),
                ],
                default="pending",
                max_length=8,
            ),
        ),
        migrations.RunSQL(
            sql=(
                "UPDATE servicing_installment SET status = 'replaced' WHERE status <> 'paid' "
                "AND schedule_id IN (SELECT id FROM servicing_scheduleversion WHERE NOT is_current)"
            ),
            reverse_sql=(
                "UPDATE servicing_installment SET status = CASE WHEN overdue_since IS NOT NULL THEN 'overdue' "
                "WHEN interest_booked THEN 'due' ELSE 'pending' END WHERE status = 'replaced'"
            ),
        ),
        migrations.AddIndex(
            model_name="installment",
            index=models.Index(
                condition=models.Q(
                    models.Q(("status", "pending"), ("interest_booked", False), _connector="OR"),
                    models.Q(("status", "replaced"), _negated=True),
                ),
                fields=["due_date", "loan"],
                name="installment_open_idx",
            ),
        ),
    ]
