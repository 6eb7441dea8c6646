""" "a" or "an", chosen by how the next word sounds: "an upbeat", "a unit", "an hour", "a one-off".

:func:`article` picks the article for one word; :func:`fix_articles` corrects every article of a
text, so a template's ``a {style}`` or a model's "a upbeat" never reaches the voice. Numbers are
judged by how they are said ("an 8 a.m. start", "an eleven-day trip", "a 1,000-mile drive").

The rules follow inflect's (MIT), whose indefinite-article regexes are the reference the tests check
against. They are restated here because importing inflect costs about two seconds (see
:mod:`.numbers`), which would land on every process start.
"""

from __future__ import annotations

import re

__all__ = ["article", "fix_articles"]

# In order: the first rule that matches the word decides (as in inflect's ``_indef_article_cases``).
_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^(?:8|1[18](?:\d{3})*(?!\d))"), "an"),  # digits: "an 8", "an 11", "an 18,000"
    (re.compile(r"^\d"), "a"),
    (re.compile(r"^[bcdgjkpqtuvwyz]-?th$", re.I), "a"),  # ordinals of letters: "a b-th"
    (re.compile(r"^[aefhilmnorsx]-?th$", re.I), "an"),
    (re.compile(r"^(?:euler|hour(?!i)|heir|honest|hono[ur]|mpeg)", re.I), "an"),  # silent h
    (re.compile(r"^[aefhilmnorsx]$", re.I), "an"),  # a letter said by name: "an S"
    (re.compile(r"^[bcdgjkpqtuvwyz]$", re.I), "a"),
    # an initialism said letter by letter: "an FBI agent", "an MRI", but not "a FLAG" or "a NASA"
    (
        re.compile(
            r"^(?!FJO|[HLMNS]Y.|RY[EO]|SQU|(?:F[LR]?|[HL]|MN?|N|RH?|S[CHKLMNPTVW]?|X(?:YL)?)[AEIOU])[FHLMNRSX][A-Z]"
        ),
        "an",
    ),
    (re.compile(r"^[aefhilmnorsx][.-]", re.I), "an"),
    (re.compile(r"^[a-z][.-]", re.I), "a"),
    (re.compile(r"^[^aeiouy]", re.I), "a"),
    # vowels said with a consonant first: "a euro", "a one-off", "a unit", "a usual", "a Ukrainian"
    (re.compile(r"^e[uw]", re.I), "a"),
    (re.compile(r"^onc?e\b", re.I), "a"),
    (re.compile(r"^onetime\b", re.I), "a"),
    (re.compile(r"^uni(?:[^nmd]|mo)", re.I), "a"),
    (re.compile(r"^u[bcfghjkqrst][aeiou]", re.I), "a"),
    (re.compile(r"^ukr", re.I), "a"),
    (re.compile(r"^(?:unabomber|unanimous|US)", re.I), "a"),
    (re.compile(r"^U[NK][AIEO]?"), "a"),
    (re.compile(r"^U[A-Z]+\b"), "a"),  # an initialism starting "you": "a URL", "a UFO" (not in inflect)
    (re.compile(r"^[aeiou]", re.I), "an"),
    (re.compile(r"^y(?:b[lor]|cl[ea]|fere|gg|p[ios]|rou|tt)", re.I), "an"),  # "an yttrium"
)

# An article and the word after it. A capital "A" counts only where a sentence starts: mid-sentence
# it is a letter ("plan A or B", "A one two" when a code is spelled).
_ARTICLE = re.compile(r"(?:(?<=^)|(?<=[\s(\"'“‘]))(an|a|An|A|AN)(\s+)([A-Za-z0-9][\w'.-]*)")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;]\s*|\n\s*)$")


def article(word: str) -> str:
    """ "a" or "an" for ``word``, by its sound: article("upbeat") == "an", article("unit") == "a"."""
    for pattern, chosen in _RULES:
        if pattern.search(word):
            return chosen
    return "a"


def fix_articles(text: str) -> str:
    """Every "a"/"an" of ``text`` agreeing with the sound of the word after it."""

    def fix(m: re.Match[str]) -> str:
        written, space, word = m.group(1), m.group(2), m.group(3)
        if written[0] == "A" and not _SENTENCE_START.search(m.string[: m.start()]):
            return m.group(0)  # a capital A mid-sentence is the letter
        if written[0] == "A" and len(word) == 1 and word.isupper():
            return m.group(0)  # "A B seven": letters spelled out, not an article
        chosen = article(word)
        if written.isupper() and len(written) > 1:
            chosen = chosen.upper()
        elif written[0].isupper():
            chosen = chosen.capitalize()
        return f"{chosen}{space}{word}"

    return _ARTICLE.sub(fix, text)
