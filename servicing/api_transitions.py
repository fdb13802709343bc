"""Transition endpoints whose services live in servicing: disburse (checker), settle, archive.

They are here, not in applications/api.py, because servicing sits above applications in the import
layers; the shared `LoanTransitionApi` pattern comes from applications.api.
"""

from __future__ import annotations

from applications.api import LoanTransitionApi
from servicing.services import loan_archive, loan_disburse, loan_settle


class LoanDisburseApi(LoanTransitionApi):
    """放款复核（复核人不能是经办人）"""

    transition = "disburse"
    service = staticmethod(loan_disburse)


class LoanSettleApi(LoanTransitionApi):
    """结清（无未还金额时）"""

    transition = "settle"
    service = staticmethod(loan_settle)


class LoanArchiveApi(LoanTransitionApi):
    """归档已结清的贷款"""

    transition = "archive"
    service = staticmethod(loan_archive)
