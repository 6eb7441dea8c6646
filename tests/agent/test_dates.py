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
