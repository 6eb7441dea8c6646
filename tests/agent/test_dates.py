"""Clock times and days as callers say them: in a request, as an answer, and turned down in a correction.

The phrasings here were written for these tests, not taken from the conversation suites.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest

from callwright.agent.dates import turns_down, without_turned_down
from callwright.agent.reading import find_values
from callwright.agent.text import normalise
from callwright.agent.values import parse_value

NOW = dt.datetime(2026, 11, 24, 10, 0)  # a Tuesday morning; Friday is the 27th, not the 11th
BOOKING = {"when": "datetime", "reason": "text"}


@pytest.mark.parametrize(
    ("said", "written"),
    [
        # an hour and its minutes next to a word of time are a clock time
        ("thursday around two fifteen", "thursday around 2:15"),
        ("ten forty five on monday", "10:45 on monday"),
        ("seven oh five pm", "7:05 pm"),
        ("tomorrow evening seven thirty", "tomorrow evening 7:30"),
        ("until twelve twenty, then i'm out", "until 12:20, then i'm out"),
        ("nine o'clock tomorrow", "9 o'clock tomorrow"),  # the "o" of o'clock is no zero
        # the same numbers elsewhere are a code, a house number or a price
        ("order twelve thirty four", "order 1234"),
        ("i live at eleven thirty five elm street", "i live at 1135 elm street"),
        ("forty five sixty seven", "4567"),
        ("it was twelve ninety nine", "it was 1299"),
    ],
)
def test_a_clock_time_is_written_as_one(said: str, written: str) -> None:
    assert normalise(said) == written


@pytest.mark.parametrize(
    ("said", "when"),
    [
        ("could the nurse ring me thursday around two fifteen", dt.datetime(2026, 11, 26, 14, 15)),
        ("ten forty five on monday please", dt.datetime(2026, 11, 30, 10, 45)),
        ("i'd like monday at twelve thirty", dt.datetime(2026, 11, 30, 12, 30)),
        ("half nine tomorrow", dt.datetime(2026, 11, 25, 9, 30)),
        ("wednesday at five to four", dt.datetime(2026, 11, 25, 15, 55)),
        ("twenty past three on friday", dt.datetime(2026, 11, 27, 15, 20)),
        ("friday at eleven", dt.datetime(2026, 11, 27, 11, 0)),  # Friday the 27th: "eleven" is the hour
        ("friday at eleven thirty", dt.datetime(2026, 11, 27, 11, 30)),
        ("can she phone thursday morning about eight o'clock", dt.datetime(2026, 11, 26, 8, 0)),
        ("tomorrow evening at half seven", dt.datetime(2026, 11, 25, 19, 30)),
        ("seven oh five pm tomorrow", dt.datetime(2026, 11, 25, 19, 5)),
        ("on the eleventh at ten", dt.datetime(2026, 12, 11, 10, 0)),  # said as a day of the month, it is one
    ],
)
def test_the_time_in_a_request_is_taken(said: str, when: dt.datetime) -> None:
    found = find_values(said, BOOKING, now=NOW)
    assert found["when"].value == when


@pytest.mark.parametrize(
    ("said", "clock"),
    [
        ("eleven thirty", dt.time(11, 30)),
        ("um, ten fifteen please", dt.time(10, 15)),
        ("two forty", dt.time(14, 40)),
    ],
)
def test_hours_and_minutes_alone_answer_what_time(said: str, clock: dt.time) -> None:
    found = find_values(said, BOOKING, now=NOW, whole="when")
    assert found["when"].value.time() == clock
    assert found["when"].certainty < 0.85  # a bare answer is read back


def test_a_code_said_when_a_time_is_not_wanted_stays_a_code() -> None:
    assert find_values("my order is twelve thirty four", {"order_number": "number"}, now=NOW)["order_number"].text == "1234"


@pytest.mark.parametrize(
    ("said", "numbers"),
    [
        ("actually could we do ten, eight is way too early", ["10"]),
        ("half two is a bit soon after my physio, four would be better", ["4"]),
        ("I can't do Wednesday, Thursday at one", ["1"]),
        ("not the morning, the afternoon at three", ["3"]),
        ("twelve would suit better as ten is too early for my wife", ["12"]),
        ("make it eleven nine's too early for me", ["11"]),
        ("no not four o'clock, five fifteen", ["5", "15"]),
    ],
)
def test_what_is_turned_down_is_not_what_is_wanted(said: str, numbers: list[str]) -> None:
    assert turns_down(said)
    assert re.findall(r"\d+", without_turned_down(said)) == numbers


def test_a_day_turned_down_leaves_the_day_wanted() -> None:
    said = "tuesday doesn't suit me, friday same time"
    assert turns_down(said) and without_turned_down(said) == "friday same time"


@pytest.mark.parametrize("said", ["ten is fine", "yes that's right", "tomorrow at nine please", "early evening is best"])
def test_a_time_that_suits_is_not_turned_down(said: str) -> None:
    assert not turns_down(said)


def test_the_whole_text_is_kept_when_nothing_is_turned_down() -> None:
    assert without_turned_down("Make it Friday at eleven") == "make it friday at 11"
    assert parse_value("time", without_turned_down("make it eleven, nine's a little early for me"), now=NOW) is not None


@pytest.mark.parametrize(
    ("said", "written"),
    [
        ("wednesday at five to four", "wednesday at 5 to 4"),  # a clock time
        ("one to three days", "1 to 3 days"),  # a range
        ("one to three four", "1234"),  # a code: four digits
        ("check order four five six seven for us", "check order 4567 for us"),  # no digit after it
    ],
)
def test_to_and_for_between_digits(said: str, written: str) -> None:
    assert normalise(said) == written


LATE = dt.datetime(2026, 11, 25, 21, 0)  # a Wednesday night: Thursday is the 26th, Saturday the 28th


@pytest.mark.parametrize(
    ("said", "when"),
    [
        # the part of the day said next to the hour settles a.m. or p.m., before or after it
        ("good evening, could the nurse ring me thursday at eight in the morning", dt.datetime(2026, 11, 26, 8, 0)),
        ("evening, is friday at eight ok", dt.datetime(2026, 11, 27, 8, 0)),  # a greeting, not the evening
        ("eight tomorrow morning suits me", dt.datetime(2026, 11, 26, 8, 0)),
        ("at seven saturday morning", dt.datetime(2026, 11, 28, 7, 0)),
        ("half eight in the morning on friday", dt.datetime(2026, 11, 27, 8, 30)),
        ("three in the afternoon on monday", dt.datetime(2026, 11, 30, 15, 0)),
        ("monday, six in the evening", dt.datetime(2026, 11, 30, 18, 0)),
        ("friday eleven at night", dt.datetime(2026, 11, 27, 23, 0)),
        ("thursday at three in the night", dt.datetime(2026, 11, 26, 3, 0)),  # small hours
        ("thursday morning i'm out, so at five in the afternoon", dt.datetime(2026, 11, 26, 17, 0)),  # the nearer part
        # "night" and "morning" that are not the part of the day the hour is in
        ("can she call at eight about my night bag", dt.datetime(2026, 11, 26, 8, 0)),
        ("i slept badly last night, can she ring at nine", dt.datetime(2026, 11, 26, 9, 0)),
    ],
)
def test_the_part_of_the_day_sets_am_or_pm(said: str, when: dt.datetime) -> None:
    found = find_values(said, BOOKING, now=LATE)
    assert found["when"].value == when


@pytest.mark.parametrize(
    ("said", "when"),
    [
        # a time named and then moved: the new one, on the old day, in the half of the day that fits
        ("the nurse has me at nine on thursday, could you push it back to eleven", dt.datetime(2026, 11, 26, 11, 0)),
        ("she's due at seven thursday evening, can we make it a bit earlier, say five", dt.datetime(2026, 11, 26, 17, 0)),
        ("she's due at seven thursday evening, make it later, maybe nine", dt.datetime(2026, 11, 26, 21, 0)),
        ("my call's at two tomorrow, could you change it to four instead", dt.datetime(2026, 11, 25, 16, 0)),
        ("thursday at 7 in the evening, bring it forward to 6", dt.datetime(2026, 11, 26, 18, 0)),
        # a day moved keeps the time
        ("i'm booked for friday at ten, move it to monday", dt.datetime(2026, 11, 30, 10, 0)),
        # said on its own, the move is the time
        ("switch it to half past one", dt.datetime(2026, 11, 24, 13, 30)),
    ],
)
def test_a_moved_time_is_the_new_one(said: str, when: dt.datetime) -> None:
    found = find_values(said, BOOKING, now=NOW)
    assert found["when"].value == when
