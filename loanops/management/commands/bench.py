"""``python manage.py bench <name> [--seconds N]``: run a registered micro-benchmark.

Benchmarks live in the apps; the kernel names them by dotted string and imports them on demand, so
``loanops`` never imports an app statically. Each callable takes ``seconds=`` and ``write=`` and prints
figure lines, the last one ``bench <name> <figure>=<n>``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

#: name → "module.callable"
BENCHMARKS: dict[str, str] = {
    "schedule": "servicing.benchmarks.bench_schedule",
    "intake": "underwriting.benchmarks.bench_intake",
    "cob": "loan_collections.cob.bench.bench_cob",
}


def resolve(dotted: str) -> Callable[..., Any]:
    module_name, _, attribute = dotted.rpartition(".")
    try:
        target = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise CommandError(f"cannot load benchmark {dotted}: {exc}") from exc
    if not callable(target):
        raise CommandError(f"{dotted} is not callable")
    return target  # type: ignore[no-any-return]


class Command(BaseCommand):
    help = "Run a micro-benchmark: " + ", ".join(sorted(BENCHMARKS))

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", choices=sorted(BENCHMARKS), help="which benchmark to run")
        parser.add_argument("--seconds", type=float, default=3.0, help="how long to run (default 3)")
        parser.add_argument("--loans", type=int, default=None, help="portfolio size (bench cob)")
        parser.add_argument(
            "--phase", choices=["all", "seed", "run"], default=None,
            help="bench cob: seed only, or time only on a seeded database (default: both)",
        )  # fmt: skip
        parser.add_argument(
            "--workers", type=int, default=None,
            help="bench cob: run COB on N Celery workers started on CELERY_BROKER_URL (default 0: in this process)",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        seconds = options["seconds"]
        if seconds < 0:
            raise CommandError("--seconds must not be negative")
        bench = resolve(BENCHMARKS[options["name"]])
        kwargs: dict[str, Any] = {"seconds": seconds, "write": self.stdout.write}
        if options["loans"] is not None:
            if options["loans"] < 1:
                raise CommandError("--loans must be positive")
            kwargs["loans"] = options["loans"]
        if options["phase"] is not None:
            kwargs["phase"] = options["phase"]
        if options["workers"] is not None:
            if options["workers"] < 0:
                raise CommandError("--workers must not be negative")
            kwargs["workers"] = options["workers"]
        try:
            bench(**kwargs)
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
