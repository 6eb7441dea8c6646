"""The recovery line in text mode: knowledge with citations, nurse booking with SMS and exactly
one booking, careful emotional style, memory across calls, escalation of medical decisions."""

from __future__ import annotations

import datetime as dt
import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

from callwright import events as ev
from callwright.testing import TextCall

ROBERT = "+14155550199"  # a patient the recovery line's lookup hook knows
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "agents" / "recovery-line"


def bookings(data_dir: Path) -> list[tuple[str, str, str]]:
    spec = importlib.util.spec_from_file_location("recovery_tools_for_test", EXAMPLE / "tools.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result: list[tuple[str, str, str]] = module.bookings(data_dir / "agents" / "recovery-line")
    return result


async def test_answers_from_the_documents_and_cites_them(agent_for: Callable[[str], Any]) -> None:
    async with TextCall(agent_for("recovery-line"), caller=ROBERT) as c:
        await c.greeting()
        reply = await c.say("how do I clean around the catheter")
        cited = c.events(ev.KnowledgeCited)[0]
    assert cited.confident
    assert cited.passages[0]["doc"] == "catheter-care.md"
    assert cited.passages[0]["section"].endswith("Cleaning around the catheter")
    # the section's own subject: answered from its opening (how often, with what), not its last lines
    assert "at least once a day" in reply and "soap and warm water" in reply


async def test_unknown_question_says_so_and_offers_a_nurse(agent_for: Callable[[str], Any]) -> None:
    async with TextCall(agent_for("recovery-line"), caller=ROBERT) as c:
        await c.greeting()
        reply = await c.say("what time does the football start tonight")
        cited = c.events(ev.KnowledgeCited)
    assert cited and not cited[0].confident
    assert "don't know" in reply and "nurse" in reply


async def test_medication_decisions_are_escalated_not_answered(agent_for: Callable[[str], Any]) -> None:
    async with TextCall(agent_for("recovery-line"), caller=ROBERT) as c:
        await c.greeting()
        reply = await c.say("should I change the dose of my medication")
        ended = await c.ended()
        transfer = c.events(ev.Transfer)[0]
    assert reply.startswith("I can't advise on medication or diagnosis")
    assert transfer.to == "+15550100200"
    assert ended.reason == "transfer"


async def test_nurse_booking_confirms_the_time_and_texts_once(agent_for: Callable[[str], Any], services: Any) -> None:
    async with TextCall(agent_for("recovery-line"), caller=ROBERT) as c:
        greeting = await c.greeting()
        assert "Robert" in greeting
        assert "When would you like the nurse to call" in await c.say("I'd like to book a call with a nurse")
        readback = await c.say("tomorrow at ten in the morning")
        assert readback.startswith("I heard") and "Is that right?" in readback  # the time is high stakes
        assert "what would you like to talk about" in (await c.say("yes")).lower()
        reply = await c.say("my catheter is leaking a bit")
        results = c.events(ev.ToolResult)
    assert [r.status for r in results] == ["ok"]
    assert "booked a nurse to call you" in reply
    texts = await services.store.messages(ROBERT)
    assert len(texts) == 1 and "a nurse will call you" in texts[0].body
    assert len(bookings(services.data_dir)) == 1


async def test_asking_twice_books_once(agent_for: Callable[[str], Any], services: Any) -> None:
    """The same booking requested again in the call (as after a barge-in) replays, not rebooks."""
    async with TextCall(agent_for("recovery-line"), caller=ROBERT) as c:
        await c.greeting()
        for _ in range(2):
            await c.say("can a nurse ring me")
            await c.say("tomorrow at ten in the morning")
            await c.say("yes")
            await c.say("my catheter is leaking a bit")
        results = c.events(ev.ToolResult)
    assert [(r.status, r.replayed) for r in results] == [("ok", False), ("ok", True)]
    assert len(bookings(services.data_dir)) == 1
    assert len(await services.store.messages(ROBERT)) == 1


async def test_distress_escalates_at_once(agent_for: Callable[[str], Any]) -> None:
    async with TextCall(agent_for("recovery-line"), caller=ROBERT) as c:
        await c.greeting()
        await c.say("I'm bleeding a lot and I feel faint")
        style = c.events(ev.StyleChosen)[0]
        transfer = c.events(ev.Transfer)
    assert (style.style, style.reason) == ("warm", "anxious caller: warm and steady")  # faint: frightened, not angry
    assert transfer and transfer[0].to == "+15550100200"


async def test_anxious_caller_gets_the_warm_style_and_no_upbeat(agent_for: Callable[[str], Any]) -> None:
    async with TextCall(agent_for("recovery-line"), caller=ROBERT) as c:
        await c.greeting()
        await c.say("I'm really worried, is it normal to leak urine after the catheter comes out")
        await c.say("that's great, thank you so much")
        styles = [s.style for s in c.events(ev.StyleChosen)]
    assert styles[0] == "warm"
    assert "upbeat" not in styles  # the recovery line does not allow it


async def test_returning_patient_is_asked_about_the_booking(agent_for: Callable[[str], Any], services: Any) -> None:
    async with TextCall(agent_for("recovery-line"), caller=ROBERT) as c:
        await c.greeting()
        await c.say("I'd like to book a call with a nurse")
        await c.say("tomorrow at ten in the morning")
        await c.say("yes")
        await c.say("my catheter is leaking a bit")
    summaries = await services.store.summaries(ROBERT)
    assert summaries and "callback booked" in summaries[0].summary
    async with TextCall(agent_for("recovery-line"), caller=ROBERT) as c:
        greeting = await c.greeting()
    assert "Hello Robert" in greeting


async def test_accepting_the_offer_of_a_nurse_call_books_one_rather_than_transferring(agent_for: Callable[[str], Any]) -> None:
    """The offer says "book a call with a nurse" (``escalation.offer_mode: booking``): a yes books it."""
    async with TextCall(agent_for("recovery-line"), caller=ROBERT) as c:
        await c.greeting()
        offered = await c.say("what time does the football start tonight")
        reply = await c.say("yes please")
        transfers = c.events(ev.Transfer)
    assert offered.endswith("I can book a call with a nurse if you like.")
    assert reply.startswith("When would you like the nurse to call you?") and transfers == []


async def test_small_talk_is_answered_and_what_can_you_do_is_said(agent_for: Callable[[str], Any]) -> None:
    async with TextCall(agent_for("recovery-line"), caller=ROBERT) as c:
        await c.greeting()
        chat = await c.say("morning, how are you keeping")
        can = await c.say("what is this line for exactly")
    assert chat == "I'm well, thanks for asking. How can I help?"
    assert can.startswith("I can help with recovery questions after prostate surgery and booking a nurse call.")


async def test_the_second_of_two_answers_is_said_again_when_asked_for(agent_for: Callable[[str], Any]) -> None:
    async with TextCall(agent_for("recovery-line"), caller=ROBERT) as c:
        await c.greeting()
        both = await c.say("when can I have a bath and when can I go back to the gym")
        again = await c.say("sorry, what was the second part again")
        first = await c.say("and the first one?")
    assert "soaking" in both and "exercise" in both.lower()
    assert "soaking" not in again and again.strip() in both
    assert "soaking" in first and first.strip() in both


async def _booking_replies(agent_for: Callable[[str], Any], services: Any, said: list[str]) -> list[str]:
    """The replies to ``said`` in one call, on Tuesday, December 1st, 2026, 10 a.m. on the line's clock."""
    services.now = lambda: dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)  # 10:00 in America/Chicago
    async with TextCall(agent_for("recovery-line"), caller=ROBERT) as c:
        await c.greeting()
        return [await c.say(s) for s in said]


