"""Who may use the Twilio routes: request signatures, and the calls this server answered.

**Signatures.** Twilio signs each request it makes with ``X-Twilio-Signature``: the base64
HMAC-SHA1, keyed with the account's auth token, of the full URL it requested followed by every
POST parameter, sorted by name, as name then value with no separator
(https://www.twilio.com/docs/usage/security#validating-requests). Media Streams sign the
WebSocket upgrade the same way, with the ``wss://`` URL and no parameters. :func:`signature`
is that scheme, hand-written (a dozen lines) rather than taken from the ``twilio`` package, which
would bring the whole REST SDK, ``aiohttp`` and ``requests`` for one function; the tests check it
against Twilio's documented example values.

The URL checked is the one Twilio was given, built from the configured public URL, never from the
request's ``Host`` header (a client chooses that header). Like Twilio's own validators, the URL
with and without the scheme's default port both count (Twilio may drop ``:443``).

**Without an auth token** nothing can be verified, so the Twilio routes answer only a server that
nobody else can reach: bound to loopback and with no public URL beyond loopback (local
development, the tests' Twilio peer). Anywhere else they refuse with 403 until
``twilio_auth_token`` is set.

**Calls this server answered.** ``/twilio/voice`` marks the CallSid on the call bus (any worker
can read it), for ``max_duration_s`` plus 15 minutes, with a random stream token handed to the
stream as a ``<Parameter>`` (Twilio takes no query string in a ``<Stream url>``). The stream is accepted only when its ``start`` message
carries the token for its CallSid, and ``/twilio/after`` answers only CallSids that are marked.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit, urlunsplit

from ..settings import Settings
from .bus import CallBus

SIGNATURE_HEADER = "x-twilio-signature"
STREAM_TOKEN_PARAMETER = "callwright_token"
AFTER_CALL_S = 900.0  # a call's mark outlives the longest call by this much: Twilio asks /twilio/after at its end


def signature(auth_token: str, url: str, params: Iterable[tuple[str, str]] | Mapping[str, str] = ()) -> str:
    """Twilio's ``X-Twilio-Signature`` for a request to ``url`` with these POST parameters.

    A name given more than once contributes each distinct value, sorted (as Twilio's validators do).
    """
    pairs = params.items() if isinstance(params, Mapping) else params
    data = url + "".join(name + value for name, value in sorted(set(pairs)))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _port_variants(url: str) -> list[str]:
    """``url`` as given, and with its scheme's default port added or removed."""
    parts = urlsplit(url)
    default = {"https": 443, "wss": 443, "http": 80, "ws": 80}.get(parts.scheme)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is None and default is not None:
        other = parts._replace(netloc=f"{host}:{default}")
    elif parts.port == default:
        other = parts._replace(netloc=host)
    else:
        return [url]
    return [url, urlunsplit(other)]


def valid_signature(
    auth_token: str, url: str, params: Iterable[tuple[str, str]] | Mapping[str, str], supplied: str | None
) -> bool:
    """Whether ``supplied`` is Twilio's signature of this request (compared in constant time)."""
    if not supplied:
        return False
    pairs = list(params.items() if isinstance(params, Mapping) else params)
    return any(
        hmac.compare_digest(signature(auth_token, candidate, pairs).encode(), supplied.encode())
        for candidate in _port_variants(url)
    )


def _is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def unsigned_allowed(settings: Settings) -> bool:
    """True when no auth token is set and nobody beyond this machine can reach the server."""
    if settings.twilio_auth_token:
        return False
    public_host = urlsplit(settings.public_url).hostname if settings.public_url else settings.host
    return _is_loopback_host(settings.host) and _is_loopback_host(public_host or "")


def twilio_url(settings: Settings, path: str, query: str = "", *, websocket: bool = False) -> str:
    """The URL Twilio requests for ``path``: the configured public URL, not the ``Host`` header."""
    base = settings.base_url()
    if websocket:
        base = "wss://" + base[len("https://") :] if base.startswith("https://") else "ws://" + base[len("http://") :]
    return f"{base}{path}" + (f"?{query}" if query else "")


class TwilioCalls:
    """Calls answered by ``/twilio/voice``, each with the token its media stream must present."""

    def __init__(self, bus: CallBus, *, max_call_s: float) -> None:
        self.bus = bus
        self.ttl_s = max_call_s + AFTER_CALL_S

    async def admit(self, call_sid: str) -> str:
        """Mark ``call_sid`` as answered here; return its stream token."""
        token = secrets.token_urlsafe(24)
        await self.bus.put(_key(call_sid), token, self.ttl_s)
        return token

    async def answered(self, call_sid: str) -> bool:
        return await self.bus.get(_key(call_sid)) is not None

    async def stream_allowed(self, call_sid: str, token: str) -> bool:
        """Whether a stream for ``call_sid`` presenting ``token`` was issued by ``admit``."""
        expected = await self.bus.get(_key(call_sid))
        return expected is not None and hmac.compare_digest(expected.encode(), token.encode())


def _key(call_sid: str) -> str:
    return f"twilio-call:{call_sid}"
