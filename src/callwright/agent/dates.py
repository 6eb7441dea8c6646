"""Dates and times as callers say them, and as the agent says them back.

:func:`find_time` and :func:`find_date` read a clock time and a day out of a transcript that
:func:`prepare` has put in digits ("tomorrow at three" -> "tomorrow at 3"); :mod:`.values` makes
them typed values. :func:`say_date` and :func:`say_time` read a date and a time aloud;
:mod:`.shaping` and :mod:`.values` use them, so a date sounds the same whether the agent wrote it
or heard it.

Written here rather than left to ``dateparser``: clock times, because dateparser drops a bare hour
("tomorrow at 3" comes back at the time of ``now``) and does not read "3 30 pm" or "half past 2";
and the common spoken dates (today, tomorrow, weekdays, "the 3rd", "November 25th"), because
dateparser reads "on the 3rd" as March and "friday at 2" as February, and cannot say which parts it
found. Dates in other forms ("11/25", "December 3, 2026", "the 3rd of next month") go to dateparser.

Readings that are guesses (the certainty says so):

- A time without a.m./p.m. follows business hours: a bare hour 1-7 is p.m. ("at three" -> 15:00),
  8-11 is a.m., 12 is noon. The part of the day said nearest the hour settles it ("tomorrow morning
  at 9", "9 in the morning", "10 at night"; "good evening" is a greeting, not a part of the day).
- A time moved ("I've one at 8, can you make it later, like 11") is the new one; a guessed half of
  the day follows the old time ("later" than 7 p.m., "9" is 9 p.m.).
- A bare weekday, or "next <weekday>", is the first one after today; "this <weekday>" may be today.
  A day of the month alone ("the 3rd") is this month, or next month once it has passed. A month and
  day without a year is the next one to come.
"""

from __future__ import annotations

import datetime as dt
import re

import dateparser

from .numbers import say_integer, say_ordinal, say_year, words_to_digits

# --- saying dates and times ---------------------------------------------------------------------

_MONTHS = ("January February March April May June July August September October November December").split()
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def say_date(day: dt.date, *, weekday: bool = True, year: bool = False) -> str:
    """2026-11-25 -> "Wednesday, November twenty-fifth" (", twenty twenty-six" with ``year``)."""
    text = f"{_MONTHS[day.month - 1]} {say_ordinal(day.day)}"
    if weekday:
        text = f"{_WEEKDAYS[day.weekday()]}, {text}"
    return f"{text}, {say_year(day.year)}" if year else text


def say_day(day: dt.date, today: dt.date) -> str:
    """A day as a read-back says it: "today, Friday, December fourth", "tomorrow, Saturday, December
    fifth", "Monday, December seventh" (with the year when it is not this year's)."""
    text = say_date(day, year=day.year != today.year)
    relative = {0: "today", 1: "tomorrow"}.get((day - today).days)
    return f"{relative}, {text}" if relative else text


def say_time(clock: dt.time, *, meridiem: bool = True) -> str:
    """15:00 -> "three p.m.", 15:30 -> "three thirty p.m.", 9:05 -> "nine oh five a.m.", 12:00 -> "noon".

    Without ``meridiem`` (a written "3:30" that does not say which half of the day): "three thirty",
    "three o'clock".
    """
    if meridiem and clock.minute == 0 and clock.hour in (0, 12):
        return "midnight" if clock.hour == 0 else "noon"
    hour = say_integer(clock.hour % 12 or 12)
    if clock.minute == 0:
        minutes = "" if meridiem else " o'clock"
    elif clock.minute < 10:
        minutes = f" oh {say_integer(clock.minute)}"
    else:
        minutes = " " + say_integer(clock.minute)
    suffix = (" a.m." if clock.hour < 12 else " p.m.") if meridiem else ""
    return hour + minutes + suffix


# --- hearing dates and times --------------------------------------------------------------------

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
# the hour said before a part of the day, without "at": "nine tomorrow morning", "two in the afternoon"
_HOUR_BEFORE_PART = re.compile(
    r"\b(?P<h>\d{1,2})\s+(?=(?:in the (?:morning|afternoon|evening|night)|at night|tonight|"
    r"(?:tomorrow|today|this|monday|tuesday|wednesday|thursday|friday|saturday|sunday) (?:morning|afternoon|evening|night))\b)"
)
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
    _HOUR_BEFORE_PART,
)
# a part of the day. "morning" and "night" alone are often something else (a greeting, a "night bag", "last
# night"), so they count after a word that makes them a part of a day; "good evening" is a greeting.
_DAY_WORDS = r"(?:in the|at|tomorrow|today|this|monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_PART_OF_DAY = re.compile(
    rf"\b(?:{_DAY_WORDS} (?P<am>morning)|{_DAY_WORDS} (?P<night>night)|(?P<pm>afternoon|evening|tonight))\b"
)
_GREETING = re.compile(r"^\W*(?:good\s+)?(?:morning|afternoon|evening)\b|\bgood\s+(?:morning|afternoon|evening|night)\b")
_FILLER = {"um", "uh", "er", "hmm", "maybe", "say", "let's", "lets", "how", "about", "make", "it", "please", "ok",
           "okay", "so", "like", "i", "think", "probably", "the", "at", "around", "yeah", "for", "instead", "then", "rather"}  # fmt: skip
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


