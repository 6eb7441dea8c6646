import json

import pytest

from callwright import events as ev
from callwright.errors import ProtocolError


def test_every_event_round_trips_through_json() -> None:
    samples = [
        ev.TranscriptFinal(turn=1, text="hi", confidence=0.8, audio_start_ms=0, audio_end_ms=900),
        ev.BargeIn(turn=2, heard_ms=1200, heard_text="Happy to", speech_ms=500),
        ev.Latency(turn=1, stage="voice_to_voice", ms=812.5),
        ev.CallEnded(reason="idle_timeout", duration_ms=10),
        ev.Clear(),
    ]
    for event in samples:
        assert ev.parse_server_event(event.model_dump_json()) == event


@pytest.mark.parametrize(
    ("raw", "code", "close"),
    [
        ("{not json", "bad_json", 1007),
        ('{"type": "dance"}', "unknown_event", 1008),
        ("[1, 2]", "bad_event", 1008),
        ('{"type": "call.start", "sample_rate": "fast"}', "bad_event", 1008),
        ('{"type": "caller.text", "text": "' + "x" * 70000 + '"}', "too_large", 1009),
    ],
)
def test_bad_client_messages_raise_precise_protocol_errors(raw: str, code: str, close: int) -> None:
    with pytest.raises(ProtocolError) as info:
        ev.parse_client_event(raw)
    assert info.value.code == code
    assert info.value.close_code == close


def test_unknown_event_message_lists_the_valid_types() -> None:
    with pytest.raises(ProtocolError, match=r"call\.start"):
        ev.parse_client_event('{"type": "dance"}')


def test_json_schema_covers_both_directions() -> None:
    schema = json.dumps(ev.json_schema())
    for name in ("call.start", "caller.text", "transcript.final", "barge_in", "audio.clear", "latency", "call.ended"):
        assert f'"{name}"' in schema


def test_published_schema_file_is_current() -> None:
    from pathlib import Path

    published = json.loads((Path(__file__).parents[2] / "docs" / "protocol.schema.json").read_text())
    assert published == ev.json_schema(), "regenerate with: callwright schema > docs/protocol.schema.json"
