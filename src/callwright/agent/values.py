"""Typed values from what a caller said: numbers, phone numbers, dates, times, amounts, emails.

:func:`parse_value` reads one value of a given kind out of a speech recogniser's transcript, which
spells numbers out in words as often as in digits ("four one five, five five five...", "tomorrow at
three", "twenty dollars fifty"). It returns a :class:`Parsed` with the value, a canonical text form,
the words the agent says to confirm it and how sure the reading is; or ``None`` when the text does
not hold a value of that kind. :func:`words_to_digits` is the number-word reader underneath, public
because intent and slot code need it too.

What comes from a library and what is written here, and why:

- Phone numbers: ``phonenumbers`` (validation, E.164). Emails: ``email-validator``, once "at" and
  "dot" are turned back into "@" and ".". Dates in forms the rules below do not cover ("11/25",
  "December 3, 2026", "the 3rd of next month"): ``dateparser``.
- Written here: number words, because recognisers say numbers the way people read codes ("forty five
  sixty seven", "double five", "four oh one") and no library reads those. Clock times, because
  dateparser drops a bare hour ("tomorrow at 3" comes back at the time of ``now``) and does not read
  "3 30 pm" or "half past 2". The common spoken dates (today, tomorrow, weekdays, "the 3rd",
  "November 25th"), because dateparser reads "on the 3rd" as March and "friday at 2" as February,
  and cannot say which parts it found. Amounts, choices and yes/no are phrase rules.

Readings that are guesses (the certainty says so):

- A time without a.m./p.m. follows business hours: a bare hour 1-7 is p.m. ("at three" -> 15:00),
  8-11 is a.m., 12 is noon. "morning" / "afternoon" / "evening" / "tonight" settle it.
- A bare weekday, or "next <weekday>", is the first one after today; "this <weekday>" may be today.
  A day of the month alone ("the 3rd") is this month, or next month once it has passed. A month and
  day without a year is the next one to come.
- "twelve ninety nine" as an amount is 12.99; a bare number is an amount in ``currency``.
- A lone "one" after "the", "that", "this", "which" (and the like) is a pronoun, not a number.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, get_args

import dateparser
import phonenumbers
from email_validator import EmailNotValidError, validate_email

from ..errors import ConfigError
from .shaping import (
    say_date,
    say_digits,
    say_email,
    say_house_number,
    say_money,
    say_number,
    say_numeral,
    say_phone,
    say_time,
    speakable,
)

FieldKind = Literal[
    "phone", "date", "time", "datetime", "number", "money", "email", "address", "choice", "yes_no", "text"
]
KINDS: tuple[str, ...] = get_args(FieldKind)


@dataclass(frozen=True, slots=True)
class Parsed:
    """A value read from speech.

    ``value`` is typed by kind: phone -> E.164 ``str``; date -> ``datetime.date``; time ->
    ``datetime.time``; datetime -> ``datetime.datetime``; number -> ``int`` or ``Decimal``; money ->
    ``Decimal``; email, address, text -> ``str``; choice -> the canonical choice; yes_no -> ``bool``.
    ``text`` is its canonical written form, ``spoken`` how the agent reads it back, ``certainty``
    (0..1) how sure the parser is that the text holds this value.
    """

    value: Any
    text: str
    spoken: str
    certainty: float


# --- number words -------------------------------------------------------------------------------

_UNITS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine".split())}
_TEENS = {
    w: i + 10
    for i, w in enumerate("ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split())
}
_TENS = {w: i * 10 + 20 for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9}
_ORDINALS = (
    {"first": 1, "second": 2, "third": 3, "fifth": 5, "eighth": 8, "ninth": 9, "twelfth": 12}
    | {w + "th": v for w, v in (_UNITS | _TEENS).items() if v in (4, 6, 7, 10, 11) or 13 <= v <= 19}
    | {w[:-1] + "ieth": v for w, v in _TENS.items()}
)
_BELOW_HUNDRED = _UNITS | _TEENS | _TENS
_ZERO_WORDS = {"oh", "o"}  # zero only next to another number word: "four oh one"
_PRONOUN_BEFORE_ONE = {"the", "that", "this", "which", "each", "every", "any", "another", "other", "no", "same"}
_PREPOSITIONS = {"for", "at", "of", "to", "by", "in", "on", "with", "from", "is", "was", "be"}
_WORD = re.compile(r"[A-Za-z]+")
_GAP = re.compile(r"[\s-]*")
_DIGIT_GAP = re.compile(r"[\s,.-]*")  # "five, six, seven": recognisers put commas between digits read out
# Words a recogniser writes for a digit it heard ("order for five six seven" was "four five six seven").
# Read as digits only at the head of, or inside, a run of at least three single digits.
_HOMOPHONES = {"for": 4, "fore": 4, "to": 2, "too": 2, "won": 1, "ate": 8}


@dataclass(frozen=True, slots=True)
class _Run:
    """Number words in a row: "forty five sixty seven" is one run of two groups, 45 and 67."""

    start: int
    end: int
    groups: tuple[int, ...]
    fraction: str
    ordinal: bool

    def digits(self, joiner: str = "") -> str:
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


def _runs(text: str, *, ordinals: bool = False) -> list[_Run]:
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

    runs: list[_Run] = []
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
            elif word in _HOMOPHONES and digits_ahead(k) >= (1 if picked and picked[-1][1] in ("unit", "digit") else 2):
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
        runs.append(_Run(words[i][1], words[k - 1][2], _groups(picked), fraction or "", ordinal))
        i = k
    return runs


def _rewrite(text: str, joiner: str = "", *, ordinals: bool = False) -> str:
    for run in reversed(_runs(text, ordinals=ordinals)):
        text = text[: run.start] + run.digits(joiner) + text[run.end :]
    return text


def words_to_digits(text: str, *, ordinals: bool = False) -> str:
    """Rewrite spoken numbers as digits; everything else is left as it was.

    ``"four five six seven"`` -> ``"4567"``; ``"forty five sixty seven"`` -> ``"4567"`` (groups said
    one after another are written together, the way codes and phone numbers are read);
    ``"a hundred and five"`` -> ``"105"``; ``"double five"`` -> ``"55"``; ``"four oh one"`` -> ``"401"``
    ("oh" is zero only next to another number word); ``"three point five"`` -> ``"3.5"``. With
    ``ordinals``, ``"the twenty fifth"`` -> ``"the 25th"`` (off by default: "wait a second").
    """
    return _rewrite(text, ordinals=ordinals)


# --- number, money ------------------------------------------------------------------------------

_LITERAL_NUMBER = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?")
_MINUS = re.compile(r"\b(?:minus|negative)\s+(?=\d)")


def _number(text: str) -> Parsed | None:
    lowered = text.lower()
    runs = _runs(lowered)
    if len(runs) == 1 and not re.search(r"\d", lowered):
        run = runs[0]
        digits = run.digits()
        sign = "-" if re.search(r"\b(?:minus|negative)\s*$", lowered[: run.start]) else ""
        written = sign + digits
        value: int | Decimal = Decimal(written) if run.fraction else int(written)
        identifier = len(run.groups) > 1 or (len(digits) > 1 and digits[0] == "0")
        spoken = say_digits(digits) if identifier and not run.fraction else say_number(written)
        return Parsed(value, written, spoken, 1.0)
    found = _LITERAL_NUMBER.findall(_MINUS.sub("-", _rewrite(lowered)))
    if not found:
        return None
    written = found[0].replace(",", "")
    value = Decimal(written) if "." in written else int(written)
    return Parsed(value, written, say_numeral(found[0]), 1.0 if len(found) == 1 else 0.6)


_MONEY_WORDS = {
    "dollar": "$", "dollars": "$", "buck": "$", "bucks": "$", "usd": "$",
    "euro": "€", "euros": "€", "eur": "€", "pound": "£", "pounds": "£", "quid": "£", "gbp": "£",
}  # fmt: skip
_CURRENCY_SYMBOL = {"USD": "$", "CAD": "$", "AUD": "$", "NZD": "$", "EUR": "€", "GBP": "£"}
_AMOUNT = r"(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?"
_CENTS = r"(?:\s*(?:and\s+)?(\d{1,2})(?:\s*(?:cents?|pence|p)\b)?)?"
_MONEY_SYMBOL = re.compile(rf"([$€£])\s?{_AMOUNT}{_CENTS}")
_MONEY_WORD = re.compile(rf"{_AMOUNT}\s*({'|'.join(_MONEY_WORDS)})\b{_CENTS}")
_MONEY_CENTS = re.compile(r"\b(\d{1,2})\s*(?:cents?|pence)\b")
_MONEY_PAIR = re.compile(r"\b(\d+)\s(\d{2})\b")
_MONEY_BARE = re.compile(rf"(?<![\d.]){_AMOUNT}\b")


def _cents(decimals: str | None, said: str | None) -> str:
    """Two digits of cents: written decimals pad right ("$3.5" -> 50), said cents pad left ("5 cents" -> 05)."""
    return decimals.ljust(2, "0") if decimals else said.zfill(2) if said else ""


def _money(text: str, currency: str) -> Parsed | None:
    s = re.sub(r"\ban?\s+(dollar|buck|euro|pound)\b", r"one \1", text.lower())
    s = _rewrite(s, " ")  # "twelve ninety nine" -> "12 99": the split between groups matters here
    whole = cents = ""
    symbol, certainty = "", 1.0
    if m := _MONEY_SYMBOL.search(s):
        symbol, whole, cents = m.group(1), m.group(2), _cents(m.group(3), m.group(4))
    elif m := _MONEY_WORD.search(s):
        whole, cents, symbol = m.group(1), _cents(m.group(2), m.group(4)), _MONEY_WORDS[m.group(3)]
    elif m := _MONEY_CENTS.search(s):
        whole, cents = "0", m.group(1).zfill(2)
    elif m := _MONEY_PAIR.search(s):
        whole, cents, certainty = m.group(1), m.group(2), 0.8
    elif m := _MONEY_BARE.search(s):
        whole, cents = m.group(1), _cents(m.group(2), None)
        certainty = 0.8 if cents else 0.7
    else:
        return None
    expected = _CURRENCY_SYMBOL.get(currency.upper())
    if symbol and expected and symbol != expected:
        return None  # an amount in another currency is not an amount in this one
    amount = Decimal(whole.replace(",", "") + "." + (cents or "00"))
    return Parsed(amount, f"{amount:.2f}", say_money(amount, currency), certainty)


# --- phone, email, address ----------------------------------------------------------------------


def _phone(text: str, region: str) -> Parsed | None:
    s = re.sub(r"\bplus\s*", "+", words_to_digits(text.lower()))
    number, certainty = None, 1.0
    for match in phonenumbers.PhoneNumberMatcher(s, region, leniency=phonenumbers.Leniency.VALID):
        number = match.number
        break
    if number is None:
        digits = re.sub(r"[^\d+]", "", s)
        digits = digits[:1] + digits[1:].replace("+", "")
        try:
            number = phonenumbers.parse(digits, region)
        except phonenumbers.NumberParseException:
            return None
        if not phonenumbers.is_valid_number(number):
            return None
        certainty = 0.9
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return Parsed(e164, e164, say_phone(e164, region), certainty)


_EMAIL_WORDS = {"dot": ".", "period": ".", "underscore": "_", "dash": "-", "hyphen": "-", "plus": "+"}
_EMAIL_LEAD_IN = {
    "is", "it's", "its", "it", "email", "address", "my", "me", "to", "use", "send", "that's", "thats", "try",
    "under", "reach", "contact", "the", "and", "so", "yes", "yeah", "sure", "ok", "okay", "um", "uh", "on",
}  # fmt: skip
_EMAIL_TAIL = {"please", "thanks", "thank", "you", "thankyou", "ok", "okay"}
_EMAIL_LITERAL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def _email(text: str) -> Parsed | None:
    s = re.sub(r"\be-mail\b", "email", words_to_digits(text.lower().replace("’", "'")))
    if m := _EMAIL_LITERAL.search(s):
        candidate, certainty = m.group(), 1.0
    else:
        tokens = re.findall(r"[a-z0-9']+(?:[._+-][a-z0-9]+)*|@", s)
        ats = [i for i, t in enumerate(tokens) if t in ("at", "@")]
        if not ats:
            return None
        at = ats[-1]
        local = tokens[:at]
        cut = max((i for i, t in enumerate(local) if t in _EMAIL_LEAD_IN), default=-1)
        domain = []
        for t in tokens[at + 1 :]:
            if t in _EMAIL_TAIL:
                break
            domain.append(t)
        candidate = "".join(_EMAIL_WORDS.get(t, t) for t in local[cut + 1 :]) + "@"
        candidate += "".join(_EMAIL_WORDS.get(t, t) for t in domain)
        certainty = 0.9
    try:
        address = validate_email(candidate.strip("."), check_deliverability=False).normalized
    except EmailNotValidError:
        return None
    return Parsed(address, address, say_email(address), certainty)


_STREET_WORDS = {
    "street", "st", "avenue", "ave", "road", "rd", "boulevard", "blvd", "lane", "ln", "drive", "dr", "court",
    "ct", "place", "pl", "way", "terrace", "circle", "highway", "hwy", "parkway", "pkwy", "square", "sq",
    "crescent", "close", "trail", "alley", "plaza", "row", "walk", "grove", "hill",
}  # fmt: skip
_ADDRESS_LEAD_IN = re.compile(
    r"^(?:(?:um|uh|so|yeah|yes|ok|okay|sure|well)[\s,]+)*"
    r"(?:it's|it is|i live at|i'm at|i am at|my address is|the address is|address is|that's|that is|we're at|"
    r"we are at|send it to|deliver (?:it )?to|it's at)\s+",
    re.IGNORECASE,
)


def _address(text: str) -> Parsed | None:
    s = _ADDRESS_LEAD_IN.sub("", text.strip().rstrip(".!?"))
    tokens = words_to_digits(s).split()
    if not any(c.isalpha() for c in s):
        return None
    tokens = [t[0].upper() + t[1:] if t[0].isalpha() else t for t in tokens]
    for i, t in enumerate(tokens[:-1]):
        if t.lower().rstrip(".") in _STREET_WORDS and not t.endswith(",") and i > 0:
            tokens[i] = t + ","
            break
    written = " ".join(tokens)
    has_number = bool(re.fullmatch(r"\d+[A-Za-z]?,?", tokens[0]))
    has_street = any(t.lower().strip(".,") in _STREET_WORDS for t in tokens[1:])
    certainty = 1.0 if has_number and has_street else 0.6 if has_number or has_street else 0.3
    if has_number and tokens[0].isdigit():
        spoken = say_house_number(int(tokens[0])) + " " + speakable(" ".join(tokens[1:]))
    else:
        spoken = speakable(written)
    return Parsed(written, written, spoken, certainty)


# --- dates and times ----------------------------------------------------------------------------

_MONTH_NUMBERS = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4, "may": 5,
    "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8, "september": 9, "sept": 9, "sep": 9,
    "october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
}  # fmt: skip
_WEEKDAY_NUMBERS = {d: i for i, d in enumerate("monday tuesday wednesday thursday friday saturday sunday".split())}
_MONTH = "|".join(sorted(_MONTH_NUMBERS, key=len, reverse=True))
_TH = r"(?:st|nd|rd|th)"
_AP = r"(?:\s*(?P<ap>am|pm)\b)?"
_NOT_A_TIME = r"(?!\s*(?:st|nd|rd|th|days?|weeks?|months?|years?|people|persons|guests|minutes|hours|nights?|of|/)\b)"
_TIMES = (
    re.compile(r"\b(?:12\s+)?(?P<word>noon|midday|midnight)\b"),
    re.compile(
        r"\b(?P<m>half|quarter|\d{1,2})\s+(?:minutes\s+)?(?P<dir>past|after|to|till|before)\s+(?P<h>\d{1,2})\b" + _AP
    ),
    re.compile(r"\b(?P<h>\d{1,2})(?::|\.|\s)(?P<m>[0-5]\d)\b" + _AP),
    re.compile(r"\b(?P<h>\d{1,2})\s0\s(?P<m>\d)\b" + _AP),  # "three oh five"
    re.compile(r"\b(?P<hm>\d{3,4})\s*(?P<ap>am|pm)\b"),
    re.compile(r"\b(?P<h>\d{1,2})\s*(?:oclock\s*)?(?P<ap>am|pm)\b"),
    re.compile(r"\b(?P<h>\d{1,2})\s*oclock\b"),
    re.compile(r"\b(?:at|around|about|by|before|after|until|till)\s+(?P<h>\d{1,2})\b" + _NOT_A_TIME),
)
_PART_OF_DAY = re.compile(r"\b(?:in the (?P<am>morning)|(?P<pm>afternoon|evening|tonight|night))\b")
_FILLER = {"um", "uh", "er", "hmm", "maybe", "say", "let's", "lets", "how", "about", "make", "it", "please", "ok",
           "okay", "so", "like", "i", "think", "probably", "the", "at", "around", "yeah", "for"}  # fmt: skip
_YEAR_PAIR = re.compile(
    rf"((?:{_MONTH})\s+\d{{1,2}}{_TH}?|\d{{1,2}}{_TH}(?:\s+of\s+(?:{_MONTH}))?),?\s+(19|20)\s(\d{{2}})\b"
)
_MONTH_DAY = re.compile(rf"\b(?P<month>{_MONTH})\.?\s+(?:the\s+)?(?P<day>\d{{1,2}}){_TH}?\b(?:,?\s+(?P<year>\d{{4}}))?")
_DAY_MONTH = re.compile(rf"\b(?P<day>\d{{1,2}}){_TH}?\s+(?:of\s+)?(?P<month>{_MONTH})\b(?:,?\s+(?P<year>\d{{4}}))?")
_THE_DAY = re.compile(
    rf"(?:\bon\s+the\s+(?P<a>\d{{1,2}}){_TH}?|\bthe\s+(?P<b>\d{{1,2}}){_TH})\b(?:\s+of\s+(?P<rel>this|next)\s+month)?"
)
_BARE_DAY = re.compile(rf"\b(?P<a>\d{{1,2}}){_TH}\b(?:\s+of\s+(?P<rel>this|next)\s+month)?")
_RELATIVE = re.compile(r"\b(day after tomorrow|tomorrow|today|tonight|yesterday|this (?:morning|afternoon|evening))\b")
_RELATIVE_DAYS = {"day after tomorrow": 2, "tomorrow": 1, "yesterday": -1}
_WEEKDAY = re.compile(rf"\b(?:(?P<which>this|next|coming)\s+)?(?P<day>{'|'.join(_WEEKDAY_NUMBERS)})s?\b")
_IN_DAYS = re.compile(r"\bin\s+(?P<n>\d{1,3}|a|an)\s+(?P<unit>day|week)s?\b")
_NEXT_WEEK = re.compile(r"\bnext week\b")


def _prepare(text: str) -> str:
    s = text.lower().replace("’", "'")
    s = re.sub(r"\bo'?\s?clock\b", " oclock", s)
    s = _rewrite(s, " ", ordinals=True)
    s = re.sub(r"\b([ap])\.?\s?m\b\.?", r"\1m", s)
    return _YEAR_PAIR.sub(r"\1 \2\3", s)


def _clock(hour: int, minute: int, ap: str | None) -> tuple[dt.time, bool] | None:
    """Hour and minute as said -> (time, guessed): the business-hours rule when a.m./p.m. is missing."""
    guessed = False
    if hour > 23 or minute > 59:
        return None
    if ap == "pm" and 1 <= hour < 12:
        hour += 12
    elif ap == "am" and hour == 12:
        hour = 0
    elif ap is None and 1 <= hour <= 12:
        hour, guessed = (hour + 12 if hour <= 7 else hour), True
    return dt.time(hour, minute), guessed


def _find_time(s: str, *, whole: bool) -> tuple[dt.time, float, tuple[int, int]] | None:
    part = _PART_OF_DAY.search(s)
    part_ap = ("am" if part.group("am") else "pm") if part else None
    for pattern in _TIMES:
        m = pattern.search(s)
        if m is None:
            continue
        found = m.groupdict()
        if found.get("word"):
            return dt.time(0 if found["word"] == "midnight" else 12), 1.0, m.span()
        if found.get("hm"):
            hour, minute = divmod(int(found["hm"]), 100)
        elif found.get("dir"):
            minute = {"half": 30, "quarter": 15}.get(found["m"]) or int(found["m"])
            hour = int(found["h"])
            if found["dir"] in ("to", "till", "before"):
                hour, minute = (hour - 1) % 24, 60 - minute
        else:
            hour, minute = int(found["h"]), int(found.get("m") or 0)
        clock = _clock(hour, minute, found.get("ap") or part_ap)
        if clock is not None:
            return clock[0], 0.85 if clock[1] else 1.0, m.span()
    if whole:  # the whole answer is a time: "three", "um, four thirty"
        kept = " ".join(t for t in re.split(r"[\s,.!?]+", s) if t and t not in _FILLER)
        if m := re.fullmatch(r"(\d{1,2})(?: ([0-5]\d))?", kept):
            clock = _clock(int(m.group(1)), int(m.group(2) or 0), part_ap)
            if clock is not None:
                return clock[0], 0.7, (0, len(s))
    return None


def _month_day(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _day_of_month(day: int, rel: str | None, today: dt.date) -> tuple[dt.date, float] | None:
    """ "the 3rd": this month, or next month once it has passed (or when "of next month" is said)."""
    year, month = today.year, today.month
    if rel == "next" or (rel is None and day < today.day):
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    for _ in range(12):  # "the 31st" in a 30-day month is the next month that has one
        if found := _month_day(year, month, day):
            return found, 0.9
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return None


def _find_date(s: str, today: dt.date, region: str) -> tuple[dt.date, float] | None:
    for pattern in (_MONTH_DAY, _DAY_MONTH):
        if m := pattern.search(s):
            month, day = _MONTH_NUMBERS[m.group("month")], int(m.group("day"))
            if m.group("year"):
                found = _month_day(int(m.group("year")), month, day)
                return (found, 1.0) if found else None
            found = _month_day(today.year, month, day)
            if found is not None and found < today:
                found = _month_day(today.year + 1, month, day)
            return (found, 1.0) if found else None
    if m := _THE_DAY.search(s):
        return _day_of_month(int(m.group("a") or m.group("b")), m.group("rel"), today)
    if m := _RELATIVE.search(s):
        return today + dt.timedelta(days=_RELATIVE_DAYS.get(m.group(1), 0)), 1.0
    if m := _WEEKDAY.search(s):
        ahead = (_WEEKDAY_NUMBERS[m.group("day")] - today.weekday()) % 7
        if m.group("which") != "this":
            ahead = ahead or 7
        return today + dt.timedelta(days=ahead), 0.8 if m.group("which") == "next" else 1.0
    if m := _BARE_DAY.search(s):  # after the words: "tomorrow, first thing" is not the 1st
        return _day_of_month(int(m.group("a")), m.group("rel"), today)
    if m := _IN_DAYS.search(s):
        n = 1 if m.group("n") in ("a", "an") else int(m.group("n"))
        return today + dt.timedelta(days=n * (7 if m.group("unit") == "week" else 1)), 1.0
    if _NEXT_WEEK.search(s):
        return today + dt.timedelta(days=7), 0.5
    if re.search(r"\d", s):
        settings = {
            "RELATIVE_BASE": dt.datetime.combine(today, dt.time()),
            "PREFER_DATES_FROM": "future",
            "DATE_ORDER": "MDY" if region.upper() == "US" else "DMY",
            "REQUIRE_PARTS": ["day"],
            "RETURN_AS_TIMEZONE_AWARE": False,
        }
        parsed = dateparser.parse(s, languages=["en"], settings=settings)
        if parsed is not None:
            return parsed.date(), 0.8
    return None


def _when(kind: str, text: str, now: dt.datetime, region: str) -> Parsed | None:
    s = _prepare(text)
    clock = _find_time(s, whole=kind != "date")
    rest = s[: clock[2][0]] + " " + s[clock[2][1] :] if clock else s
    day = _find_date(rest, now.date(), region) if kind != "time" else None
    if kind == "time":
        if clock is None:
            return None
        return Parsed(clock[0], clock[0].strftime("%H:%M"), say_time(clock[0]), clock[1])
    if kind == "date":
        if day is None:
            return None
        return Parsed(day[0], day[0].isoformat(), say_date(day[0], year=day[0].year != now.year), day[1])
    if clock is None:
        return None  # a date without a time is not a datetime; ask for the time
    if day is None:
        soon = now.date() if clock[0] > now.time().replace(tzinfo=None) else now.date() + dt.timedelta(days=1)
        day = (soon, 0.8)
    when = dt.datetime.combine(day[0], clock[0], tzinfo=now.tzinfo)
    spoken = f"{say_date(day[0], year=day[0].year != now.year)} at {say_time(clock[0])}"
    return Parsed(when, when.strftime("%Y-%m-%d %H:%M"), spoken, min(day[1], clock[1]))


# --- choice, yes/no -----------------------------------------------------------------------------


def _fold(word: str) -> str:
    """Fold plurals so "larges" matches "large" and "fries" matches "fry"."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if (len(word) > 4 and word.endswith("es") and word[-3] in "sxz") or word.endswith(("ches", "shes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _folded(text: str) -> list[str]:
    return [_fold(w) for w in re.findall(r"[a-z0-9]+", text.lower().replace("'", "").replace("’", ""))]


