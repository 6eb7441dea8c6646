"""The core contract: every fact about a call is one of these typed events.

The same classes are the native WebSocket protocol (JSON text frames), the trace record, and what
the dashboard, detectors and tests read. There is no second format for the same fact.

* Each event has a stable ``type`` name (``"transcript.final"``) and the protocol version ``v``.
* ``t_ms`` is milliseconds since the call started, on the call's clock. Fields named ``audio_*_ms``
  are positions in the caller's audio stream (audio time: samples counted, not wall time).
* Server events flow server -> client and into the trace. Client events flow client -> server.

Read ``docs/protocol.md`` for the wire rules; ``callwright schema`` prints the JSON Schema.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from .errors import ProtocolError

PROTOCOL_VERSION = 1
SAMPLE_RATES = (8000, 16000, 24000, 48000)


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    v: int = PROTOCOL_VERSION
    call_id: str = ""
    seq: int = 0
    t_ms: float = 0.0


# ---------------------------------------------------------------- client -> server
class CallStart(_Event):
    """First message from a native client: the audio format it sends and wants back, and who calls."""

    type: Literal["call.start"] = "call.start"
    sample_rate: int = 16000
    encoding: Literal["pcm16"] = "pcm16"
    caller: str | None = None
    agent: str | None = None  # the agent to talk to: must be one the server serves (else refused, unknown_agent)
    metadata: dict[str, str] = Field(default_factory=dict)  # given to the agent (Context.metadata) and kept in the trace


class PlaybackMark(_Event):
    """Client -> server: the audio before mark ``name`` has played. Server -> client: a bookmark."""

    type: Literal["audio.mark"] = "audio.mark"
    name: str


class CallerText(_Event):
    """A caller turn typed instead of spoken (testing, accessibility, chat widgets)."""

    type: Literal["caller.text"] = "caller.text"
    text: str


class Dtmf(_Event):
    """A key the caller pressed."""

    type: Literal["dtmf"] = "dtmf"
    digit: str


# Wire type "hangup"; the class is named apart from the agent's act that ends a call (agent.base.Hangup).
class HangupRequest(_Event):
    """Either side ends the call."""

    type: Literal["hangup"] = "hangup"
    reason: str = "caller"


# ---------------------------------------------------------------- server -> client / trace
Transport = Literal["websocket", "twilio", "local"]  # how the call reached the server
TurnSource = Literal["speech", "text", "dtmf", "web"]  # how a caller turn arrived (web: a form link's value)
EndReason = Literal[
    "hangup", "agent_hangup", "transfer", "client_gone", "idle_timeout", "max_duration", "error", "shutdown"
]


class CallStarted(_Event):
    """The call is live: the formats both sides agreed, and the limits that will end it."""

    type: Literal["call.started"] = "call.started"
    transport: Transport
    input_sample_rate: int
    output_sample_rate: int
    agent: str
    caller: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)  # as the client sent it in call.start
    greeting: bool = False
    idle_timeout_s: float
    max_duration_s: float


class SpeechStarted(_Event):
    """The VAD heard the caller start speaking (before any barge-in decision)."""

    type: Literal["vad.speech_started"] = "vad.speech_started"
    audio_ms: float


class SpeechStopped(_Event):
    """The caller stopped speaking (the last voiced audio, not the endpoint decision)."""

    type: Literal["vad.speech_stopped"] = "vad.speech_stopped"
    audio_ms: float


class TranscriptPartial(_Event):
    """An interim hypothesis of the caller's current turn; may change."""

    type: Literal["transcript.partial"] = "transcript.partial"
    turn: int
    text: str


class TranscriptFinal(_Event):
    """The caller's finished turn as the agent will see it."""

    type: Literal["transcript.final"] = "transcript.final"
    turn: int
    text: str
    confidence: float | None = None
    audio_start_ms: float
    audio_end_ms: float
    source: TurnSource = "speech"


class AgentText(_Event):
    """A sentence of the agent's reply, as it is handed to speech synthesis."""

    type: Literal["agent.text"] = "agent.text"
    turn: int
    text: str


class AgentTurn(_Event):
    """The agent's finished turn, as stored in the conversation: ``text`` is what the caller heard."""

    type: Literal["agent.turn"] = "agent.turn"
    turn: int
    text: str
    planned_text: str
    interrupted: bool = False
    audio_ms: float = 0.0


class BargeIn(_Event):
    """The caller interrupted the agent: agent audio stopped and the client was told to drop its buffer."""

    type: Literal["barge_in"] = "barge_in"
    turn: int
    heard_ms: float
    heard_text: str
    speech_ms: float


class Clear(_Event):
    """Server -> client: drop every agent sample you have buffered but not played."""

    type: Literal["audio.clear"] = "audio.clear"


class SpeechIgnored(_Event):
    """Caller sound during agent speech that did not interrupt it, and why."""

    type: Literal["vad.ignored"] = "vad.ignored"
    reason: Literal["short", "backchannel", "echo"]
    audio_ms: float
    speech_ms: float
    text: str | None = None


