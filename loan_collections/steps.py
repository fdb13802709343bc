"""COB step 5 of ``settings.LOANOPS_COB_STEPS``: collection cases (see ``loan_collections.batch``)."""

from __future__ import annotations

from loan_collections.batch import collections_run
from loanops.cob import CobStep

collections = CobStep(name="collections", label="催收案件（承诺评估、结案、立案、升级、分案）", func=collections_run)
