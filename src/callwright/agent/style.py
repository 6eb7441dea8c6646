"""How to answer a caller in the state :mod:`~callwright.agent.emotion` estimated: a style policy.

One :class:`StylePolicy` per call; it remembers the call's earlier estimates. Rules, in order:

1. **Escalate** (``escalate=True``, and it stays set for the rest of the call) on sustained anger —
   ``escalate_after_angry_turns`` angry turns among the last three (or the last N, when N > 3),
   so two in a row or two of three — and, with ``escalate_on_distress``, on any medical
   emergency cue ("bleeding", "can't breathe", "chest pain", ...).
2. ``angry`` or ``upset`` → **calm**: rate 0.92, pitch 0.97, brief, no humour.
3. ``anxious`` → **warm**: rate 0.95.
4. ``happy`` → **upbeat** (rate 1.05, pitch 1.03) only when upbeat is allowed, none of the last
   three turns was negative (angry, upset or anxious) and the words themselves are clearly
   positive (vader ≥ 0.3 with no negative cue). Otherwise neutral.
5. ``neutral`` → **neutral** (1.0, 1.0), with two guardrails that err on the side of safety:
   an agitated voice with plain words (arousal ≥ 0.6) gets calm; a neutral turn right after a
   negative one keeps the previous calm or warm style, because a mood does not reset in a sentence.
6. A style missing from ``allowed`` falls back to ``default``.

Humour is allowed only with the upbeat style (so never right after a negative turn) and never once
escalated. ``prefix`` is a short acknowledgement of the caller's state that the agent may say
first ("I'm sorry about that." when upset): none for a neutral or a happy caller (a canned "Glad to
hear it!" fits good news, not a question about bread, and the answer is reply enough); never the
same line twice within four turns, and left out after two acknowledgements in a row, so the
caller does not hear the same empathy line every turn.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, cast

from ..errors import ConfigError
from .articles import article

if TYPE_CHECKING:  # emotion re-exports this module's names, so it is not imported here at run time
    from .emotion import Estimate

StyleName = Literal["calm", "warm", "upbeat", "neutral"]
STYLES: tuple[StyleName, ...] = ("calm", "warm", "upbeat", "neutral")
_VOICE: dict[str, tuple[float, float]] = {  # style: (rate, pitch)
    "calm": (0.92, 0.97),
    "warm": (0.95, 1.0),
    "upbeat": (1.05, 1.03),
    "neutral": (1.0, 1.0),
}
_NEGATIVE = frozenset({"angry", "upset", "anxious"})
_ACKNOWLEDGEMENTS: dict[str, tuple[str, ...]] = {  # by the caller's state
    "angry": ("I understand, that's frustrating.", "I hear you.", "I'm sorry, let's get this sorted."),
    "upset": ("I'm sorry about that.", "I'm sorry to hear that.", "That's disappointing, I know."),
    "anxious": ("I understand, let's take this one step at a time.", "That sounds worrying.", "I'm here to help."),
    "emergency": ("Let's get you help right away.", "I'm getting you help now."),
}


@dataclass(frozen=True, slots=True)
class StylePolicyOptions:
    """What the policy may choose. ``escalate_after_angry_turns`` 0 never escalates on anger."""

    allowed: tuple[str, ...] = STYLES
    default: str = "neutral"
    escalate_after_angry_turns: int = 2  # angry turns among the last three (or the last N, when N > 3)
    escalate_on_distress: bool = True  # a medical emergency cue escalates at once
    allow_upbeat: bool = True


@dataclass(frozen=True, slots=True)
class StyleDecision:
    """The reply style for one turn and the voice settings that follow from it."""

    style: StyleName
    rate: float
    pitch: float
    reason: str
    humor_allowed: bool
    escalate: bool
    prefix: str  # a short acknowledgement to say before the answer, or ""


class StylePolicy:
    """Chooses a reply style per caller turn; one instance per call (it keeps the call's history)."""

    def __init__(self, options: StylePolicyOptions = StylePolicyOptions()) -> None:
        unknown = [style for style in options.allowed if style not in STYLES]
        if unknown:
            raise ConfigError(f"style policy: unknown style {unknown[0]!r} in allowed; expected some of {STYLES}")
        if options.default not in options.allowed:
            raise ConfigError(f"style policy: default style {options.default!r} is not in allowed {options.allowed}")
        if options.escalate_after_angry_turns < 0:
            raise ConfigError("style policy: escalate_after_angry_turns must be 0 (never) or more")
        self.options = options
        self._labels: deque[str] = deque(maxlen=max(3, options.escalate_after_angry_turns))
        self._prefixes: deque[str] = deque(maxlen=4)
        self._last_style: StyleName = "neutral"
        self._escalated = ""

    def choose(self, estimate: Estimate) -> StyleDecision:
        options = self.options
        previous = list(self._labels)
        self._labels.append(estimate.label)
        emergency = any(cue.startswith("emergency:") for cue in estimate.cues)

        window = max(3, options.escalate_after_angry_turns)
        angry_turns = list(self._labels)[-window:].count("angry")
        if not self._escalated:
            if options.escalate_on_distress and emergency:
                self._escalated = "emergency words"
            elif 0 < options.escalate_after_angry_turns <= angry_turns:
                self._escalated = f"{angry_turns} angry turns of the last {window}"

        style, reason = self._style(estimate, previous[-3:])
        if style not in options.allowed:
            reason += f"; {style} is not allowed, so {options.default}"
            style = cast(StyleName, options.default)  # checked in __init__
        if self._escalated:
            reason += f"; escalate ({self._escalated})"
        self._last_style = style
        rate, pitch = _VOICE[style]
        key = "emergency" if emergency else estimate.label
        prefix = self._prefix(key)  # no line for happy or neutral callers: the answer itself is the reply
        self._prefixes.append(prefix)
        return StyleDecision(
            style=style,
            rate=rate,
            pitch=pitch,
            reason=reason,
            humor_allowed=style == "upbeat" and not self._escalated,
            escalate=bool(self._escalated),
            prefix=prefix,
        )

    def _style(self, estimate: Estimate, previous: list[str]) -> tuple[StyleName, str]:
        label = estimate.label
        if label in ("angry", "upset"):
            return "calm", f"{label} caller: calm, slower, brief, no humour"
        if label == "anxious":
            return "warm", "anxious caller: warm and steady"
        recent_negative = next((p for p in reversed(previous) if p in _NEGATIVE), None)
        if label == "happy":
            if not self.options.allow_upbeat:
                return "neutral", "happy caller, upbeat not allowed"
            if recent_negative:
                return "neutral", f"happy caller, but {recent_negative} within the last 3 turns: not upbeat yet"
            negative_cue = next((c for c in estimate.cues if not c.startswith("prosody:")), None)
            if estimate.words < 0.3 or negative_cue:
                return "neutral", "mixed signals (positive score, weak or negative words): neutral to be safe"
            return "upbeat", "happy caller, no negative turn in the last 3"
        if estimate.arousal >= 0.6:
            return "calm", f"agitated voice with plain words (arousal {estimate.arousal:.2f}): calm to be safe"
        if previous and previous[-1] in _NEGATIVE and self._last_style in ("calm", "warm"):
            said = f"{article(previous[-1])} {previous[-1]}"  # "an angry turn", "an upset turn"
            return self._last_style, f"neutral words right after {said} turn: still {self._last_style}"
        return "neutral", "neutral caller"

    def _prefix(self, key: str) -> str:
        recent = list(self._prefixes)
        if len(recent) >= 2 and recent[-1] and recent[-2]:
            return ""  # two acknowledgements in a row: the third turn goes straight to the answer
        return next((line for line in _ACKNOWLEDGEMENTS.get(key, ()) if line not in recent), "")
