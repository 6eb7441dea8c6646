"""One settings table: it drives the ``callwright run`` flags, the ``CALLWRIGHT_*`` environment
variables and the settings section of ``docs/cli.md`` (a test checks that every one is documented).

Precedence: command-line flag, then environment variable, then the default here.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field, fields
from typing import Any

from .errors import ConfigError
from .phone import is_e164

ENV_PREFIX = "CALLWRIGHT_"


def setting(default: Any, help: str, *, secret: bool = False) -> Any:
    return field(default=default, metadata={"help": help, "secret": secret})


@dataclass(frozen=True)
class Settings:
    host: str = setting("127.0.0.1", "Address to bind. Anything but loopback requires a token.")
    port: int = setting(8000, "TCP port to listen on.")
    token: str | None = setting(None, "Shared secret clients must present (?token= or Authorization: Bearer).", secret=True)
    agent: str = setting("front-desk", "Agent to serve: an agent folder (with agent.yaml), a built-in name, or 'module:factory'.")
    transfer_to: str = setting("", "Phone number (E.164) the built-in front desk puts a caller through to when they ask for a person; empty: it says it cannot.")
    stt: str = setting("moonshine", "Speech-to-text engine: moonshine or whisper.")
    tts: str = setting("piper", "Text-to-speech engine for the agent's voice: piper or espeak.")
    tts_fallback: str | None = setting("espeak", "Second TTS engine used when the first fails ('' for none).")
    vad: str = setting("silero", "Voice activity detector: silero or webrtc.")
    llm_url: str | None = setting(None, "OpenAI-compatible base URL (e.g. http://127.0.0.1:8080/v1); the model drives the agent (see docs/cli.md for how it combines with --agent).")
    llm_model: str = setting("gpt-4o-mini", "Model name sent to the LLM endpoint.")
    llm_stream_tools: bool = setting(True, "Stream replies when the model may call tools; off for servers that cannot (llama-cpp-python).")
    llm_context: int = setting(0, "The model's context window in tokens; a long call's oldest turns are dropped to fit it (0: learned from the server when it first refuses a prompt as too long).")
    llm_api_key: str | None = setting(None, "API key for the LLM endpoint (never logged).", secret=True)
    max_calls: int = setting(20, "Live calls allowed at once; further calls are refused with a clear error.")
    idle_timeout_s: float = setting(60.0, "End a call after this many seconds with nobody speaking.")
    max_duration_s: float = setting(1800.0, "End any call after this many seconds.")
    endpoint_silence_ms: int = setting(600, "Pause that ends a caller's turn.")
    barge_in_min_speech_ms: int = setting(300, "Caller speech needed before it can interrupt the agent.")
    barge_in_min_words: int = setting(1, "Words (not backchannels) needed to interrupt; 0 interrupts on speech alone.")
    partials: bool = setting(False, "Send interim transcripts while the caller speaks (costs STT time).")
    trace_dir: str = setting(".callwright/traces", "Folder for per-call JSONL traces ('' to disable).")
    log_level: str = setting("info", "Logging level: debug, info, warning or error.")
    public_url: str = setting("", "Base URL that phones and Twilio use to reach this server (form links, TwiML callbacks); default http://<host>:<port>.")
    data_dir: str = setting(".callwright", "Folder for server state, such as the generated link secret ('' keeps nothing on disk).")
    link_secret: str = setting("", "Key that signs form links (16+ characters); empty: generated once and kept in <data-dir>/link-secret.", secret=True)
    link_max_age_s: int = setting(900, "Seconds a form link stays valid after it is made.")
    store_url: str = setting("", "Where calls, callers' memory, SMS and jobs are kept: sqlite:///path.db or postgresql://...; empty: sqlite in <data-dir>.", secret=True)
    queue_url: str = setting("", "Background job queue: sqlite:///path.db or redis://...; empty: Redis when redis_url is set, else sqlite in <data-dir>.", secret=True)
    twilio_account_sid: str = setting("", "Twilio account SID; with the auth token and from-number, SMS go out through Twilio instead of the embedded outbox.")
    twilio_auth_token: str = setting("", "Twilio auth token: signs SMS API requests and verifies X-Twilio-Signature on /twilio/*; without it the Twilio routes answer only on loopback (never logged).", secret=True)
    twilio_from_number: str = setting("", "Twilio number SMS are sent from (E.164).")
    twilio_api_url: str = setting("https://api.twilio.com", "Twilio REST API base URL (tests point it at a local server).")
    rate_limit: float = setting(2.0, "Requests per second each client address may make to /ws, /twilio/* and /f/* (on average); beyond it: 429 with Retry-After. 0 turns the limit off.")
    rate_limit_burst: int = setting(30, "Requests a client may make at once before rate_limit applies.")
    redis_url: str = setting("", "Redis shared by server workers (redis://host:6379/0): form values and transfers reach any worker. Empty: one process.", secret=True)

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """Defaults, then ``CALLWRIGHT_*`` variables, then ``overrides`` (flags that were given)."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = os.environ.get(ENV_PREFIX + f.name.upper())
            if raw is not None:
                values[f.name] = _coerce(f.name, raw, f.default)
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        if not _is_loopback(self.host) and not self.token:
            raise ConfigError(
                f"host {self.host!r} is reachable beyond this machine; set a token "
                f"(--token or {ENV_PREFIX}TOKEN) or bind to 127.0.0.1"
            )
        if not 0 <= self.port < 65536:
            raise ConfigError(f"port {self.port} is out of range 0-65535 (0 picks a free port)")
        if self.transfer_to and not is_e164(self.transfer_to):
            raise ConfigError(f"transfer_to {self.transfer_to!r} is not a phone number in E.164 form (like +15551230000)")
        if self.max_calls < 1:
            raise ConfigError(f"max_calls must be at least 1, not {self.max_calls}")
        if self.public_url and not self.public_url.startswith(("http://", "https://")):
            raise ConfigError(f"public_url {self.public_url!r} must start with http:// or https://")
        if self.link_secret and len(self.link_secret) < 16:
            raise ConfigError(
                f"link_secret is {len(self.link_secret)} characters long; use at least 16 "
                f"(or leave it empty and one is generated in {self.data_dir or 'memory'})"
            )
        if self.link_max_age_s < 1:
            raise ConfigError(f"link_max_age_s must be at least 1, not {self.link_max_age_s}")
        if self.rate_limit < 0 or self.rate_limit_burst < 1:
            raise ConfigError(
                f"rate_limit must be 0 (off) or more and rate_limit_burst at least 1, not {self.rate_limit} and {self.rate_limit_burst}"
            )
        if self.redis_url and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError("redis_url must start with redis://, rediss:// or unix://")  # no value: it may hold a password

    def resolved_store_url(self) -> str:
        if self.store_url:
            return self.store_url
        return f"sqlite:///{self.data_dir or '.callwright'}/callwright.db"

    def resolved_queue_url(self) -> str:
        if self.queue_url:
            return self.queue_url
        if self.redis_url:
            return self.redis_url
        return f"sqlite:///{self.data_dir or '.callwright'}/jobs.db"

    def base_url(self) -> str:
        """Where phones and Twilio reach this server: ``public_url``, or ``http://<host>:<port>``."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def public(self) -> dict[str, Any]:
        """Settings safe to print or log: secrets masked."""
        return {
            f.name: ("***" if f.metadata.get("secret") and getattr(self, f.name) else getattr(self, f.name))
            for f in fields(self)
        }


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def _coerce(name: str, raw: str, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            said = raw.strip().lower()
            if said not in _TRUE + _FALSE:
                raise ValueError(said)  # "ture" is a typo, not False
            return said in _TRUE
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
    except ValueError:
        raise ConfigError(f"{ENV_PREFIX}{name.upper()}={raw!r} is not a valid {type(default).__name__}") from None
    return raw


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


SETTINGS = fields(Settings)
