"""ledger_check / check_ledger find what is wrong; payoff quote figures; the bench command."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from applications.models import Loan
from servicing.models import Account, EntryKind, Installment, JournalEntry, JournalLine
from servicing.selectors import ledger_check, payoff_quote, trial_balance
from servicing.services import installments_fall_due, repayment_record
from servicing.services.ledger import Posting, journal_post
from servicing.tests.conftest import set_business_date

D = Decimal


@pytest.mark.django_db
def test_clean_ledger_passes(active_loan, capsys):
    assert ledger_check() == []
    out = StringIO()
    call_command("check_ledger", stdout=out)
    assert "ledger OK" in out.getvalue()
    assert sum(trial_balance().values(), D(0)) == 0


@pytest.mark.django_db
def test_schedule_tampering_is_reported_per_loan(active_loan, loan_factory, manager):
    Installment.objects.filter(loan=active_loan, period=1).update(principal_paid=D("10.00"))
    problems = ledger_check()
    assert [(p.kind, p.loan_id) for p in problems] == [
        ("principal_mismatch", active_loan.pk),
        ("principal_outstanding_stale", active_loan.pk),  # the loan's kept balance no longer matches either
    ]
    with pytest.raises(CommandError, match=str(active_loan.pk)):
        call_command("check_ledger", stdout=StringIO(), stderr=StringIO())
    Installment.objects.filter(loan=active_loan, period=1).update(principal_paid=D("0.00"))  # restore for teardown


@pytest.mark.django_db
def test_a_stale_loan_balance_is_reported(active_loan):
    """Loan.principal_outstanding is kept by the services; the ledger check proves it against the schedule."""
    kept = Loan.objects.get(pk=active_loan.pk).principal_outstanding
    assert kept == active_loan.principal  # disbursed, nothing repaid
    Loan.objects.filter(pk=active_loan.pk).update(principal_outstanding=kept - D("0.01"))
    assert [(p.kind, p.loan_id) for p in ledger_check()] == [("principal_outstanding_stale", active_loan.pk)]
    Loan.objects.filter(pk=active_loan.pk).update(principal_outstanding=kept)  # restore for teardown


@pytest.mark.django_db
def test_unbalanced_entry_and_unbooked_interest_are_reported(active_loan):
    entry = JournalEntry.objects.get(loan=active_loan)
    line = JournalLine.objects.create(entry=entry, loan=active_loan, account=Account.CASH_CLEARING, debit=D("1.00"))
    Installment.objects.filter(loan=active_loan, period=2).update(interest_paid=D("1.00"))
    kinds = {p.kind for p in ledger_check()}
    assert {"unbalanced_entry", "trial_balance", "interest_paid_unbooked"} <= kinds
    line.delete()
    Installment.objects.filter(loan=active_loan, period=2).update(interest_paid=D("0.00"))


@pytest.mark.django_db
def test_a_line_whose_loan_is_not_its_entrys_is_reported(active_loan):
    """JournalLine.loan has no database FK (the entry's FK proves the loan): the check is ledger_check's."""
    entry = JournalEntry.objects.filter(loan=active_loan).order_by("pk").first()
    assert entry is not None
    line = entry.lines.order_by("pk").first()
    assert line is not None
    missing_loan = active_loan.pk + 10_000_000
    JournalLine.objects.filter(pk=line.pk).update(loan_id=missing_loan)  # accepted: no constraint on the copy
    problems = [(p.kind, p.loan_id, p.entry_id) for p in ledger_check() if p.kind == "line_loan_mismatch"]
    assert problems == [("line_loan_mismatch", missing_loan, entry.pk)]
    JournalLine.objects.filter(pk=line.pk).update(loan_id=active_loan.pk)
    assert ledger_check() == []


@pytest.mark.django_db
def test_journal_post_refuses_unbalanced_entries(active_loan):
    with pytest.raises(ValueError, match="unbalanced"):
        journal_post(
            loan=active_loan,
            kind=EntryKind.FEE,
            business_date=date(2025, 1, 15),
            postings=[Posting(Account.FEE_RECEIVABLE, debit=D("1.00")), Posting(Account.FEE_INCOME, credit=D("0.99"))],
        )
    with pytest.raises(ValueError):
        journal_post(
            loan=active_loan,
            kind=EntryKind.FEE,
            business_date=date(2025, 1, 15),
            postings=[
                Posting(Account.FEE_RECEIVABLE, debit=D("0.001")),
                Posting(Account.FEE_INCOME, credit=D("0.001")),
            ],
        )


@pytest.mark.django_db
def test_payoff_quote_figures(active_loan, ops):
    on_due_day = payoff_quote(loan=active_loan, on=date(2025, 2, 15))
    assert on_due_day["items"]["interest_due"] == D("120.00")
    assert on_due_day["items"]["interest_accrued"] == D("0.00")
    assert on_due_day["total"] == D("12120.00")

    later = payoff_quote(loan=active_loan, on=date(2025, 3, 1))
    # 11 053.81 not yet due × 12 % × 14 days / 360 = 51.58
    assert later["items"]["interest_accrued"] == D("51.58")
    assert later["total"] == D("12000.00") + D("120.00") + D("51.58")

    set_business_date(date(2025, 2, 20))
    installments_fall_due(business_date=date(2025, 2, 20))
    repayment_record(actor=ops, loan_id=active_loan.pk, amount="1066.19", paid_on=date(2025, 2, 20), channel="alipay")
    after_paying = payoff_quote(loan=active_loan, on=date(2025, 3, 1))
    assert after_paying["items"]["principal"] == D("11053.81")
    assert after_paying["items"]["interest_due"] == D("0.00")
    assert after_paying["total"] == D("11053.81") + D("51.58")


def test_bench_command_prints_the_figure():
    out = StringIO()
    call_command("bench", "schedule", "--seconds", "0.05", stdout=out)
    last = out.getvalue().strip().splitlines()[-1]
    assert last.startswith("bench schedule schedules_per_s=")
    assert int(last.split("=")[1]) > 0
