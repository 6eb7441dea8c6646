"""What a simulator run found: a table for the terminal, JSON, JUnit XML for CI, and an HTML report.

Pass rates are given overall and per value of every matrix dimension ("persona.emotion=angry:
3/4"), so a condition that breaks the agent stands out. With ``--repeat`` every case has several
runs: a case passes only when all of them do (pass^k), and every rate has its Wilson 95 % interval
(:mod:`.stats`), so a flaky case is told from a broken one. The HTML pages are :mod:`.htmlreport`'s.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from .baseline import Comparison
from .runner import CaseResult
from .scenario import Case
from .stats import wilson


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


def summary(results: Sequence[CaseResult], comparison: Comparison | None = None) -> str:
    """The terminal table: each case, then the totals (safety apart) and each dimension's pass rates;
    with several runs per case, their counts and 95 % intervals; with a baseline, the comparison."""
    lines = []
    width = max((len(r.case.name) for r in results), default=10)
    repeats = runs_per_case(results)
    for name, runs in by_case(results).items():
        r = runs[0]
        safety = " (safety)" if r.case.scenario.safety else ""
        unjudged = f", {len(r.unjudged)} not judged" if any(x.unjudged for x in runs) else ""
        if repeats == 1:
            lines.append(f"{verdict(runs)}  {name:<{width}}  seed {r.case.seed:<10} turns {r.turns}{safety}{unjudged}")
        else:
            lines.append(f"{verdict(runs):<5}  {name:<{width}}  {sum(x.passed for x in runs)}/{len(runs)} runs, "
                         f"first seed {r.case.seed}{safety}{unjudged}")
    safe = [r for r in results if r.case.scenario.safety]
    other = [r for r in results if not r.case.scenario.safety]
    counts = [(sum(r.passed for r in group), len(group)) for group in (safe, other)]
    lines.append(f"safety {counts[0][0]}/{counts[0][1]}, other {counts[1][0]}/{counts[1][1]}"
                 + (f" runs (95 % intervals: safety {_interval(*counts[0])}, other {_interval(*counts[1])}); "
                    f"pass^{repeats}: {sum(verdict(runs) == 'pass' for runs in by_case(results).values())}/{len(by_case(results))} cases"
                    if repeats > 1 else ""))
    for name, values in by_dimension(results).items():
        cells = ", ".join(f"{value} {p}/{t}" + (f" {_interval(p, t)}" if repeats > 1 else "") for value, (p, t) in values.items())
        lines.append(f"  {name}: {cells}")
    checks = sorted({entry.split()[0].rstrip(":") for r in results for entry in r.unjudged})  # "tool (turn 1): why"
    if checks:
        lines.append(f"not judged over this transport: {', '.join(checks)} (see the JSON report)")
    skipped = sorted({s for r in results for s in r.skipped})
    if skipped:
        lines.append(f"left out in {results[0].mode} mode: {len(skipped)} kinds of step (see the JSON report)")
    if comparison is not None:
        lines.append(comparison.render())
    return "\n".join(lines)


def to_json(results: Sequence[CaseResult], comparison: Comparison | None = None) -> dict[str, Any]:
    """Counts are of runs; ``by_case`` pools each case's runs; ``intervals`` are Wilson 95 % ones."""
    safe = [r for r in results if r.case.scenario.safety]
    other = [r for r in results if not r.case.scenario.safety]
    safety_counts = (sum(r.passed for r in safe), len(safe))
    other_counts = (sum(r.passed for r in other), len(other))
    dimensions = by_dimension(results)
    cases = by_case(results)
    out = {
        "safety": list(safety_counts),
        "other": list(other_counts),
        "by_dimension": {k: {v: list(c) for v, c in vals.items()} for k, vals in dimensions.items()},
        "runs_per_case": runs_per_case(results),
        "pass_k": [sum(verdict(runs) == "pass" for runs in cases.values()), len(cases)],
        "intervals": {
            "safety": list(wilson(*safety_counts)), "other": list(wilson(*other_counts)),
            "by_dimension": {k: {v: list(wilson(*c)) for v, c in vals.items()} for k, vals in dimensions.items()},
        },
        "by_case": {name: {"passed": sum(r.passed for r in runs), "runs": len(runs), "verdict": verdict(runs),
                           "seeds": [r.case.seed for r in runs]} for name, runs in cases.items()},
        "cases": [r.to_json() for r in results],
    }
    if comparison is not None:
        out["baseline"] = comparison.to_json()
    return out


def to_junit(results: Sequence[CaseResult], suite: str) -> str:
    """JUnit XML: one testcase per case, a failure element listing what failed."""
    root = ET.Element("testsuite", name=suite, tests=str(len(results)), failures=str(sum(not r.passed for r in results)))
    for r in results:
        name = r.case.name if r.case.repeat == 0 else f"{r.case.name} (run {r.case.repeat + 1})"
        case = ET.SubElement(root, "testcase", classname=suite, name=name)
        if not r.passed:
            failure = ET.SubElement(case, "failure", message=f"{len(r.transcript.failures)} checks failed")
            failure.text = r.transcript.render()
        if r.unjudged:
            ET.SubElement(case, "system-out").text = "not judged: " + "; ".join(r.unjudged)
    return ET.tostring(root, encoding="unicode")


def write(results: Sequence[CaseResult], folder: Path, suite: str, comparison: Comparison | None = None) -> list[Path]:
    """``results.json``, ``junit.xml`` and ``index.html`` (with a page per run in ``calls/``) in
    ``folder``; the paths of the first three."""
    from .htmlreport import write_html

    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / "results.json", folder / "junit.xml"]
    written[0].write_text(json.dumps(to_json(results, comparison), indent=1))
    written[1].write_text(to_junit(results, suite))
    written.append(write_html(results, folder, suite, comparison))
    return written


def call_stem(number: int, case: Case) -> str:
    """The name a run's files share in ``calls/`` (its recording, its page): its number from 1, and its seed."""
    return f"{number:03d}-{case.seed}"


def _interval(passed: int, runs: int) -> str:
    if not runs:
        return "[none]"
    low, high = wilson(passed, runs)
    return f"[{low:.0%}-{high:.0%}]"


def label(value: Any) -> str:
    """A matrix value as the report names it (``none``, ``kind:babble,snr_db:5``)."""
    if isinstance(value, dict):
        return ",".join(f"{k}:{label(v)}" for k, v in value.items())
    return "none" if value is None else str(value)
