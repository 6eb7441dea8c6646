"""Text messages to callers: stored in the outbox first, then (with Twilio configured) sent.

Every SMS carries a ``dedupe_key``; the store keeps one row per key, so asking twice (a retried
job, a replayed tool call) never texts the caller twice. A message moves ``stored`` → ``sending``
→ ``sent`` or ``failed``; only ``stored`` and ``failed`` ones are (re)sent, and the move to
``sending`` is a compare-and-set, so of two workers racing on one key only one posts it.

A process that dies after posting to Twilio but before recording the answer leaves the message
``sending``; it is never sent again automatically (Twilio's Messages API takes no idempotency key,
so we cannot know whether it left): at most once in that window, exactly once everywhere else.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import httpx

from ..errors import ConfigError
from ..settings import ENV_PREFIX, Settings
from ..store import Message, Store

log = logging.getLogger("callwright.jobs")

_RESENDABLE = ("stored", "failed")
TWILIO_API = "https://api.twilio.com"


class Notifier(Protocol):
    async def send_sms(self, to: str, body: str, *, dedupe_key: str, purpose: str = "") -> Message:
        """Send (or store) one SMS; the same ``dedupe_key`` always gives the same message."""
        ...


class OutboxNotifier:
    """The embedded default: messages are stored (status ``stored``) and logged; nothing leaves the
    machine. ``callwright`` tooling and tests read them back with ``Store.messages``."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def send_sms(self, to: str, body: str, *, dedupe_key: str, purpose: str = "") -> Message:
        message, created = await self._store.add_message(dedupe_key, to, body, purpose)
        if created:
            log.info("SMS %s to %s kept in the outbox (%s): %s", message.id, to, purpose or "no purpose", body)
        return message


class TwilioSmsNotifier:
    """Sends through Twilio's Messages API (form POST, HTTP basic auth). The auth token is never
    logged, and does not appear in ``repr``."""

    def __init__(
        self,
        store: Store,
        account_sid: str,
        auth_token: str,
        from_number: str,
        api_url: str = TWILIO_API,
        *,
        timeout: float = 10.0,
    ) -> None:
        self._store = store
        self._sid = account_sid
        self._token = auth_token
        self._from = from_number
        self._url = f"{api_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"TwilioSmsNotifier(account_sid={self._sid!r}, from_number={self._from!r}, url={self._url!r})"

    async def send_sms(self, to: str, body: str, *, dedupe_key: str, purpose: str = "") -> Message:
        message, _ = await self._store.add_message(dedupe_key, to, body, purpose)
        if message.status not in _RESENDABLE:
            return message  # sent already, or another attempt is sending (or died sending) it
        claimed = await self._store.mark_message(message.id, "sending", only_from=_RESENDABLE)
        if claimed is None:
            return (await self._store.add_message(dedupe_key, to, body, purpose))[0]  # someone else got it first
        return await self._post(claimed)

    async def _post(self, message: Message) -> Message:
        form = {"To": message.to, "From": self._from, "Body": message.body}
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                response = await client.post(self._url, data=form, auth=(self._sid, self._token))
        except httpx.HTTPError as exc:
            error = f"Twilio could not be reached at {self._url}: {type(exc).__name__}: {exc}"
        else:
            if response.is_success:
                provider_id = _json(response).get("sid")
                log.info("SMS %s to %s sent by Twilio as %s", message.id, message.to, provider_id)
                return await self._mark(message, "sent", provider_id=provider_id)
            error = _twilio_error(response)
        log.warning("SMS %s to %s failed: %s", message.id, message.to, error)
        return await self._mark(message, "failed", error=error)

    async def _mark(self, message: Message, status: str, **fields: Any) -> Message:
        marked = await self._store.mark_message(message.id, status, **fields)
        assert marked is not None  # no only_from: it either updates or raises
        return marked


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _twilio_error(response: httpx.Response) -> str:
    """Twilio's own words when it gives them: ``{"code": 21211, "message": "The 'To' number ..."}``."""
    data = _json(response)
    detail = data.get("message") or response.text[:200] or response.reason_phrase
    code = f" (Twilio error {data['code']})" if data.get("code") else ""
    return f"Twilio answered HTTP {response.status_code}: {detail}{code}"


def notifier_from_settings(store: Store, settings: Settings) -> Notifier:
    """Twilio when ``twilio_account_sid``, ``twilio_auth_token`` and ``twilio_from_number`` are all
    set (``--twilio-*`` or ``CALLWRIGHT_TWILIO_*``; the API at ``twilio_api_url``), else the outbox.
    The auth token alone is a phone-line set-up (it verifies Twilio's webhook signatures) and keeps
    the outbox; an account SID or from-number without the rest is a configuration error, not a
    silent fallback to the outbox."""
    s = settings
    values = {"twilio_account_sid": s.twilio_account_sid, "twilio_auth_token": s.twilio_auth_token, "twilio_from_number": s.twilio_from_number}
    if all(values.values()):
        return TwilioSmsNotifier(store, s.twilio_account_sid, s.twilio_auth_token, s.twilio_from_number, s.twilio_api_url or TWILIO_API)
    if s.twilio_account_sid or s.twilio_from_number:
        missing = [ENV_PREFIX + name.upper() for name, value in values.items() if not value]
        raise ConfigError(f"Twilio SMS is half configured: set {', '.join(missing)} too (or their --twilio-* flags), or unset the others")
    return OutboxNotifier(store)
