"""The one-field web form behind a link (``/f/{token}``): page, validation, submission.

``GET`` shows the form; ``POST`` (``application/x-www-form-urlencoded``, field ``value``) checks the
value and publishes ``{"type": "form.value", "form", "field", "value", "kind"}`` on the call bus
for the link's call, then thanks the caller. A link works once: its token id is claimed on the
bus backend, so a second submission is refused on every worker. The pages are self-contained (no
script, no external asset), sent with a strict Content-Security-Policy, no caching and no referrer
(the URL is the permission to submit).

The routes do not need the server token: the signed link is the credential.
"""

from __future__ import annotations

import html
import logging
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

import anyio
import anyio.abc
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from .. import events as ev
from .links import LinkClaims, LinkExpired, LinkInvalid

if TYPE_CHECKING:
    from ..voice.call import Call
    from .bus import CallBus
    from .host import LinkHost

log = logging.getLogger("callwright.webform")
MAX_VALUE_CHARS = 500
MAX_BODY_BYTES = 8 * 1024
FORM_VALUE = "form.value"

HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}

STYLE = """
:root { color-scheme: light dark; --accent: #1a5fb4; }
* { box-sizing: border-box; }
body { margin: 0; font: 18px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       display: flex; justify-content: center; padding: 24px 16px; }
main { width: 100%; max-width: 30rem; }
h1 { font-size: 1.35rem; margin: 0 0 1rem; }
label { display: block; }
input, textarea { width: 100%; font: inherit; padding: .7rem .8rem; border: 1px solid #8a8a8a;
                  border-radius: 10px; background: Canvas; color: CanvasText; }
textarea { min-height: 7rem; resize: vertical; }
input:focus, textarea:focus { outline: 3px solid var(--accent); outline-offset: 1px; }
button { width: 100%; margin-top: 1rem; padding: .85rem; font: inherit; font-weight: 600; color: #fff;
         background: var(--accent); border: 0; border-radius: 10px; }
.error { color: #c01c28; margin: .5rem 0 0; }
.note { color: GrayText; font-size: .9rem; margin-top: 1.5rem; }
.business { font-weight: 600; color: var(--accent); margin: 0 0 .75rem; }
"""

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{title}</title>
<style>{style}</style>
</head>
<body><main>
{body}
</main></body>
</html>
"""


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    text = PAGE.format(title=html.escape(title), style=STYLE, body=body)
    return HTMLResponse(text, status_code=status, headers=HEADERS)


def message(title: str, text: str, status: int) -> HTMLResponse:
    return page(title, f"<h1>{html.escape(title)}</h1>\n<p>{html.escape(text)}</p>", status)


def input_html(kind: str, value: str) -> str:
    """The one input, chosen by the link's kind, so phones offer the right keyboard and autofill."""
    common = f'id="value" name="value" required maxlength="{MAX_VALUE_CHARS}"'
    if kind == "address":
        return f'<textarea {common} rows="4" autocomplete="street-address">{html.escape(value)}</textarea>'
    typed = {
        "email": 'type="email" autocomplete="email" inputmode="email" autocapitalize="off" spellcheck="false"',
        "phone": 'type="tel" autocomplete="tel" inputmode="tel"',
    }.get(kind, 'type="text"')
    return f'<input {typed} {common} value="{html.escape(value)}">'


def form_page(claims: LinkClaims, value: str = "", error: str = "", status: int = 200) -> HTMLResponse:
    """The form, headed by the business the caller is talking to, so they know who is asking."""
    label = html.escape(claims.label or claims.field)
    business = html.escape(claims.business)
    problem = f'\n<p class="error" id="problem" role="alert">{html.escape(error)}</p>' if error else ""
    described = ' aria-describedby="problem" aria-invalid="true"' if error else ""
    field = input_html(claims.kind, value).replace(' id="value"', f' id="value"{described}', 1)
    header = f'<header><p class="business">{business}</p></header>\n' if business else ""
    to_whom = f"your call with {business}" if business else "your call"
    body = (
        f"{header}"
        '<form method="post">\n'
        f'<h1><label for="value">{label}</label></h1>\n{field}{problem}\n'
        '<button type="submit">Send</button>\n'
        "</form>\n"
        f'<p class="note">What you send goes straight to {to_whom}. This link works once.</p>'
    )
    title = " · ".join(part for part in (claims.business, claims.label or claims.field) if part)
    return page(title or "Callwright", body, status)


