"""Micro-benchmarks of servicing's pure functions (``python manage.py bench schedule``).

Target: 2,000+ full 360-period schedules per second on one core.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal

from loanops.schedule import RepaymentMethod, build_schedule

__all__ = ["bench_schedule"]

_TERM = 360
_METHODS = (RepaymentMethod.EQUAL_INSTALLMENT.value, RepaymentMethod.EQUAL_PRINCIPAL.value)


def bench_schedule(*, seconds: float = 3.0, write: Callable[[str], object] = print) -> float:
    """Build 360-period equal-installment and equal-principal schedules (alternately, with a principal
    that changes every time) for about ``seconds`` seconds; return schedules built per second.

    Writes a few figure lines through ``write``; the last line is exactly
    ``bench schedule schedules_per_s=<n>`` with ``n`` an integer.
    """
    annual_rate = Decimal("0.049000")
    first_due_date = date(2025, 1, 31)
    base_principal = Decimal("1000000.00")
    step = Decimal("0.01")

    # Warm up (due-date cache, code paths) so the figure reflects steady state.
    for method in _METHODS:
        build_schedule(
            principal=base_principal,
            annual_rate=annual_rate,
            term_months=_TERM,
            method=method,
            first_due_date=first_due_date,
        )

    counts = dict.fromkeys(_METHODS, 0)
    elapsed = dict.fromkeys(_METHODS, 0.0)
    clock = time.perf_counter
    started = clock()
    deadline = started + max(seconds, 0.0)
    built = 0
    principal = base_principal
    while True:
        for method in _METHODS:
            t0 = clock()
            build_schedule(
                principal=principal,
                annual_rate=annual_rate,
                term_months=_TERM,
                method=method,
                first_due_date=first_due_date,
            )
            elapsed[method] += clock() - t0
            counts[method] += 1
        built += len(_METHODS)
        principal += step
        if clock() >= deadline:
            break
    total = clock() - started

    rate = built / total if total > 0 else 0.0
    for method in _METHODS:
        per_s = counts[method] / elapsed[method] if elapsed[method] > 0 else 0.0
        write(
            f"bench schedule method={method} term={_TERM} schedules={counts[method]} "
            f"ms_per_schedule={1000 / per_s if per_s else 0:.3f} schedules_per_s={int(per_s)}"
        )
    write(f"bench schedule rows_per_s={int(rate * _TERM)} seconds={total:.2f}")
    write(f"bench schedule schedules_per_s={int(rate)}")
    return rate
