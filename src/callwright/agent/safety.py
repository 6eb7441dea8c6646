"""Safety decided in code, before any brain sees the turn: red flags and requests for a person.

Every caller turn passes :meth:`SafetyGuard.screen` first, in any state of the conversation (a
question, a form, a read-back, a tool waiting), and whichever brain answers (embedded or a
language model). A :class:`Verdict` means the brain is not asked at all: the agent speaks the
advice first and then hands the call to a person (a transfer, or a booked call).

**Red flags** come from the agent's ``safety.red_flags`` (``docs/agents.md``). Each flag has a
level and patterns:

* ``emergency`` and ``urgent`` flags act at once: advice ("Please hang up and call emergency services
  on 911 now.") then escalation;
* ``watch`` flags only remember that a cue was heard; a flag with ``after: [...]`` fires only when
  one of the named flags was seen in this turn or an earlier one of the call (a heavy calf two turns
  ago, breathless now: a clot may have reached the lungs).

A pattern is groups joined by ``+``; each group is alternatives joined by ``|``: a word, a phrase,
``word*`` (any word starting with it) or ``/regex/``. Every group must match inside one clause of
the turn (clauses are cut at punctuation and "but"), and the match of the last group, the symptom
by convention, must not be negated ("no fever", "I haven't had any bleeding"). Numbers are matched
as digits: the caller's "thirty eight point five" is read as "38.5". Hypotheticals ("what if my
wound bleeds?") fire too: on a health line a false alarm costs a transfer, a miss costs much more.

**A person, please** ("get me a real person", "put me through to someone", "transfer me to the
on-call nurse", "operator") is honoured at once: no anger threshold, no confirmation. A request to
be *called back* ("can a nurse ring me tomorrow") is not an immediate transfer: the agent's intents
book it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from ..errors import ConfigError
from .text import clauses, negated, normalise, thoughts, words

_TOKEN = re.compile(r"[a-z0-9]+(?:['.][a-z0-9]+)*")
# A clause that asks about a sign, or how to avoid it, does not report having it.
ASKING_ABOUT = re.compile(
    r"\b(?:prevent|preventing|prevention|avoid|avoiding|(?:lower|reduce|reduces|lowers) the risk|risk of|signs? of|"
    r"symptoms? of|what are the|how (?:do|would|can|will) i (?:know|tell|spot|recognise|recognize)|look(?:ing)? out for|"
    r"watch(?:ing)? (?:out )?for|warning signs|injections?|tablets? for|stop (?:\w+ )?getting|keep (?:\w+ )?from getting|"
    r"how (?:do|can|should|would) i (?:stop|avoid|prevent)|what (?:can|should|do) i do (?:to|so)|"
    r"so (?:that )?i (?:don't|do not|won't|will not) (?:get|end up|have|develop)|"
    r"(?:what|which|how high|how much)\b[^.?!]*\b(?:counts?|classed|considered|classified) as|"
    # plainly hypothetical, never now: "what should I do if she ever has a reaction", "just in case"
    r"if (?:\w+ ){0,5}ever|just in case|in case (?:it|that|this|he|she|they|i|we|my \w+) (?:\w+ )?(?:ever|happens?)|"
    r"next time (?:it|that|this|he|she|they|i|we)|should (?:it|that|this) ever happen|in the future|were ever to|"
    # "just a what if: what do I do if the catheter falls out in the night?"
    r"what (?:do|should|would|shall|can) (?:i|we|he|she|you) do if|what if|what happens if|a what if)\b"
)
# History, not now: "my lad had hives off strawberries last summer, he's grand now", "my mate had a clot
# after his hip op last year". A clause told in the past, long enough ago, with nothing saying it is
# happening again, reports no sign. Recent pasts ("last night", "this morning", "yesterday") are now.
_LONG_AGO = re.compile(
    r"\b(?:last (?:year|summer|winter|spring|autumn|fall|christmas|easter|month)|(?:a|one|two|three|four|five|six|"
    r"several|a few|some|many|\d+) (?:years?|months?) ago|years ago|back in (?:19|20)\d\d|as a (?:kid|child|baby|boy|girl)|"
    r"when (?:i|he|she|we|they) (?:was|were) (?:little|young|younger|a kid|a child|a baby|small))\b"
)
_TOLD_IN_THE_PAST = re.compile(r"\b(?:had|was|were|got|went|came|did|used to)\b")
_HAPPENING_AGAIN = re.compile(
    r"\b(?:again|back|still|today|tonight|right now|at the moment|currently|this (?:morning|afternoon|evening)|and now)\b|"
    r"\bnow (?:i|he|she|it|they|my|his|her)\b(?!'?s? (?:fine|grand|ok|okay|better|alright|all right|good))"
    r"(?! (?:just |only )?(?:want|wanted|wanna|need|needed|was wondering|have a question|had a question|would like)\b)"
)
# Put right already: "it got blocked this afternoon but the district nurse changed it, it's draining lovely now"
_RESOLVED = re.compile(
    r"\b(?:nurse|doctor|gp|they|he|she|we|someone|team) (?:\w+ ){0,3}(?:changed|replaced|unblocked|flushed|sorted|fixed|"
    r"put (?:in )?a new) (?:it|that|the \w+)\b|\b(?:it's|its|it is|he's|she's|everything's|all) (?:draining|working|flowing|"
    r"fine|grand|ok|okay|better|sorted|good|alright|all right)(?: \w+)? now\b|\b(?:sorted|fixed|all fine) now\b"
)
_RECENTLY = re.compile(r"\b(?:got|was|were|had|went)\b|\b(?:earlier|this (?:morning|afternoon)|yesterday|last night)\b")


def _history(clause: str) -> bool:
    """A sign told as long past ("last summer", "years ago") and not as happening again."""
    return bool(_LONG_AGO.search(clause) and _TOLD_IN_THE_PAST.search(clause) and not _HAPPENING_AGAIN.search(clause))
# Hedges callers put inside a symptom ("I can't seem to catch my breath", "it's kind of swollen"):
# removed before the rules are matched a second time, so a rule written plainly still holds.
_HEDGES = re.compile(
    r"\b(?:seems? to|seem(?:ed|s)?|really|quite|just|even|kind of|kinda|sort of|sorta|a bit|a little|proper(?:ly)?|"
    r"actually|like|totally|fully|honestly|still|right|um+|uh+|er+m?)\s+"
)
_HARDLY = re.compile(r"\bcan (?:barely|hardly|scarcely)\b")  # "I can hardly breathe" is "I can't breathe"


def _plain(clause: str) -> str:
    return _HEDGES.sub("", _HARDLY.sub("can't", clause))

if TYPE_CHECKING:
    from .spec import SafetySpec

Level = Literal["emergency", "urgent", "watch"]
_RANK = {"watch": 0, "urgent": 1, "emergency": 2}

DEFAULT_ADVICE = {
    "emergency": "Please hang up and call emergency services on {emergency_number} now.",
    "urgent": "Please call your care team now.",
}


@dataclass(frozen=True, slots=True)
class Pattern:
    """One ``a|b + c|d`` pattern, compiled."""

    source: str
    groups: tuple[re.Pattern[str], ...]

    @classmethod
    def parse(cls, source: str) -> Pattern:
        regexes: list[str] = []

        def protect(match: re.Match[str]) -> str:  # a /regex/ may hold '|' and '+' of its own
            regexes.append(match.group(1))
            return f"\x00{len(regexes) - 1}\x00"

        protected = re.sub(r"/((?:[^/\\]|\\.)+)/", protect, source)
        groups = []
        for raw in protected.split("+"):
            alternatives = [a.strip() for a in raw.split("|") if a.strip()]
            if not alternatives:
                raise ConfigError(f"safety pattern {source!r}: an empty group (two '+' or a '|' with nothing beside it)")
            parts = []
            for alternative in alternatives:
                if held := re.fullmatch(r"\x00(\d+)\x00", alternative):
                    parts.append(f"(?:{regexes[int(held.group(1))]})")
                elif alternative.endswith("*"):
                    parts.append(re.escape(normalise(alternative[:-1], digits=False)) + r"[a-z0-9']*")
                else:
                    parts.append(re.escape(normalise(alternative)).replace(r"\ ", r"\s+"))
            try:
                # "temperature's", "catheter's": a word with 's (is, has) is still the word
                groups.append(re.compile(r"(?<![a-z0-9'])(?:" + "|".join(parts) + r")(?:'s)?(?![a-z0-9'])"))
            except re.error as exc:
                raise ConfigError(f"safety pattern {source!r}: bad regular expression ({exc})") from None
        return cls(source, tuple(groups))

    def find(self, clause: str) -> list[str] | None:
        """The words each group matched in ``clause`` (normalised), or None."""
        found: list[re.Match[str]] = []
        for group in self.groups[:-1]:
            match = group.search(clause)
            if match is None:
                return None
            found.append(match)
        # the symptom (last group) must not be negated; a negator inside another group's words
        # ("not able to" + "pee") belongs to that group, not to the symptom
        taken = [m.span() for m in found]
        for match in self.groups[-1].finditer(clause):
            before = [
                w.group(0) for w in _TOKEN.finditer(clause[: match.start()])
                if not any(a <= w.start() < b for a, b in taken)
            ]
            if not negated(before, len(before)):
                return [m.group(0) for m in found] + [match.group(0)]
        return None


@dataclass(frozen=True, slots=True)
class RedFlag:
    name: str
    level: Level
    patterns: tuple[Pattern, ...]
    advice: str = ""
    after: tuple[str, ...] = ()  # fires only when one of these flags was seen in the call
    then: Literal["transfer", "booking", "advice_only"] | None = None  # None: the agent's safety.then
    unless: tuple[Pattern, ...] = ()  # in the same clause, these mean something else ("since it came out")

    def find(self, text_clauses: list[str]) -> list[str] | None:
        for clause in text_clauses:
            if any(p.find(clause) is not None for p in self.unless):
                continue
            for pattern in self.patterns:
                hit = pattern.find(clause)
                if hit is not None:
                    return hit
        return None


@dataclass(frozen=True, slots=True)
class Verdict:
    """The brain is not asked: say ``advice`` first, then act (``action``)."""

    rule: str
    level: Literal["emergency", "urgent", "person"]
    cues: tuple[str, ...]
    advice: str
    action: Literal["transfer", "booking", "advice_only"]


@dataclass(frozen=True)
class SafetyRules:
    """An agent's safety rules, compiled once and shared by its calls."""

    flags: tuple[RedFlag, ...] = ()
    person_requests: bool = True
    then: Literal["transfer", "booking"] = "transfer"
    emergency_number: str = "911"

    @classmethod
    def from_spec(cls, spec: SafetySpec) -> SafetyRules:
        flags = []
        names = {f.name for f in spec.red_flags}
        for flag in spec.red_flags:
            unknown = [n for n in flag.after if n not in names]
            if unknown:
                raise ConfigError(f"safety.red_flags '{flag.name}': after names unknown flag {unknown[0]!r}")
            advice = flag.advice or DEFAULT_ADVICE.get(flag.level, "")
            flags.append(
                RedFlag(
                    flag.name, flag.level, tuple(Pattern.parse(p) for p in flag.when),
                    advice.replace("{emergency_number}", spec.emergency_number), tuple(flag.after), flag.then,
                    tuple(Pattern.parse(p) for p in flag.unless),
                )
            )
        return cls(tuple(flags), spec.person_requests, spec.then, spec.emergency_number)


