"""Putting a server together from settings: engines, agent, app, uvicorn."""

from __future__ import annotations

import dataclasses
import importlib
import logging
import threading
from pathlib import Path
from typing import Any

import anyio

from .agent.base import Agent
from .agent.scripted import front_desk
from .errors import ConfigError
from .settings import Settings
from .transport.app import VoiceServer, create_app
from .voice.call import Engines

BUILTIN_AGENTS = {"front-desk": front_desk}
log = logging.getLogger("callwright.server")


def is_agent_folder(name: str) -> bool:
    return (Path(name) / "agent.yaml").is_file() or "/" in name or name.endswith(".yaml")


def _llm(settings: Settings) -> Any:
    from .engines.llm.openai_compat import OpenAICompatibleLlm
    from .engines.resilient import ResilientLlm, RetryPolicy

    return ResilientLlm(
        OpenAICompatibleLlm(
            settings.llm_url or "",
            settings.llm_model,
            api_key=settings.llm_api_key,
            stream_auto_tools=settings.llm_stream_tools,
            context_tokens=settings.llm_context or None,
        ),
        policy=RetryPolicy(timeout=15.0, retries=1, backoff=0.3),
    )


class AgentHost:
    """Serves an agent folder: its shared indexes (built now), and, while the server runs, the
    store, the notifier and the background job queue (opened in the server's event loop)."""

    def __init__(self, settings: Settings, folder: str) -> None:
        from .agent.app import AgentApp, Services
        from .agent.spec import load_definition

        self.settings = settings
        folder_path = Path(folder)
        self.definition = load_definition(folder_path.parent if folder_path.name == "agent.yaml" else folder_path)
        self.data_dir = Path(settings.data_dir or ".callwright")
        self.app = AgentApp(
            self.definition,
            Services(public_url=settings.base_url(), llm=_llm(settings) if settings.llm_url else None, data_dir=self.data_dir),
        )
        self.jobs: Any = None

    def agent(self, name: str | None = None) -> Agent:
        """A new call's agent; ``name`` (a client's ``call.start.agent``) must be this agent's."""
        check_served(name, self.app.name, self.settings.agent)
        return self.app.agent()

    def notifier_for(self, store: Any) -> Any:
        from .jobs.notify import notifier_from_settings

        return notifier_from_settings(store, self.settings)

    async def start(self, links: Any) -> None:
        from .agent.background import tool_job_handler
        from .jobs.queue import JobQueue
        from .store import open_store

        s = self.settings
        store = await open_store(s.resolved_store_url())
        handler = tool_job_handler(self.data_dir)
        self.jobs = JobQueue(
            queue_url=s.resolved_queue_url(), store_url=s.resolved_store_url(), handlers=lambda name: handler,
            notifier_factory=self.notifier_for,
        )
        await anyio.to_thread.run_sync(self.jobs.start)
        services = self.app.services
        services.store, services.notifier, services.jobs, services.links = store, self.notifier_for(store), self.jobs, links
        log.info("agent %s: store and job queue ready", self.app.name)

    async def stop(self) -> None:
        services = self.app.services
        if self.jobs is not None:
            await anyio.to_thread.run_sync(self.jobs.stop)
            self.jobs = services.jobs = None
        if services.store is not None:
            store, services.store = services.store, None
            await store.close()
        llm = services.llm
        if llm is not None and hasattr(llm, "aclose"):
            await llm.aclose()


def check_served(name: str | None, *served: str) -> None:
    """A client may name the agent it calls (``call.start.agent``): it must be the one served here."""
    if name and name not in served:
        raise ConfigError(f"agent {name!r} is not served here; this server serves {served[0]!r}")


def load_agent(settings: Settings, name: str | None = None) -> Agent:
    """The agent the settings name, for one call (``name``: the client's choice, which must be it).

    How ``--agent`` and ``--llm-url`` combine:

    * an agent folder: its own agent, with the language model as its brain when ``--llm-url`` is set;
    * ``front-desk`` (the built-in): the scripted front desk, or with ``--llm-url`` a language model
      playing the same deli's front desk (no tools: it cannot transfer, so it is told to say so);
    * ``module:factory``: whatever the factory returns; ``--llm-url`` is not given to it (read
      ``CALLWRIGHT_LLM_URL`` in the factory to use one).
    """
    wanted = settings.agent
    if is_agent_folder(wanted):
        host = AgentHost(settings, wanted)  # one-off (chat, checks); servers keep one AgentHost
        return host.agent(name)
    check_served(name, wanted)
    if wanted in BUILTIN_AGENTS:
        if settings.llm_url:
            from .agent.llm import LlmAgent

            return LlmAgent(
                name=wanted,
                llm=_llm(settings),
                instructions="You are the friendly front desk of Callwright Deli, a bakery and sandwich shop. You can tell "
                "callers the opening hours (eight in the morning to eight in the evening, every day) and about the menu. "
                "You cannot look up orders and cannot put callers through to a person on this line: say so plainly, "
                "and never claim to have done either.",
                greeting_text="Hello, thanks for calling Callwright Deli. How can I help you today?",
            )
        return BUILTIN_AGENTS[wanted](settings.transfer_to or None)
    if ":" in wanted:
        if settings.llm_url:
            log.warning("agent %s comes from its factory; --llm-url is not passed to it", wanted)
        module_name, _, attr = wanted.partition(":")
        try:
            factory: Any = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"agent {wanted!r}: cannot load {attr!r} from {module_name!r} ({exc})") from None
        agent = factory()
        if not isinstance(agent, Agent):
            missing = [m for m in ("name", "greeting", "open", "respond", "aclose") if not hasattr(agent, m)]
            raise ConfigError(
                f"agent {wanted!r}: the factory returned {type(agent).__name__}, which has no {', '.join(missing)}; "
                "subclass callwright.agent.Agent (it gives open and aclose their defaults) and write greeting and respond"
            )
        return agent
    import difflib

    close = difflib.get_close_matches(wanted, list(BUILTIN_AGENTS), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; built-in agents: {', '.join(BUILTIN_AGENTS)}"
    raise ConfigError(f"agent {wanted!r} is unknown{hint} (or give 'module:factory')")


def voice_settings(settings: Settings, tts: str | None) -> Settings:
    """The settings with the agent's own TTS engine (``voice.tts`` in agent.yaml), which wins over ``--tts``."""
    if tts is None or tts == settings.tts:
        return settings
    log.info("the agent speaks with the %s engine (voice.tts in agent.yaml), not %s", tts, settings.tts)
    return dataclasses.replace(settings, tts=tts)


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
    if is_agent_folder(settings.agent):
        host = AgentHost(settings, settings.agent)  # validates the folder and builds its indexes now
        if engines is None:
            settings = voice_settings(settings, host.definition.spec.voice.tts)
        engines = engines or build_engines(settings)
        warm(engines)
        server = VoiceServer(settings, engines, host.agent)
        server.on_start.append(lambda: host.start(server.links))
        server.on_stop.append(host.stop)
        return server
    load_agent(settings)  # fail now, not on the first call
    engines = engines or build_engines(settings)
    warm(engines)
    return VoiceServer(settings, engines, lambda name: load_agent(settings, name))


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
        lifespan="on",
    )
