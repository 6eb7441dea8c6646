"""Counting a simulator run: pass rates by dimension, runs grouped by case, a case's verdict over
its runs, and the names the reports give cases and values (shared by the terminal, JSON and HTML
reports)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from .runner import CaseResult
from .scenario import Case


def by_dimension(results: Sequence[CaseResult]) -> dict[str, dict[str, tuple[int, int]]]:
    """``{dimension: {value: (passed, total)}}`` over the cases that took that value."""
    counts: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for result in results:
        for name, value in result.case.dimensions.items():
            cell = counts[name][label(value)]
            cell[0] += result.passed
            cell[1] += 1
    return {name: {value: (c[0], c[1]) for value, c in values.items()} for name, values in counts.items()}


def by_case(results: Sequence[CaseResult]) -> dict[str, list[CaseResult]]:
    """Each case's runs (one, or ``--repeat`` of them), in the order the cases came."""
    runs: dict[str, list[CaseResult]] = {}
    for result in results:
        runs.setdefault(result.case.name, []).append(result)
    return runs


def runs_per_case(results: Sequence[CaseResult]) -> int:
    return max((len(runs) for runs in by_case(results).values()), default=1)


def verdict(runs: Sequence[CaseResult]) -> str:
    """``pass`` (every run passed), ``FAIL`` (none did) or ``FLAKY`` (some did)."""
    passed = sum(r.passed for r in runs)
    return "pass" if passed == len(runs) else "FAIL" if passed == 0 else "FLAKY"


def call_stem(number: int, case: Case) -> str:
    """The name a run's files share in ``calls/`` (its recording, its page): its number from 1, and its seed."""
    return f"{number:03d}-{case.seed}"


def label(value: Any) -> str:
    """A matrix value as the report names it (``none``, ``kind:babble,snr_db:5``)."""
    if isinstance(value, dict):
        return ",".join(f"{k}:{label(v)}" for k, v in value.items())
    return "none" if value is None else str(value)
