"""What a simulator run found: a table for the terminal, JSON, JUnit XML for CI, and an HTML report.

Pass rates are given overall and per value of every matrix dimension ("persona.emotion=angry:
3/4"), so a condition that breaks the agent stands out. With ``--repeat`` every case has several
runs: a case passes only when all of them do (pass^k), and every rate has its Wilson 95 % interval
(:mod:`.stats`), so a flaky case is told from a broken one. The HTML pages are :mod:`.htmlreport`'s.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from .baseline import Comparison
from .judge import latency_summary
from .runner import CaseResult
from .stats import wilson
from .tally import by_case, by_dimension, runs_per_case, verdict


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
    lines += _hearing_and_timing(results)
    checks = sorted({entry.split()[0].rstrip(":") for r in results for entry in r.unjudged})  # "tool (turn 1): why"
    if checks:
        lines.append(f"not judged over this transport: {', '.join(checks)} (see the JSON report)")
    skipped = sorted({s for r in results for s in r.skipped})
    if skipped:
        lines.append(f"left out in {results[0].mode} mode: {len(skipped)} kinds of step (see the JSON report)")
    if comparison is not None:
        lines.append(comparison.render())
    return "\n".join(lines)


def _hearing_and_timing(results: Sequence[CaseResult]) -> list[str]:
    """The voice modes' measures over the whole run: how well the agent heard, how long callers
    waited, and how it took turns (interruptions, backchannels, stray yields, cut-offs, dead air)."""
    heard = [h for r in results for h in getattr(r, "heard", [])]
    if not heard:
        return []
    wers = [h.wer for h in heard if h.wer is not None]
    waits = latency_summary([h.latency_ms for h in heard if h.latency_ms is not None])
    lines = []
    if wers:
        lines.append(f"heard: mean WER {100 * sum(wers) / len(wers):.1f} % over {len(wers)} spoken turns")
    if waits["p50"] is not None:
        lines.append("voice-to-voice latency as heard: " + ", ".join(f"{k} {v:,.0f} ms" for k, v in waits.items() if v is not None))
    over = [i for r in results for i in getattr(r, "interruptions", [])]
    murmurs = [b for r in results for b in getattr(r, "backchannels", [])]
    if over:
        yields = latency_summary([i["yield_ms"] for i in over if i["yield_ms"] is not None])
        lines.append(f"interruptions yielded to: {sum(i['yielded'] for i in over)}/{len(over)}"
                     + (f" (p50 {yields['p50']:,.0f} ms from the caller's onset)" if yields["p50"] is not None else ""))
    if murmurs:
        lines.append(f"backchannels talked through: {sum(not b['yielded'] for b in murmurs)}/{len(murmurs)}")
    counts = {name: sum(len(getattr(r, attr, [])) for r in results)
              for name, attr in (("stray yields", "stray_yields"), ("cut-offs", "cut_offs"), ("dead air over 2 s", "dead_air"))}
    lines.append(", ".join(f"{name}: {n}" for name, n in counts.items()))
    return lines


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


def _interval(passed: int, runs: int) -> str:
    if not runs:
        return "[none]"
    low, high = wilson(passed, runs)
    return f"[{low:.0%}-{high:.0%}]"


