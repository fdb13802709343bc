"""Fill Loan.principal_outstanding (applications 0012) from the current schedules, in one statement."""

from django.db import migrations
from django.db.models import DecimalField, F, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce


def backfill(apps, schema_editor):  # type: ignore[no-untyped-def]
    Loan = apps.get_model("applications", "Loan")
    Installment = apps.get_model("servicing", "Installment")
    money = DecimalField(max_digits=18, decimal_places=2)
    total = (
        Installment.objects.filter(loan=OuterRef("pk"), schedule__is_current=True)
        .order_by()
        .values("loan")
        .annotate(total=Sum(F("principal_due") - F("principal_paid"), output_field=money))
        .values("total")[:1]
    )
    Loan.objects.filter(disbursed_on__isnull=False).update(
        principal_outstanding=Coalesce(Subquery(total, output_field=money), Value(0, output_field=money))
    )


class Migration(migrations.Migration):
    dependencies = [
        ("applications", "0012_loan_principal_outstanding"),
        ("servicing", "0011_installment_replaced"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
