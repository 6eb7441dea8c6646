"""The simulator's language model: one whole answer to a chat, seeded, for the goal-driven caller and the judge.

The agent's LLM brain streams and calls tools (:class:`~callwright.engines.llm.openai_compat.OpenAICompatibleLlm`);
the simulator only needs a short answer, asked as reproducibly as the server allows: temperature 0
and the case's seed in every request, and, for the judge, an answer held to a JSON schema where the
server can hold it to one. :class:`Chat` is that narrow seam (tests put a fake behind it);
:class:`Endpoint` is the one implementation, for any OpenAI-compatible chat completions server
(llama.cpp, vLLM, Ollama, OpenAI), with the official ``openai`` client.

Servers name structured output differently, so three ``response_format`` shapes are tried in turn:
OpenAI's ``json_schema``, ``json_object`` with a ``schema`` (llama-cpp-python's, and Anyscale's),
and bare ``json_object``. A shape the server refuses (an HTTP error naming ``response_format``: 400,
422, or 500 from llama-cpp-python) is not sent again; after the last, the request goes without one:
the judge's parser reads a bare answer too. Other failures are
:class:`~callwright.errors.EngineError`, with the API key never in a message.

Answers are HTML-unescaped: llama-cpp-python's ``chatml-function-calling`` template escapes the
messages it is given (``'`` reaches the model as ``&#39;``), and a small model copies the escapes
into what it says.
"""

from __future__ import annotations

import html
import os
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from ..engines.base import Message
from ..engines.llm.openai_compat import API_KEY_ENV
from ..errors import EngineError, EngineTimeout

_NO_KEY = "no-key"  # as the LLM brain sends: stops the openai client from sending OPENAI_API_KEY anywhere


def _formats(schema: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ``response_format`` shapes that ask for JSON held to ``schema``, the most exact first."""
    return [
        {"type": "json_schema", "json_schema": {"name": "answer", "schema": dict(schema)}},
        {"type": "json_object", "schema": dict(schema)},
        {"type": "json_object"},
    ]


class Chat(Protocol):
    async def answer(
        self, messages: Sequence[Message], *, seed: int, max_tokens: int, schema: Mapping[str, Any] | None = None
    ) -> str:
        """The model's whole answer to ``messages`` (at temperature 0, with ``seed``); ``schema``: ask
        for JSON held to this JSON schema where the server can be made to give it."""
        ...


class Endpoint:
    """An OpenAI-compatible chat completions endpoint (``base_url`` usually ends in ``/v1``).

    ``api_key`` falls back to ``CALLWRIGHT_LLM_API_KEY``; it is never put in a message or ``repr``.
    ``timeout_s`` bounds one answer.
    """

    def __init__(self, base_url: str, model: str, *, api_key: str | None = None, timeout_s: float = 120.0) -> None:
        import openai  # imported when an endpoint is configured, so the simulator stays light offline

        self.base_url = base_url
        self.model = model
        self.timeout_s = timeout_s
        self.refused = 0  # how many of the response_format shapes the server has refused (see the module docstring)
        key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
        self._key = key or None
        self._client = openai.AsyncOpenAI(api_key=key or _NO_KEY, base_url=base_url, timeout=timeout_s, max_retries=0)

    def __repr__(self) -> str:
        return f"Endpoint(base_url={self.base_url!r}, model={self.model!r})"

    async def answer(
        self, messages: Sequence[Message], *, seed: int, max_tokens: int, schema: Mapping[str, Any] | None = None
    ) -> str:
        request: dict[str, Any] = {
            "model": self.model, "temperature": 0, "seed": seed, "max_tokens": max_tokens,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
        }
        formats = _formats(schema) if schema is not None else []
        while True:
            if self.refused < len(formats):
                request["response_format"] = formats[self.refused]
            else:
                request.pop("response_format", None)
            try:
                return await self._create(request)
            except _FormatRefused:
                self.refused += 1

    async def _create(self, request: dict[str, Any]) -> str:
        import openai

        try:
            completion = await self._client.chat.completions.create(**request)
        except openai.APIStatusError as exc:  # llama-cpp-python answers a request it cannot validate with 500
            if "response_format" in request and any(word in f"{exc.message} {exc.body}" for word in ("response_format", "json_schema")):
                raise _FormatRefused from exc
            raise self._error(exc) from exc
        except openai.OpenAIError as exc:
            raise self._error(exc) from exc
        if not completion.choices:
            return ""
        return html.unescape(completion.choices[0].message.content or "")

    def _error(self, exc: Exception) -> EngineError:
        import openai

        if isinstance(exc, openai.APITimeoutError):
            return EngineTimeout(f"{self._where}: no answer within {self.timeout_s:g} s", engine=self._name)
        if isinstance(exc, openai.APIConnectionError):
            return EngineError(f"{self._where}: cannot connect; check that the server is running and that --llm-url is right",
                               engine=self._name, retryable=True)
        if isinstance(exc, openai.APIStatusError):
            return EngineError(
                f"{self._where}: HTTP {exc.status_code}: {self._redact(exc.message)}; check --llm-url, --llm-model "
                f"and the API key ({API_KEY_ENV})", engine=self._name, retryable=exc.status_code >= 500 or exc.status_code == 429,
            )
        return EngineError(f"{self._where}: {self._redact(str(exc))}", engine=self._name)

    async def aclose(self) -> None:
        await self._client.close()

    @property
    def _name(self) -> str:
        return f"openai-compat:{self.model}"

    @property
    def _where(self) -> str:
        return f"the simulator's LLM {self.model!r} at {self.base_url}"

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text


class _FormatRefused(Exception):
    """The server refused the ``response_format`` it was sent: the next shape is tried."""