_PICK = re.compile(r"\b(?:(first|second|third|fourth|fifth|last)\b|(?:number|option)\s+(\d{1,2})\b)")
_PICK_INDEX = {"first": 0, "second": 1, "third": 2, "fourth": 3, "fifth": 4, "last": -1}


def _choice(text: str, choices: Sequence[str], synonyms: Mapping[str, Sequence[str]]) -> Parsed | None:
    said = _folded(text)
    scored: list[tuple[float, int, str]] = []  # (score, words in the matched phrase, choice)
    for choice in choices:
        best = (0.0, 0)
        for phrase in (choice, *synonyms.get(choice, ())):
            want = _folded(phrase)
            if not want:
                continue
            for i in range(len(said) - len(want) + 1):
                window = said[i : i + len(want)]
                ratio = (
                    1.0 if window == want else difflib.SequenceMatcher(None, " ".join(window), " ".join(want)).ratio()
                )
                score = 1.0 if ratio == 1.0 else round(ratio * 0.9, 2) if ratio >= 0.8 else 0.0
                best = max(best, (score, len(want)))
        if best[0]:
            scored.append((best[0], best[1], choice))
    if scored:
        scored.sort(reverse=True)
        if len(scored) > 1 and scored[0][:2] == scored[1][:2]:
            return None  # two choices fit equally: ask again rather than guess
        return Parsed(scored[0][2], scored[0][2], scored[0][2], scored[0][0])
    if m := _PICK.search(words_to_digits(text.lower())):
        index = _PICK_INDEX[m.group(1)] if m.group(1) else int(m.group(2)) - 1
        if -len(choices) <= index < len(choices):
            return Parsed(choices[index], choices[index], choices[index], 0.8)
    return None


