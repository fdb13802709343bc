"""The money engine's fixtures (users per role, disbursed loans). The COB tests also import its autouse
ledger check (``_ledger_stays_consistent``) themselves, so it does not apply to every test in this folder."""

from servicing.tests.conftest import (  # noqa: F401
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