# ------------------------------------------------------------------ "a person, please"
_WHO = (
    r"(?:a |an |the |some |your |my |one of your )?(?:real |actual |live |living |proper |on[- ]call |human )?"
    r"(?:person|people|human|humans|someone|somebody|anyone|anybody|agent|representative|rep|operator|manager|"
    r"supervisor|nurse|doctor|colleague|staff|member of (?:your |the )?(?:staff|team)|team member|advisor|adviser|"
    r"(?:someone|somebody|one) (?:from|of) (?:your|the) (?:team|staff|office)|"
    r"customer service|lady|gentleman|man|woman|guy|fellow|bloke|body)"
)
_PERSON = [
    re.compile(rf"\b(?:speak|talk|chat|have a word|have a chat|have a talk)(?:ing)? (?:to|with) {_WHO}\b"),
    re.compile(rf"\b(?:put|get|transfer|connect|pass|send|patch|hand)(?:ing)? me (?:on |through |over |across )?(?:to|with) {_WHO}\b"),
    re.compile(rf"\bget {_WHO}(?: real)? (?:on|to) the (?:phone|line)\b"),
    re.compile(r"\b(?:somebody|someone|anybody|anyone) real\b|\b(?:living|live) (?:person|soul|human|being)\b"),
    re.compile(r"\b(?:not|won't|don't want to|refuse to|not going to) (?:talk|speak|do this|deal) (?:to|with) (?:a |an |the |this )?"
               r"(?:machine|robot|computer|bot|recording|automated \w+)\b"),
    re.compile(r"\b(?:put|transfer|connect|patch) me (?:through|over)\b"),
    re.compile(rf"\b(?:get|give|find) me {_WHO}\b"),
    # "a real person, please", "to a real lady or gentleman"; not "the driver was a real gentleman"
    re.compile(r"(?:^|\b(?:to|with|want|need|get|have|give me|prefer|rather|like|just|is there|put me on)\b\W*)(?:a |an |some )?"
               r"(?:real|actual|live|living|proper) (?:person|human|people|lady|gentleman|man|woman)\b"),
    re.compile(r"\b(?:want|need|prefer|like) (?:a |an |to have a )?(?:person|human|operator|representative)\b"),
    re.compile(r"^(?:\W*(?:a |an |the )?(?:person|human|operator|representative|agent)\W*)(?:please|now)?\W*$"),
    re.compile(r"\b(?:operator|representative|human)(?: please| now)+\b"),
    re.compile(rf"\bis there {_WHO} (?:i can|to) (?:speak|talk)\b"),
]
_CALLBACK = re.compile(
    r"\b(?:call me back|ring me|call me|callback|call back|book|booking|schedule|appointment|tomorrow|later|"
    r"next week|text me)\b"
)
_ADVICE_QUESTION = re.compile(r"\b(?:should|do|would) i (?:speak|talk)\b|\bwhen (?:should|do) i\b")
# A callback turned down is no callback: "no forget the callback, just let me talk to a real person"
_NO_CALLBACK = re.compile(
    r"\b(?:forget|cancel|scrap|skip|drop|never ?mind|not|no|don't want|do not want|instead of|rather than|"
    r"no more|enough of)(?: about)? (?:the |a |that |this |your |any )?(?:call ?back|booking|appointment|ring ?back)s?\b"
)