_YES = ("yes", "yeah", "yep", "yup", "yea", "ya", "sure", "correct", "right", "that's right", "that is right",
        "exactly", "absolutely", "definitely", "of course", "go ahead", "please do", "sounds good", "ok", "okay",
        "affirmative", "uh huh", "mhm", "mm hmm", "yes please", "no problem", "no worries", "why not", "alright",
        "all right", "perfect", "fine", "that's fine", "that works", "i do", "do it")  # fmt: skip
_NO = ("no", "nope", "nah", "not quite", "that's wrong", "wrong", "incorrect", "not right", "that's not right",
       "that is not right", "not correct", "negative", "don't", "do not", "not really", "no thanks", "no thank you",
       "i don't think so", "don't think so", "not quite right", "not exactly", "cancel", "never mind", "not that", "that's not it", "not at all")  # fmt: skip
_UNSURE = ("not sure", "i'm not sure", "don't know", "i don't know", "maybe", "not yet", "hold on", "wait")
_YES_NO = {p: True for p in _YES} | {p: False for p in _NO} | {p: None for p in _UNSURE}
_YES_NO_PHRASE = re.compile(r"\b(?:" + "|".join(re.escape(p) for p in sorted(_YES_NO, key=len, reverse=True)) + r")\b")


def _yes_no(text: str) -> Parsed | None:
    s = re.sub(r"[^a-z' ]+", " ", text.lower().replace("’", "'"))
    s = re.sub(r"\s+", " ", s).strip()
    matches = list(_YES_NO_PHRASE.finditer(s))
    votes = {_YES_NO[m.group()] for m in matches} - {None}
    if len(votes) != 1:
        return None
    value = votes.pop() is True
    covered = sum(len(m.group()) for m in matches)
    certainty = 1.0 if covered * 2 >= len(s.replace(" ", "")) else 0.8
    return Parsed(value, "yes" if value else "no", "yes" if value else "no", certainty)


