"""The business date (营业日): a stored setting, not the wall clock (DESIGN.md §4)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from applications.services import FieldErrors, require_perm
from compliance.audit import audit_record
from loanops.exceptions import DomainError
from servicing.models import BusinessDate, JournalEntry

__all__ = ["business_date_get", "business_date_set"]


def business_date_get() -> date:
    """The current business date (row id=1), created as today's local date the first time it is read."""
    row = BusinessDate.objects.filter(pk=1).values_list("date", flat=True).first()
    if row is not None:
        return row
    try:
        with transaction.atomic():
            BusinessDate.objects.create(pk=1, date=timezone.localdate())
    except IntegrityError:  # created concurrently: read the winner's row
        pass
    return BusinessDate.objects.values_list("date", flat=True).get(pk=1)


@transaction.atomic
def business_date_set(*, actor: Any, new_date: date) -> BusinessDate:
    """Move the business date (perm ``servicing.change_businessdate``); audited.

    Moving it backwards is allowed (replaying a day) only while no journal entry is dated after the new
    date: the ledger's dates never run ahead of the business date.
    """
    require_perm(actor, "servicing.change_businessdate")
    errors = FieldErrors()
    if isinstance(new_date, datetime) or not isinstance(new_date, date):
        errors.add("date", "请输入有效的日期（YYYY-MM-DD）")
    errors.raise_if_any()
    business_date_get()  # make sure the row exists
    row = BusinessDate.objects.select_for_update().get(pk=1)
    previous = row.date
    if new_date < previous and JournalEntry.objects.filter(business_date__gt=new_date).exists():
        raise DomainError(
            "已有晚于该日期的账务记录，营业日不能回退到该日期之前",
            code="business_date_backwards",
            fields={"date": ["已有晚于该日期的账务记录"]},
        )
    row.date = new_date
    row.updated_by = actor
    row.save(update_fields=["date", "updated_by", "updated_at"])
    audit_record(
        actor=actor,
        action="servicing.business_date_set",
        subject=row,
        before={"date": previous},
        after={"date": new_date},
    )
    return row
