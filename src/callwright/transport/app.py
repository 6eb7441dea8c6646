"""The HTTP/WebSocket server: one ASGI app (Starlette) serving every transport.

Routes: ``/`` browser page, ``/ws`` native protocol, ``/twilio/voice`` TwiML, ``/twilio/stream``
Twilio Media Streams, ``/twilio/after`` (what Twilio does once a stream ends: dial or hang up),
``/twilio/whisper`` (what the person who takes a transferred call hears first: its summary),
``/f/{token}`` form links (see ``webform.py``), ``/healthz``, ``/protocol.schema.json``.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any
from urllib.parse import urlencode

import anyio
import anyio.abc
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from .. import events as ev
from ..agent.base import Agent
from ..observe.trace import JsonlTrace
from ..settings import Settings
from ..voice.call import Call, CallIO, CallOptions, Engines, EventSink
from ..voice.endpointing import TurnTaking
from . import webform
from .bus import CallBus, bus_from_url
from .links import LinkSigner, signer_from
from .native import serve_native
from .transfers import Transfers
from .twilio import serve_twilio, twiml_after, twiml_connect, twiml_whisper

log = logging.getLogger("callwright.server")
STATIC = resources.files("callwright.transport") / "static"


class VoiceServer:
    """Live calls, the engines they share, and the agent factory.

    ``bus`` reaches the worker holding a call (form values arrive there as ``form.value``
    messages: subscribe with ``bus.subscribe(call.id)``); ``links`` signs form links (see
    :meth:`link_url`); :meth:`request_transfer` marks a phone call for a hand-over.
    """

    def __init__(
        self,
        settings: Settings,
        engines: Engines,
        agent_factory: Callable[[str | None], Agent],
        *,
        options: CallOptions | None = None,
        sinks: list[EventSink] | None = None,
        bus: CallBus | None = None,
        links: LinkSigner | None = None,
    ) -> None:
        self.settings = settings
        self.engines = engines
        self.agent_factory = agent_factory
        self.options = options or options_from(settings)
        self.sinks = sinks or []
        self.calls: dict[str, Call] = {}
        self.finished = 0
        self.bus = bus or bus_from_url(settings.redis_url or None)
        self.transfers = Transfers(self.bus)
        self._links = links
        self.on_start: list[Callable[[], Awaitable[None]]] = []  # run in the server's event loop (store, jobs)
        self.on_stop: list[Callable[[], Awaitable[None]]] = []

    @property
    def links(self) -> LinkSigner:
        """The form link signer; its key is loaded (or generated and kept) on first use."""
        if self._links is None:
            self._links = signer_from(self.settings)
        return self._links

    def link_url(self, call_id: str, *, form: str, field: str, kind: str, label: str) -> str:
        """A signed, single-use link to a one-field form whose value reaches call ``call_id``."""
        return f"{self.settings.base_url()}/f/{self.links.make(call_id, form, field, kind, label)}"

    async def request_transfer(self, call_sid: str, to: str, summary: str = "") -> None:
        """Dial ``to`` (E.164) for Twilio call ``call_sid`` once its stream ends (any worker answers);
        the person who answers hears ``summary`` before the caller is connected."""
        await self.transfers.request(call_sid, to, summary)

    def has_capacity(self) -> bool:
        return len(self.calls) < self.settings.max_calls

    def new_call(
        self, io: CallIO, *, caller: str | None, transport: str, agent: str | None = None, metadata: dict[str, str] | None = None
    ) -> Call:
        """A call of the agent named ``agent`` (``None``: the one served); a name the server does not
        serve raises :class:`~callwright.errors.ConfigError` from the agent factory."""
        call = Call(
            self.agent_factory(agent),
            self.engines,
            io,
            options=self.options,
            caller=caller,
            transport=transport,
            sinks=list(self.sinks),
            metadata=metadata,
        )
        if self.settings.trace_dir:
            call.sinks.append(JsonlTrace(self.settings.trace_dir, call.id))
        return call

    async def run_call(self, call: Call) -> None:
        self.calls[call.id] = call
        log.info("call %s started (%s, caller %s)", call.id, call.transport, "known" if call.caller else "unknown")
        try:
            async with anyio.create_task_group() as tg:
                await tg.start(self._deliver_form_values, call)
                ended = await call.run()
                tg.cancel_scope.cancel()
            log.info("call %s ended: %s after %.1f s", call.id, ended.reason, ended.duration_ms / 1000)
        finally:
            del self.calls[call.id]
            self.finished += 1

    async def _deliver_form_values(self, call: Call, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Values typed into a form link reach this call, whichever worker served the form."""
        started = False
        try:
            async with self.bus.subscribe(call.id) as messages:
                task_status.started()
                started = True
                async for message in messages:
                    if message.get("type") == "form.value":
                        call.push_form_value(str(message.get("form")), str(message.get("field")), str(message.get("value")))
        except Exception as exc:  # the bus is down: the call goes on without form links
            log.warning("call %s: form values cannot arrive (%s)", call.id, exc)
            call.emit(ev.ErrorEvent(code="bus", message=f"form values cannot reach this call: {exc}", stage="bus"))
            if not started:
                task_status.started()