LatencyStage = Literal[
    "endpoint", "stt_final", "first_text", "first_audio_synth", "first_audio_sent", "voice_to_voice"
]


class Latency(_Event):
    """One stage of one turn, in ms after the caller's last voiced sample, so the stages add up in order:
    ``endpoint`` <= ``stt_final`` <= ``first_text`` <= ``first_audio_synth`` <= ``first_audio_sent`` <=
    ``voice_to_voice``. ``voice_to_voice`` is taken when the client confirms the reply's first frame
    played (Twilio ``mark``, ``audio.mark``); a client that never confirms playback gets none."""

    type: Literal["latency"] = "latency"
    turn: int
    stage: LatencyStage
    ms: float


class ErrorEvent(_Event):
    """Something went wrong. ``fatal`` says whether the call ends because of it."""

    type: Literal["error"] = "error"
    code: str
    message: str
    stage: str | None = None
    retryable: bool = False
    fatal: bool = False


class CallEnded(_Event):
    """The call is over and every task it owned has finished. ``shutdown``: the server stopped
    (its WebSockets closed with 1012). ``dropped_frames``: caller audio frames dropped because the
    call fell behind (the oldest go first); more than a few means the machine is overloaded."""

    type: Literal["call.ended"] = "call.ended"
    reason: EndReason
    duration_ms: float
    dropped_frames: int = 0


# ---------------------------------------------------------------- agent practices (issue 3)
class CallerIdentified(_Event):
    """Who is calling, by phone number (E.164), and whether the agent knows them."""

    type: Literal["caller.identified"] = "caller.identified"
    phone: str | None
    name: str | None = None
    known: bool = False
    calls_before: int = 0


class IntentRecognized(_Event):
    """How the agent understood a caller turn (the embedded brain's intent and slots)."""

    type: Literal["intent"] = "intent"
    turn: int
    name: str
    score: float
    slots: dict[str, str] = Field(default_factory=dict)


class ToolCalled(_Event):
    """A tool started. ``call`` identifies it in the matching progress and result events."""

    type: Literal["tool.call"] = "tool.call"
    turn: int
    call: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    idempotency_key: str | None = None
    background: bool = False


class ToolProgress(_Event):
    """A slow tool is still working: a filler line or the tool's own progress report."""

    type: Literal["tool.progress"] = "tool.progress"
    turn: int
    call: str
    name: str
    text: str
    kind: Literal["filler", "progress"] = "progress"


class ToolResult(_Event):
    """The one recorded outcome of a tool call. ``replayed``: a side effect already done under the
    same idempotency key; its stored result is returned and nothing runs again."""

    type: Literal["tool.result"] = "tool.result"
    turn: int
    call: str
    name: str
    status: Literal["ok", "error", "timeout", "cancelled", "queued"]
    result: Any = None
    error: str | None = None
    ms: float = 0.0
    replayed: bool = False


class EmotionEstimated(_Event):
    """The caller's state in one turn, from their words and from the prosody of the turn's audio."""

    type: Literal["emotion"] = "emotion"
    turn: int
    label: Literal["angry", "upset", "anxious", "happy", "neutral"]
    valence: float  # -1 (negative) .. 1 (positive)
    arousal: float  # 0 (calm) .. 1 (agitated)
    words: float  # sentiment of the words alone (-1 .. 1)
    prosody: dict[str, float] = Field(default_factory=dict)  # pitch_hz, energy_db, rate_wps, and their z-scores


class StyleChosen(_Event):
    """The reply style the policy picked for a turn, and the voice settings that follow from it."""

    type: Literal["style"] = "style"
    turn: int
    style: Literal["calm", "warm", "upbeat", "neutral"]
    rate: float
    pitch: float
    reason: str = ""


class FormField(_Event):
    """Progress of one form field: asked, filled (with the parsed value), confirmed, rejected, sent as a link."""

    type: Literal["form.field"] = "form.field"
    form: str
    field: str
    status: Literal["asked", "filled", "confirm", "confirmed", "rejected", "failed", "link_sent", "link_filled"]
    value: str | None = None
    confidence: float | None = None
    tries: int = 0


class TurnPatience(_Event):
    """Endpointing for the caller's next turn waits ``patience`` times longer (reading out a number)."""

    type: Literal["turn.patience"] = "turn.patience"
    patience: float
    reason: str = ""


class KnowledgeCited(_Event):
    """The passages an answer was built from (or the best ones found when the agent did not know)."""

    type: Literal["knowledge.cited"] = "knowledge.cited"
    turn: int
    query: str
    confident: bool
    passages: list[dict[str, Any]] = Field(default_factory=list)  # doc, section, score, text


class Transfer(_Event):
    """The call is handed to a person: a warm transfer (phone: Twilio <Dial>) or a booked callback.

    ``summary`` is what the person hears before the caller is put through (a warm transfer's
    whisper: who is calling, what they asked, what was done); a native client plays or shows it.
    """

    type: Literal["transfer"] = "transfer"
    to: str
    reason: str
    mode: Literal["transfer", "booking"] = "transfer"
    summary: str = ""


