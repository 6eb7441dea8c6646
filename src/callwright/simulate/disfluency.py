"""Disfluencies: the "um"s, "uh"s and restarts ("I I want") of a caller who is not reading a script.

:func:`plan` turns what the caller means to say into the phrases they actually say, each followed by
the kind of pause that comes after it. It is seeded and draws nothing else, so the same text, rates
and generator give the same plan.

**Rates** are per 100 words of the intended text, and each is met on average: over many seeds the
mean count is ``rate * words / 100`` (the test checks it). Spontaneous speech has about six
disfluencies per 100 words of all kinds (Shriberg 1994, *Preliminaries to a theory of speech
disfluencies*; Bortfeld et al. 2001, "Disfluency rates in conversation", Language and Speech 44(2),
about 6 per 100 words), of which fillers and repeats are the commonest; so ``fillers: 3, restarts: 1``
is an ordinary caller and ``fillers: 8`` a hesitant one.

**Where they go.** Fillers are three times as likely before the first word of a phrase as inside
it (fillers cluster at the start of utterances and phrases: Shriberg 1994; Clark & Fox Tree 2002);
"um" and "uh" are equally likely. A restart repeats one word and goes on, and is three times as
likely on a function word (a pronoun, article, preposition or auxiliary): Clark & Wasow (1998),
"Repeating words in spontaneous speech", found repeats far more common on such words ("I I",
"the the").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

PauseKind = Literal["none", "clause", "sentence", "um", "uh", "restart"]

FILLERS = ("um", "uh")
BIAS = 3.0  # how much likelier a filler is at a phrase start, and a restart on a function word
FUNCTION_WORDS = frozenset(
    "i i'm i'd i've i'll you we he she it they my your our his her its their the a an this that these those "
    "to of in on at for with from by about and but or so if is am are was were be been do does did have has "
    "had can could will would should may might must there what when where who how".split()
)


@dataclass(frozen=True)
class Phrase:
    """Words said in one go, then a pause of the kind ``pause``."""

    text: str
    pause: PauseKind
    filler: bool = False  # the phrase is a filler ("um")


@dataclass(frozen=True)
class Plan:
    phrases: list[Phrase]
    fillers: int
    restarts: int

    @property
    def text(self) -> str:
        """What is said, fillers and repeats included ("Um, I I want ..."), for the report."""
        return " ".join(phrase.text for phrase in self.phrases)


def words(text: str) -> list[str]:
    return text.split()


def plan(text: str, fillers_per_100: float, restarts_per_100: float, rng: np.random.Generator) -> Plan:
    """The phrases of ``text`` with fillers and restarts inserted at the given rates (see the module
    docstring). Phrases end at punctuation (``, ; :`` a clause, ``. ! ?`` a sentence), before a
    filler and after a repeated word."""
    tokens = words(text)
    if not tokens:
        return Plan([], 0, 0)
    starts = np.array([i == 0 or _ends_phrase(tokens[i - 1]) is not None for i in range(len(tokens))])
    function = np.array([_bare(token) in FUNCTION_WORDS for token in tokens])
    filler_at = rng.random(len(tokens)) < _chances(fillers_per_100, starts)
    restart_at = rng.random(len(tokens)) < _chances(restarts_per_100, function)
    kinds = rng.integers(len(FILLERS), size=len(tokens))

    phrases: list[Phrase] = []
    current: list[str] = []

    def close(pause: PauseKind) -> None:
        if current:
            phrases.append(Phrase(" ".join(current), pause))
            current.clear()

    for index, token in enumerate(tokens):
        if filler_at[index]:
            close("none")
            filler: PauseKind = "um" if FILLERS[int(kinds[index])] == "um" else "uh"
            said = filler.capitalize() if index == 0 else filler
            phrases.append(Phrase(said + ",", filler, filler=True))
        if restart_at[index]:
            current.append(_bare_case(token))
            close("restart")
        current.append(token)
        ends = _ends_phrase(token)
        if ends is not None:
            close(ends)
    close("none")
    if phrases and phrases[-1].pause in ("clause", "sentence"):  # nothing follows the last phrase
        last = phrases[-1]
        phrases[-1] = Phrase(last.text, "none", last.filler)
    return Plan(phrases, int(filler_at.sum()), int(restart_at.sum()))


def _chances(per_100: float, favoured: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
    """Per-word probabilities that average ``per_100 / 100`` over the words, ``BIAS`` times higher on
    the ``favoured`` ones (capped at 0.9, which only very high rates reach)."""
    weights = np.where(favoured, BIAS, 1.0)
    return np.asarray(np.minimum(per_100 / 100.0 * weights * weights.size / weights.sum(), 0.9), dtype=np.float64)


def _ends_phrase(token: str) -> PauseKind | None:
    stripped = token.rstrip("\"')”’")
    if stripped.endswith((".", "!", "?")):
        return "sentence"
    if stripped.endswith((",", ";", ":")):
        return "clause"
    return None


def _bare(token: str) -> str:
    return re.sub(r"[^\w']", "", token.lower())


def _bare_case(token: str) -> str:
    """The word as repeated before a restart: without its punctuation, keeping its case."""
    return re.sub(r"[^\w']", "", token) or token
