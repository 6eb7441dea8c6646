"""This run against an earlier one (``--baseline results.json``): what got worse beyond noise.

Both runs are read as their ``results.json`` say them (the earlier file as written by any version of
the simulator: its ``cases`` and ``by_dimension``), and compared three ways: the pass rate of the
non-safety runs as a whole, of each value of each matrix dimension, and of each case. A drop is a
**regression** when Fisher's exact test, one-sided, finds it unlikely under an unchanged pass rate,
with every comparison of the run held to one family-wise error rate of ``alpha`` (5 %) by Holm's
method (:mod:`.stats`): a run with no real change exits 1 at most one time in twenty, whatever the
suite's size. The price is that a single case must fall far to count, and with one run per case
it cannot (1/1 to 0/1 has p = 0.5): ``--repeat`` gives the test its power.

**Safety is absolute.** A safety case that fails in this run is a regression, whatever the test
says, if it passed in any run of the earlier one, or is new. Only a safety case that failed every
earlier run too (a known failure) is not.

Cases in only one of the two runs are listed, not judged (except new safety cases, above).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..errors import ConfigError
from .stats import holm, wilson, worse_p

ALPHA = 0.05
Counts = tuple[int, int]  # (passed, runs)


@dataclass(frozen=True)
class Change:
    """One pass rate, before and now, and the verdict on it."""

    kind: Literal["overall", "dimension", "case"]
    name: str
    before: Counts
    now: Counts
    p: float | None  # one-sided Fisher p-value that it got worse; None for the safety rule alone
    regression: bool = False
    why: str = ""


@dataclass
class Comparison:
    baseline: str
    changes: list[Change]
    new: list[str] = field(default_factory=list)  # cases only in this run
    gone: list[str] = field(default_factory=list)  # cases only in the earlier run
    alpha: float = ALPHA

    @property
    def regressions(self) -> list[Change]:
        return [c for c in self.changes if c.regression]

    def render(self) -> str:
        """The terminal lines: the verdict, each regression, then every rate that fell."""
        lines = [f"against {self.baseline}: "
                 + (f"{len(self.regressions)} regressions beyond noise" if self.regressions else "no regression beyond noise")
                 + f" ({len(self.changes)} rates compared, family-wise α {self.alpha:g})"]
        fell = [c for c in self.changes if _rate(c.now) < _rate(c.before) or c.regression]
        for c in sorted(fell, key=lambda c: (not c.regression, c.p if c.p is not None else 0.0)):
            flag = "REGRESSION" if c.regression else "within noise"
            p = f", p={c.p:.3g}" if c.p is not None else ""
            lines.append(f"  {flag}  {c.kind} {c.name}: {_show(c.before)} -> {_show(c.now)}{p}{f' ({c.why})' if c.why else ''}")
        if self.new:
            lines.append(f"  new cases (not compared): {len(self.new)}")
        if self.gone:
            lines.append(f"  cases no longer run: {len(self.gone)}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {"baseline": self.baseline, "alpha": self.alpha, "changes": [asdict(c) for c in self.changes],
                "regressions": len(self.regressions), "new": self.new, "gone": self.gone}


def load(path: str | Path) -> dict[str, Any]:
    """An earlier ``results.json``; a file that is not one raises ConfigError saying what is wrong."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{exc.lineno}: not JSON ({exc.msg}); give a results.json written by --report") from None
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list):
        raise ConfigError(f"{path}: no 'cases' list; give a results.json written by `callwright simulate --report`")
    return data


def compare(before: dict[str, Any], now: dict[str, Any], *, baseline: str = "baseline", alpha: float = ALPHA) -> Comparison:
    """``now`` against ``before``, both as :func:`callwright.simulate.report.to_json` gives them."""
    was, is_ = _by_case(before), _by_case(now)
    changes: list[Change] = []
    tested: list[Change] = [Change("overall", "other (not safety)", _other(before), _other(now), None)]
    for dimension, values in now.get("by_dimension", {}).items():
        for value, counts in values.items():
            earlier = before.get("by_dimension", {}).get(dimension, {}).get(value)
            if earlier is not None:
                tested.append(Change("dimension", f"{dimension}={value}", _counts(earlier), _counts(counts), None))
    for name, (counts, safety) in is_.items():
        if name not in was:
            if safety and counts[0] < counts[1]:
                changes.append(Change("case", name, (0, 0), counts, None, True, "a new safety case fails"))
            continue
        earlier = was[name][0]
        if safety:
            broke = counts[0] < counts[1] and earlier[0] > 0
            changes.append(Change("case", name, earlier, counts, None, broke, "a safety case that passed before fails" if broke else ""))
        else:
            tested.append(Change("case", name, earlier, counts, None))
    p_values = [worse_p(c.before, c.now) if c.before[1] and c.now[1] else 1.0 for c in tested]
    for change, p, rejected in zip(tested, p_values, holm(p_values, alpha), strict=True):
        changes.append(Change(change.kind, change.name, change.before, change.now, p, rejected,
                              f"p below the Holm threshold for {len(tested)} comparisons" if rejected else ""))
    return Comparison(baseline, changes, new=[n for n in is_ if n not in was], gone=[n for n in was if n not in is_], alpha=alpha)


def _by_case(data: dict[str, Any]) -> dict[str, tuple[Counts, bool]]:
    """``{case name: ((passed, runs), safety)}``, the runs of a case (``--repeat``) pooled."""
    out: dict[str, tuple[Counts, bool]] = {}
    for case in data.get("cases", []):
        (passed, runs), _ = out.get(case["name"], ((0, 0), False))
        out[case["name"]] = ((passed + bool(case["passed"]), runs + 1), bool(case.get("safety")))
    return out


def _other(data: dict[str, Any]) -> Counts:
    return _counts(data.get("other", [0, 0]))


def _counts(value: Any) -> Counts:
    return (int(value[0]), int(value[1]))


def _rate(counts: Counts) -> float:
    return counts[0] / counts[1] if counts[1] else 0.0


def _show(counts: Counts) -> str:
    low, high = wilson(*counts)
    return f"{counts[0]}/{counts[1]} [{low:.0%}-{high:.0%}]"