class JobQueued(_Event):
    """Slow work went to the durable job queue; its result follows by SMS."""

    type: Literal["job.queued"] = "job.queued"
    job_id: str
    name: str
    notify: str | None = None  # the phone number that will get the SMS


class MessageSent(_Event):
    """An SMS left through the notifier (the embedded outbox, or Twilio)."""

    type: Literal["message.sent"] = "message.sent"
    message_id: str
    to: str
    body: str
    purpose: str = ""


class MemoryUpdated(_Event):
    """What the agent keeps about the caller changed (a fact, an issue, a call summary, or all forgotten)."""

    type: Literal["memory"] = "memory"
    action: Literal["fact", "issue_opened", "issue_closed", "summary", "forgotten"]
    detail: str = ""


class Misheard(_Event):
    """The agent did not trust what it heard and asked again (or, after another miss, offered another way)."""

    type: Literal["misheard"] = "misheard"
    turn: int
    text: str  # what the recogniser wrote
    confidence: float | None = None
    attempt: int = 1  # misses in a row
    offered: Literal["dtmf", "link", "person"] | None = None  # the other way offered after a second miss


class SafetyFlag(_Event):
    """A safety rule of the agent fired: emergency advice was spoken first and a person takes over.

    ``rule`` names the agent's rule (``red_flags[].name`` in agent.yaml, or ``person_request``);
    ``cues`` are the words that triggered it, from this turn and, for a combination, earlier ones.
    """

    type: Literal["safety"] = "safety"
    turn: int
    rule: str
    level: Literal["emergency", "urgent", "person"]
    cues: list[str] = Field(default_factory=list)
    action: Literal["transfer", "booking", "advice_only"] = "transfer"


ClientEvent = Annotated[
    CallStart | PlaybackMark | CallerText | Dtmf | HangupRequest, Field(discriminator="type")
]
ServerEvent = Annotated[
    CallStarted | SpeechStarted | SpeechStopped | TranscriptPartial | TranscriptFinal | AgentText | AgentTurn | BargeIn | Clear | SpeechIgnored | PlaybackMark | Latency | ErrorEvent | CallEnded | HangupRequest
    | CallerIdentified | IntentRecognized | ToolCalled | ToolProgress | ToolResult | EmotionEstimated | StyleChosen
    | FormField | TurnPatience | KnowledgeCited | Transfer | JobQueued | MessageSent | MemoryUpdated
    | Misheard | SafetyFlag,
    Field(discriminator="type"),
]
Event = Union[  # noqa: UP007 (a plain alias used at run time and in annotations)
    CallStart, PlaybackMark, CallerText, Dtmf, HangupRequest, CallStarted, SpeechStarted, SpeechStopped,
    TranscriptPartial, TranscriptFinal, AgentText, AgentTurn, BargeIn, Clear, SpeechIgnored,
    Latency, ErrorEvent, CallEnded, CallerIdentified, IntentRecognized, ToolCalled, ToolProgress, ToolResult,
    EmotionEstimated, StyleChosen, FormField, TurnPatience, KnowledgeCited, Transfer, JobQueued, MessageSent,
    MemoryUpdated, Misheard, SafetyFlag,
]

_client = TypeAdapter(ClientEvent)
_server = TypeAdapter(ServerEvent)
MAX_TEXT_FRAME = 64 * 1024


def parse_client_event(raw: str | bytes) -> CallStart | PlaybackMark | CallerText | Dtmf | HangupRequest:
    """Parse one JSON text frame from a client, or raise :class:`ProtocolError` saying what is wrong."""
    if len(raw) > MAX_TEXT_FRAME:
        raise ProtocolError(
            f"text frame of {len(raw)} bytes exceeds the {MAX_TEXT_FRAME}-byte limit", code="too_large", close_code=1009
        )
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"text frame is not valid JSON: {exc}", code="bad_json", close_code=1007) from None
    if not isinstance(data, dict) or "type" not in data:
        raise ProtocolError("text frame must be a JSON object with a 'type' field", code="bad_event")
    if data["type"] not in _CLIENT_TYPES:
        raise ProtocolError(
            f"unknown event type {data['type']!r}; expected one of {', '.join(sorted(_CLIENT_TYPES))}",
            code="unknown_event",
        )
    try:
        return _client.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"][1:]) or data["type"]
        raise ProtocolError(f"{data['type']}: field '{where}': {first['msg']}", code="bad_event") from None


def parse_server_event(raw: str | bytes | dict[str, Any]) -> Any:
    """Parse a server event (clients, traces and tests use this)."""
    data = json.loads(raw) if isinstance(raw, (str, bytes)) else raw
    return _server.validate_python(data)


def json_schema() -> dict[str, Any]:
    """JSON Schema of both directions, for clients written in other languages."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"Callwright protocol v{PROTOCOL_VERSION}",
        "oneOf": [
            {"title": "ClientEvent", **_client.json_schema()},
            {"title": "ServerEvent", **_server.json_schema()},
        ],
    }


_CLIENT_TYPES = {m.model_fields["type"].default for m in (CallStart, PlaybackMark, CallerText, Dtmf, HangupRequest)}
