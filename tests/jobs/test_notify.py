"""SMS notifiers: the embedded outbox, and Twilio against a real local HTTP server standing in for it."""

from __future__ import annotations

import base64
import json
import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import anyio
import pytest

from callwright.errors import ConfigError
from callwright.jobs import JobQueue, OutboxNotifier, TwilioSmsNotifier, notifier_from_settings
from callwright.settings import Settings
from callwright.store import Store, open_store

if TYPE_CHECKING:
    from conftest import Backend

SID = "AC0123456789abcdef0123456789abcdef"
TOKEN = "tok-9f8e7d6c5b4a-never-log-me"
FROM = "+15550000000"
ADA = "+15550100001"


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    form: dict[str, list[str]]


@dataclass
class FakeTwilio:
    """A real HTTP server that records each request and answers with the next queued reply
    (default: 201 with a fresh message SID)."""

    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    replies: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    delay: float = 0.0


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            with lock:
                fake.requests.append(Recorded(self.path, dict(self.headers), parse_qs(body)))
                status, reply = fake.replies.pop(0) if fake.replies else (201, {"sid": f"SM{len(fake.requests):032d}"})
            time.sleep(fake.delay)
            data = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    store = await open_store(f"sqlite:///{tmp_path}/store.db")
    yield store
    await store.close()


def twilio_notifier(store: Store, fake: FakeTwilio) -> TwilioSmsNotifier:
    return TwilioSmsNotifier(store, SID, TOKEN, FROM, api_url=fake.url)


async def test_outbox_stores_and_logs(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="callwright")
    notifier = OutboxNotifier(store)
    message = await notifier.send_sms(ADA, "Your table is booked.", dedupe_key="booking:1", purpose="booking")
    again = await notifier.send_sms(ADA, "Your table is booked.", dedupe_key="booking:1", purpose="booking")
    assert again == message
    assert (message.status, message.to, message.body, message.purpose) == ("stored", ADA, "Your table is booked.", "booking")
    assert await store.messages() == [message]
    assert [r.getMessage() for r in caplog.records if "outbox" in r.getMessage()] == [
        f"SMS {message.id} to {ADA} kept in the outbox (booking): Your table is booked."
    ]


async def test_twilio_request_and_no_second_send(store: Store, twilio: FakeTwilio) -> None:
    notifier = twilio_notifier(store, twilio)
    sent = await notifier.send_sms(ADA, "Order A-17 is ready.", dedupe_key="job:1", purpose="job")
    assert (sent.status, sent.provider_id, sent.error) == ("sent", f"SM{1:032d}", None)
    [request] = twilio.requests
    assert request.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert request.form == {"To": [ADA], "From": [FROM], "Body": ["Order A-17 is ready."]}
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()

    again = await notifier.send_sms(ADA, "Order A-17 is ready.", dedupe_key="job:1", purpose="job")
    assert again == sent
    assert len(twilio.requests) == 1
    assert await store.messages() == [sent]


async def test_twilio_error_is_recorded_and_a_retry_sends(store: Store, twilio: FakeTwilio) -> None:
    twilio.replies.append((400, {"code": 21211, "message": "The 'To' number +1555 is not a valid phone number.",
                                 "status": 400}))
    notifier = twilio_notifier(store, twilio)
    failed = await notifier.send_sms(ADA, "Hi", dedupe_key="k", purpose="test")
    assert failed.status == "failed"
    assert failed.error == ("Twilio answered HTTP 400: The 'To' number +1555 is not a valid phone number. "
                            "(Twilio error 21211)")
    retried = await notifier.send_sms(ADA, "Hi", dedupe_key="k", purpose="test")
    assert (retried.status, retried.error, retried.id) == ("sent", None, failed.id)
    assert len(twilio.requests) == 2


async def test_twilio_unreachable_is_a_failed_message(store: Store) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once the socket closes
    notifier = TwilioSmsNotifier(store, SID, TOKEN, FROM, api_url=f"http://127.0.0.1:{port}", timeout=2)
    message = await notifier.send_sms(ADA, "Hi", dedupe_key="k", purpose="test")
    assert message.status == "failed"
    assert message.error is not None and message.error.startswith("Twilio could not be reached at http://127.0.0.1:")


async def test_a_message_left_sending_is_never_sent_again(store: Store, twilio: FakeTwilio) -> None:
    message, _ = await store.add_message("k", ADA, "Hi", "test")
    await store.mark_message(message.id, "sending")  # a process died after posting, before recording
    again = await twilio_notifier(store, twilio).send_sms(ADA, "Hi", dedupe_key="k", purpose="test")
    assert again.status == "sending"
    assert twilio.requests == []


