"""The money engine's fixtures (users per role, disbursed loans, the ledger check after every test)."""

from servicing.tests.conftest import (  # noqa: F401
    _ledger_stays_consistent,
    active_loan,
    api,
    business_date,
    loan_factory,
    manager,
    manager2,
    ops,
    ops2,
    risk,
)
