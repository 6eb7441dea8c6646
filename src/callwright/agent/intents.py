"""Understanding a caller turn without a language model: intents from example phrases, typed slots.

:class:`IntentMatcher` embeds every example phrase once (MiniLM, in the wheel) and scores a turn
by its best cosine similarity to each intent's examples, plus a small bonus for content words the
turn shares with them (speech recognisers keep nouns better than phrasing). Out-of-scope examples
are matched the same way, as a pseudo-intent, so a request the agent must not take on is
recognised as such rather than squeezed into the nearest real intent.

Slots are read from the same turn by :func:`callwright.agent.reading.find_values`; the words an
intent's examples share (:meth:`IntentMatcher.frame_words`) are how callers phrase the request,
so a ``text`` slot is what is left of the turn without them ("do you have oat milk" -> "oat milk").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..engines.embed import MiniLmEmbedder
from .spec import IntentSpec
from .text import normalise, stems, words

OUT_OF_SCOPE = "out_of_scope"
# Words that say nothing about which request it is: function words, the words of asking ("want",
# "buy", "order") and counts. Wider than the documents' stop words (knowledge._STOPWORDS), where
# "order" and "delivery" are what a passage is about.
_STOP = frozenset(
    "a an the i i'm im me my we you your is are was be to of for and or on in at it its it's this that "
    "please can could would will do does did have has had any some just like want need get there here "
    "what what's whats how where when which who about with from hi hello hey um uh so okay ok yes no "
    "i'd id i'll ill i've like some buy got any "
    "zero oh one two three four five six seven eight nine ten eleven twelve a couple dozen".split()
)


def content_words(text: str) -> set[str]:
    """The words that carry meaning, lightly stemmed ("delivered" and "deliver" are one word)."""
    return set(stems([w for w in _words(text) if w not in _STOP]))


def _words(text: str) -> list[str]:
    """The agent layer's one tokenizer (:func:`callwright.agent.text.words`), on the one spelling."""
    return words(normalise(text, digits=False))


def _stem(word: str) -> str:
    return stems([word])[0]


@dataclass(frozen=True, slots=True)
class Match:
    intent: str
    score: float
    example: str