async def test_concurrent_sends_post_once(store: Store, twilio: FakeTwilio) -> None:
    twilio.delay = 0.2
    notifier = twilio_notifier(store, twilio)
    results: list[str] = []

    async def send() -> None:
        results.append((await notifier.send_sms(ADA, "Once", dedupe_key="once", purpose="test")).status)

    async with anyio.create_task_group() as tg:
        for _ in range(10):
            tg.start_soon(send)
    assert len(twilio.requests) == 1
    assert results.count("sent") == 1 and set(results) <= {"sent", "sending"}
    [message] = await store.messages()
    assert message.status == "sent"


async def test_auth_token_never_logged(store: Store, twilio: FakeTwilio, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    twilio.replies.append((401, {"code": 20003, "message": "Authenticate"}))
    notifier = twilio_notifier(store, twilio)
    await notifier.send_sms(ADA, "a", dedupe_key="a", purpose="test")
    await notifier.send_sms(ADA, "b", dedupe_key="b", purpose="test")
    assert caplog.records  # something was logged, and none of it is the token
    assert TOKEN not in caplog.text
    assert TOKEN not in repr(notifier) and SID in repr(notifier)


def test_notifier_from_settings_picks_twilio_only_when_complete(monkeypatch: pytest.MonkeyPatch) -> None:
    store: Any = object()  # not used until a message is sent
    for name in ("ACCOUNT_SID", "AUTH_TOKEN", "FROM_NUMBER", "API_URL"):
        monkeypatch.delenv(f"CALLWRIGHT_TWILIO_{name}", raising=False)
        monkeypatch.setenv(f"TWILIO_{name}", "+15550000000")  # Twilio's own names are not read
    assert isinstance(notifier_from_settings(store, Settings.load()), OutboxNotifier)
    given = Settings.load(twilio_account_sid=SID, twilio_auth_token=TOKEN, twilio_from_number=FROM)
    assert isinstance(notifier_from_settings(store, given), TwilioSmsNotifier)
    assert "https://api.twilio.com/2010-04-01" in repr(notifier_from_settings(store, given))
    monkeypatch.setenv("CALLWRIGHT_TWILIO_ACCOUNT_SID", SID)
    monkeypatch.setenv("CALLWRIGHT_TWILIO_AUTH_TOKEN", TOKEN)
    monkeypatch.setenv("CALLWRIGHT_TWILIO_FROM_NUMBER", FROM)
    monkeypatch.setenv("CALLWRIGHT_TWILIO_API_URL", "http://127.0.0.1:9")
    assert "http://127.0.0.1:9/2010-04-01" in repr(notifier_from_settings(store, Settings.load()))
    monkeypatch.delenv("CALLWRIGHT_TWILIO_AUTH_TOKEN")
    monkeypatch.delenv("CALLWRIGHT_TWILIO_FROM_NUMBER")
    with pytest.raises(ConfigError, match="set CALLWRIGHT_TWILIO_AUTH_TOKEN, CALLWRIGHT_TWILIO_FROM_NUMBER too"):
        notifier_from_settings(store, Settings.load())
    monkeypatch.delenv("CALLWRIGHT_TWILIO_ACCOUNT_SID")
    monkeypatch.setenv("CALLWRIGHT_TWILIO_FROM_NUMBER", FROM)
    with pytest.raises(ConfigError, match="set CALLWRIGHT_TWILIO_ACCOUNT_SID, CALLWRIGHT_TWILIO_AUTH_TOKEN too"):
        notifier_from_settings(store, Settings.load())
    # the auth token alone verifies Twilio's webhooks on a phone line; SMS stay in the outbox
    monkeypatch.delenv("CALLWRIGHT_TWILIO_FROM_NUMBER")
    monkeypatch.setenv("CALLWRIGHT_TWILIO_AUTH_TOKEN", TOKEN)
    assert isinstance(notifier_from_settings(store, Settings.load()), OutboxNotifier)


async def test_job_result_goes_out_through_twilio_once(sqlite_backend: Backend, twilio: FakeTwilio) -> None:
    twilio.replies.append((503, {"message": "Service unavailable"}))  # the first attempt's SMS fails

    async def lookup(payload: dict[str, Any]) -> str:
        return f"Parcel {payload['parcel']} arrives Tuesday."

    queue = JobQueue(queue_url=sqlite_backend.queue_url, store_url=sqlite_backend.store_url,
                     handlers={"track": lookup}, retry_delay=0,
                     notifier_factory=lambda store: twilio_notifier(store, twilio))
    with queue as jobs:
        await jobs.submit("track", {"parcel": "P-9"}, job_id="t-1", phone=ADA)
        job = await jobs.wait("t-1", timeout=10)
    assert (job.status, job.attempts) == ("done", 2)
    assert [r.form["Body"] for r in twilio.requests] == [["Parcel P-9 arrives Tuesday."]] * 2
    store = await open_store(sqlite_backend.store_url)
    try:
        [message] = await store.messages()
    finally:
        await store.close()
    assert (message.status, message.dedupe_key) == ("sent", "job:t-1")
