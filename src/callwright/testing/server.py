"""Real servers for end-to-end tests of an agent over its real wire protocols.

* :func:`running_server` serves an agent from a background thread of the test's own process
  (Callwright's own tests use it as the ``live_server`` fixture):
  ``with running_server(Settings(agent="my_agent:make")) as url: ...``.
* :class:`ServerProcess` runs ``callwright run`` in a process of its own, as it is deployed, for
  what a thread cannot show: a server killed mid-job, a restart on the same data, two workers
  sharing a Redis. ``with server_process("--agent", "agents/order-desk", log=path) as server: ...``

Dial either with :class:`callwright.client.CallClient` or
:class:`callwright.transport.twilio_peer.TwilioPeer`. Both wait on real threads, processes and
sockets, so their timeouts are real time, not a :class:`~callwright.clock.Clock`'s.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn

from ..clock import Clock
from ..server import build_server
from ..settings import Settings
from ..transport.app import VoiceServer, create_app
from ..voice.call import Engines

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
PROCESS_START_TIMEOUT_S = 90.0  # `callwright run` loads and warms its engines first: seconds on a busy 2-core machine
PROCESS_STOP_TIMEOUT_S = 20.0


@contextmanager
def running_server(
    settings: Settings,
    engines: Engines | None = None,
    *,
    clock: Clock | None = None,
    build: Callable[[Settings], VoiceServer] | None = None,
) -> Iterator[str]:
    """Serve ``build_server(settings, engines)`` from a background thread; yield its base URL.

    ``clock`` replaces the server's own (rate limits), e.g. a ``VirtualClock`` a test advances.
    ``build`` makes the :class:`~callwright.transport.app.VoiceServer` instead of ``build_server``
    (then ``engines`` is not used), from settings that name the real port: for a server built
    by hand, such as a subclass a test gives its own agent.

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
        voice = build(settings) if build is not None else build_server(settings, engines)
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


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now. (Another process may take it before the server binds it: for a
    server in this process, :func:`running_server` with port 0 has no such gap.)"""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclasses.dataclass
class ServerProcess:
    """``callwright run`` in a process (and process group) of its own on a loopback port.

    :meth:`start` launches it and returns at once, so several can start together;
    :meth:`wait_until_up` waits for its ``/healthz``; :meth:`stop` signals it (``SIGINT``, a clean
    stop; ``SIGKILL``, a crash) and waits. Its output (stdout and stderr) goes to ``log``, and
    ``output()`` reads it back for assertion messages. :func:`server_process` does all three
    around a ``with`` block.
    """

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @classmethod
    def start(cls, *args: str, log: str | Path, env: Mapping[str, str] | None = None) -> ServerProcess:
        """Start ``callwright run --port PORT ARGS...`` (``PORT`` free now) with this Python; don't wait.

        ``env`` is added to this process's environment (``CALLWRIGHT_*`` settings, an agent's own knobs).
        """
        port = free_port()
        log = Path(log)
        command = [sys.executable, "-m", "callwright.cli", "run", "--port", str(port), *args]
        with log.open("wb") as out:  # the child keeps its own copy of the descriptor
            process = subprocess.Popen(
                command, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        return cls(process, port, log)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``"""
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        """The native WebSocket endpoint, ``ws://127.0.0.1:PORT/ws``."""
        return f"ws://127.0.0.1:{self.port}/ws"

    def output(self) -> str:
        """What the server has printed so far."""
        return self.log.read_text(errors="replace")

    def check_alive(self) -> None:
        """Raise ``RuntimeError``, with the end of its output, if the server has exited."""
        if self.process.poll() is not None:
            raise RuntimeError(f"server on {self.port} exited ({self.process.returncode}):\n{self.output()[-4000:]}")

    def wait_until_up(self, timeout: float = PROCESS_START_TIMEOUT_S) -> None:
        """Return once ``/healthz`` answers ok; ``RuntimeError`` if the server exits first,
        ``TimeoutError`` after ``timeout`` s (both with the end of its output)."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).json()["ok"]:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"server on {self.port} did not come up in {timeout:g} s:\n{self.output()[-4000:]}")
            time.sleep(0.2)

    def stop(self, sig: int = signal.SIGINT, timeout: float = PROCESS_STOP_TIMEOUT_S) -> int:
        """Send ``sig`` to the server's process group and wait for it to exit; return its exit code.

        A server still running after ``timeout`` s is killed (``SIGKILL``) and ``RuntimeError`` is
        raised. A server that has already exited is left as it is.
        """
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:  # it exited in between
                pass
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout)
                raise RuntimeError(f"server on {self.port} did not stop on {signal.Signals(sig).name}") from None
        return self.process.returncode


@contextmanager
def server_process(
    *args: str, log: str | Path, env: Mapping[str, str] | None = None, timeout: float = PROCESS_START_TIMEOUT_S
) -> Iterator[ServerProcess]:
    """``callwright run ARGS...`` in its own process, up (``/healthz`` ok) for the ``with`` block and
    stopped (``SIGINT``, waited for) when it ends; see :class:`ServerProcess`."""
    server = ServerProcess.start(*args, log=log, env=env)
    try:
        server.wait_until_up(timeout)
        yield server
    finally:
        server.stop()