class IntentMatcher:
    """Scores turns against intents (and out-of-scope examples). Build once per agent; thread-safe."""

    def __init__(
        self,
        intents: Sequence[IntentSpec],
        out_of_scope: Sequence[str] = (),
        *,
        embedder: MiniLmEmbedder | None = None,
        threshold: float = 0.55,
    ) -> None:
        self.embedder = embedder or MiniLmEmbedder()
        self.threshold = threshold
        self._labels: list[str] = []
        self._examples: list[str] = []
        self._words: list[set[str]] = []
        for intent in intents:
            for example in intent.examples:
                self._add(intent.name, example)
        for example in out_of_scope:
            self._add(OUT_OF_SCOPE, example)
        self._vectors = self.embedder.embed(self._examples) if self._examples else np.zeros((0, 384), np.float32)
        self._frame_words = {i.name: _frame_words(i.examples) for i in intents}
        # Intents with a free-text slot (a product, a query) are also matched with the thing named
        # left out: "I'd like to order some salmon" is an order like "I'd like to order some oat milk",
        # though MiniLM finds it closer to "do you sell fresh salmon" by its noun alone.
        self._all_frame = set().union(*self._frame_words.values()) if self._frame_words else set()
        objects = {i.name for i in intents if "text" in i.slots.values()}
        masked = [
            _mask(example, self._frame_words.get(label, set())) if label in objects else None
            for label, example in zip(self._labels, self._examples, strict=True)
        ]
        self._masked = np.array([m is not None for m in masked], dtype=bool)
        self._masked_words = [content_words(m) if m is not None else w for m, w in zip(masked, self._words, strict=True)]
        self._masked_vectors = (
            self.embedder.embed([m or e for m, e in zip(masked, self._examples, strict=True)]) if self._masked.any() else None
        )

    def _add(self, label: str, example: str) -> None:
        self._labels.append(label)
        self._examples.append(example)
        self._words.append(content_words(example))

    def rank(self, text: str, allowed: set[str] | None = None) -> list[Match]:
        """Best match per intent, best first (blocking: run it in a worker thread)."""
        if not self._examples or not text.strip():
            return []
        text = normalise(text, digits=False)  # "y'all got any" reads as "you got any"
        sims = self._vectors @ self.embedder.embed([text])[0]
        said = [content_words(text)] * len(self._examples)
        example_words = self._words
        masked_text = _mask(text, self._all_frame) if self._masked_vectors is not None else text
        if self._masked_vectors is not None and masked_text != text:
            # For intents with a free-text slot only the phrasing counts: the product an example
            # happens to name ("eggs") must not pull a question about eggs towards ordering them.
            sims = np.where(self._masked, self._masked_vectors @ self.embedder.embed([masked_text])[0], sims)
            said_masked = content_words(masked_text)
            said = [said_masked if masked else own for masked, own in zip(self._masked, said, strict=True)]
            example_words = self._masked_words
        best: dict[str, Match] = {}
        for label, example, wanted, heard, sim in zip(self._labels, self._examples, example_words, said, sims, strict=True):
            if allowed is not None and label not in allowed:
                continue
            overlap = len(heard & wanted) / max(1, len(wanted))
            score = float(sim) + 0.15 * overlap
            if label not in best or score > best[label].score:
                best[label] = Match(label, round(score, 3), example)
        return sorted(best.values(), key=lambda m: -m.score)

    def best(self, text: str, allowed: set[str] | None = None) -> Match | None:
        ranked = self.rank(text, allowed)
        return ranked[0] if ranked and ranked[0].score >= self.threshold else None

    def frame_words(self, intent: str) -> set[str]:
        """Words an intent's examples share: how callers phrase the request, not what they ask for."""
        return set(self._frame_words.get(intent, set()))

    def text_slot(self, intent: str, text: str) -> str | None:
        """What the caller said beyond the intent's own words ("do you have oat milk" -> "oat milk")."""
        skip = self._frame_words.get(intent, set()) | _STOP
        kept = [w for w in _words(text) if w not in skip and not w.isdigit()]
        return " ".join(kept) or None


def _mask(text: str, frame: set[str]) -> str:
    """``text`` with the thing it names as "something" (unchanged when it names nothing plain)."""
    from .reading import REQUEST_VERB, noun_phrase

    phrase = noun_phrase(text, frame)
    if not phrase or len(phrase.split()) > 4 or (set(phrase.split()) & frame) - _STOP:
        return text
    lowered = text.lower()
    at = lowered.rfind(phrase)
    # a thing is named after a word asking for it; "my order" names the order ("is my order coming")
    if at < 0 or not any(not _POSSESSED.search(lowered[: m.start()]) for m in REQUEST_VERB.finditer(lowered[:at])):
        return text
    # "can you check my order": "check" is what is asked, not a thing named (the intent's own words follow)
    if content_words(lowered[at + len(phrase) :]) & {_stem(w) for w in frame if w not in _STOP}:
        return text
    return f"{text[:at]}something{text[at + len(phrase):]}"


_POSSESSED = re.compile(r"\b(?:my|me|our|your|his|her|their|the|this|that)\s+$")


def _frame_words(examples: Sequence[str]) -> set[str]:
    """Words an intent's examples share: its phrasing ("do you have", "order"), not its objects.

    A word counts when it is in at least two examples and a third of them: a product named in two
    of seven examples ("oat milk") is an object, not phrasing.
    """
    counts: dict[str, int] = {}
    for example in examples:
        for word in set(_words(example)):
            counts[word] = counts.get(word, 0) + 1
    return {w for w, n in counts.items() if n >= 2 and n * 3 >= len(examples)}
