"""Precision and recall of the emotion estimator and the intent matcher on a labelled set.

    PYTHONPATH=src .venv/bin/python tests/agent/labelled/evaluate.py emotion heldout
    PYTHONPATH=src .venv/bin/python tests/agent/labelled/evaluate.py intents tuning

prints the per-label table (markdown) published in docs/testing.md. The tests in
tests/agent/test_evaluation.py assert floors on the held-out figures.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parents[2] / "examples" / "agents"
NONE = "none"


@dataclass(frozen=True)
class Score:
    label: str
    support: int  # cases whose expected label this is
    predicted: int  # cases given this label
    correct: int

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.correct / self.support if self.support else 1.0


def scores(pairs: Iterable[tuple[str, str]], labels: Iterable[str]) -> dict[str, Score]:
    """Per-label precision and recall from (expected, predicted) pairs."""
    pairs = list(pairs)
    return {
        label: Score(
            label,
            sum(e == label for e, _ in pairs),
            sum(p == label for _, p in pairs),
            sum(e == p == label for e, p in pairs),
        )
        for label in labels
    }


def load(name: str) -> dict[str, object]:
    return yaml.safe_load((HERE / name).read_text(encoding="utf-8"))


# ----------------------------------------------------------------------------------------- emotion
EMOTION_LABELS = ("angry", "upset", "anxious", "happy", "neutral")


def emotion_cases(split: str) -> list[tuple[str, str, bool]]:
    """(text, label, emergency) of every agent's sentences in ``emotion_<split>.yaml``."""
    data = load(f"emotion_{split}.yaml")
    return [(c["text"], c["label"], bool(c.get("emergency", False))) for cases in data.values() for c in cases]  # type: ignore[union-attr]


def evaluate_emotion(split: str) -> tuple[dict[str, Score], Score, list[str]]:
    """Label scores, the emergency cue's score (as label "emergency"), and the misses, described."""
    from callwright.agent.emotion import EmotionTracker

    labels: list[tuple[str, str]] = []
    emergency: list[tuple[str, str]] = []
    misses: list[str] = []
    for text, label, urgent in emotion_cases(split):
        estimate = EmotionTracker().estimate(text)  # one turn, fresh call: the words alone
        fired = any(cue.startswith("emergency:") for cue in estimate.cues)
        labels.append((label, estimate.label))
        emergency.append(("emergency" if urgent else "-", "emergency" if fired else "-"))
        if estimate.label != label or fired != urgent:
            misses.append(
                f"{text!r}: expected {label}{' +emergency' if urgent else ''}, got {estimate.label} {estimate.cues}"
            )
    return scores(labels, EMOTION_LABELS), scores(emergency, ["emergency"])["emergency"], misses


# ----------------------------------------------------------------------------------------- intents
def intent_cases(split: str) -> dict[str, list[tuple[str, str]]]:
    """Per agent, (utterance, expected) from ``intents_<split>.yaml``."""
    data = load(f"intents_{split}.yaml")
    return {agent: [(u, label) for label, said in by_label.items() for u in said] for agent, by_label in data.items()}  # type: ignore[union-attr]


def intent_matcher(agent: str) -> Callable[[str], str]:
    """The agent's matcher as a call builds it: its best intent over the threshold, else "none"."""
    from callwright.agent.intents import IntentMatcher
    from callwright.agent.reading import request_part
    from callwright.agent.spec import load_definition
    from callwright.engines.embed import shared_embedder

    spec = load_definition(EXAMPLES / agent).spec
    matcher = IntentMatcher(
        spec.intents, spec.scope.out_of_scope, embedder=shared_embedder(), threshold=spec.understanding.intent_threshold
    )

    def best(text: str) -> str:
        match = matcher.best(request_part(text))
        return match.intent if match is not None else NONE

    return best


def evaluate_intents(split: str) -> dict[str, tuple[dict[str, Score], list[str]]]:
    out = {}
    for agent, cases in intent_cases(split).items():
        best = intent_matcher(agent)
        pairs, misses = [], []
        for text, label in cases:
            got = best(text)
            pairs.append((label, got))
            if got != label:
                misses.append(f"{text!r}: expected {label}, got {got}")
        out[agent] = (scores(pairs, sorted({label for _, label in cases})), misses)
    return out


# ----------------------------------------------------------------------------------------- report
def table(rows: Iterable[Score]) -> str:
    lines = ["| label | cases | precision | recall |", "| --- | --- | --- | --- |"]
    for s in rows:
        lines.append(
            f"| {s.label} | {s.support} | {s.precision:.2f} ({s.correct}/{s.predicted}) | {s.recall:.2f} ({s.correct}/{s.support}) |"
        )
    return "\n".join(lines)


def report(what: str, split: str) -> str:
    """The markdown tables and the misses of one set."""
    if what == "emotion":
        by_label, emergency, misses = evaluate_emotion(split)
        parts = [table([*by_label.values(), emergency])]
    else:
        parts, misses = [], []
        for agent, (by_label, agent_misses) in evaluate_intents(split).items():
            parts.append(f"{agent}\n\n{table(by_label.values())}")
            misses += [f"{agent}: {m}" for m in agent_misses]
    return "\n\n".join([*parts, "misses:", *misses]) + "\n"


if __name__ == "__main__":
    sys.stdout.write(report(sys.argv[1], sys.argv[2]))