def prepare(text: str) -> str:
    """A transcript in the form :func:`find_time` and :func:`find_date` read: lower case, numbers in
    digits ("three thirty" -> "3 30", "the third" -> "the 3rd"), a year said in pairs after a day as one
    ("november 25th 20 26" -> "november 25th 2026"), "p.m." as "pm", "o'clock" as "oclock".
    """
    s = text.lower().replace("’", "'")
    s = re.sub(r"\bo'?\s?clock\b", " oclock", s)
    s = words_to_digits(s, ordinals=True, joiner=" ")
    s = re.sub(r"\b([ap])\.?\s?m\b\.?", r"\1m", s)
    # British "half two" is half past two (not "half of two": "half 2 hours" and "half a" are left)
    s = re.sub(r"\bhalf (1[0-2]|[1-9])\b(?!\s*(?:hours?|hrs?|minutes?|mins?|days?|weeks?|months?|years?|of|a|an)\b)", r"half past \1", s)
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


def _part_of_day(s: str, where: tuple[int, int], hour: int) -> str | None:
    """"am" or "pm" as the part of the day said nearest the hour at ``where`` settles it: "tomorrow
    morning at 9", "9 in the morning", "10 at night" (but "2 at night" is 2 a.m.), or None."""
    greeting = _GREETING.search(s)
    parts = [p for p in _PART_OF_DAY.finditer(s) if greeting is None or p.start() >= greeting.end()]
    if not parts:
        return None
    part = min(parts, key=lambda p: min(abs(p.start() - where[1]), abs(where[0] - p.end())))
    if part.group("am"):
        return "am"
    if part.group("night"):
        return "pm" if 6 <= hour <= 11 else "am"
    return "pm"


def find_time(s: str, *, whole: bool) -> tuple[dt.time, float, tuple[int, int]] | None:
    """The time said in prepared text ``s``: (time, certainty, where it was said).

    With ``whole``, the whole answer may be a time on its own: "three", "um, four thirty".
    """
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
        clock = _clock(hour, minute, found.get("ap") or _part_of_day(s, m.span(), hour))
        if clock is not None:
            return clock[0], 0.85 if clock[1] else 1.0, m.span()
    if whole:  # the whole answer is a time: "three", "um, four thirty"
        kept = " ".join(t for t in re.split(r"[\s,.!?]+", s) if t and t not in _FILLER)
        # "eleven thirty" on its own is written as a code ("1130") by text.normalise: an hour and minutes here
        if m := re.fullmatch(r"(\d{1,2})(?: ([0-5]\d))?|(1[0-2]|[1-9])([0-5]\d)", kept):
            said_hour, said_minute = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
            hour = int(said_hour)
            clock = _clock(hour, int(said_minute or 0), _part_of_day(s, (0, len(s)), hour))
            if clock is not None:
                return clock[0], 0.7, (0, len(s))
    return None


# "can you make it later, like 11", "move it to 11", "change it to tuesday instead", "push it back to 4":
# what is said after it is the new day or time, what is said before it the old one
_MOVE = re.compile(
    r"\b(?:make|move|change|put|push|shift|bring|switch|bump|set)\s+(?:it|that|the call|the time|him|her|them)"
    r"(?:\s+(?P<way>back|forward|up|on|down|in))?"
    r"(?:\s+(?:(?:a|an)\s+)?(?:(?:bit|little|tad|touch|wee|hour|few hours|couple of hours)\s+)?(?P<dir>later|earlier))?"
    r"(?:[\s,]+(?:to|till|until|for|at|like|say|maybe|perhaps|around|about|instead|then|so|please)\b)*[\s,]*"
)


def moved(s: str) -> tuple[str, str | None, str] | None:
    """Prepared text that moves a day or time: (what was said before, "later" / "earlier" / None, what
    it is moved to), or None."""
    found = list(_MOVE.finditer(s))
    if not found:
        return None
    m = found[-1]
    way = {"back": "later", "forward": "earlier", "up": "earlier"}.get(m.group("way") or "")
    return s[: m.start()], m.group("dir") or way, s[m.end() :]


