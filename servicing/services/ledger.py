"""Posting to the double-entry journal — the only code that creates JournalEntry / JournalLine rows.

`journal_post` refuses an entry that does not balance, has a zero or negative line, or an amount with
more than two decimals, so an unbalanced entry can never reach the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from applications.models import Loan
from loanops.money import ZERO, to_money
from servicing.models import Account, EntryKind, Installment, JournalEntry, JournalLine

__all__ = ["Posting", "interest_book", "journal_post", "journal_post_many", "mirror"]


@dataclass(frozen=True, slots=True)
class Posting:
    """One side of one account in an entry: exactly one of ``debit`` / ``credit`` is positive."""

    account: str
    debit: Decimal = ZERO
    credit: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class EntrySpec:
    """An entry to post with `journal_post_many`."""

    loan_id: int | None
    kind: str
    business_date: date
    postings: Sequence[Posting]
    memo: str = ""
    source_key: str | None = None


def _net(postings: Iterable[Posting]) -> list[Posting]:
    """Merge postings per account and side, drop zeros, check amounts and balance."""
    debits: dict[str, Decimal] = {}
    credits: dict[str, Decimal] = {}
    for posting in postings:
        if posting.account not in Account.values:
            raise ValueError(f"unknown account {posting.account!r}")
        for side, amount in ((debits, posting.debit), (credits, posting.credit)):
            if amount < 0 or to_money(amount) != amount:
                raise ValueError(f"journal amounts must be non-negative cents, got {amount!r}")
            if amount:
                side[posting.account] = side.get(posting.account, ZERO) + amount
    total_debit = sum(debits.values(), ZERO)
    total_credit = sum(credits.values(), ZERO)
    if total_debit != total_credit:
        raise ValueError(f"unbalanced journal entry: debit {total_debit} != credit {total_credit}")
    if not total_debit:
        raise ValueError("empty journal entry")
    return [Posting(account, debit=amount) for account, amount in debits.items()] + [
        Posting(account, credit=amount) for account, amount in credits.items()
    ]


def journal_post_many(
    specs: Sequence[EntrySpec], *, actor: Any = None, reverses: Sequence[Any] = ()
) -> list[JournalEntry]:
    """Post several balanced entries with two INSERTs (entries, then lines). Caller owns the transaction."""
    netted = [_net(spec.postings) for spec in specs]
    entries = [
        JournalEntry(
            loan_id=spec.loan_id,
            kind=spec.kind,
            business_date=spec.business_date,
            memo=spec.memo[:200],
            source_key=spec.source_key,
            reverses=reverses[index] if reverses else None,
            created_by=actor,
        )
        for index, spec in enumerate(specs)
    ]
    JournalEntry.objects.bulk_create(entries)
    lines = [
        JournalLine(entry=entry, loan_id=spec.loan_id, account=p.account, debit=p.debit, credit=p.credit)
        for entry, spec, postings in zip(entries, specs, netted, strict=True)
        for p in postings
    ]
    JournalLine.objects.bulk_create(lines)
    return entries


def journal_post(
    *,
    loan: Loan | None,
    kind: str,
    business_date: date,
    postings: Sequence[Posting],
    actor: Any = None,
    memo: str = "",
    source_key: str | None = None,
    reverses: JournalEntry | None = None,
) -> JournalEntry:
    """Post one balanced entry (merged per account and side)."""
    spec = EntrySpec(loan.pk if loan is not None else None, kind, business_date, postings, memo, source_key)
    return journal_post_many([spec], actor=actor, reverses=[reverses] if reverses else ())[0]


def mirror(entry: JournalEntry) -> list[Posting]:
    """The postings that undo ``entry`` (debits become credits and vice versa)."""
    return [Posting(line.account, debit=line.credit, credit=line.debit) for line in entry.lines.all()]


def interest_book(installments: Sequence[Installment], *, business_date: date, actor: Any = None) -> list[int]:
    """Book the whole scheduled interest of each installment (Dr interest_receivable / Cr interest_income).

    The caller has locked the installments and filtered them to ``interest_booked=False``. One entry per
    installment, ``source_key="interest:<installment id>"`` (unique), so an installment's interest can
    never be booked twice even if two writers race. Sets ``interest_booked`` and returns the ids.
    """
    if not installments:
        return []
    specs = [
        EntrySpec(
            loan_id=item.loan_id,
            kind=EntryKind.ACCRUAL,
            business_date=business_date,
            postings=[
                Posting(Account.INTEREST_RECEIVABLE, debit=item.interest_due),
                Posting(Account.INTEREST_INCOME, credit=item.interest_due),
            ],
            memo=f"第{item.period}期利息到期入账",
            source_key=f"interest:{item.pk}",
        )
        for item in installments
        if item.interest_due > 0
    ]
    if specs:
        journal_post_many(specs, actor=actor)
    ids = [item.pk for item in installments]
    Installment.objects.filter(pk__in=ids).update(interest_booked=True)
    for item in installments:
        item.interest_booked = True
    return ids
