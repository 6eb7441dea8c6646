"""Putting a server together from settings: engines, agent, app, uvicorn."""

from __future__ import annotations

import importlib
import threading
from typing import Any

import anyio

from .agent.base import Agent
from .agent.scripted import front_desk
from .errors import ConfigError
from .settings import Settings
from .transport.app import VoiceServer, create_app
from .voice.call import Engines

BUILTIN_AGENTS = {"front-desk": front_desk}


def load_agent(settings: Settings, name: str | None) -> Agent:
    """The agent named by the call (if allowed) or by the settings."""
    wanted = name or settings.agent
    if settings.llm_url:
        from .agent.llm import LlmAgent
        from .engines.llm.openai_compat import OpenAICompatibleLlm
        from .engines.resilient import ResilientLlm, RetryPolicy

        llm = ResilientLlm(
            OpenAICompatibleLlm(settings.llm_url, settings.llm_model, api_key=settings.llm_api_key),
            policy=RetryPolicy(timeout=15.0, retries=1, backoff=0.3),
        )
        return LlmAgent(
            name=f"llm:{settings.llm_model}",
            llm=llm,
            instructions="You are the friendly front desk of Callwright Deli, a bakery and sandwich shop.",
            greeting_text="Hello, thanks for calling Callwright Deli. How can I help you today?",
        )
    if wanted in BUILTIN_AGENTS:
        return BUILTIN_AGENTS[wanted]()
    if ":" in wanted:
        module_name, _, attr = wanted.partition(":")
        try:
            factory: Any = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"agent {wanted!r}: cannot load {attr!r} from {module_name!r} ({exc})") from None
        agent: Agent = factory()
        return agent
    import difflib

    close = difflib.get_close_matches(wanted, list(BUILTIN_AGENTS), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; built-in agents: {', '.join(BUILTIN_AGENTS)}"
    raise ConfigError(f"agent {wanted!r} is unknown{hint} (or give 'module:factory')")


def build_engines(settings: Settings) -> Engines:
    from .engines import registry

    fallback = settings.tts_fallback or None
    return Engines(
        stt=registry.build_stt(settings.stt),
        tts=registry.build_tts(settings.tts),
        vad=registry.build_vad(settings.vad),
        tts_fallback=registry.build_tts(fallback) if fallback and fallback != settings.tts else None,
    )


def warm(engines: Engines) -> None:
    """Load every model and run it once before the first call (no cold first turn)."""

    async def warm_all() -> None:
        for engine in (engines.stt, engines.tts, engines.stt_fallback, engines.tts_fallback):
            warm_up = getattr(engine, "warm", None)
            if warm_up is not None:
                await warm_up()

    # Its own thread and loop: callers may be inside an event loop already (tests, embedding apps).
    thread = threading.Thread(target=anyio.run, args=(warm_all,), name="callwright-warm")
    thread.start()
    thread.join()


def build_server(settings: Settings, engines: Engines | None = None) -> VoiceServer:
    load_agent(settings, None)  # fail now, not on the first call
    engines = engines or build_engines(settings)
    warm(engines)
    return VoiceServer(settings, engines, lambda name: load_agent(settings, None))


def serve(server: VoiceServer) -> None:
    import uvicorn

    s = server.settings
    uvicorn.run(
        create_app(server),
        host=s.host,
        port=s.port,
        log_level=s.log_level,
        ws_max_size=1 << 20,
        ws_ping_interval=10,
        ws_ping_timeout=10,
        lifespan="off",
    )
