"""A real server on a real socket in a background thread: :func:`running_server`.

For end-to-end tests of an agent over its real wire protocols (Callwright's own tests use it as
the ``live_server`` fixture): ``with running_server(Settings(agent="my_agent:make")) as url: ...``,
then dial ``url`` with :class:`callwright.client.CallClient` or
:class:`callwright.transport.twilio_peer.TwilioPeer`.
"""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from ..clock import Clock
from ..server import build_server
from ..settings import Settings
from ..transport.app import create_app
from ..voice.call import Engines

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


@contextmanager
def running_server(settings: Settings, engines: Engines | None = None, *, clock: Clock | None = None) -> Iterator[str]:
    """Serve ``build_server(settings, engines)`` from a background thread; yield its base URL.

    ``clock`` replaces the server's own (rate limits), e.g. a ``VirtualClock`` a test advances.

    ``settings.port`` 0 picks a free port. The socket is bound before the server is built, so no
    other process can take the port in between, and the server's settings name the real port. A
    server that cannot start raises here with its error. On exit uvicorn is told to stop (it
    closes live WebSockets) and the thread is joined: nothing outlives the ``with`` block.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((settings.host, settings.port))
        host, port = sock.getsockname()[:2]
        settings = dataclasses.replace(settings, port=port)
        voice = build_server(settings, engines)
        if clock is not None:
            voice.clock = clock
        app = create_app(voice)
    except BaseException:
        sock.close()
        raise
    config = uvicorn.Config(app, ws_max_size=1 << 20, lifespan="on", log_level="warning", timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    failure: list[BaseException] = []

    def serve() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # handed to the test thread below
            failure.append(exc)

    thread = threading.Thread(target=serve, name=f"uvicorn:{port}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError(f"server on port {port} did not start: {failure[0] if failure else 'it exited'}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"server on port {port} did not start within {START_TIMEOUT_S:.0f} s")
            time.sleep(0.01)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(STOP_TIMEOUT_S)
        if thread.is_alive():
            server.force_exit = True  # connections that did not close in time
            thread.join(STOP_TIMEOUT_S)
        sock.close()
        if thread.is_alive():
            raise RuntimeError(f"server on port {port} did not stop within {2 * STOP_TIMEOUT_S:.0f} s")
    if failure and not isinstance(failure[0], SystemExit):
        raise RuntimeError(f"server on port {port} failed: {failure[0]!r}") from failure[0]
