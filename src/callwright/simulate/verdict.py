"""A language model's verdict on a simulated call, beside (never instead of) the rule-based one.

The rules (:mod:`.runner`) check words, tools and the backend exactly; a transcript from a
recogniser says "for" where the caller meant "four", and a goal-driven caller's calls have no
scripted expectations per turn. With ``--llm-judge`` a model reads each call's transcript with
the scenario's goal and expectations and answers ``pass``, ``fail`` or ``unsure`` with a one-line
reason, told to count words that sound alike as the same. The verdict is recorded with the case
(``CaseResult.judgement``); the run's exit status stays the rules'. Cases where the rules and the
judge disagree are listed (:func:`judge_summary`).

The answer is asked for as JSON held to :data:`VERDICT_SCHEMA` (where the server can hold it to a
schema: the verdict is then one of the three by construction) and read by
:func:`read_judgement`: a JSON object with a known ``verdict``, else a first line that starts with
one; anything else, or a judge that cannot be reached, is ``unsure`` with what went wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ..engines.base import Message
from ..errors import EngineError
from .chat import Chat

if TYPE_CHECKING:
    from .runner import CaseResult

Verdict = Literal["pass", "fail", "unsure"]
JUDGE_TOKENS = 100  # a verdict and one sentence, as JSON
REASON_CHARS = 200
VERDICT_SCHEMA = {
    "type": "object",
    "properties": {"verdict": {"type": "string", "enum": ["pass", "fail", "unsure"]}, "reason": {"type": "string"}},
    "required": ["verdict", "reason"],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    reason: str

    def agrees(self, passed: bool) -> bool | None:
        """Whether the judge says what the rules said (None: the judge is unsure)."""
        return None if self.verdict == "unsure" else (self.verdict == "pass") == passed


JUDGE_PROMPT = """You judge a phone call between a caller and a business's voice agent.
Decide whether the call went as the test expects: the caller's goal was met, and every expectation holds.
The transcript may come from speech recognition: count words that sound alike as the same ("for" and "four", "to" and "two", "won" and "one", "oh" and "zero"), and numbers written as words or digits as the same. Judge what was meant.
Expectations about tools, messages sent or the backend cannot be seen in words: judge them by what the agent says it did.
Answer with JSON only: {"verdict": "pass" or "fail" or "unsure", "reason": "one short sentence"}."""


@dataclass
class LlmJudge:
    """Asks ``chat`` for a verdict on each call (see the module docstring)."""

    chat: Chat

    async def judge(self, result: CaseResult) -> Judgement:
        try:
            answer = await self.chat.answer(judge_messages(result), seed=result.case.seed, max_tokens=JUDGE_TOKENS, schema=VERDICT_SCHEMA)
        except EngineError as exc:
            return Judgement("unsure", f"the judge could not answer: {exc}")
        return read_judgement(answer)


def judge_messages(result: CaseResult) -> list[Message]:
    """The judge's prompt for one call: the goal, the expectations, the transcript."""
    scenario = result.case.scenario
    parts = []
    if scenario.goal:
        parts.append(f"The caller's goal: {scenario.goal}")
    expected = scenario.expect.model_dump(mode="json", exclude_defaults=True)
    if expected:
        parts.append(f"Expected of the whole call: {json.dumps(expected)}")
    if result.caller == "scripted":
        for step in scenario.turns:
            turn = step.expect.model_dump(mode="json", exclude_defaults=True)
            if turn and step.say is not None:
                parts.append(f"Expected of the reply to {step.say!r}: {json.dumps(turn)}")
    if not parts:
        parts.append("Nothing is expected beyond a sensible, polite call that answers the caller.")
    lines = []
    for said, reply in result.transcript.exchanges:
        if said:
            lines.append(f"Caller: {said}")
        lines.append(f"Agent: {reply or '(says nothing)'}")
    parts.append("Transcript:\n" + "\n".join(lines or ["(no words were exchanged)"]))
    return [Message(role="system", content=JUDGE_PROMPT), Message(role="user", content="\n\n".join(parts))]


def read_judgement(answer: str) -> Judgement:
    """A judge's answer read strictly: JSON with a known verdict, or a first line that starts with
    one ("PASS: the order was placed"); anything else is ``unsure``."""
    found = _json_object(answer)
    if found is not None:
        verdict = _VERDICTS.get(str(found.get("verdict", "")).strip().lower())
        if verdict is not None:
            return Judgement(verdict, _reason(str(found.get("reason", ""))))
    first = next((line for line in answer.splitlines() if line.strip()), "")
    match = _BARE.match(first)
    if match is not None:
        return Judgement(_VERDICTS[match.group(1).lower()], _reason(match.group(2)))
    quoted = " ".join(answer.split())[:80]
    return Judgement("unsure", f"the judge's answer could not be read: {quoted!r}")


def judge_summary(results: Sequence[CaseResult]) -> str:
    """The judge's lines for the terminal: its counts, then each case where it and the rules differ
    or it is unsure, with its reason. Empty when no case was judged."""
    judged = [(r, r.judgement) for r in results if r.judgement is not None]
    if not judged:
        return ""
    counts = {v: sum(j.verdict == v for _, j in judged) for v in ("pass", "fail", "unsure")}
    differ = [(r, j) for r, j in judged if j.agrees(r.passed) is False]
    lines = [f"LLM judge: pass {counts['pass']}, fail {counts['fail']}, unsure {counts['unsure']}; "
             f"it disagrees with the rules on {len(differ)} of {len(judged)}"]
    for r, j in differ:
        lines.append(f"  rules {'pass' if r.passed else 'FAIL'}, judge {j.verdict}  {r.case.name}: {j.reason}")
    for r, j in judged:
        if j.verdict == "unsure":
            lines.append(f"  rules {'pass' if r.passed else 'FAIL'}, judge unsure  {r.case.name}: {j.reason}")
    return "\n".join(lines)


_VERDICTS: dict[str, Verdict] = {"pass": "pass", "passed": "pass", "fail": "fail", "failed": "fail", "unsure": "unsure"}
_BARE = re.compile(r"^\W*(?:verdict\W*)?(pass|passed|fail|failed|unsure)\b\W*(.*)$", re.IGNORECASE)


def _json_object(answer: str) -> dict[str, object] | None:
    start, end = answer.find("{"), answer.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        found = json.loads(answer[start:end + 1])
    except json.JSONDecodeError:
        return None
    return found if isinstance(found, dict) else None


def _reason(text: str) -> str:
    text = " ".join(text.split()).strip(" \"'")
    return text[:REASON_CHARS] if text else "(no reason given)"
