"""The HTTP/WebSocket server: one ASGI app (Starlette) serving every transport.

Routes: ``/`` browser page, ``/ws`` native protocol, ``/twilio/voice`` TwiML, ``/twilio/stream``
Twilio Media Streams, ``/twilio/after`` (what Twilio does once a stream ends: dial or hang up),
``/twilio/whisper`` (what the person who takes a transferred call hears first: its summary),
``/f/{token}`` form links (see ``webform.py``), ``/healthz``, ``/protocol.schema.json``.

Guards: ``/ws`` needs the server token when one is set; ``/twilio/*`` needs Twilio's signature
(see ``twilio_security.py``); ``/ws``, ``/twilio/*`` and ``/f/*`` are rate-limited per client
address (see ``ratelimit.py``).
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
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from .. import events as ev
from ..agent.base import Agent
from ..clock import Clock, MonotonicClock
from ..observe.trace import JsonlTrace
from ..settings import Settings
from ..voice.call import Call, CallIO, CallOptions, Engines, EventSink
from ..voice.endpointing import TurnTaking
from . import webform
from .bus import CallBus, bus_from_url
from .links import LinkSigner, signer_from
from .native import serve_native
from .ratelimit import RateLimiter, RateLimitGuard
from .transfers import CALL_SID, Transfers
from .twilio import serve_twilio, twiml_after, twiml_connect, twiml_whisper
from .twilio_security import (
    SIGNATURE_HEADER,
    TwilioCalls,
    twilio_url,
    unsigned_allowed,
    valid_signature,
)

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
        clock: Clock | None = None,
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
        self.twilio_calls = TwilioCalls(self.bus, max_call_s=settings.max_duration_s)
        self.clock = clock or MonotonicClock()  # rate limits
        self._links = links
        self.on_start: list[Callable[[], Awaitable[None]]] = []  # run in the server's event loop (store, jobs)
        self.on_stop: list[Callable[[], Awaitable[None]]] = []

    @property
    def links(self) -> LinkSigner:
        """The form link signer; its key is loaded (or generated and kept) on first use."""
        if self._links is None:
            self._links = signer_from(self.settings)
        return self._links

    def link_url(self, call_id: str, *, form: str, field: str, kind: str, label: str, business: str = "") -> str:
        """A signed, single-use link to a one-field form whose value reaches call ``call_id``; the
        page names ``business`` (who the caller is talking to)."""
        token = self.links.make(call_id, form, field, kind, label, business=business)
        return f"{self.settings.base_url()}/f/{token}"

    async def request_transfer(self, call_sid: str, to: str, summary: str = "") -> None:
        """Dial ``to`` (E.164) for Twilio call ``call_sid`` once its stream ends (any worker answers);
        the person who answers hears ``summary`` before the caller is connected."""
        await self.transfers.request(call_sid, to, summary)

    @property
    def max_calls(self) -> int:
        return self.settings.max_calls

    def has_capacity(self) -> bool:
        return len(self.calls) < self.settings.max_calls

    def new_call(
        self, io: CallIO, *, caller: str | None, transport: ev.Transport, agent: str | None = None, metadata: dict[str, str] | None = None
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
                await tg.start(webform.deliver_values, self.bus, call)
                ended = await call.run()
                tg.cancel_scope.cancel()
            log.info("call %s ended: %s after %.1f s", call.id, ended.reason, ended.duration_ms / 1000)
        finally:
            del self.calls[call.id]
            self.finished += 1


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


def create_app(server: VoiceServer) -> Starlette:
    settings = server.settings
    if not settings.twilio_auth_token:
        if unsigned_allowed(settings):
            log.info("no twilio_auth_token: /twilio/* answer unsigned requests, as this server is reachable on loopback only")
        else:
            log.warning("no twilio_auth_token: /twilio/* refuse every request (403), as their signatures cannot be checked")

    def twilio_refusal(path: str, query: str, params: list[tuple[str, str]], supplied: str | None, *, websocket: bool = False) -> str | None:
        """Why a request to a Twilio route is not accepted as coming from Twilio; None when it is."""
        if settings.twilio_auth_token:
            url = twilio_url(settings, path, query, websocket=websocket)
            if valid_signature(settings.twilio_auth_token, url, params, supplied):
                return None
            if not supplied:
                return "missing X-Twilio-Signature: only Twilio may call this URL"
            return f"X-Twilio-Signature does not match a request from Twilio to {url} (check --public-url and --twilio-auth-token)"
        if not unsigned_allowed(settings):
            return "Twilio requests cannot be verified: set twilio_auth_token (this server is reachable beyond loopback)"
        return None

    def refuse_twilio(request: Request, reason: str) -> Response:
        client = request.client.host if request.client else "?"
        log.warning("refused %s %s from %s: %s", request.method, request.url.path, client, reason)
        return PlainTextResponse(f"Forbidden: {reason}\n", status_code=403)

    async def twilio_params(request: Request) -> list[tuple[str, str]]:
        if request.method != "POST":
            return []
        form = await request.form()
        return [(k, v) for k, v in form.multi_items() if isinstance(v, str)]

    async def twilio_gate(request: Request) -> tuple[dict[str, str], Response | None]:
        """The request's parameters, or the response refusing it."""
        params = await twilio_params(request)
        reason = twilio_refusal(request.url.path, request.url.query, params, request.headers.get(SIGNATURE_HEADER))
        if reason:
            return {}, refuse_twilio(request, reason)
        if not settings.twilio_auth_token and not _authorized(settings, request.headers, request.query_params):
            return {}, PlainTextResponse("token required", status_code=401)  # local: the server token, if set
        values = dict(params) if request.method == "POST" else dict(request.query_params)
        return values, None

    async def deny(ws: WebSocket, status: int, reason: str, close_code: int) -> None:
        """Refuse a WebSocket handshake with an HTTP status where the server can, else close at once."""
        try:
            await ws.send_denial_response(PlainTextResponse(reason + "\n", status_code=status))
        except RuntimeError:  # no denial-response extension: accept-less close
            await ws.close(code=close_code, reason=reason[:120])

    async def native(ws: WebSocket) -> None:
        if not _authorized(settings, ws.headers, ws.query_params):
            await ws.close(code=1008, reason="token required")
            return
        await serve_native(ws, server)

    async def twilio_stream(ws: WebSocket) -> None:
        reason = twilio_refusal(ws.url.path, ws.url.query, [], ws.headers.get(SIGNATURE_HEADER), websocket=True)
        if reason:
            log.warning("refused the Twilio stream from %s: %s", ws.client.host if ws.client else "?", reason)
            await deny(ws, 403, f"Forbidden: {reason}", 1008)
            return
        if not settings.twilio_auth_token and not _authorized(settings, ws.headers, ws.query_params):
            await ws.close(code=1008, reason="token required")
            return
        await serve_twilio(ws, server)

    async def twilio_voice(request: Request) -> Response:
        form, refused = await twilio_gate(request)
        if refused:
            return refused
        call_sid = form.get("CallSid", "")
        if not CALL_SID.match(call_sid):
            return PlainTextResponse("a Twilio voice webhook carries a CallSid (letters and digits)\n", status_code=400)
        try:
            stream_token = await server.twilio_calls.admit(call_sid)
        except Exception:  # the bus backend (Redis) failed: say so, rather than a bare 500
            log.exception("CallSid %s: could not mark the call on the call bus", call_sid)
            return PlainTextResponse("Service Unavailable: the call bus failed; try again\n", status_code=503)
        # The URLs Twilio is sent come from the configured public URL, never from the Host header.
        url = twilio_url(settings, "/twilio/stream", websocket=True)
        action = twilio_url(settings, "/twilio/after")
        if settings.token and not settings.twilio_auth_token:  # local: the server token stands in for a signature
            url += f"?token={settings.token}"
            action += f"?token={settings.token}"
        xml = twiml_connect(url, form.get("From"), form.get("To"), action=action, stream_token=stream_token)
        return Response(xml, media_type="application/xml")

    async def twilio_after(request: Request) -> Response:
        form, refused = await twilio_gate(request)
        if refused:
            return refused
        call_sid = form.get("CallSid", "")
        try:
            if not CALL_SID.match(call_sid) or not await server.twilio_calls.answered(call_sid):
                log.info("/twilio/after for a call this server did not answer; 404")
                return PlainTextResponse("Not Found: no call with this CallSid was answered here\n", status_code=404)
            to = await server.transfers.target(call_sid)
        except Exception:  # the bus backend failed: hang up rather than let Twilio say "application error"
            log.exception("CallSid %s: could not read its transfer mark; hanging up", call_sid)
            to = None
        whisper_url = None
        if to:
            log.info("CallSid %s: dialling the transfer target", call_sid)
            local = {"token": settings.token} if settings.token and not settings.twilio_auth_token else {}
            whisper_url = twilio_url(settings, "/twilio/whisper", urlencode({"call": call_sid, **local}))
        return Response(twiml_after(to, whisper_url), media_type="application/xml")

    async def twilio_whisper(request: Request) -> Response:
        """Twilio runs this for the person who answered a transfer, before connecting the caller."""
        form, refused = await twilio_gate(request)
        if refused:
            return refused
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

    limits = []
    if settings.rate_limit > 0:
        limiter = RateLimiter(settings.rate_limit, settings.rate_limit_burst, clock=server.clock)
        limits.append(Middleware(RateLimitGuard, limiter=limiter))
    return Starlette(
        lifespan=lifespan,
        middleware=limits,
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