def wants_person(text: str) -> list[str] | None:
    """The words of a request to talk to a person now, or None (a callback request is not one)."""
    s = normalise(text, digits=False)
    for whole in clauses(s) or [s]:
        clause = _NO_CALLBACK.sub(" ", whole)
        if _CALLBACK.search(clause) or _ADVICE_QUESTION.search(clause):
            continue
        for pattern in _PERSON:
            match = pattern.search(clause)
            if match is None:
                continue
            tokens = words(clause)
            if negated(tokens, len(words(clause[: match.start()])), window=4):
                continue
            return [match.group(0)]
    return None


# ------------------------------------------------------------------ the guard of one call
@dataclass
class SafetyGuard:
    """Screens each caller turn of one call; remembers the flags seen, for combinations."""

    rules: SafetyRules
    seen: dict[str, tuple[str, ...]] = field(default_factory=dict)  # flag name -> the cues that raised it

    def screen(self, text: str) -> Verdict | None:
        s = normalise(text)
        parts = [c for c in (thoughts(s) or [s]) if not ASKING_ABOUT.search(c) and not _history(c)]
        parts += [plain for c in parts if (plain := _plain(c)) != c]
        # a problem the turn says was put right is not one now (an emergency sign always counts)
        now = [c for c in parts if not _RECENTLY.search(c)] if _RESOLVED.search(s) else parts
        fired: list[tuple[RedFlag, list[str]]] = []
        for flag in self.rules.flags:
            hit = flag.find(parts if flag.level == "emergency" else now)
            if hit is not None:
                fired.append((flag, hit))
        for flag, hit in fired:  # this turn's cues count for combinations within the turn too
            self.seen.setdefault(flag.name, tuple(hit))
        acting = [
            (flag, hit) for flag, hit in fired
            if flag.level != "watch" and (not flag.after or any(name in self.seen for name in flag.after))
        ]
        if acting:
            flag, hit = max(acting, key=lambda pair: _RANK[pair[0].level])
            earlier = [cue for name in flag.after if name in self.seen for cue in self.seen[name]]
            cues = tuple(dict.fromkeys([*earlier, *hit]))
            level: Literal["emergency", "urgent"] = "emergency" if flag.level == "emergency" else "urgent"
            return Verdict(flag.name, level, cues, flag.advice, flag.then or self.rules.then)
        if self.rules.person_requests:
            asked = wants_person(text)
            if asked:
                return Verdict("person_request", "person", tuple(asked), "", self.rules.then)
        return None
