"""Time is the caller's: each agent reads "now", relative dates and read-backs in its own time zone.

The example agents are in America/New_York (order desk) and America/Chicago (recovery line). The
clock is injected, and the moments are the ones where UTC and local time fall on different days:
late evening local time (after midnight UTC) and just after local midnight.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from callwright import events as ev
from callwright.agent.app import AgentApp, Services
from callwright.agent.spec import load_definition
from callwright.agent.values import parse_value, read_datetime
from callwright.clock import VirtualClock
from callwright.errors import ConfigError
from callwright.testing import TextCall

NEW_YORK = ZoneInfo("America/New_York")
CHICAGO = ZoneInfo("America/Chicago")
SAM = "+14155550123"


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("said", "written", "spoken"),
    [
        ("tomorrow at three", "2026-12-05T15:00-05:00", "tomorrow, Saturday, December fifth at three p.m."),
        ("tonight at nine", "2026-12-04T21:00-05:00", "today, Friday, December fourth at nine p.m."),
        ("at 10 am", "2026-12-05T10:00-05:00", "tomorrow, Saturday, December fifth at ten a.m."),  # 10 a.m. has passed today
        ("monday at noon", "2026-12-07T12:00-05:00", "Monday, December seventh at noon"),
    ],
)
def test_relative_dates_are_read_on_the_local_day(said: str, written: str, spoken: str) -> None:
    now = utc(2026, 12, 5, 1, 0).astimezone(NEW_YORK)  # Friday 20:00 in New York, Saturday 01:00 UTC
    parsed = parse_value("datetime", said, now=now)
    assert parsed is not None
    assert (parsed.text, parsed.spoken) == (written, spoken)
    assert read_datetime(parsed.text) == parsed.value


def test_a_date_is_the_local_day() -> None:
    now = utc(2026, 12, 5, 4, 30).astimezone(NEW_YORK)  # 23:30 on Friday the 4th in New York
    today = parse_value("date", "today", now=now)
    assert today is not None and today.text == "2026-12-04"


def test_an_unknown_time_zone_is_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "agent"
    folder.mkdir()
    (folder / "agent.yaml").write_text("name: shop\npersona: A shop.\ntimezone: America/New_Yrok\ngreeting: Hello.\n")
    (folder / "tools.py").write_text("")
    with pytest.raises(ConfigError) as error:
        load_definition(folder)
    text = str(error.value)
    assert "agent.yaml:3" in text and "America/New_Yrok" in text and "did you mean 'America/New_York'?" in text


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
async def clocked(tmp_path: Path, clock: VirtualClock, apps: dict[str, AgentApp]) -> AsyncIterator[Callable[[str], Any]]:
    """Agents of the examples on a store and a services clock that both read ``clock``."""
    from callwright.jobs.notify import OutboxNotifier
    from callwright.store import open_store

    store = await open_store(f"sqlite:///{tmp_path / 'callwright.db'}", clock=clock)
    services = Services(
        store=store,
        notifier=OutboxNotifier(store),
        data_dir=tmp_path,
        now=lambda: dt.datetime.fromtimestamp(clock.wall(), dt.UTC),
    )

    def make(name: str) -> Any:
        apps[name].services = services
        return apps[name].agent()

    try:
        yield make
    finally:
        await store.close()


def _at(clock: VirtualClock, when: dt.datetime) -> None:
    clock.advance(when.timestamp() - clock.wall())


@pytest.mark.parametrize(
    ("moment", "booked"),
    [
        (utc(2026, 12, 5, 5, 30), "2026-12-05T10:00-06:00"),  # 23:30 on the 4th in Chicago: tomorrow is the 5th
        (utc(2026, 12, 5, 7, 0), "2026-12-06T10:00-06:00"),  # 01:00 on the 5th in Chicago: tomorrow is the 6th
    ],
)
async def test_a_booking_is_made_for_the_callers_tomorrow(
    clocked: Callable[[str], Any], clock: VirtualClock, moment: dt.datetime, booked: str
) -> None:
    _at(clock, moment)
    async with TextCall(clocked("recovery-line"), caller=SAM) as c:
        await c.greeting()
        read_back = await c.say("can a nurse call me tomorrow at ten about my wound")
        await c.say("yes that's right")
        await c.settle()
        calls = [e for e in c.events(ev.ToolCalled) if e.name == "book_nurse_call"]
    day = read_datetime(booked)
    assert day is not None
    assert f"{day:%A}" in read_back and "ten a.m." in read_back
    assert [e.arguments["when"] for e in calls] == [booked]


@pytest.mark.parametrize(
    ("opened", "called", "day"),
    [
        # 18:00 and 23:30 in New York on Friday the 4th: the same local day, different UTC days
        (utc(2026, 12, 4, 23, 0), utc(2026, 12, 5, 4, 30), "earlier today"),
        # 22:00 on Friday and 01:00 on Saturday in New York: the same UTC day, different local days
        (utc(2026, 12, 5, 3, 0), utc(2026, 12, 5, 6, 0), "Friday"),
    ],
)
async def test_earlier_today_is_the_callers_today(
    clocked: Callable[[str], Any], clock: VirtualClock, opened: dt.datetime, called: dt.datetime, day: str
) -> None:
    _at(clock, opened)
    async with TextCall(clocked("order-desk"), caller=SAM) as c:
        await c.greeting()
        await c.say("I want to order three avocados")
        await c.say("twelve oak street springfield")
        await c.say("yes")
    _at(clock, called)
    async with TextCall(clocked("order-desk"), caller=SAM) as c:
        greeting = await c.greeting()
    assert f"Are you calling about your order of three avocados from {day}?" in greeting