async def test_the_time_in_a_booking_request_is_read_back(agent_for: Callable[[str], Any], services: Any) -> None:
    replies = await _booking_replies(
        agent_for, services, ["hiya, could a nurse give me a ring on monday at quarter past two", "yes"]
    )
    assert replies[0] == "I heard Monday, December seventh at two fifteen p.m. Is that right?"
    assert "what would you like to talk about" in replies[1].lower()


async def test_hours_and_minutes_are_a_time_not_a_day(agent_for: Callable[[str], Any], services: Any) -> None:
    """Friday is the 4th: "eleven thirty" is the time, never the 11th."""
    replies = await _booking_replies(agent_for, services, ["I need a nurse to call me", "friday, eleven thirty if possible"])
    assert replies[1] == "I heard Friday, December fourth at eleven thirty a.m. Is that right?"


async def test_a_new_time_with_a_reason_against_the_old_keeps_the_day(agent_for: Callable[[str], Any], services: Any) -> None:
    replies = await _booking_replies(
        agent_for,
        services,
        [
            "book me in for a call from the nurse tomorrow at ten",
            "ah no can we say twelve thirty, ten's a bit early for me, I'll still be in bed",
        ],
    )
    assert replies[0] == "I heard tomorrow, Wednesday, December second at ten a.m. Is that right?"
    assert replies[1] == "I heard tomorrow, Wednesday, December second at twelve thirty p.m. Is that right?"


