"""Read side of the blacklist: the one matching selector (intake and the risk rules use it) and the list.

`blacklist_match` looks an applicant up by the keyed hash of the ID number and phone (the columns hold only
ciphertext) and by the USCC; it returns the newest active entry that matches any of them.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from compliance.models import BlacklistEntry
from compliance.pii import normalise_identifier, pii_hash


def blacklist_match(*, id_number: str = "", uscc: str = "", phone: str = "") -> BlacklistEntry | None:
    condition = Q()
    if normalise_identifier(id_number):
        condition |= Q(id_number_hash=pii_hash(id_number))
    if normalise_identifier(uscc):
        condition |= Q(uscc=normalise_identifier(uscc))
    if normalise_identifier(phone):
        condition |= Q(phone_hash=pii_hash(phone))
    if not condition:
        return None
    return BlacklistEntry.objects.filter(condition, active=True).order_by("-id").first()


def blacklist_entries(*, query: str = "", active: bool | None = True) -> QuerySet[BlacklistEntry]:
    """Entries for the back-office list: by name (contains) or an exact ID number, USCC or phone."""
    entries = BlacklistEntry.objects.select_related("added_by", "deactivated_by").order_by("-id")
    if active is not None:
        entries = entries.filter(active=active)
    query = (query or "").strip()
    if query:
        compact = normalise_identifier(query)
        entries = entries.filter(
            Q(name__icontains=query)
            | Q(uscc=compact)
            | Q(id_number_hash=pii_hash(compact))
            | Q(phone_hash=pii_hash(compact))
        )
    return entries
