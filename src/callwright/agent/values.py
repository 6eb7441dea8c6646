"""Typed values from what a caller said: numbers, phone numbers, dates, times, amounts, emails.

:func:`parse_value` reads one value of a given kind out of a speech recogniser's transcript, which
spells numbers out in words as often as in digits ("four one five, five five five...", "tomorrow at
three", "twenty dollars fifty"). It returns a :class:`Parsed` with the value, a canonical text form,
the words the agent says to confirm it and how sure the reading is; or ``None`` when the text does
not hold a value of that kind.

What comes from a library and what is written here, and why:

- Phone numbers: ``phonenumbers`` (validation, E.164). Emails: ``email-validator``, once "at" and
  "dot" are turned back into "@" and ".".
- Number words: :mod:`.numbers` (:func:`words_to_digits`, also importable from here, because intent
  and slot code need it too). Dates and times: :mod:`.dates`, which leaves only the forms its rules
  do not cover to ``dateparser``. Both say why they are written here, and what they guess.
- Amounts, choices and yes/no are phrase rules, below.

Readings that are guesses (the certainty says so):

- "twelve ninety nine" as an amount is 12.99; a bare number is an amount in ``currency``.
- Dates and times: see :mod:`.dates` (a time without a.m./p.m. follows business hours; a weekday
  alone is the next one to come).
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, get_args

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from .. import phone
from ..errors import ConfigError
from .dates import find_date, find_time, moved, moved_clock, prepare, say_day, say_time
from .numbers import say_digits, say_house_number, say_number, say_numeral, spoken_numbers, words_to_digits
from .shaping import say_email, say_money, say_phone, speakable

__all__ = ["KINDS", "FieldKind", "Parsed", "parse_value", "words_to_digits"]

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


# --- number, money ------------------------------------------------------------------------------

_LITERAL_NUMBER = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?")
_MINUS = re.compile(r"\b(?:minus|negative)\s+(?=\d)")


def _number(text: str) -> Parsed | None:
    lowered = text.lower()
    runs = spoken_numbers(lowered)
    if len(runs) == 1 and not re.search(r"\d", lowered):
        run = runs[0]
        digits = run.digits()
        sign = "-" if re.search(r"\b(?:minus|negative)\s*$", lowered[: run.start]) else ""
        written = sign + digits
        value: int | Decimal = Decimal(written) if run.fraction else int(written)
        identifier = len(run.groups) > 1 or (len(digits) > 1 and digits[0] == "0")
        spoken = say_digits(digits) if identifier and not run.fraction else say_number(written)
        return Parsed(value, written, spoken, 1.0)
    found = _LITERAL_NUMBER.findall(_MINUS.sub("-", words_to_digits(lowered)))
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
    s = words_to_digits(s, joiner=" ")  # "twelve ninety nine" -> "12 99": the split between groups matters here
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
        number = phone.parse(digits, region)
        if number is None or not phonenumbers.is_valid_number(number):
            return None
        certainty = 0.9
    e164 = phone.format_e164(number)
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
    s = _ADDRESS_LEAD_IN.sub("", text.strip().rstrip(".!?,;:"))
    tokens = words_to_digits(s).split()
    if not any(c.isalpha() for c in s):
        return None
    tokens = [t[0].upper() + t[1:] if t[0].isalpha() else t for t in tokens]
    # "6 Hill Road Springfield" -> "6 Hill Road, Springfield": the comma goes after the last street word
    # of the first run of them ("Hill" and "Road" are both street words)
    streets = [i for i, t in enumerate(tokens) if i > 0 and t.lower().strip(".,") in _STREET_WORDS]
    if streets:
        last = streets[0]
        while last + 1 in streets:
            last += 1
        if last < len(tokens) - 1 and not tokens[last].endswith(","):
            tokens[last] += ","
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


def datetime_text(when: dt.datetime) -> str:
    """How a date-time value is written for forms and tools: ISO 8601 to the minute, with the UTC offset
    of the agent's time zone when ``when`` has one ("2026-12-05T15:00-05:00")."""
    return when.isoformat(timespec="minutes")


def read_datetime(text: str) -> dt.datetime | None:
    """The date-time :func:`datetime_text` wrote, or None."""
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return None


_Clock = tuple[dt.time, float, tuple[int, int]]


def _said(kind: str, s: str, today: dt.date, region: str) -> tuple[_Clock | None, tuple[dt.date, float] | None]:
    """The time and the day said in prepared text ``s`` (each None when not said or not wanted)."""
    clock = find_time(s, whole=kind != "date")
    rest = s[: clock[2][0]] + " " + s[clock[2][1] :] if clock else s
    return clock, find_date(rest, today, region) if kind != "time" else None