async def test_follow_ups_and_two_questions_with_a_reason_find_their_own_sections(agent_for: Callable[[str], Any]) -> None:
    """Held-out-11's classes, in words of their own: a follow-up opened with "ok", a follow-up that the
    document's own title would otherwise answer, two questions with the reason for one told after it."""
    async with TextCall(agent_for("recovery-line"), caller=ROBERT) as c:
        await c.greeting()
        await c.say("is a bit of pink in the catheter bag normal")
        darker = await c.say("right, and what if it turns a lot darker, what then")
    assert "dark red" in darker and "call your care team" in darker
    async with TextCall(agent_for("recovery-line"), caller=ROBERT) as c:
        await c.greeting()
        await c.say("we are booked on a flight to see the grandkids next month, is that alright")
        drive = await c.say("and what if we go by car instead")
    assert "Educational content" not in drive and "every hour" in drive
    async with TextCall(agent_for("recovery-line"), caller=ROBERT) as c:
        await c.greeting()
        both = await c.say("what should I be eating, and how much should I drink, as I'm up all night emptying the bag")
    assert "light meals" in both and "litres" in both and "night bag" not in both
    async with TextCall(agent_for("recovery-line"), caller=ROBERT) as c:
        await c.greeting()
        bag = await c.say("can I use the same night bag again or do I need a fresh bag every night")
    assert "fit a new one each night" in bag


async def test_a_time_given_to_the_offer_of_a_nurse_call_books_it_at_that_time(agent_for: Callable[[str], Any], services: Any) -> None:
    replies = await _booking_replies(
        agent_for, services, ["what time does the football start tonight", "thursday, half three in the afternoon"]
    )
    assert replies[0].endswith("I can book a call with a nurse if you like.")
    assert replies[1] == "I heard Thursday, December third at three thirty p.m. Is that right?"


async def test_a_time_with_a_no_thanks_does_not_take_the_offer(agent_for: Callable[[str], Any], services: Any) -> None:
    replies = await _booking_replies(
        agent_for, services, ["what time does the football start tonight", "no ta, the match is tomorrow at nine anyway"]
    )
    assert "I heard" not in replies[1] and "nurse to call" not in replies[1]


async def test_a_time_corrected_at_the_read_back(agent_for: Callable[[str], Any], services: Any) -> None:
    replies = await _booking_replies(agent_for, services, ["could the nurse phone me friday at ten", "not quite, half eleven is what I said"])
    assert replies[0] == "I heard Friday, December fourth at ten a.m. Is that right?"
    assert replies[1] == "I heard Friday, December fourth at eleven thirty a.m. Is that right?"


async def test_a_time_moved_at_the_read_back(agent_for: Callable[[str], Any], services: Any) -> None:
    replies = await _booking_replies(agent_for, services, ["could the nurse phone me friday at ten", "shift it to one instead"])
    assert replies[1] == "I heard Friday, December fourth at one p.m. Is that right?"
