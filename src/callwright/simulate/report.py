"""What a simulator run found: a table for the terminal, JSON, and JUnit XML for CI.

Pass rates are given overall and per value of every matrix dimension ("persona.emotion=angry:
3/4"), so a condition that breaks the agent stands out.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from .runner import CaseResult


def by_dimension(results: Sequence[CaseResult]) -> dict[str, dict[str, tuple[int, int]]]:
    """``{dimension: {value: (passed, total)}}`` over the cases that took that value."""
    counts: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for result in results:
        for name, value in result.case.dimensions.items():
            cell = counts[name][_label(value)]
            cell[0] += result.passed
            cell[1] += 1
    return {name: {value: (c[0], c[1]) for value, c in values.items()} for name, values in counts.items()}


def summary(results: Sequence[CaseResult]) -> str:
    """The terminal table: each case, then the totals (safety apart) and each dimension's pass rates."""
    lines = []
    width = max((len(r.case.name) for r in results), default=10)
    for r in results:
        flag = "pass" if r.passed else "FAIL"
        safety = " (safety)" if r.case.scenario.safety else ""
        unjudged = f", {len(r.unjudged)} not judged" if r.unjudged else ""
        lines.append(f"{flag}  {r.case.name:<{width}}  seed {r.case.seed:<10} turns {r.turns}{safety}{unjudged}")
    safe = [r for r in results if r.case.scenario.safety]
    other = [r for r in results if not r.case.scenario.safety]
    lines.append(f"safety {sum(r.passed for r in safe)}/{len(safe)}, other {sum(r.passed for r in other)}/{len(other)}")
    for name, values in by_dimension(results).items():
        cells = ", ".join(f"{value} {p}/{t}" for value, (p, t) in values.items())
        lines.append(f"  {name}: {cells}")
    checks = sorted({entry.split()[0].rstrip(":") for r in results for entry in r.unjudged})  # "tool (turn 1): why"
    if checks:
        lines.append(f"not judged over this transport: {', '.join(checks)} (see the JSON report)")
    skipped = sorted({s for r in results for s in r.skipped})
    if skipped:
        lines.append(f"left out in {results[0].mode} mode: {len(skipped)} kinds of step (see the JSON report)")
    return "\n".join(lines)


def to_json(results: Sequence[CaseResult]) -> dict[str, Any]:
    safe = [r for r in results if r.case.scenario.safety]
    other = [r for r in results if not r.case.scenario.safety]
    return {
        "safety": [sum(r.passed for r in safe), len(safe)],
        "other": [sum(r.passed for r in other), len(other)],
        "by_dimension": {k: {v: list(c) for v, c in vals.items()} for k, vals in by_dimension(results).items()},
        "cases": [r.to_json() for r in results],
    }


def to_junit(results: Sequence[CaseResult], suite: str) -> str:
    """JUnit XML: one testcase per case, a failure element listing what failed."""
    root = ET.Element("testsuite", name=suite, tests=str(len(results)), failures=str(sum(not r.passed for r in results)))
    for r in results:
        case = ET.SubElement(root, "testcase", classname=suite, name=r.case.name)
        if not r.passed:
            failure = ET.SubElement(case, "failure", message=f"{len(r.transcript.failures)} checks failed")
            failure.text = r.transcript.render()
        if r.unjudged:
            ET.SubElement(case, "system-out").text = "not judged: " + "; ".join(r.unjudged)
    return ET.tostring(root, encoding="unicode")


def write(results: Sequence[CaseResult], folder: Path, suite: str) -> list[Path]:
    """``results.json`` and ``junit.xml`` in ``folder``; their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / "results.json", folder / "junit.xml"]
    written[0].write_text(json.dumps(to_json(results), indent=1))
    written[1].write_text(to_junit(results, suite))
    return written


def _label(value: Any) -> str:
    if isinstance(value, dict):
        return ",".join(f"{k}:{_label(v)}" for k, v in value.items())
    return "none" if value is None else str(value)