def moved_clock(new: dt.time, old: dt.time, direction: str | None) -> dt.time:
    """A guessed new time in the half of the day that fits the old one: later than 8 a.m. "like 11" is
    11 a.m., later than 7 p.m. "9" is 9 p.m., earlier than 3 p.m. "11" is 11 a.m."""
    hours = {new.hour % 12, new.hour % 12 + 12}
    old_minutes, fits = old.hour * 60 + old.minute, []
    for hour in hours:
        at = hour * 60 + new.minute
        if direction is None or (at > old_minutes if direction == "later" else at < old_minutes):
            fits.append((abs(at - old_minutes), hour))
    return new.replace(hour=min(fits)[1]) if fits else new


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


def find_date(s: str, today: dt.date, region: str) -> tuple[dt.date, float] | None:
    """The date said in prepared text ``s``, counted from ``today``: (date, certainty).

    ``region`` sets the order of a written date dateparser reads (US: month first).
    """
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


# --- days and times turned down -----------------------------------------------------------------

_WEEKDAY_WORDS = "|".join(_WEEKDAY_NUMBERS)
# a day or a time as prepare() writes it: "9", "11 30", "9 oclock", "half past 9", "the morning", "monday's"
_WHEN_SAID = (
    r"(?:(?:half past|quarter past|quarter to)\s+\d{1,2}|\d{1,2}(?:[:.\s][0-5]\d)?(?:\s*(?:am|pm|oclock))?|noon|midday|"
    r"(?:first thing in the |the |in the )?(?:morning|afternoon|evening)s?|tonight|today|tomorrow|the weekend|"
    rf"(?:this |next |on )?(?:{_WEEKDAY_WORDS})s?(?: (?:morning|afternoon|evening))?)"
)
# what makes it no good: "is a little early for me", "'s no good", "doesn't suit me", "would be too late"
_TURNED_DOWN = (
    r"(?:(?:is|'s|was|would be|will be|might be|seems|sounds|feels)\s+)?(?:(?:a|way|far|much)\s+)?"
    r"(?:(?:bit|little|tad|touch|wee|lil)\s+)?(?:(?:too|rather|quite|very|really|kind of|kinda|pretty|so)\s+)?"
    r"(?:early|late|soon|no good|not good|not great|bad|awkward|difficult|tricky|inconvenient|not convenient|no use|out|"
    r"(?:doesn't|does not|don't|do not|won't|will not|wouldn't|would not|isn't going to|can't) (?:suit|work|do)(?: (?:me|us))?)"
    r"(?: for (?:me|us|him|her|them|my \w+))?"
)
_REJECTED_WHEN = re.compile(
    rf"\b{_WHEN_SAID}\s*{_TURNED_DOWN}\b"
    rf"|\b(?:not|never)\s+(?:at\s+|on\s+)?{_WHEN_SAID}\b"
    r"|\b(?:i|we|he|she)?\s*(?:can't|cannot|can not|couldn't|won't|will not) (?:do|make|manage|be in|be there|be home|be free|"
    rf"be around|be up)(?:\s+(?:at|on|in|by))?\s+{_WHEN_SAID}\b"
)
# a clause that turns down what it names without saying when ("that's no good", "that doesn't work")
_REJECTING_CLAUSE = re.compile(
    r"\b(?:no good|doesn't work|does not work|won't work|isn't good|is not good|not good|isn't great|no use|is out|"
    r"can't do|cannot do|can't make|cannot make|doesn't suit|does not suit|too early|too late)\b|^not\b"
)
_CLAUSE_CUT = re.compile(r"[,;.!?]+\s*|\s+but\s+")


def turns_down(text: str) -> bool:
    """Whether the caller turns a day or a time down: "nine's a bit early for me", "not Thursday",
    "I can't do Monday", "that's no good"."""
    s = prepare(text)
    return bool(_REJECTED_WHEN.search(s) or any(_REJECTING_CLAUSE.search(c) for c in _CLAUSE_CUT.split(s)))


def without_turned_down(text: str) -> str:
    """``text`` prepared, without the days and times it turns down and their reasons: "actually make it
    eleven nine is little early for me" -> "actually make it 11 for me"; "can we do friday instead,
    thursday's no good" -> "can we do friday instead". The rest is what the caller wants."""
    s = _REJECTED_WHEN.sub(" ", prepare(text))
    kept = [c for c in _CLAUSE_CUT.split(s) if c.strip() and not _REJECTING_CLAUSE.search(c.strip())]
    return " ".join(", ".join(c.strip() for c in kept).split())
