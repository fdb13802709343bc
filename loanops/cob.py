"""The close-of-business (COB, 日终批处理) step contract shared by every stage.

The runner (loan_collections.cob) executes ``settings.LOANOPS_COB_STEPS`` in order for one business date.
Each entry is the dotted path of a module-level ``CobStep``; stages define their steps in their own
package, so the runner never imports a stage directly and the import layers hold.

A step function is called as ``func(business_date=D, id_range=(lo, hi))`` for a chunk of loan ids
``lo <= loan.id < hi`` (or ``id_range=None`` for the whole book, and always ``None`` when the step is not
``chunked``). It must be idempotent for a date — running D twice changes nothing the second time — and
set-based (a few SQL statements per chunk, never a query per loan). It returns the number of rows it
changed or inserted, which the runner records.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

IdRange = tuple[int, int] | None
StepFunc = Callable[..., int]


@dataclass(frozen=True)
class CobStep:
    name: str  # stable machine name, recorded per date: "due", "penalty", "bucket", ...
    label: str  # shown on the COB run page, e.g. "到期与逾期"
    func: StepFunc  # func(*, business_date: date, id_range: IdRange) -> rows touched
    chunked: bool = True  # False: runs once per date over the whole book (e.g. industry early warning)

    def run(self, *, business_date: date, id_range: IdRange = None) -> int:
        return int(self.func(business_date=business_date, id_range=id_range if self.chunked else None))
