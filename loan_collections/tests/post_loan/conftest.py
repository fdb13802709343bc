"""Fixtures for the post-loan COB steps (reminders, early warning, staff tasks): the money engine's fixtures
(users per role, disbursed loans on a fixed business date) and the shared API fixtures."""

from servicing.tests.conftest import *  # noqa: F403
from servicing.tests.conftest import _ledger_stays_consistent  # noqa: F401 - autouse: the ledger must agree
