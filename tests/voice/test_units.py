"""The voice loop's parts on their own: echo detection, the playback cursor, endpointing."""

from __future__ import annotations

import anyio
import numpy as np
import pytest

from callwright.clock import SteppedClock
from callwright.engines.fakes import EnergyVad
from callwright.testing import silence, tone
from callwright.voice.echo import EchoReference, echo_ratio
from callwright.voice.endpointing import Discarded, Endpointer, Onset, Segment, Stop, TurnTaking
from callwright.voice.playback import Playout

RNG = np.random.default_rng(7)


def noise(seconds: float, level: float = 3000) -> np.ndarray:
    return (RNG.standard_normal(int(seconds * 16000)) * level).astype(np.int16)


def test_echo_ratio_separates_echo_from_a_caller() -> None:
    agent = noise(2.0)
    reference = agent[: 16000 + 8000]  # ends "now"
    echo = (agent[16000 - 3200 : 16000 + 8000 - 3200] * 0.3).astype(np.int16)[-8000:]  # 200 ms late, -10 dB
    caller = noise(0.5, 2000)
    assert echo_ratio(echo, reference) < 0.01
    assert echo_ratio(caller, reference) > 0.95
    assert echo_ratio((echo + caller).astype(np.int16), reference) > 0.5  # talking over the agent is not echo
    assert echo_ratio(caller, np.zeros_like(reference)) == 1.0


def test_echo_is_found_in_quiet_passages_and_across_playback_stalls() -> None:
    loud, quiet = noise(1.0, 6000), noise(1.0, 150)  # the agent's audio: a loud second, then a soft one
    reference = np.concatenate([loud, quiet])
    echo = (quiet[-8000:] * 0.3).astype(np.int16)  # the soft part comes back
    assert echo_ratio(echo, reference) < 0.01
    # the player stalled 30 ms mid-way: the second half of the echo is shifted
    stalled = np.concatenate([reference[8000:16000], np.zeros(480, dtype=np.int16), reference[16000:24000]])
    agent = np.concatenate([noise(1.0), reference])
    mic = (stalled[-12800:] * 0.3).astype(np.int16)
    assert echo_ratio(mic, agent) < 0.05


def test_echo_reference_keeps_sent_audio_on_the_clock() -> None:
    ref = EchoReference(16000, seconds=1.0)
    audio = noise(3.0)
    t = 5.0
    for i in range(0, audio.size, 320):
        ref.add(audio[i : i + 320], t + 0.001 * (i % 3))  # scheduling jitter is not silence
        t += 0.02
    assert np.array_equal(ref.window(t, 0.5, 16000), audio[-8000:])
    later = ref.window(t + 0.25, 0.5, 16000)  # nothing sent for 250 ms: the window ends in silence
    assert np.array_equal(later[:4000], audio[-4000:]) and not later[4000:].any()
    assert ref.active_within(t + 0.25, 0.3) and not ref.active_within(t + 1.0, 0.3)


async def test_playout_says_what_was_heard() -> None:
    p = Playout(16000, lead_ms=60)
    turn = p.begin_turn(3)
    await p.add_sentence(turn, "One two three four.", np.zeros(16000, dtype=np.int16))
    await p.add_sentence(turn, "Five six.", np.zeros(8000, dtype=np.int16))
    for _ in range(60):  # 1.2 s released
        _, audio, chunk, _ = await p.next_frame()
        p.record_sent(audio, chunk.size, 0.0)
    stopped = p.stop()
    assert stopped is not None
    # heard = sent - lead = 1.14 s: the first sentence and 28 % of the second (no whole word of it)
    assert stopped.heard_ms == 1140 and stopped.heard_text == "One two three four."
    assert stopped.planned_text == "One two three four. Five six."
    p.acknowledge("3:2:24000")  # a mark for a turn that is no longer current changes nothing
    assert p.current is None


async def test_every_task_waiting_on_the_playout_is_woken() -> None:
    """Two tasks wait for a turn to drain while a third waits for room in the buffer: each frame that
    leaves wakes all of them, and each returns at its exact time on the virtual clock (none is left
    waiting on an event that was replaced under it)."""
    clock = SteppedClock()
    p = Playout(16000)
    turn = p.begin_turn(1)
    await p.add_sentence(turn, "One.", np.ones(3200, dtype=np.int16))  # ten 20 ms frames
    done: dict[str, float] = {}

    async def drained(name: str) -> None:
        await p.drained(turn)
        done[name] = clock.now()

    async def more() -> None:  # 0.1 s of room: it waits until five frames have left
        await p.add_sentence(turn, "Two.", np.ones(3200, dtype=np.int16), max_buffer_s=0.1)
        done["two queued"] = clock.now()

    async def play() -> None:  # the consumer: one frame every 20 ms
        while True:
            _, audio, chunk, _ = await p.next_frame()
            await clock.sleep_until(clock.now() + 0.02)
            p.record_sent(audio, chunk.size, clock.now())

    async with anyio.create_task_group() as tg:
        tg.start_soon(drained, "a")
        tg.start_soon(drained, "b")
        tg.start_soon(more)
        tg.start_soon(play)
        await clock.advance(1.0)
        tg.cancel_scope.cancel()
    # the fifth frame leaves at 0.08 s; the twentieth, the turn's last, at 0.38 s
    assert done == pytest.approx({"two queued": 0.08, "a": 0.38, "b": 0.38})
    assert turn.sent == 6400 and not p.speaking(1.0)


async def test_a_stopped_turn_never_queues_again() -> None:
    p = Playout(16000)
    turn = p.begin_turn(1)
    p.stop()
    await p.add_sentence(turn, "Too late.", np.ones(3200, dtype=np.int16))
    assert not p.speaking(0.0)


def test_endpointer_segments_do_not_depend_on_chunking() -> None:
    audio = np.concatenate([silence(0.5), tone(0.7), silence(0.3), tone(0.4), silence(0.8), tone(0.1), silence(1.0)])
    results = []
    for chunk in (160, 320, 1000, 4096):
        ep = Endpointer(EnergyVad(), TurnTaking(endpoint_silence_ms=600, min_speech_ms=160))
        events = []
        for i in range(0, audio.size, chunk):
            events.extend(ep.feed(audio[i : i + chunk]))
        results.append([(type(e).__name__, getattr(e, "start_ms", getattr(e, "audio_ms", None))) for e in events])
    assert all(r == results[0] for r in results)
    kinds = [k for k, _ in results[0]]
    assert kinds.count("Segment") == 1 and kinds.count("Discarded") == 1  # the 0.1 s blip is noise


def test_patience_stretches_the_endpoint() -> None:
    audio = np.concatenate([tone(0.5), silence(0.9), tone(0.5), silence(2.0)])
    for patience, turns in ((1.0, 2), (2.0, 1)):
        ep = Endpointer(EnergyVad(), TurnTaking(endpoint_silence_ms=600))
        ep.patience = patience
        events = ep.feed(audio)
        assert sum(isinstance(e, Segment) for e in events) == turns
        assert isinstance(events[0], Onset) and any(isinstance(e, Stop) for e in events)
        assert not any(isinstance(e, Discarded) for e in events)
