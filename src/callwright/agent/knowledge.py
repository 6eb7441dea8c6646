"""Curated knowledge: a folder of documents, searched by meaning and by keyword, answered with citations.

:meth:`Knowledge.from_folder` reads Markdown (``.md``, ``.markdown``), plain text (``.txt``) and PDF
files, cuts them into short passages and indexes them once, in memory:

* Markdown is cut at headings; a passage is one section (or up to five sentences of a long one)
  and keeps its heading path, such as ``"Catheter care > Cleaning around the catheter"``;
* text and PDF files are cut at blank lines (PDFs page by page; the section is ``"page 3"``).

:meth:`Knowledge.search` scores every passage by the cosine similarity of MiniLM sentence
embeddings and by BM25 keyword overlap, fused into one score from 0 to 1. The answer is
``confident`` when its best passage clears ``min_score``; when it is not, an agent should say it
does not know and offer to hand over, never guess. :meth:`Answer.cite` is what the trace records
(the ``knowledge.cited`` event); :meth:`Knowledge.best_sentences` is a short answer to speak.

Everything here blocks (about 5 ms a query on one core): agents call :meth:`Knowledge.asearch`.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ..clock import offload
from ..engines.embed import Embedder, Vectors, shared_embedder
from ..errors import ConfigError
from .shaping import split_sentences
from .text import normalise, stems, words

SUFFIXES = (".md", ".markdown", ".txt", ".pdf")

# Tuned on the eval tables in tests/agent/test_knowledge.py (30 caller questions and 14 off-topic ones per
# example folder). Cosine alone ranks as well as the blend, but keyword overlap separates off-topic
# questions better: their best fused score was 0.23 (recovery line) and 0.30 (order desk), against
# 0.28 and 0.37 for cosine alone. MIN_SCORE sits just above the worse of the two; the questions it
# then leaves unanswered (mostly order-desk ones scoring 0.28-0.33) end in "I don't know", never a guess.
# Re-measured after the switch from a suffix stripper to Snowball stemming, with the values unchanged:
# the off-topic maxima stayed 0.26 and 0.30, and the right-document and right-and-confident counts did not
# move. One question moved to a sibling section ("can I take ibuprofen": "take" now matches the heading
# "Taking your pain relief"); no HEADING_WEIGHT from 0.06 to 0.12 wins it back without losing another.
COSINE_WEIGHT = 0.8
BM25_HALF = 4.0  # a BM25 score of this much earns half of the keyword share
MIN_SCORE = 0.33
HEADING_WEIGHT = 0.1  # a section whose heading holds every word of the query scores this much more
MEANT_WEIGHT = 0.05  # ... and one whose heading holds every document word the caller's everyday words stand for
POINTED_MARGIN = 0.06  # how far under min_score a section the caller's everyday word points to may be, and still answer
KIND_WEIGHT = 0.03  # ... and one whose heading answers the kind of question asked ("When to start" for "when")
SENTENCE_TERM_WEIGHT = 0.1  # each word of the query a sentence holds (and most of its passage does not) adds this
_ASKS_HOW = re.compile(r"\b(?:how (?:do|should|can|would|am|are|do you) (?:i|we)(?: supposed to| meant to)?|how to|what's the best way to)\b(?! (?:know|tell))")
_ASKS_WHEN = re.compile(r"\b(?:how long|how soon|how many (?:days|weeks|months|hours)|when (?:can|will|should|do|does|is|am)|until when|for long)\b")
_SAYS_WHEN = re.compile(
    r"\b(?:\d+|a|one|two|three|four|five|six|seven|eight|ten|twelve|few|several|following)\s+(?:to \w+ )?"
    r"(?:minutes?|hours?|days?|weeks?|months?|years?)\b|\b(?:weeks|months)\b|"
    r"\bonce (?:your|the|you|it|they)\b"  # "you can go swimming once your wounds have healed"
)
MAX_SENTENCES = 5  # a longer section or paragraph is cut into passages of at most this many sentences


@dataclass(frozen=True, slots=True)
class Passage:
    """A short piece of one document: ``doc`` is its path relative to the folder."""

    doc: str
    section: str  # heading path ("Catheter care > Cleaning around the catheter"), "page 2" or ""
    text: str
    warnings: tuple[str, ...] = ()  # its sentences that are safety advice, marked when indexed


@dataclass(frozen=True, slots=True)
class Hit:
    passage: Passage
    score: float  # 0..1, the fused cosine and keyword score


@dataclass(frozen=True, slots=True)
class Answer:
    """The best passages for a query, best first; ``confident`` when the first clears the threshold."""

    query: str
    hits: list[Hit]
    confident: bool

    def cite(self) -> list[dict[str, Any]]:
        """The hits as the trace records them: doc, section, score and the first 200 characters."""
        return [
            {"doc": h.passage.doc, "section": h.passage.section, "score": round(h.score, 3), "text": h.passage.text[:200]}
            for h in self.hits
        ]


class Knowledge:
    """An in-memory index of passages. Build it once (``from_folder``) and share it between calls."""

    def __init__(
        self,
        passages: Sequence[Passage],
        *,
        embedder: Embedder | None = None,
        min_score: float = MIN_SCORE,
        cache_dir: Path | None = None,
        warnings: Sequence[str] = (),
    ) -> None:
        if not passages:
            raise ConfigError("knowledge: no passages to index")
        import bm25s

        self.passages: list[Passage] = []
        seen: set[str] = set()  # a disclaimer repeated in every file is indexed once, for its first file
        warning = _warning_pattern(warnings)
        for passage in passages:
            if passage.text not in seen:
                seen.add(passage.text)
                marked = tuple(s for s in _sentences(passage.text) if warning.search(s.lower()))
                self.passages.append(Passage(passage.doc, passage.section, passage.text, marked))
        self.embedder: Embedder = embedder or shared_embedder()
        self.min_score = min_score
        self._sentence_vectors: dict[Passage, tuple[list[str], Vectors]] = {}
        self._vectors = _embed_cached(self.embedder, [_index_text(p) for p in self.passages], cache_dir)
        self._bm25 = bm25s.BM25()
        self._bm25.index([_terms(_index_text(p)) for p in self.passages], show_progress=False)
        self._vocabulary: dict[str, int] = self._bm25.vocab_dict
        self._headings = [frozenset(_terms(p.section.rsplit(" > ", 1)[-1])) for p in self.passages]
        self._heading_asks = [asked_kind(p.section.rsplit(" > ", 1)[-1], heading=True) for p in self.passages]
        self._accidental = np.array([1.0 if _ACCIDENT.search(p.text.lower()) else 0.0 for p in self.passages])
        # in how many passages each word is: a word in few of them ("Christmas") points at a sentence
        self._passages_with: Counter[str] = Counter(t for p in self.passages for t in set(_terms(p.text)))

    @classmethod
    def from_folder(
        cls,
        folder: str | Path,
        *,
        embedder: Embedder | None = None,
        min_score: float = MIN_SCORE,
        cache_dir: Path | None = None,
        warnings: Sequence[str] = (),
    ) -> Knowledge:
        """Read every .md, .markdown, .txt and .pdf file under ``folder`` (hidden files are skipped).

        ``cache_dir`` (for example ``~/.cache/callwright/knowledge``) keeps the passage embeddings
        on disk, keyed by a hash of the embedder's name and the passages, so an unchanged folder
        loads without embedding. Raises :class:`ConfigError` naming the folder or the file when
        the folder is missing or has no documents, or a document cannot be read or has no text.
        """
        root = Path(folder).expanduser()
        if not root.is_dir():
            raise ConfigError(f"knowledge folder {root}: {'not a folder' if root.exists() else 'does not exist'}")
        files = sorted(
            p for p in root.rglob("*")
            if p.is_file() and p.suffix.lower() in SUFFIXES
            and not any(part.startswith(".") for part in p.relative_to(root).parts)
        )
        if not files:
            raise ConfigError(
                f"knowledge folder {root}: no documents found; add .md, .markdown, .txt or .pdf files"
            )
        passages: list[Passage] = []
        for path in files:
            doc = path.relative_to(root).as_posix()
            found = list(_read(path, doc))
            if not found:
                hint = " (a scanned PDF has no text layer: export it with text)" if path.suffix.lower() == ".pdf" else ""
                raise ConfigError(f"knowledge file {path}: no text found{hint}")
            passages.extend(found)
        return cls(passages, embedder=embedder, min_score=min_score, cache_dir=cache_dir, warnings=warnings)

    def search(self, query: str, k: int = 3) -> Answer:
        """The ``k`` best passages for ``query``; ``confident`` when the best scores ``min_score`` or more."""
        if not query.strip():
            return Answer(query=query, hits=[], confident=False)
        expanded = expand(query, named=self._is_heading)
        scores = self._scores(expanded, expanded)
        # Among passages that score alike, the one whose heading names more of what was asked comes
        # first ("leaking ... once the catheter's out": "Leaking urine after the catheter comes out").
        said = set(_terms(expanded))
        named = np.array([len(said & h) / len(said) if said else 0.0 for h in self._headings])
        # The document words an everyday word stands for ("a couple of pints": alcohol) name what the
        # caller means; a section headed with them is the one meant ("Tea, coffee and alcohol").
        meant = set(_terms(expanded[len(query):]))
        own = set(_terms(query))
        headed = np.array([len(meant & h) / len(meant) if meant else 0.0 for h in self._headings])
        # a heading that holds all of it and a word of the caller's own besides ("leaking" + "after the
        # catheter comes out": "Leaking urine after the catheter comes out") is the section meant
        whole = np.array([1.0 if meant and meant <= h and ((own - meant) & h or len(meant) >= 3) else 0.0 for h in self._headings])
        # "when should I start the exercises": of two sections on them, the one headed "When to start"
        kind = asked_kind(query)
        answers_kind = np.array([1.0 if kind is not None and k == kind else 0.0 for k in self._heading_asks])
        scores = np.minimum(
            1.0, scores + HEADING_WEIGHT * named + MEANT_WEIGHT * (headed + whole) + KIND_WEIGHT * answers_kind
        )
        if _ON_PURPOSE.search(query.lower()) and not _ACCIDENT.search(query.lower()):
            # "they took the catheter out at the clinic": done as planned, so not what to do when it happens by accident
            scores = scores - ACCIDENT_WEIGHT * self._accidental
        order = np.argsort(-scores, kind="stable")[: max(k, 1)]
        hits = [Hit(self.passages[i], float(scores[i])) for i in order]
        # "can I have a couple of beers watching the cricket": the everyday word stands for a document
        # word ("alcohol") that heads one section only, and that section is first; the rest of the
        # turn ("watching the cricket") only dilutes the score
        sections = {self.passages[i].section for i in np.flatnonzero(headed == 1.0)}
        if not sections:  # an everyday word that is a heading's own word points there too ("can he drive his truck": Driving)
            heading_words = set(_terms(" ".join(everyday_words(query, named=self._is_heading))))
            sections = {p.section for p, h in zip(self.passages, self._headings, strict=True) if heading_words and heading_words <= h}
        # a document titled with the word too ("Activity and driving") is not a second section meant ("Driving")
        sections = {s for s in sections if not any(other.startswith(f"{s} > ") for other in sections)}
        meant_here = len(sections) == 1 and hits[0].passage.section in sections and hits[0].score >= self.min_score - POINTED_MARGIN
        return Answer(query=query, hits=hits, confident=hits[0].score >= self.min_score or meant_here)

    def heading_names(self, passage: Passage, words: str) -> bool:
        """Whether the passage's own heading holds a word of ``words`` ("How long a refund takes" for
        "and how long does that take?")."""
        return bool(set(_terms(passage.section.rsplit(" > ", 1)[-1])) & set(_terms(words)))

    def text_names(self, passage: Passage, words: str) -> bool:
        """Whether the passage's text holds a word of ``words`` ("night" for "and the night one?")."""
        return bool(set(_terms(passage.text)) & set(_terms(words)))

    def names_rarely(self, passage: Passage, words: str) -> bool:
        """Whether the passage holds a word of ``words`` that few passages hold (the thing asked about:
        "a sick note" finds the one passage that mentions a note for an employer)."""
        rare = max(2, len(self.passages) // 20)
        return any(self._passages_with[t] <= rare for t in set(_terms(passage.text)) & set(_terms(words)))

    def _is_heading(self, words: str) -> bool:
        """Whether one section's own heading holds all of ``words`` ("shower": "Showering")."""
        said = set(_terms(words))
        return bool(said) and any(said <= h for h in self._headings)

    def is_topic(self, phrase: str) -> bool:
        """Whether ``phrase`` is what a section of the documents is about (its words are in one
        heading): "delivery" is a topic of the order desk's documents, "salmon" is not."""
        said = set(_terms(phrase))
        return bool(said) and any(said <= set(_terms(p.section)) for p in self.passages)

    async def asearch(self, query: str, k: int = 3) -> Answer:
        """:meth:`search` in a worker thread."""
        return await offload(partial(self.search, query, k))

    def best_sentences(self, answer: Answer, max_sentences: int = 2) -> str:
        """A short, speakable answer: the run of sentences in the top passage that best matches the query.

        Empty when the answer is not confident: the agent should then say that it does not know.
        """
        if not answer.confident or not answer.hits:
            return ""
        passage = answer.hits[0].passage
        if passage not in self._sentence_vectors:  # embedded on first use, then kept (a few ms per passage)
            sentences = _sentences(passage.text)
            self._sentence_vectors[passage] = (sentences, self.embedder.embed(sentences))
        sentences, vectors = self._sentence_vectors[passage]
        if len(sentences) <= max_sentences:
            return " ".join(sentences)
        similarity = vectors @ self.embedder.embed([answer.query])[0]
        # A sentence that names what was asked about, where the passage's other sentences do not
        # ("can I go swimming": the one sentence about swimming, not the opening about sport).
        # The caller's own words count, not the document words added for them, nor the heading's
        # (what the whole section is about); but of a heading that names two subjects ("Travelling
        # and flying"), the one sentence about the one asked ("and flying?") is meant.
        said = set(_terms(_GOES_ON.sub("", _OPERATION_SITE.sub(" ", answer.query.lower()))))
        asked = said - set(_terms(passage.section))
        heading = passage.section.rsplit(" > ", 1)[-1]
        if " and " in heading.lower():  # the caller's everyday word may name one of the two ("flights": flying)
            in_sentences = [set(_terms(s)) for s in sentences]
            subjects = (said | set(_terms(expand(answer.query)))) & set(_terms(heading))
            asked |= {t for t in subjects if sum(t in n for n in in_sentences) == 1}
        named = [asked & set(_terms(s)) for s in sentences]
        common = {t for t in asked if sum(t in n for n in named) > len(sentences) / 2}
        similarity = similarity + SENTENCE_TERM_WEIGHT * np.array([len(n - common) for n in named])
        width = max(max_sentences, 1)
        windows = [float(similarity[i : i + width].sum()) for i in range(len(sentences) - width + 1)]
        asks_when = bool(_ASKS_WHEN.search(answer.query.lower()))
        if not any(n - common for n in named) and _ASKS_HOW.search(answer.query.lower()):
            windows[0] += 0.5  # "how do I clean around the catheter": the section's own subject; it opens with how
        rare = max(2, len(self.passages) // 20)
        pointed = [i for i, n in enumerate(named) if any(self._passages_with[t] <= rare for t in n - common)]
        if not pointed or min(pointed) < width:  # unless only later sentences name what was asked ("Christmas Day")
            windows[0] += 0.05 * width  # passages usually answer first: prefer the opening on a near tie
        if asks_when:  # "how long will I leak for": an answer that says how long
            says = [bool(_SAYS_WHEN.search(s.lower())) for s in sentences]
            if any(says):
                windows = [w if any(says[i : i + width]) else -np.inf for i, w in enumerate(windows)]
        start = int(np.argmax(windows))
        return " ".join(sentences[start : start + width])

    def spoken_answer(self, answer: Answer, max_sentences: int = 2) -> str:
        """:meth:`best_sentences`, plus every warning sentence of the same passage it left out.

        A short answer must never drop the safety advice of the very section it comes from ("If the
        bleeding is heavy and you feel faint, call emergency services"): warnings are said after the
        answer, in the document's order, whatever ``max_sentences`` is.
        """
        best = self.best_sentences(answer, max_sentences)
        if not best:
            return ""
        missing = [w for w in answer.hits[0].passage.warnings if w not in best]
        return " ".join([best, *missing])

    def _scores(self, query: str, keywords: str | None = None) -> np.ndarray[Any, np.dtype[np.float64]]:
        """Cosine of the query as said; keyword overlap of ``keywords`` (the query with the
        document words of its everyday words, which embeddings need no help with)."""
        vector = self.embedder.embed([query])[0]
        cosine = np.clip(self._vectors @ vector, 0.0, 1.0).astype(np.float64)
        terms = [t for t in _terms(keywords or query) if t in self._vocabulary]
        keyword = np.zeros(len(self.passages))
        if terms:
            raw = np.asarray(self._bm25.get_scores(terms), dtype=np.float64)
            keyword = raw / (raw + BM25_HALF)
        fused: np.ndarray[Any, np.dtype[np.float64]] = COSINE_WEIGHT * cosine + (1 - COSINE_WEIGHT) * keyword
        return fused


# ------------------------------------------------------------------ reading documents
def _read(path: Path, doc: str) -> Iterable[Passage]:
    suffix = path.suffix.lower()
    try:
        if suffix == ".pdf":
            return list(_read_pdf(path, doc))
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"knowledge file {path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise ConfigError(f"knowledge file {path}: cannot be read ({exc.strerror or exc})") from exc
    if suffix == ".txt":
        return [Passage(doc, "", chunk) for chunk in _chunks(_paragraphs(text))]
    return list(_read_markdown(text, doc))


def _read_pdf(path: Path, doc: str) -> Iterable[Passage]:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(path)
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PyPdfError, ValueError, KeyError) as exc:
        raise ConfigError(f"knowledge file {path}: not a readable PDF ({exc})") from exc
    for number, text in enumerate(pages, start=1):
        for chunk in _chunks(_paragraphs(text)):
            yield Passage(doc, f"page {number}", chunk)


# The kind of question asked, and the kind a heading answers: when, how long, how much, how (to), where, who.
_KINDS = (
    ("how long", r"\bhow long\b(?! (?:until|till|before))", r"^how long\b"),
    ("how much", r"\bhow (?:much|many)\b", r"^how (?:much|many)\b"),
    ("when", r"\bwhen\b|\bhow soon\b|\bhow long (?:until|till|before)\b|\bwhat (?:time|day)\b", r"^when\b"),
    ("how", r"\bhow (?:do|does|should|can|could|would|to|am|are|is|you|i|we)\b", r"^how (?:to|do|you)\b"),
    ("where", r"\bwhere\b", r"^where\b"),
    ("who", r"\bwho\b", r"^who\b"),
)


def asked_kind(text: str, *, heading: bool = False) -> str | None:
    """The first kind of question ``text`` asks ("when can I drive": "when"), or, for a heading, the
    kind it answers ("When to start the exercises": "when")."""
    s = text.lower()
    for name, asks, answers in _KINDS:
        if re.search(answers if heading else asks, s):
            return name
    return None


_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def _read_markdown(text: str, doc: str) -> Iterable[Passage]:
    """One passage per section (or per few sentences of a long one), with its heading path."""
    path: list[tuple[int, str]] = []
    lines: list[str] = []
    fenced = False

    def flush() -> Iterable[Passage]:
        section = " > ".join(title for _, title in path)
        for chunk in _chunks(_paragraphs("\n".join(lines))):
            yield Passage(doc, section, chunk)
        lines.clear()

    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        heading = None if fenced else _HEADING.match(line)
        if heading is None:
            lines.append(line)
            continue
        yield from flush()
        level = len(heading.group(1))
        while path and path[-1][0] >= level:
            path.pop()
        path.append((level, _plain(heading.group(2))))
    yield from flush()


_INLINE = [
    (re.compile(r"<!--.*?-->", re.DOTALL), ""),
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # images
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # links
    (re.compile(r"</?[A-Za-z][^>\n]*>"), ""),  # html tags
    (re.compile(r"(\*\*|__|\*|`+)"), ""),  # emphasis and code marks
    (re.compile(r"(?<!\w)_(?=\S)|(?<=\S)_(?!\w)"), ""),  # _emphasis_ but not snake_case
    (re.compile(r"^\s{0,3}(>\s?)+", re.MULTILINE), ""),  # block quotes
    (re.compile(r"^\s*([-*+]|\d+[.)])\s+", re.MULTILINE), ""),  # list markers
    (re.compile(r"^\s*(\|?\s*:?-{3,}:?\s*)+\|?\s*$", re.MULTILINE), ""),  # table rules
]


def _plain(text: str) -> str:
    for pattern, replacement in _INLINE:
        text = pattern.sub(replacement, text)
    return text.replace("|", " ").strip()


def _paragraphs(text: str) -> list[str]:
    """Blank-line separated paragraphs, each on one line (PDF line-break hyphens rejoined)."""
    out = []
    for block in re.split(r"\n\s*\n", _plain(text) if text else ""):
        joined = re.sub(r"(\w)-\n(\w)", r"\1\2", block.strip())
        joined = re.sub(r"\s+", " ", joined).strip()
        if joined:
            out.append(joined)
    return out


# Callers say "wee", "tummy", "smashed" and "money back"; documents say "urine", "abdomen",
# "damaged" and "refund". Each everyday word found in a query adds the document word, for the
# keyword score and the embedding alike (general English, not any one agent's vocabulary).
COLLOQUIAL: dict[str, str] = {
    # "a wee question" (Scots: a small one) is not urine
    r"pee|peeing|(?<!a )wee(?! (?:question|bit|while|thing|moment|minute|second|one|lad|lass|boy|girl))|weeing|weed|piss|"
    r"pissing|urinate|urinating|water ?works": "urine",
    r"poo|poop|pooing|pooed|number twos?|stools?|bowel movements?": "bowels",
    r"belly|stomach|tum": "tummy",
    r"windy|gassy|farting|farts|trapped wind": "wind",
    r"loo|bog|lavatory|restroom|washroom": "toilet",
    r"whisk(?:e)?y|beers?|wines?|pints?|booze|vodka|gin|rum|lager|cider|a drink|drinking": "alcohol",
    r"tablets|pills|meds|medication": "medicine",
    r"jabs?": "injection",
    r"smashed|cracked|broken|squashed|crushed|dented|spilt|spilled|ruined|split(?: open)?|burst(?: open)?|ripped|torn|"
    r"leaked everywhere|all over the bag": "damaged item",
    r"money back|reimburse\w*|refunded": "refund",
    # a phone call said the British way, or by the phone ("ring me", "phone when he's here", "buzz me")
    r"(?:ring|rings|phone|phones|buzz|bell) (?:me|us|ahead|first|when|from|on)|rang (?:me|us)": "call",
    r"swap\w*|replace\w*|alternatives?": "substitute",
    r"not in|not home|not there|out when|away when|miss the driver|(?:nobody|no one|no-one)(?:'s| is)? (?:in|home|there|around|at home)|"
    r"(?:not|won't|will not) be (?:in|home|there|around)": "not at home",
    r"drove|driven|car ride|car journey|road trip": "driving journey",
    r"shopping|food shop": "groceries",
    r"pay|paying|charged|charge|charges|cost you|costs? extra": "fee",
    r"(?:charge|charges|cost|costs|pay|fee) (?:for|to|of) (?:deliver\w*|bring\w* it|drop\w* (?:it )?off)|delivery (?:charge|cost|fee)s?": "delivery fees",
    r"(?:in|with|by) (?:cash|cheque|check|card|apple pay|google pay)|cash on delivery|cash": "payment methods accept",
    # "can I pay the driver in cash when he comes": paying, whoever is paid
    r"pay(?:ing)? (?:\w+ ){0,3}(?:in |with |by )?(?:cash|cheque|check|card)": "payment methods accept payment",
    r"out of (?:stock|the (?!house|home|car|bed|hospital|room|way|door|bath|shower|chair|question)\w+(?: \w+)?|it|them)|run out|ran out|sold out|(?:something|anything) (?:else|random|different) instead":
        "out of stock substitute",
    r"bloated|swollen belly": "bloating",
    r"black and blue|bruised|bruises|purple and yellow": "bruising",
    r"water infection|urine infection|bladder infection|uti": "urine infection burning cloudy smelly",
    r"cuppa|brew|cup of tea|builder's tea|cup of coffee|espresso|latte|cappuccino": "tea coffee",
    r"takeaway|take out|takeout|pad thai|curry|pizza|burger|noodles|kebab|fries": "hot food",
    r"stone cold|went cold|gone cold|lukewarm|cold when it|soggy|half cooked|undercooked|raw in the middle": "problems with hot food",
    r"signs? of (?:a )?blood clots?|dvt|deep vein thrombosis": "leg calf lungs",
    r"shower(?:ing)?|bath(?:ing|e)?|wash(?:ing)?": "bathing washing",
    r"sex|intimacy|erection\w*|intimate|make love|making love|love life|sex life|(?:in )?the bedroom(?: side| department| stuff)?|"
    r"do the business|"
    r"(?:with|for) (?:the|my) (?:wife|missus|missis|partner|girlfriend|boyfriend|husband)|things work|down below work": "sex",
    r"behind the wheel|drive|get in the car|take the car|drive the car": "driving",
    r"pick(?:ing)? (?:\w+ ){0,2}up|carry(?:ing)?|heavy (?:bags|boxes|things|shopping)|lug(?:ging)?|hoist": "lifting",
    r"bikes?|bicycles?|cycl\w*|biking|gym|jog\w*|swim\w*|workouts?": "exercise sport",
    r"flights?|fly|flying|plane": "flying",
    r"holidays?|abroad|a trip|travel": "travelling",
    r"sick note|fit note|doctor's note|note for (?:work|my boss|my employer|my manager)": "note for your employer work",
    r"my job|the office|back to work|back on the tools|on the tools|on site|the site|my trade|chippie|chippy|tradie|"
    r"builder|plumber|labourer|laborer|sparky|electrician|warehouse|shift|shifts": "work",
    r"dribbl\w*|wet myself|wetting myself|accidents": "leaking",
    r"squeezes|kegels?|clenches|squeezing (?:exercises|down there)": "pelvic floor exercises",
    # the catheter said the way patients say it, and its removal
    r"(?:the|my|this|a) (?:tube|pipe)(?: thing)?": "catheter",
    r"(?:took|taken|take|pulled|removed|got|had) (?:the |my )?(?:catheter|tube|pipe) out|(?:catheter|tube|pipe)(?:'s| is| was| has| came| come)(?: been)? (?:out|removed|taken out)|"
    r"since (?:the )?(?:catheter|tube) (?:came )?out": "after the catheter comes out",
    r"(?:should|can|could|may|must) i (?:be )?\w+ (?:\w+ ){0,5}(?:already|yet)\b": "when to start",
    # "do I need a fresh night bag tonight or can I use last night's": how often a bag is changed
    r"fresh (?:night |leg )?bag|re-?use (?:it|the bag|the night bag|the leg bag)|use (?:it|the \w+ bag|last night's(?: one)?) again|"
    r"last night's(?: bag| one)?": "changing fit a new",
    r"so (?:that )?i (?:don't|do not|won't) (?:get|end up with|have)|avoid (?:getting|having)|stop (?:myself |me )?getting|"
    r"(?:reduce|lower|cut) (?:the |my )?(?:risk|chance)": "prevent",
}
_COLLOQUIAL = [(re.compile(rf"\b(?:{k})\b"), v) for k, v in COLLOQUIAL.items()]
# What is broken in the caller's home, or on them, is not a damaged item: "the buzzer's broken, can the
# driver ring me" asks about the delivery, not a refund
_FIXTURE = (
    r"(?:buzzer|door ?bell|bell|intercom|entry ?phone|entry system|gate|lift|elevator|lock|door|letterbox|mailbox|"
    r"phone|mobile|car|tv|telly|heating|boiler|oven|cooker|leg|arm|wrist|hip|ankle|foot|toe|finger|nose|ribs?)"
)
_DAMAGED = r"(?:broken|broke|bust|busted|smashed|cracked|knackered)"
_NOT_AN_ITEM = re.compile(
    rf"\b{_FIXTURE}(?:'s|'re| is| was| are| were| has been| have been| got| went| is all)?(?: \w+)? {_DAMAGED}\b"
    rf"|\b{_DAMAGED} {_FIXTURE}\b"
)


# Done on purpose, by someone, as planned; or by accident, which the documents treat apart
_ON_PURPOSE = re.compile(
    r"\b(?:they|nurse|doctor|team|surgeon|clinic|hospital|gp)\b[^.?!]*\b(?:took|taken|removed|pulled|came|had)\b[^.?!]*\bout\b|"
    r"\b(?:took|taken|removed|had|got) (?:the |my |his |her )?(?:catheter|tube|pipe|stitches|drain) (?:out|removed)\b[^.?!]*\b(?:at|in|by) "
    r"(?:the )?(?:clinic|hospital|surgery|gp|appointment|nurse|doctor|team)\b|\bas planned\b|\bon schedule\b"
)
_ACCIDENT = re.compile(r"\b(?:by accident|accidentally|fell|fallen|falls|slipped|slid|popped|on its own|by itself|yanked|caught)\b")
ACCIDENT_WEIGHT = 0.2  # how much less a passage about an accident scores for a turn that tells of the planned thing

# Where the operation was is no question of the caller's: "why is my shoulder sore, they operated on my belly"
_OPERATION_SITE = re.compile(
    r"\b(?:operated|operation|op|surgery|done the op|did the op|cut me|cut him|went in) (?:was )?(?:on|through|in) "
    r"(?:my|me|his|her|the) (?:belly|tummy|stomach|abdomen)\b"
)
# "my leg bag keeps slipping": "keeps" says it goes on, not what it is about
_GOES_ON = re.compile(r"\b(?:keeps?|kept|keeping) (?:on )?(?=\w+ing\b)")


def everyday_words(query: str, *, named: Callable[[str], bool]) -> list[str]:
    """The everyday words of ``query`` that ``named`` says head a section as they are ("drive": Driving)."""
    lowered = _OPERATION_SITE.sub(" ", _NOT_AN_ITEM.sub(" ", query.lower()))
    return [m.group(0) for pattern, _ in _COLLOQUIAL if (m := pattern.search(lowered)) is not None and named(m.group(0))]


def expand(query: str, *, named: Callable[[str], bool] = lambda words: False) -> str:
    """The query with the document words of its everyday words added ("my wee is pink" + "urine").
    Words that ``named`` says the documents use as a heading of their own ("when can I shower": a
    section is called "Showering") are left as they are: they already find their section."""
    lowered = _OPERATION_SITE.sub(" ", _NOT_AN_ITEM.sub(" ", query.lower()))
    extra = []
    for pattern, word in _COLLOQUIAL:
        match = pattern.search(lowered)
        if match is not None and word not in lowered and not named(match.group(0)):
            extra.append(word)
    return f"{query} {' '.join(extra)}" if extra else query


# Sentences that tell the reader to get help are safety advice: kept in every spoken answer.
WARNING_PHRASES = (
    r"call (?:your |the |an? )?(?:care team|team|doctor|gp|surgeon|nurse|out of hours service|emergency services|"
    r"911|999|112|ambulance)",
    r"emergency services", r"go to (?:a ?& ?e|the emergency (?:room|department)|the er|hospital)",
    r"seek (?:urgent |immediate |emergency )?(?:medical )?(?:help|care|advice|attention)",
    r"(?:do not|don't) (?:wait|rely on)", r"severe allergy", r"straight away", r"right away", r"call (?:us|them )?now",
)


def _warning_pattern(extra: Sequence[str]) -> re.Pattern[str]:
    phrases = [*WARNING_PHRASES, *(re.escape(p.lower()) for p in extra)]
    return re.compile(r"\b(?:" + "|".join(phrases) + r")\b")


def _sentences(text: str) -> list[str]:
    return split_sentences(text)


def _chunks(paragraphs: Sequence[str]) -> Iterable[str]:
    """Whole paragraphs packed up to MAX_SENTENCES sentences; a longer paragraph split into even runs."""
    current: list[str] = []
    count = 0
    for paragraph in paragraphs:
        sentences = _sentences(paragraph)
        if count and count + len(sentences) > MAX_SENTENCES:
            yield " ".join(current)
            current, count = [], 0
        if len(sentences) <= MAX_SENTENCES:
            current.append(paragraph)
            count += len(sentences)
            continue
        pieces = math.ceil(len(sentences) / 4)
        size = math.ceil(len(sentences) / pieces)
        for i in range(0, len(sentences), size):
            yield " ".join(sentences[i : i + size])
    if current:
        yield " ".join(current)


# ------------------------------------------------------------------ indexing
def _index_text(passage: Passage) -> str:
    """What is embedded and keyword-indexed: the heading path says what a section is about."""
    return f"{passage.section.replace(' > ', '. ')}. {passage.text}" if passage.section else passage.text


# English function words, left out of keyword matching against the documents. Not the intent matcher's
# list (intents._STOP), which also drops the words of asking ("want", "buy", "order") and counts.
_STOPWORDS = frozenset(
    """a about above after again all also am an and any anything are as at be because been before being below
    between both but by can could did do does doing don done down during each few for from further get gets
    getting got had has have haven having he her here hers him his how i if in into is isn it its itself just
    know let like me might more most much must my myself no nor not now of off ok okay on once only or other
    our out over own please really right same say she should so some something such tell than thank thanks
    that the their them then there these they this those through to too uh um under until up us very want was
    wasn way we well were what when where which while who whom why will with won would yeah yes you your
    yours""".split()
)


def _terms(text: str) -> list[str]:
    """Lower-cased words without stop words, stemmed by Snowball English ("cleaning" and "cleaned" → "clean")."""
    said = [w.split("'")[0] for w in words(normalise(text, digits=False))]  # I'm, haven't, driver's → i, haven, driver
    return stems([w for w in said if w not in _STOPWORDS and len(w) > 1])


def _embed_cached(embedder: Embedder, texts: list[str], cache_dir: Path | None) -> Vectors:
    if cache_dir is None:
        return embedder.embed(texts)
    key = hashlib.sha256("\x00".join([embedder.name, *texts]).encode()).hexdigest()[:32]
    path = Path(cache_dir).expanduser() / f"{key}.npy"
    if path.is_file():
        try:
            cached = np.load(path, allow_pickle=False)
            if cached.shape[0] == len(texts):
                return np.asarray(cached, dtype=np.float32)
        except (OSError, ValueError):
            pass  # a damaged cache file is rebuilt below
    vectors = embedder.embed(texts)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as tmp:
        np.save(tmp, vectors, allow_pickle=False)
    os.replace(tmp.name, path)
    return vectors