# --- entry point --------------------------------------------------------------------------------


def parse_value(
    kind: FieldKind,
    text: str,
    *,
    now: dt.datetime | None = None,
    choices: Sequence[str] = (),
    region: str = "US",
    currency: str = "USD",
    synonyms: Mapping[str, Sequence[str]] | None = None,
) -> Parsed | None:
    """Read a value of ``kind`` from recognised speech; ``None`` when the text holds none.

    ``now`` anchors relative dates (pass the call's clock; the default reads the wall clock).
    ``choices`` are the answers allowed for ``"choice"`` (with none, nothing matches); ``synonyms``
    maps a choice to other ways of saying it (``{"large": ["big", "grande"]}``). ``region`` is the
    default phone region and date order (US: month first), ``currency`` the currency of ``"money"``
    (an amount said in another currency gives None). Raises :class:`ConfigError` for an unknown kind.
    """
    if kind not in KINDS:
        close = difflib.get_close_matches(str(kind), KINDS, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"use one of {', '.join(KINDS)}"
        raise ConfigError(f"parse_value: kind {kind!r} is not a field kind; {hint}")
    text = text.strip()
    if not text:
        return None
    match kind:
        case "phone":
            return _phone(text, region.upper())
        case "date" | "time" | "datetime":
            return _when(kind, text, now or dt.datetime.now(), region)
        case "number":
            return _number(text)
        case "money":
            return _money(text, currency)
        case "email":
            return _email(text)
        case "address":
            return _address(text)
        case "choice":
            return _choice(text, choices, synonyms or {})
        case "yes_no":
            return _yes_no(text)
        case _:
            return Parsed(text, text, text, 1.0)
