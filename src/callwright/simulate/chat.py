"""The simulator's language model: one whole answer to a chat, seeded, for the goal-driven caller and the judge.

The agent's LLM brain streams and calls tools (:class:`~callwright.engines.llm.openai_compat.OpenAICompatibleLlm`);
the simulator only needs a short answer, asked as reproducibly as the server allows: temperature 0
and the case's seed in every request, and, for the judge, JSON mode. :class:`Chat` is that narrow
seam (tests put a fake behind it); :class:`Endpoint` is the one implementation, for any
OpenAI-compatible chat completions server (llama.cpp, vLLM, Ollama, OpenAI), with the official
``openai`` client.

A server that refuses JSON mode (HTTP 400 naming ``response_format``) is asked again without it,
and not asked for it again: the judge's parser reads a bare answer too. Other failures are
:class:`~callwright.errors.EngineError`, with the API key never in a message.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Protocol

from ..engines.base import Message
from ..engines.llm.openai_compat import API_KEY_ENV
from ..errors import EngineError, EngineTimeout

_NO_KEY = "no-key"  # as the LLM brain sends: stops the openai client from sending OPENAI_API_KEY anywhere


class Chat(Protocol):
    async def answer(self, messages: Sequence[Message], *, seed: int, max_tokens: int, json: bool = False) -> str:
        """The model's whole answer to ``messages`` (at temperature 0, with ``seed``); ``json``: ask
        for a JSON object where the server can be made to give one."""
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
        self.json_mode = True  # until the server refuses it
        key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
        self._key = key or None
        self._client = openai.AsyncOpenAI(api_key=key or _NO_KEY, base_url=base_url, timeout=timeout_s, max_retries=0)

    def __repr__(self) -> str:
        return f"Endpoint(base_url={self.base_url!r}, model={self.model!r})"

    async def answer(self, messages: Sequence[Message], *, seed: int, max_tokens: int, json: bool = False) -> str:
        import openai

        request: dict[str, Any] = {
            "model": self.model, "temperature": 0, "seed": seed, "max_tokens": max_tokens,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
        }
        if json and self.json_mode:
            request["response_format"] = {"type": "json_object"}
        try:
            try:
                completion = await self._client.chat.completions.create(**request)
            except openai.BadRequestError as exc:
                if "response_format" not in request or "response_format" not in str(exc):
                    raise
                self.json_mode = False
                del request["response_format"]
                completion = await self._client.chat.completions.create(**request)
        except openai.APITimeoutError as exc:
            raise EngineTimeout(f"{self._where}: no answer within {self.timeout_s:g} s", engine=self._name) from exc
        except openai.APIConnectionError as exc:
            raise EngineError(
                f"{self._where}: cannot connect; check that the server is running and that --llm-url is right",
                engine=self._name, retryable=True,
            ) from exc
        except openai.APIStatusError as exc:
            raise EngineError(
                f"{self._where}: HTTP {exc.status_code}: {self._redact(exc.message)}; check --llm-url, --llm-model "
                f"and the API key ({API_KEY_ENV})", engine=self._name, retryable=exc.status_code >= 500 or exc.status_code == 429,
            ) from exc
        except openai.OpenAIError as exc:
            raise EngineError(f"{self._where}: {self._redact(str(exc))}", engine=self._name) from exc
        if not completion.choices:
            return ""
        return completion.choices[0].message.content or ""

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
