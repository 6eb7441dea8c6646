"""Numbers as words, both ways: saying a number aloud, and reading number words back as digits.

The ``say_*`` functions say a number the way a person would ("one thousand two hundred fifty",
"twenty-first", "twenty twenty-six", "two twenty-one"). :func:`words_to_digits` goes the other way:
it rewrites the numbers a speech recogniser spells out in words as digits ("four five six seven" ->
"4567"), and :func:`spoken_numbers` says where each one was and how it was said. :mod:`.shaping`
reads numbers in text aloud with the first; :mod:`.values` and :mod:`.dates` read what the caller
said with the second.

Both are written here rather than taken from a library:

- Saying: ``inflect`` 7 takes about two seconds to import (typeguard re-parses its 4,000-line source
  once for each of 23 checked methods), which would land on every process start, or on the first
  number of a live call if imported lazily. ``tests/agent/test_speakable.py`` checks these words
  against inflect's.
- Hearing: recognisers say numbers the way people read codes ("forty five sixty seven", "double
  five", "four oh one") and no library reads those.

Readings that are guesses:

- Groups said one after another are written together, the way codes and phone numbers are read:
  "forty five sixty seven" -> "4567".
- "oh" is zero only next to another number word: "four oh one", but "oh okay".
- A lone "one" after "the", "that", "this", "which" (and the like) is a pronoun, not a number.
- "for", "to", "won" and "ate" are digits only at the head of, or inside, a run of at least three
  single digits: recognisers write "four five six seven" as "for five, six, seven". Between two
  digits, "to" and "for" need a run of four: "five to four" is a time, "one to three" a range.
- With ``clock`` (as :func:`callwright.agent.text.normalise` reads turns), an hour and its minutes
  next to a word of time are a clock time, "at eleven thirty" -> "at 11:30", not the code "1130".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

# --- saying numbers -----------------------------------------------------------------------------

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen"
).split()
_TENS_WORDS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_SCALE_WORDS = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINAL_WORDS = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
                  "nine": "ninth", "twelve": "twelfth"}  # fmt: skip


def say_integer(n: int) -> str:
    """1250 -> "one thousand two hundred fifty" (US style: no "and", no commas)."""
    if n < 0:
        return "minus " + say_integer(-n)
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS_WORDS[n // 10] + ("-" + _ONES[n % 10] if n % 10 else "")
    if n < 1000:
        return _ONES[n // 100] + " hundred" + (" " + say_integer(n % 100) if n % 100 else "")
    for value, name in _SCALE_WORDS:
        if n >= value:
            q, r = divmod(n, value)
            return f"{say_integer(q)} {name}" + (" " + say_integer(r) if r else "")
    raise AssertionError("unreachable")


def say_ordinal(n: int) -> str:
    """21 -> "twenty-first"."""
    words = say_integer(n)
    head, last = re.match(r"(.*?)([a-z]+)$", words).groups()  # type: ignore[union-attr]
    if last in _ORDINAL_WORDS:
        return head + _ORDINAL_WORDS[last]
    return head + (last[:-1] + "ieth" if last.endswith("y") else last + "th")


def say_number(value: int | Decimal | str) -> str:
    """A number in words: 1250 -> "one thousand two hundred fifty", "3.5" -> "three point five".

    A string keeps its written decimals ("2.50" -> "two point five zero"); commas are ignored.
    """
    if isinstance(value, int):
        return say_integer(value)
    written = value.replace(",", "") if isinstance(value, str) else format(value, "f")
    sign = "minus " if written.startswith("-") else ""
    whole, _, fraction = written.lstrip("-+").partition(".")
    words = sign + say_integer(int(whole or "0"))
    return f"{words} point {say_digits(fraction)}" if fraction else words


def say_digits(code: str) -> str:
    """Read characters one by one: "A12-345" -> "A one two three four five"; other marks are dropped."""
    return " ".join(_ONES[int(c)] if c.isdigit() else c.upper() for c in code if c.isalnum())


def say_numeral(written: str) -> str:
    """Read a written number the way a person would: identifiers digit by digit, amounts as words.

    A leading zero ("0123") or five digits or more without commas ("12345") make an identifier.
    """
    digits = written.lstrip("-+")
    if digits.isdigit() and (len(digits) >= 5 or (len(digits) > 1 and digits[0] == "0")):
        return say_digits(written)
    return say_number(written)


def _say_pairs(n: int) -> str:
    hi, lo = divmod(n, 100)
    if lo == 0:
        return say_integer(hi) + " hundred"
    return f"{say_integer(hi)} " + (f"oh {_ONES[lo]}" if lo < 10 else say_integer(lo))


def say_year(year: int) -> str:
    """2026 -> "twenty twenty-six", 1905 -> "nineteen oh five", 2005 -> "two thousand five"."""
    if not 1000 <= year <= 9999 or year % 1000 < 10:
        return say_integer(year)
    return _say_pairs(year)


def say_house_number(n: int) -> str:
    """House numbers the way they are said: 221 -> "two twenty-one", 1250 -> "twelve fifty"."""
    if n < 100 or n % 1000 == 0:
        return say_integer(n)
    if n < 10000:
        return _say_pairs(n)
    return say_digits(str(n))


# --- hearing numbers ----------------------------------------------------------------------------

# word -> value: the words above, read back
_UNITS = {w: n for n, w in enumerate(_ONES[:10])}
_TEENS = {w: n for n, w in enumerate(_ONES) if n >= 10}
_TENS = {w: n * 10 for n, w in enumerate(_TENS_WORDS) if w}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9}
_ORDINALS = {say_ordinal(n): n for n in (*range(1, 20), *range(20, 100, 10))}  # "first" .. "nineteenth", "ninetieth"
_BELOW_HUNDRED = _UNITS | _TEENS | _TENS
_ZERO_WORDS = {"oh", "o"}  # zero only next to another number word: "four oh one"
_PRONOUN_BEFORE_ONE = {"the", "that", "this", "which", "each", "every", "any", "another", "other", "no", "same"}
_PREPOSITIONS = {"for", "at", "of", "to", "by", "in", "on", "with", "from", "is", "was", "be"}
_WORD = re.compile(r"o'?\s?clock\b|[A-Za-z]+", re.IGNORECASE)  # the "o" of "o'clock" is no zero: "nine o'clock"
_GAP = re.compile(r"[\s-]*")
_DIGIT_GAP = re.compile(r"[\s,.-]*")  # "five, six, seven": recognisers put commas between digits read out
# Words a recogniser writes for a digit it heard ("order for five six seven" was "four five six seven").
# Read as digits only at the head of, or inside, a run of at least three single digits.
_HOMOPHONES = {"for": 4, "fore": 4, "to": 2, "too": 2, "won": 1, "ate": 8}


@dataclass(frozen=True, slots=True)
class SpokenNumber:
    """Number words in a row: "forty five sixty seven" is one spoken number of two groups, 45 and 67.

    ``start`` and ``end`` are where the words are in the text, ``fraction`` the digits said after
    "point", ``ordinal`` whether it ended in an ordinal ("twenty fifth").
    """

    start: int
    end: int
    groups: tuple[int, ...]
    fraction: str
    ordinal: bool

    def digits(self, joiner: str = "") -> str:
        """The number in digits, ``joiner`` between its groups: "4567", or "45 67" with " "."""
        text = joiner.join(str(g) for g in self.groups)
        if self.fraction:
            text += "." + self.fraction
        if self.ordinal:
            last = self.groups[-1]
            text += "th" if 10 <= last % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(last % 10, "th")
        return text


def _word_value(word: str) -> tuple[int, str] | None:
    if word in _UNITS:
        return _UNITS[word], "digit" if word == "zero" else "unit"
    if word in _TEENS:
        return _TEENS[word], "teen"
    if word in _TENS:
        return _TENS[word], "tens"
    if word in _SCALES:
        return _SCALES[word], "hundred" if word == "hundred" else "scale"
    return None


def _groups(words: Sequence[tuple[int, str]]) -> tuple[int, ...]:
    """Add up number words into groups; a word that cannot extend the current number starts a new one."""
    groups: list[int] = []
    done = cur = top = 0  # done: thousands and up already counted; cur: the part below; top: last scale
    last = ""  # class of the previous word, "" when no number is open
    for value, cls in words:
        extends = last and (
            (cls == "unit" and last in ("tens", "hundred", "scale"))
            or (cls in ("teen", "tens") and last in ("hundred", "scale"))
            or (cls == "hundred" and last in ("unit", "teen", "tens", "tens_unit") and 0 < cur < 100)
            or (cls == "scale" and cur > 0 and (done == 0 or value < top))
        )
        if not extends:
            if last:
                groups.append(done + cur)
            done, cur, top = 0, 0, 0
            if cls == "digit":  # a digit said on its own ("oh", "zero", "double five") is its own group
                groups.append(value)
                last = ""
                continue
            if cls == "scale":
                done, top, last = value, value, "scale"
                continue
            cur, last = value, cls
        elif cls == "hundred":
            cur, last = cur * 100, "hundred"
        elif cls == "scale":
            done, cur, top, last = done + cur * value, 0, value, "scale"
        else:
            cur += value
            last = "tens_unit" if last == "tens" else cls
    if last:
        groups.append(done + cur)
    return tuple(groups)


def _pronoun(words: Sequence[tuple[str, int, int]], i: int, nxt: str) -> bool:
    """Is the "one" at ``words[i]`` a pronoun: "the large one", "that one", "one of them"?"""
    if nxt == "of":
        return True
    for word, _, _ in reversed(words[max(0, i - 3) : i]):
        if word in _PRONOUN_BEFORE_ONE:
            return True
        if word in _PREPOSITIONS or _word_value(word):
            return False  # "a table for one", "two one"
    return False


def _homophone_is_digit(word: str, picked: Sequence[tuple[int, str]], ahead: int) -> bool:
    """Whether a homophone ("for", "to") is a digit: it makes a run of at least three single digits
    with those said before it and after it; of four when "to" or "for" stands between digits ("five to
    four" is a clock time, "one to three" a range, "three for two" a deal)."""
    behind = 0
    for value, cls in reversed(picked):
        if cls not in ("unit", "digit") or value > 9:
            break
        behind += 1
    if not behind:  # at the head of a run, or after a teen or a tens word
        return ahead >= 2
    return ahead >= 1 and behind + 1 + ahead >= (4 if word in ("to", "too", "for", "fore") else 3)


def spoken_numbers(text: str, *, ordinals: bool = False) -> list[SpokenNumber]:
    """The numbers said in words in ``text``, in order (see :func:`words_to_digits` for the readings)."""
    words = [(m.group().lower(), m.start(), m.end()) for m in _WORD.finditer(text)]

    def single(k: int) -> bool:
        word = words[k][0]
        return (word in _UNITS and _UNITS[word] < 10) or word in _ZERO_WORDS or word in _HOMOPHONES

    def joined(k: int) -> bool:  # word k and word k + 1 touch (only spaces or a hyphen between)
        if k + 1 >= len(words):
            return False
        gap = _DIGIT_GAP if single(k) and single(k + 1) else _GAP
        return gap.fullmatch(text, words[k][2], words[k + 1][1]) is not None

    def digits_ahead(k: int) -> int:  # single digit words joined after word k
        n = 0
        while joined(k + n) and single(k + n + 1) and words[k + n + 1][0] not in _HOMOPHONES:
            n += 1
        return n

    def after(k: int) -> str:
        return words[k + 1][0] if joined(k) else ""

    runs: list[SpokenNumber] = []
    i = 0
    while i < len(words):
        picked: list[tuple[int, str]] = []
        fraction: str | None = None  # digits after "point"
        ordinal, k = False, i
        while k < len(words) and (k == i or joined(k - 1)):
            word, nxt = words[k][0], after(k)
            value = _word_value(word)
            if fraction is not None:
                if word not in _UNITS and word not in _ZERO_WORDS:
                    break
                fraction += str(_UNITS.get(word, 0))
            elif word == "point" and picked and (nxt in _UNITS or nxt in _ZERO_WORDS):
                fraction = ""
            elif value is not None:
                picked.append(value)
            elif word in _HOMOPHONES and _homophone_is_digit(word, picked, digits_ahead(k)):
                picked.append((_HOMOPHONES[word], "unit"))
            elif word in _ZERO_WORDS and ((picked and picked[-1][1] != "hundred") or _word_value(nxt)):
                picked.append((0, "digit"))
            elif word == "a" and not picked and nxt in _SCALES:
                picked.append((1, "unit"))
            elif word in ("double", "triple") and (nxt in _UNITS or nxt in _ZERO_WORDS):
                picked.extend([(_UNITS.get(nxt, 0), "digit")] * (2 if word == "double" else 3))
                k += 2
                continue
            elif word == "and" and picked and picked[-1][1] in ("hundred", "scale") and nxt in _BELOW_HUNDRED:
                pass  # "a hundred and five"
            elif (
                ordinals and word in _ORDINALS and not (word == "second" and k > 0 and words[k - 1][0] in ("a", "per"))
            ):
                n = _ORDINALS[word]
                picked.append((n, "unit" if n < 10 else "teen" if n < 20 else "tens"))
                ordinal, k = True, k + 1
                break
            else:
                break
            k += 1
        if picked == [(1, "unit")] and not fraction and not ordinal and _pronoun(words, i, after(i)):
            picked = []
        if not picked:
            i += 1
            continue
        runs.append(SpokenNumber(words[i][1], words[k - 1][2], _groups(picked), fraction or "", ordinal))
        i = k
    return runs


# A clock time: an hour (1-12) and its minutes ("eleven thirty", "ten oh five") said next to a word
# of time, before it ("at", "around", "until", "make it", a day, a part of the day) or after it
# ("a.m.", "o'clock", "tomorrow", "on Friday", "in the morning").
_WEEKDAY_WORDS = "monday tuesday wednesday thursday friday saturday sunday".split()
_CLOCK_BEFORE = frozenset(
    ["at", "around", "about", "by", "from", "until", "till", "til", "before", "after", "for", "say", "today",
     "tomorrow", "tonight", "morning", "afternoon", "evening", "night", *_WEEKDAY_WORDS]
)  # fmt: skip
_CLOCK_FILLERS = frozenset({"um", "uh", "er", "erm", "like", "maybe", "just", "roughly", "approximately"})
_CLOCK_AFTER = re.compile(
    r"[\s,]*(?:[ap]\.?\s?m\b|o'?\s?clock\b|oclock\b|(?:(?:on|this|next|coming|in the|at)\s+)?"
    rf"(?:today|tomorrow|tonight|morning|afternoon|evening|night|{'|'.join(_WEEKDAY_WORDS)})\b)",
    re.IGNORECASE,
)
# After a clock time said after "at" or a day, what may come next: the end of the clause, or a word
# that does not go on naming a thing ("at eleven thirty Elm Street" is a house number).
_CLOCK_NEXT = frozenset(
    "please if is would will works work suits suit then or and on in this next that thanks thank ok okay yeah "
    "yes for instead sharp ish latest earliest onwards because cause so but as with maybe be i we she he they "
    "you it".split()
)


def _clock_time(text: str, run: SpokenNumber) -> str | None:
    """``run`` as a clock time ("11:30", "9:05") when it is one (see ``_CLOCK_BEFORE``), else None."""
    groups = run.groups
    if run.fraction or run.ordinal or not 1 <= groups[0] <= 12:
        return None
    if len(groups) == 2 and 10 <= groups[1] <= 59:
        minute = groups[1]
    elif len(groups) == 3 and groups[1] == 0 and 1 <= groups[2] <= 9:  # "ten oh five"
        minute = groups[2]
    else:
        return None
    written = f"{groups[0]}:{minute:02d}"
    after = text[run.end :]
    if _CLOCK_AFTER.match(after):
        return written
    before = [w.lower() for w in _WORD.findall(text[: run.start])]
    while before and before[-1] in _CLOCK_FILLERS:
        before.pop()
    if not before or not (before[-1] in _CLOCK_BEFORE or before[-2:] == ["make", "it"]):
        return None
    following = _WORD.search(after)
    if following is None or re.search(r"[,.;:!?]", after[: following.start()]):
        return written  # the clause ends with it
    return written if following.group().lower() in _CLOCK_NEXT else None


def words_to_digits(text: str, *, ordinals: bool = False, joiner: str = "", clock: bool = False) -> str:
    """Rewrite spoken numbers as digits; everything else is left as it was.

    ``"four five six seven"`` -> ``"4567"``; ``"forty five sixty seven"`` -> ``"4567"`` (groups said
    one after another are written together, the way codes and phone numbers are read);
    ``"a hundred and five"`` -> ``"105"``; ``"double five"`` -> ``"55"``; ``"four oh one"`` -> ``"401"``
    ("oh" is zero only next to another number word); ``"three point five"`` -> ``"3.5"``. With
    ``ordinals``, ``"the twenty fifth"`` -> ``"the 25th"`` (off by default: "wait a second"). With a
    ``joiner``, it goes between the groups: ``"twelve ninety nine"`` -> ``"12 99"`` with ``" "``. With
    ``clock``, an hour and its minutes said as a clock time are written as one: ``"friday at eleven
    thirty"`` -> ``"friday at 11:30"``, not the code ``"1130"``.
    """
    for run in reversed(spoken_numbers(text, ordinals=ordinals)):
        written = (_clock_time(text, run) if clock else None) or run.digits(joiner)
        text = text[: run.start] + written + text[run.end :]
    return text