def check_value(kind: str, raw: str) -> str:
    """The value to deliver, tidied; or ``ValueError`` with a sentence for the person typing."""
    value = raw.replace("\r\n", "\n").strip()
    if not value:
        raise ValueError("Please fill this in before sending.")
    if len(value) > MAX_VALUE_CHARS:
        raise ValueError(f"That is too long: at most {MAX_VALUE_CHARS} characters, please.")
    if kind == "email":
        from email_validator import EmailNotValidError, validate_email

        try:
            return str(validate_email(value, check_deliverability=False).normalized)
        except EmailNotValidError as exc:
            raise ValueError(f"That does not look like an e-mail address: {exc}") from None
    return value


async def _read_value(request: Request) -> str | None:
    """The ``value`` field of an url-encoded body of at most ``MAX_BODY_BYTES``; None if too large."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return None
    fields = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True, max_num_fields=10)
    return (fields.get("value") or [""])[0]


def _used_key(claims: LinkClaims) -> str:
    return f"link-used:{claims.token_id}"


async def _claims(server: LinkHost, token: str) -> LinkClaims | HTMLResponse:
    try:
        claims = server.links.read(token)
    except LinkExpired:
        return message("This link has expired", "Ask for a new link on your call.", 410)
    except LinkInvalid:
        return message("This link is not valid", "Check that you opened the whole link from the message.", 400)
    if await server.bus.get(_used_key(claims)) is not None:
        return message("This link was already used", "What you sent has reached your call.", 410)
    return claims


async def show(request: Request, server: LinkHost) -> Response:
    claims = await _claims(server, request.path_params["token"])
    return claims if isinstance(claims, Response) else form_page(claims)


async def submit(request: Request, server: LinkHost) -> Response:
    claims = await _claims(server, request.path_params["token"])
    if isinstance(claims, Response):
        return claims
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        return message("Unsupported form", "Send the form from its page.", 415)
    raw = await _read_value(request)
    if raw is None:
        return message("Too much data", f"Send at most {MAX_VALUE_CHARS} characters.", 413)
    try:
        value = check_value(claims.kind, raw)
    except ValueError as exc:
        return form_page(claims, raw[: MAX_VALUE_CHARS * 2], str(exc), 400)
    key = _used_key(claims)
    if not await server.bus.claim(key, ttl_s=server.links.max_age_s + 60):
        return message("This link was already used", "What you sent has reached your call.", 410)
    event = {"type": FORM_VALUE, "form": claims.form, "field": claims.field, "value": value, "kind": claims.kind}
    try:
        received = await server.bus.publish(claims.call_id, event)
    except Exception:
        await server.bus.delete(key)  # not delivered: the link may be used again
        log.exception("call %s: could not publish a form value", claims.call_id)
        return message("Sorry, that did not go through", "Please try again in a moment.", 503)
    if not received:
        await server.bus.delete(key)
        log.info("call %s: form %s.%s submitted, but the call is no longer live", claims.call_id, claims.form, claims.field)
        return message("Your call has ended", "We could not pass this on because the call is over.", 410)
    log.info("call %s: form %s.%s submitted through a link", claims.call_id, claims.form, claims.field)
    return message("Thank you", "Thanks, you can go back to your call.", 200)


async def deliver_values(
    bus: CallBus, call: Call, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
) -> None:
    """Hand the values posted to the call's form links to the live call, whichever process served
    the form (``VoiceServer`` runs this for every call, ``callwright chat`` for its one call)."""
    started = False
    try:
        async with bus.subscribe(call.id) as messages:
            task_status.started()
            started = True
            async for message in messages:
                if message.get("type") == FORM_VALUE:
                    call.push_form_value(str(message.get("form")), str(message.get("field")), str(message.get("value")))
    except Exception as exc:  # the bus is down: the call goes on without form links
        log.warning("call %s: form values cannot arrive (%s)", call.id, exc)
        call.emit(ev.ErrorEvent(code="bus", message=f"form values cannot reach this call: {exc}", stage="bus"))
        if not started:
            task_status.started()
