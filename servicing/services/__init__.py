"""Write side of servicing (the money engine). Every service is one transaction and checks its own permission.

Accounting convention (kept in step with ``servicing.selectors.ledger_check``):

* **Disbursement** — Dr principal_receivable P / Cr cash_clearing P − fee / Cr fee_income fee. The
  origination fee is deducted from the cash paid out and recognised at once (see ``disbursement``).
* **Interest is booked per installment, in full, when it becomes receivable** — on its due date by the
  daily ``installments_fall_due(business_date=D)`` (Dr interest_receivable / Cr interest_income), or
  earlier when a repayment is allocated to it (a payment ahead of schedule books that installment's
  interest first). ``Installment.interest_booked`` records it; the entry's ``source_key`` is
  ``interest:<installment id>``, so it can never be booked twice. There is no daily accrual into the
  ledger: the payoff quote computes the current period's accrued interest on the fly.
* **Repayment** — Dr cash_clearing / Cr fee, penalty, interest and principal receivable as allocated
  (PRC Civil Code art. 561 order, see ``servicing.allocation``) over the due installments and the next
  one; Cr overpayment (suspense) for the rest, applied by ``overpayment_apply`` or refunded by
  ``overpayment_refund`` (Dr overpayment / Cr cash_clearing), both a manager's decision.
* **Reversal** — the mirror entry of the repayment (kind ``reversal``, ``reverses=``), never an UPDATE.
* **Penalty (罚息)** — ``penalties_accrue(business_date=D)`` accrues daily on overdue principal (and
  overdue interest when the product compounds) at contract rate × (1 + surcharge) / 360, keeps the exact
  amount on the installment and posts the rounded increase (Dr penalty_receivable / Cr penalty_income,
  ``source_key="penalty:<loan>:<D>"``). Any later fee must likewise be posted together with ``fee_due``
  on the installment, in the same transaction.

Invariants that ``ledger_check`` proves, per loan, over the current schedule version:
``principal_receivable = Σ(principal_due − principal_paid)``,
``interest_receivable = Σ(interest_due − interest_paid)`` over installments with ``interest_booked``,
``penalty_receivable = Σ(penalty_due − penalty_paid)``, ``fee_receivable = Σ(fee_due − fee_paid)``;
plus every entry balances and the trial balance is zero.
"""

from servicing.services.batch import installments_fall_due, penalties_accrue
from servicing.services.business_date import business_date_get, business_date_set
from servicing.services.closing import loan_archive, loan_settle
from servicing.services.disbursement import loan_disburse
from servicing.services.idempotency import StoredResponse, idempotent_call, request_fingerprint
from servicing.services.overpayment import overpayment_apply, overpayment_refund
from servicing.services.payoff import loan_payoff
from servicing.services.prepayments import prepayment_quote, prepayment_record
from servicing.services.repayments import repayment_record, repayment_reverse
from servicing.services.schedules import schedule_replace, schedule_tail, tail_rows

__all__ = [
    "StoredResponse",
    "business_date_get",
    "business_date_set",
    "idempotent_call",
    "installments_fall_due",
    "loan_archive",
    "loan_disburse",
    "loan_payoff",
    "loan_settle",
    "overpayment_apply",
    "overpayment_refund",
    "penalties_accrue",
    "prepayment_quote",
    "prepayment_record",
    "repayment_record",
    "repayment_reverse",
    "request_fingerprint",
    "schedule_replace",
    "schedule_tail",
    "tail_rows",
]
