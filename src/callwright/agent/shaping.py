"""Text shaped for the ear: sentence streaming, speakable text and how values are read aloud.

:class:`SentenceSplitter` turns a stream of text deltas (from an LLM or a script) into complete
sentences as soon as each one ends, so synthesis of the first sentence starts while the rest is
still being written. :func:`speakable` rewrites each sentence so a voice says it right: it strips
what a voice cannot say (markdown, emoji, URLs) and spells out what it would misread (prices,
numbers, ordinals, percentages, dates, times, phone numbers, reference codes, lists).

The ``say_*`` functions are the reading rules: money, phone numbers, emails and lists here; numbers
in :mod:`.numbers` and dates and times in :mod:`.dates`, all importable from here.
:mod:`callwright.agent.values` reads a parsed value back to the caller with the same functions, so
"$20.50" sounds the same whether the agent wrote it or heard it.

Readings that are choices, not facts:

- No "/" reaches the voice (Piper and espeak say "slash"). "11/25/2026" and "11/25" are US dates
  ("November twenty-fifth"); "1/2", "1/3", "2/3", "1/4" and "3/4" are fractions ("one half") unless
  a date word comes first ("on", "by", "until", a weekday); after "rated", "scored" or "score of",
  or before "stars" or "points", "4/5" is "four out of five" ("a ratio of 11/25": "eleven to
  twenty-five"); two numbers that cannot be a date are
  read "thirteen over forty". "24/7" is "twenty-four seven"; "km/h" and "$5/month" say "per";
  "and/or" is "and or", "c/o" "care of", "w/" "with", "w/o" "without", "N/A" "not applicable";
  any other "a/b" between words is "a or b".
- Units after a number are said as words, in American spelling, singular for exactly one: "5 km"
  -> "five kilometers", "1 kg" -> "one kilogram" (:mod:`.units` lists them). An amount between
  "a"/"an" and a noun is an adjective: "a $5k budget" -> "a five-thousand-dollar budget", "a 5 km
  walk" -> "a five-kilometer walk".
- "a" or "an" is chosen by the sound of the next word, after numbers are spelled: "an upbeat",
  "a unit", "an hour", "a one-off", "an eight a.m. start" (:mod:`.articles`).
- A full stop right after an abbreviation's own ("a.m..") is dropped.
- A written date with a year is read with its weekday and without the year:
  "2026-11-25" -> "Wednesday, November twenty-fifth".
- "3:30" without a.m./p.m. is read "three thirty"; a 24-hour time ("15:30") gets its "p.m.".
- A digit string with a leading zero, or of five digits or more without commas, is an identifier
  and is read digit by digit; so is a code mixing capital letters and digits ("AB-778"), the
  number after "#", and the number after "order", "ref", "confirmation" and the like when it has
  four characters or more or a letter.
- A four-digit number from 1900 to 2099 is read as a year: "2026" -> "twenty twenty-six".
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Callable, Sequence
from decimal import Decimal

import phonenumbers

from .. import phone
from .articles import fix_articles
from .dates import say_date, say_time
from .numbers import say_digits, say_house_number, say_integer, say_number, say_numeral, say_ordinal, say_year
from .units import UNITS, say_measure

__all__ = [
    "SentenceSplitter",
    "say_date",
    "say_digits",
    "say_email",
    "say_house_number",
    "say_integer",
    "say_list",
    "say_money",
    "say_number",
    "say_numeral",
    "say_ordinal",
    "say_phone",
    "say_time",
    "say_year",
    "speakable",
    "split_sentences",
]

_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "st", "vs", "etc", "e.g", "i.e", "no", "approx", "apt"}
_END = re.compile(r"([.!?…]+)[\"')\]]*(\s+)")
_MARKDOWN = re.compile(r"(\*\*|__|`+|^#+\s*|^\s*[-*+]\s+|^\s*\d+\.\s+|\[([^\]]*)\]\([^)]*\))", re.MULTILINE)
_EMOJI = re.compile("[\U0001f000-\U0001faff\U00002600-\U000027bf\U0001f900-\U0001f9ff\ufe0f\u200d]+")
_URL = re.compile(r"https?://\S+")


class SentenceSplitter:
    def __init__(self, min_chars: int = 12) -> None:
        self._buf = ""
        self._min = min_chars

    def feed(self, delta: str) -> list[str]:
        self._buf += delta
        out: list[str] = []
        start = 0
        for m in _END.finditer(self._buf):
            candidate = self._buf[start : m.end(1)].strip()
            last_word = candidate.rsplit(" ", 1)[-1].rstrip(".").lower()
            if m.group(1) == "." and (last_word in _ABBREVIATIONS or re.fullmatch(r"\d+", candidate)):
                continue  # "Dr. Smith", "No. 5" and a list's "1." are not sentence ends
            following = self._buf[m.end() : m.end() + 1]
            if m.group(1) == "." and "." in last_word and (not following or following.islower()):
                continue  # "at 9 a.m. tomorrow", "e.g. eggs": wait for a capital
            if len(candidate) < self._min:
                continue  # keep very short pieces ("Yes.") with what follows
            out.append(candidate)
            start = m.end()
        self._buf = self._buf[start:]
        return out

    def flush(self) -> list[str]:
        rest, self._buf = self._buf.strip(), ""
        return [rest] if rest else []


def split_sentences(text: str, min_chars: int = 0) -> list[str]:
    """The sentences of a whole text, cut as :class:`SentenceSplitter` cuts a stream (one splitter
    for replies as they stream and for documents as they are indexed)."""
    splitter = SentenceSplitter(min_chars)
    return splitter.feed(text.strip() + " ") + splitter.flush()


# --- reading rules ------------------------------------------------------------------------------

# currency code -> (one, many, one minor, many minor)
_CURRENCIES = {
    "USD": ("dollar", "dollars", "cent", "cents"),
    "CAD": ("dollar", "dollars", "cent", "cents"),
    "AUD": ("dollar", "dollars", "cent", "cents"),
    "NZD": ("dollar", "dollars", "cent", "cents"),
    "EUR": ("euro", "euros", "cent", "cents"),
    "GBP": ("pound", "pounds", "penny", "pence"),
}
_EMAIL_MARKS = {"@": "at", ".": "dot", "_": "underscore", "-": "dash", "+": "plus"}


def say_money(amount: Decimal, currency: str = "USD") -> str:
    """Decimal("20.50") -> "twenty dollars and fifty cents"; Decimal(3) -> "three dollars".

    Known currencies: USD, CAD, AUD, NZD, EUR, GBP; any other code is spelled after the number.
    """
    names = _CURRENCIES.get(currency.upper())
    if names is None:
        return f"{say_number(amount)} {say_digits(currency)}"
    cents_total = int((abs(amount) * 100).quantize(Decimal(1)))
    whole, cents = divmod(cents_total, 100)
    parts = []
    if whole or not cents:
        parts.append(f"{say_integer(whole)} {names[0] if whole == 1 else names[1]}")
    if cents:
        parts.append(f"{say_integer(cents)} {names[2] if cents == 1 else names[3]}")
    return ("minus " if amount < 0 else "") + " and ".join(parts)


def say_phone(number: str, region: str = "US") -> str:
    """Digits in their groups: "+14155550123" -> "four one five, five five five, zero one two three".

    A number from ``region`` is read in its national form; any other in its international form
    ("plus four four, two zero, seven nine four six, zero nine five eight").
    """
    written = number
    parsed = phone.parse(number, region)
    if parsed is not None and phonenumbers.is_valid_number(parsed):
        home = phonenumbers.region_code_for_number(parsed) == region.upper()
        style = phonenumbers.PhoneNumberFormat.NATIONAL if home else phonenumbers.PhoneNumberFormat.INTERNATIONAL
        written = phonenumbers.format_number(parsed, style)
    groups = re.findall(r"\+?\d+", written)
    return ", ".join(("plus " if g[0] == "+" else "") + say_digits(g) for g in groups)


def say_email(address: str) -> str:
    """Spell an address out: "sam.jones42@example.com" -> "sam dot jones four two at example dot com"."""
    words = []
    for part in re.split(r"([@._+-])", address):
        if part in _EMAIL_MARKS:
            words.append(_EMAIL_MARKS[part])
        else:
            words.extend(say_digits(p) if p.isdigit() else p for p in re.findall(r"\d+|[^\d]+", part))
    return " ".join(words)


def say_list(items: Sequence[str], conjunction: str = "and") -> str:
    """["a", "b", "c"] -> "a, b, and c"; ["a", "b"] -> "a and b"."""
    items = [i for i in items if i]
    if len(items) <= 2:
        return f" {conjunction} ".join(items)
    return ", ".join(items[:-1]) + f", {conjunction} {items[-1]}"


# --- speakable ----------------------------------------------------------------------------------

_LIST_LINE = re.compile(r"^\s*(?:[-*+•]|\d{1,2}[.)])\s+(.*\S)\s*$")
_INLINE_MARK = re.compile(r"(?:(?<=\s)|^)\(?(\d{1,2})\)\s+")
_HAS_VALUE = re.compile(r"[\d$€£#%]")
_DATE_WORD = (r"on|by|until|till|through|from|before|after|due|monday|tuesday|wednesday|thursday|friday|saturday"
              r"|sunday|mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun")  # fmt: skip
_REF_WORD = (r"order|ref|reference|confirmation|booking|ticket|invoice|account|case|tracking|reservation|policy"
             r"|claim|member|customer|flight|code|pin|id")  # fmt: skip
_ISO = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::\d{2})?(?:Z|[+-]\d{2}:\d{2})?)?\b")
_SLASH_DATE = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})\b")
_SLASH_DAY = re.compile(rf"\b({_DATE_WORD})(,?\s+)(\d{{1,2}})/(\d{{1,2}})\b(?!/)", re.IGNORECASE)
_TIME_RANGE = re.compile(r"(?<=[ap]\.m\.)\s?[–-]\s?(?=\w)")  # "9am-5pm" -> "nine a.m. to five p.m."
_ROUND_THE_CLOCK = re.compile(r"\b24\s?/\s?7\b")
_SCORE = re.compile(
    r"\b(rated|scored|score of|rating of|marks? of|ratio of)(\s+)(\d{1,3})/(\d{1,3})\b(?!/)"
    r"|(?<![\w/.])(\d{1,3})/(\d{1,3})(?=\s+(?:stars?|points?)\b)",
    re.IGNORECASE,
)
_FRACTION = re.compile(r"(?<![\w/.])([123])/([234])\b(?![/.]\d)")
_FRACTIONS = {"1/2": "one half", "1/3": "one third", "2/3": "two thirds", "1/4": "one quarter", "3/4": "three quarters"}
_MONTH_DAY = re.compile(r"(?<![\w/.])(\d{1,4})/(\d{1,4})\b(?![/.]\d)")
_UNIT = re.compile(
    r"(?<![\w.,])(-?)(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(?:\s?-\s?|\s?)"
    r"(km/h|kph|mph|km|cm|mm|kg|mg|ml|mL|lbs|lb|oz|[°º][CF]|[°º]|g|l|L|m)(?![\w/°º])"
)
_TIME_AMPM = re.compile(r"(?<![\d.,:])\b(\d{1,2})(?::([0-5]\d))?\s?([AaPp])\.?\s?[Mm]\b\.?")
_TIME_24 = re.compile(r"(?<![\d.,:])\b([01]?\d|2[0-3]):([0-5]\d)\b(?!:\d)")
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)[\s.-]?|\d{2,4}[\s.-])\d{3,4}[\s.-]\d{3,4}\b"
    r"|(?<![\w+])\+\d{7,15}\b|\b\d{3}-\d{4}\b"
)
_PRICE = re.compile(
    r"([$€£])\s?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?(?:\s(thousand|million|billion)\b|(k|K|M|bn)\b)?"
)
_PRICE_CODE = re.compile(r"\b(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{2}))?\s?(USD|EUR|GBP|CAD|AUD)\b")
_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP"}
_SCALE_SUFFIX = {"k": "thousand", "K": "thousand", "M": "million", "bn": "billion"}
_REF = re.compile(
    rf"\b({_REF_WORD})(\s+(?:number|no\.?|num)\s*#?|\s*[#:]\s*)?\s*([A-Za-z]*\d[A-Za-z\d]*(?:-[A-Za-z\d]+)*)\b",
    re.IGNORECASE,
)
_HASH = re.compile(r"#\s?([A-Za-z\d]*\d[A-Za-z\d]*(?:-[A-Za-z\d]+)*)\b")
_CODE = re.compile(r"\b(?=[A-Z\d-]*\d)(?=[A-Z\d-]*[A-Z])[A-Z\d]+(?:-[A-Z\d]+)*\b")
_PERCENT = re.compile(r"(?<![\w.])(-?\d+(?:\.\d+)?)\s?%")
_ORDINAL = re.compile(r"\b(\d+)(?:st|nd|rd|th)\b", re.IGNORECASE)
_GLUED = re.compile(r"(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])")
_RANGE = re.compile(r"(?<![\w.,])(\d{1,4})\s?[–-]\s?(\d{1,4})\b(?![.,]\d)")
_NUMBER = re.compile(r"(?<![\w.,])(-?)(\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.(\d+))?(?!\w)")


def _lines_as_lists(text: str) -> str:
    """Markdown bullets and numbered lines -> "a, b, and c" (a lone item just loses its marker)."""
    out: list[str] = []
    items: list[str] = []
    lines = text.split("\n")
    for i, line in enumerate([*lines, ""]):
        m = _LIST_LINE.match(line)
        if m:
            items.append(m.group(1).rstrip(",;."))
            continue
        if items:
            said = say_list(items)
            more = any(rest.strip() for rest in lines[i:])
            out.append(said + "." if more and len(items) > 1 else said)
            items = []
        if i < len(lines):
            out.append(line)
    return "\n".join(out)


def _inline_list(text: str) -> str:
    """ "Pick 1) a, 2) b or 3) c." -> "Pick a, b, or c." (numbering must start at 1 and go up by one)."""
    run: list[re.Match[str]] = []
    for m in _INLINE_MARK.finditer(text):
        if int(m.group(1)) == len(run) + 1:
            run.append(m)
        elif len(run) >= 2:
            break
        else:
            run = [m] if m.group(1) == "1" else []
    if len(run) < 2:
        return text
    tail = text[run[-1].end() :]
    last = split_sentences(tail)[:1]  # the last item ends with its sentence ("at 9 a.m. tomorrow" goes on)
    cut = run[-1].end() + (len(last[0].rstrip(".!?…")) if last else len(tail))
    pieces = [text[a.end() : b.start()] for a, b in itertools.pairwise(run)] + [text[run[-1].end() : cut]]
    conjunction = "or" if re.search(r"\bor\s*$", pieces[-2]) else "and"
    items = [re.sub(r"(?:[,;]|\s+(?:and|or))*\s*$", "", p.strip()) for p in pieces]
    return text[: run[0].start()] + say_list(items, conjunction) + _inline_list(text[cut:])


def _iso_date(m: re.Match[str]) -> str:
    try:
        day = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        clock = dt.time(int(m.group(4)), int(m.group(5))) if m.group(4) else None
    except ValueError:
        return m.group(0)
    return say_date(day) + (f" at {say_time(clock)}" if clock else "")


def _slash_date(m: re.Match[str]) -> str:
    year = int(m.group(3)) + (2000 if len(m.group(3)) == 2 else 0)
    try:
        return say_date(dt.date(year, int(m.group(1)), int(m.group(2))))
    except ValueError:
        return m.group(0)


def _slash_day(m: re.Match[str]) -> str:
    try:
        day = dt.date(2000, int(m.group(3)), int(m.group(4)))  # a leap year, so "2/29" is a day
    except ValueError:
        return m.group(0)
    return m.group(1) + m.group(2) + say_date(day, weekday=False)


def _time_ampm(m: re.Match[str]) -> str:
    hour, minute = int(m.group(1)), int(m.group(2) or 0)
    if not 1 <= hour <= 12:
        return m.group(0)
    pm = m.group(3).lower() == "p"
    return say_time(dt.time(hour % 12 + (12 if pm else 0), minute))


def _time_24(m: re.Match[str]) -> str:
    hour = int(m.group(1))
    return say_time(dt.time(hour, int(m.group(2))), meridiem=hour == 0 or hour > 12)


def _phone(m: re.Match[str]) -> str:
    written = m.group(0)
    if re.fullmatch(r"\d{3}-\d{4}", written):
        return say_phone(written)
    return say_phone(written) if phone.is_valid(written, "US") else written


# Words after "a $5" that are not the noun it describes ("a $5 or $10 fee", "a $5 charge" is one).
_NOT_A_NOUN = frozenset(
    "a an the and or but nor to of for per each in on at by from with off more less than is are was were be "
    "it this that total plus minus or so if as".split()
)


def _attributive(m: re.Match[str]) -> bool:
    """Whether the amount matched sits between "a"/"an" and a noun ("a $5k budget", "a 5 km walk")."""
    if not re.search(r"\b[Aa][Nn]?\s+$", m.string[: m.start()]):
        return False
    after = re.match(r"\s*-?\s*([a-z][a-z'-]*)", m.string[m.end() :])
    return after is not None and after.group(1) not in _NOT_A_NOUN


def _hyphens(words: str) -> str:
    return "-".join(words.split())


def _price(m: re.Match[str]) -> str:
    currency = _SYMBOLS[m.group(1)]
    whole, cents = m.group(2).replace(",", ""), m.group(3)
    scale = m.group(4) or _SCALE_SUFFIX.get(m.group(5) or "")
    one, many = _CURRENCIES[currency][:2]
    if _attributive(m):  # "a $5k budget" -> "a five-thousand-dollar budget"
        amount = say_number(whole + ("." + cents if cents and scale else ""))
        said = _hyphens(f"{amount} {scale or ''} {one}")
        return said + ("-" + _hyphens(say_integer(int(cents.ljust(2, "0")))) if cents and not scale and int(cents) else "")
    if scale:
        return f"{say_number(whole + ('.' + cents if cents else ''))} {scale} {many}"
    return say_money(Decimal(whole + "." + (cents or "0").ljust(2, "0")), currency)


def _price_code(m: re.Match[str]) -> str:
    whole, cents, currency = m.group(1).replace(",", ""), m.group(2), m.group(3)
    if _attributive(m) and not (cents and int(cents)):
        return _hyphens(f"{say_integer(int(whole))} {_CURRENCIES[currency][0]}")
    return say_money(Decimal(whole + "." + (cents or "00")), currency)


def _unit(m: re.Match[str]) -> str:
    sign, whole, fraction, unit = m.group(1), m.group(2), m.group(3), m.group(4)
    amount = say_number(sign + whole.replace(",", "") + ("." + fraction if fraction else ""))
    one = not sign and not fraction and whole == "1"
    temperature = unit[0] in "°º"
    return say_measure(amount, unit, one=one, attributive=not temperature and _attributive(m))


def _score(m: re.Match[str]) -> str:
    if m.group(1):
        between = " to " if m.group(1).lower() == "ratio of" else " out of "  # "a ratio of eleven to twenty-five"
        return f"{m.group(1)}{m.group(2)}{say_integer(int(m.group(3)))}{between}{say_integer(int(m.group(4)))}"
    return f"{say_integer(int(m.group(5)))} out of {say_integer(int(m.group(6)))}"


def _month_day(m: re.Match[str]) -> str:
    """ "11/25" -> "November twenty-fifth"; two numbers that are no date -> "thirteen over forty"."""
    first, second = int(m.group(1)), int(m.group(2))
    try:
        return say_date(dt.date(2000, first, second), weekday=False)  # a leap year, so "2/29" is a day
    except ValueError:
        return f"{say_integer(first)} over {say_integer(second)}"


def _reference(m: re.Match[str]) -> str:
    marker, code = m.group(2) or "", m.group(3)
    if not marker.strip() and len(code) < 4 and code.isdigit():
        return m.group(0)  # "order 2 sandwiches" is a count, not a reference
    said = " number" if "#" in marker or re.search(r"[A-Za-z]", marker) else ""
    return f"{m.group(1)}{said} {say_digits(code)}"


def _number(m: re.Match[str]) -> str:
    sign, whole, fraction = m.group(1), m.group(2), m.group(3)
    if not sign and not fraction and len(whole) == 4 and 1900 <= int(whole) <= 2099:
        return say_year(int(whole))
    return say_numeral(sign + whole + ("." + fraction if fraction else ""))


def _range(m: re.Match[str]) -> str:
    return f"{_NUMBER.sub(_number, m.group(1))} to {_NUMBER.sub(_number, m.group(2))}"


# Emergency and service numbers are said digit by digit ("call nine one one", not "nine hundred
# eleven"): N11 codes, 999, 112, 000, 111, 101, 988. Not when they count or cost something.
_SERVICE_NUMBER = re.compile(
    r"\b((?:call|dial|ring|phone|text|contact|reach|on|the|number|services)\s+(?:(?:or|and)\s+(?:call|text)\s+)?)"
    r"(911|999|112|988|000|111|101|[2-8]11)(?![\w.,]\d|\d)(?!\s*(?:dollars?|euros?|pounds?|cents?|percent|%))",
    re.IGNORECASE,
)

_VALUE_PASSES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (_SERVICE_NUMBER, lambda m: m.group(1) + say_digits(m.group(2))),
    (_ISO, _iso_date),
    (_SLASH_DATE, _slash_date),
    (_SLASH_DAY, _slash_day),
    (_ROUND_THE_CLOCK, lambda m: "twenty-four seven"),
    (_SCORE, _score),
    (_FRACTION, lambda m: _FRACTIONS.get(m.group(0), m.group(0))),
    (_MONTH_DAY, _month_day),
    (_TIME_AMPM, _time_ampm),
    (_TIME_24, _time_24),
    (_TIME_RANGE, lambda m: " to "),
    (_PHONE, _phone),
    (_PRICE, _price),
    (_PRICE_CODE, _price_code),
    (_REF, _reference),
    (_HASH, lambda m: "number " + say_digits(m.group(1))),
    (_CODE, lambda m: say_digits(m.group(0))),
    (_UNIT, _unit),
    (_PERCENT, lambda m: say_number(m.group(1)) + " percent"),
    (_ORDINAL, lambda m: say_ordinal(int(m.group(1)))),
    (_GLUED, lambda m: " "),
    (_RANGE, _range),
    (_NUMBER, _number),
)


def speakable(text: str) -> str:
    """Rewrite text for a voice: strip markdown, emoji and links; spell out numbers, dates and codes.

    ``"Order #A12 ships 11/25/2026 at 3:30 PM, $20.50."`` ->
    ``"Order number A one two ships Wednesday, November twenty-fifth at three thirty p.m., twenty
    dollars and fifty cents."``. See the module docstring for the readings that are choices.
    """
    text = _lines_as_lists(text)
    text = _MARKDOWN.sub(lambda m: m.group(2) or "", text)
    text = _URL.sub("the link", text)
    text = _EMOJI.sub("", text)
    text = _inline_list(text)
    if _HAS_VALUE.search(text):
        for pattern, say in _VALUE_PASSES:
            text = pattern.sub(say, text)
    if "/" in text:
        text = _slashes(text)
    text = fix_articles(text)
    text = _DOUBLED_STOP.sub(r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


_SLASH_WORDS = {"and/or": "and or", "c/o": "care of", "w/o": "without", "w/": "with", "n/a": "not applicable"}
_SLASH_WORD = re.compile(r"(?<![\w/])(and/or|c/o|w/o|w/(?=\s)|n/a)(?![\w/])", re.IGNORECASE)
_SLASH_UNIT = {unit: plural for unit, (_, plural) in UNITS.items() if "/" in unit}
_PER = re.compile(
    r"\s*/\s*(hour|hr|h|day|night|week|wk|month|mo|year|yr|person|head|item|unit|kg|lb|serving)\b", re.IGNORECASE
)
_PER_WORDS = {"hr": "hour", "h": "hour", "wk": "week", "mo": "month", "yr": "year", "kg": "kilogram", "lb": "pound"}
_DOUBLED_STOP = re.compile(r"((?<![A-Za-z])(?:[A-Za-z]\.){2,})\.(?!\w)")


def _slashes(text: str) -> str:
    """Every "/" said as a word, or dropped: TTS engines read it "slash"."""
    text = _SLASH_WORD.sub(lambda m: _SLASH_WORDS[m.group(1).lower()], text)
    for unit, said in _SLASH_UNIT.items():
        text = re.sub(rf"(?<![\w/]){re.escape(unit)}(?![\w/])", said, text)
    text = _PER.sub(lambda m: " per " + _PER_WORDS.get(m.group(1).lower(), m.group(1)), text)
    text = re.sub(r"(?<=\w)\s*/\s*(?=\w)", " or ", text)  # "yes/no", "he/she"
    return text.replace("/", " ")