def _when(kind: str, text: str, now: dt.datetime, region: str) -> Parsed | None:
    s = prepare(text)
    clock, day = _said(kind, s, now.date(), region)
    if move := moved(s):  # "I've one at 8 tomorrow morning, can you make it later, like 11": the new one
        before, direction, after = move
        new_clock, new_day = _said(kind, after, now.date(), region)
        if new_clock is not None or new_day is not None:
            old_clock, old_day = _said(kind, before, now.date(), region)
            if new_clock is not None and old_clock is not None and new_clock[1] < 1.0:
                new_clock = (moved_clock(new_clock[0], old_clock[0], direction), *new_clock[1:])
            clock, day = new_clock or old_clock, new_day or old_day
    if kind == "time":
        if clock is None:
            return None
        return Parsed(clock[0], clock[0].strftime("%H:%M"), say_time(clock[0]), clock[1])
    if kind == "date":
        if day is None:
            return None
        return Parsed(day[0], day[0].isoformat(), say_day(day[0], now.date()), day[1])
    if clock is None:
        return None  # a date without a time is not a datetime; ask for the time
    if day is None:
        soon = now.date() if clock[0] > now.time().replace(tzinfo=None) else now.date() + dt.timedelta(days=1)
        day = (soon, 0.8)
    when = dt.datetime.combine(day[0], clock[0], tzinfo=now.tzinfo)
    spoken = f"{say_day(day[0], now.date())} at {say_time(clock[0])}"
    return Parsed(when, datetime_text(when), spoken, min(day[1], clock[1]))


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
        "all right", "perfect", "fine", "that's fine", "that works", "i do", "do it", "that's it", "that's the one",
        "spot on", "bang on", "go for it", "you got it", "that'll do", "sounds right", "sounds great", "yes it is",
        "go on then", "go on", "go on then", "aye", "yes love", "lovely", "grand", "brilliant", "smashing", "champion",
        "please", "righto", "right you are", "okey dokey", "sure thing", "sure is", "course",
        # spellings and other Englishes: "yeh", "yah", South African "ja" and "yebo", Indian "haan" and "haan ji",
        # Filipino "opo", Nigerian "yes o", "yessir"
        "yeh", "yah", "yas", "yass", "ja", "yebo", "haan", "haan ji", "ji haan", "opo", "yes o", "yessir", "yes'm")  # fmt: skip
_NO = ("no", "nope", "nah", "not quite", "that's wrong", "wrong", "incorrect", "not right", "that's not right",
       "that is not right", "not correct", "negative", "don't", "do not", "not really", "no thanks", "no thank you",
       "i don't think so", "don't think so", "not quite right", "not exactly", "cancel", "never mind", "not that", "that's not it", "not at all",
       "you're alright", "you're all right", "i'm alright", "i'm all right", "i'm good", "i'm fine", "no need", "not now",
       "not for now", "not today", "i'll pass", "no ta", "don't bother", "leave it", "forget it")  # fmt: skip
_UNSURE = ("not sure", "i'm not sure", "don't know", "i don't know", "maybe", "not yet", "hold on", "wait")
# Terms of address and courtesies said with an answer ("yes ma'am", "nah mate", "yeah man", "aye hen",
# "no sorry", "yes thanks"): part of the answer, not other words beside it, so they do not make the
# reading less certain.
_COURTESIES = re.compile(
    r"\b(?:sorry|thanks|thank you|cheers|ta|"
    r"ma'am|maam|mam|madam|sir|miss|missus|love|luv|dear|darling|hun|hon|honey|pet|hen|duck|chuck|mate|man|"
    r"bro|bruv|brother|sis|sister|boss|chief|pal|buddy|bud|dude|auntie|aunty|uncle|ji|doc|doctor|nurse|"
    r"my (?:dear|friend|love|man|brother|sister|g)|young man|young lady)\b"
)
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
    said = _COURTESIES.sub(" ", s)
    certainty = 1.0 if covered * 2 >= len(said.replace(" ", "")) else 0.8
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

    ``now`` anchors relative dates: pass the call's clock in the agent's time zone (the default reads
    the wall clock); a datetime comes back in ``now``'s zone and is written by :func:`datetime_text`.
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
            # wall clock only when a caller of parse_value gives no `now`; a call passes its agent's (Dialogue.now)
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