def options_from(settings: Settings) -> CallOptions:
    from ..voice.call import BargeInOptions

    return CallOptions(
        turn_taking=TurnTaking(endpoint_silence_ms=settings.endpoint_silence_ms),
        barge_in=BargeInOptions(
            min_speech_ms=settings.barge_in_min_speech_ms, min_words=settings.barge_in_min_words
        ),
        idle_timeout_s=settings.idle_timeout_s,
        max_duration_s=settings.max_duration_s,
        partial_every_ms=700 if settings.partials else 0,
    )


def _authorized(settings: Settings, scope_headers: Any, query: Any) -> bool:
    if not settings.token:
        return True
    supplied = query.get("token") or ""
    auth = scope_headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        supplied = auth[7:]
    return hmac.compare_digest(supplied.encode(), settings.token.encode())


def _token(settings: Settings) -> dict[str, str]:
    return {"token": settings.token} if settings.token else {}


def _callback_base(settings: Settings, request: Request) -> str:
    """Where Twilio reaches this server for callbacks: the public URL, else the host it used."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    secure = request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"
    return f"{'https' if secure else 'http'}://{request.headers.get('host', f'{settings.host}:{settings.port}')}"


def create_app(server: VoiceServer) -> Starlette:
    settings = server.settings

    async def native(ws: WebSocket) -> None:
        if not _authorized(settings, ws.headers, ws.query_params):
            await ws.close(code=1008, reason="token required")
            return
        await serve_native(ws, server)

    async def twilio_stream(ws: WebSocket) -> None:
        if not _authorized(settings, ws.headers, ws.query_params):
            await ws.close(code=1008, reason="token required")
            return
        await serve_twilio(ws, server)

    async def twilio_voice(request: Request) -> Response:
        if not _authorized(settings, request.headers, request.query_params):
            return PlainTextResponse("token required", status_code=401)
        form = await request.form() if request.method == "POST" else request.query_params
        secure = request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"
        host = request.headers.get("host", f"{settings.host}:{settings.port}")
        url = f"{'wss' if secure else 'ws'}://{host}/twilio/stream"
        action = f"{settings.public_url.rstrip('/') or ('https' if secure else 'http') + '://' + host}/twilio/after"
        if settings.token:
            url += f"?token={settings.token}"
            action += f"?token={settings.token}"
        caller = form.get("From")
        called = form.get("To")
        xml = twiml_connect(url, str(caller) if caller else None, str(called) if called else None, action=action)
        return Response(xml, media_type="application/xml")

    async def twilio_after(request: Request) -> Response:
        if not _authorized(settings, request.headers, request.query_params):
            return PlainTextResponse("token required", status_code=401)
        form = await request.form() if request.method == "POST" else request.query_params
        call_sid = str(form.get("CallSid") or "")
        try:
            to = await server.transfers.target(call_sid)
        except Exception:  # the bus backend failed: hang up rather than let Twilio say "application error"
            log.exception("CallSid %s: could not read its transfer mark; hanging up", call_sid)
            to = None
        whisper_url = None
        if to:
            log.info("CallSid %s: dialling the transfer target", call_sid)
            whisper_url = f"{_callback_base(settings, request)}/twilio/whisper?{urlencode({'call': call_sid, **_token(settings)})}"
        return Response(twiml_after(to, whisper_url), media_type="application/xml")

    async def twilio_whisper(request: Request) -> Response:
        """Twilio runs this for the person who answered a transfer, before connecting the caller."""
        if not _authorized(settings, request.headers, request.query_params):
            return PlainTextResponse("token required", status_code=401)
        form = await request.form() if request.method == "POST" else request.query_params
        call_sid = str(request.query_params.get("call") or form.get("ParentCallSid") or "")
        try:
            summary = await server.transfers.whisper(call_sid)
        except Exception:  # the bus backend failed: connect the two without a summary rather than fail the call
            log.exception("CallSid %s: could not read its transfer summary; connecting without it", call_sid)
            summary = None
        return Response(twiml_whisper(summary), media_type="application/xml")

    async def form_link(request: Request) -> Response:
        try:
            if request.method == "POST":
                return await webform.submit(request, server)
            return await webform.show(request, server)
        except Exception:  # the bus backend or the link key: say so to the person, log it for us
            log.exception("form link %s failed", request.method)
            return webform.message("Sorry, that did not go through", "Please try again in a moment.", 503)

    async def health(request: Request) -> Response:
        return JSONResponse(
            {"ok": True, "calls": len(server.calls), "max_calls": settings.max_calls, "finished": server.finished}
        )

    async def schema(request: Request) -> Response:
        return Response(json.dumps(ev.json_schema(), indent=1), media_type="application/schema+json")

    async def index(request: Request) -> Response:
        return FileResponse(str(STATIC / "index.html"))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        for start in server.on_start:
            await start()
        try:
            yield
        finally:
            for stop in server.on_stop:
                await stop()

    return Starlette(
        lifespan=lifespan,
        routes=[
            Route("/", index),
            Route("/healthz", health),
            Route("/protocol.schema.json", schema),
            Route("/twilio/voice", twilio_voice, methods=["GET", "POST"]),
            Route("/twilio/after", twilio_after, methods=["GET", "POST"]),
            Route("/twilio/whisper", twilio_whisper, methods=["GET", "POST"]),
            Route("/f/{token}", form_link, methods=["GET", "POST"]),
            WebSocketRoute("/ws", native),
            WebSocketRoute("/twilio/stream", twilio_stream),
            Mount("/static", app=StaticFiles(directory=str(STATIC)), name="static"),
        ]
    )
