"""A :class:`~callwright.engines.base.LanguageModel` for any OpenAI-compatible chat completions endpoint.

OpenAI itself, vLLM, llama.cpp's server, llama-cpp-python's server, Ollama, LM Studio and most hosted
providers speak this wire format. The reply is streamed: text arrives in pieces as the server makes
them; each tool call arrives once, complete, with its JSON arguments parsed to a ``dict``; the last
delta carries the ``finish_reason`` and, where the server reports it, the token ``usage``.

Failures are :class:`~callwright.errors.EngineError`. Connection failures, 408/409/429 and 5xx
answers are ``retryable``; :class:`~callwright.errors.EngineTimeout` when the server goes quiet for
longer than ``timeout_s``; any other 4xx is not retryable and the message says what to check. The
client does not retry by itself (``max_retries=0``): retrying and falling back belong to the caller.

A stream that ends without a ``finish_reason`` raises a retryable ``EngineError`` rather than passing
off a cut reply as complete. (llama-cpp-python's server does this when the prompt overflows its
context in streaming mode: it answers 200 and an empty stream.)

llama-cpp-python's ``chatml-function-calling`` format cannot stream a reply in which the model itself
chooses whether to call a tool (``tool_choice="auto"``): it answers 200 with an empty stream and logs
"Automatic streaming tool choice is not supported". For such servers pass ``stream_auto_tools=False``:
those requests are then made without streaming and the whole reply is yielded as deltas (forced
tool choices, and requests without tools, still stream).

Tool-call arguments that are not a JSON object raise a non-retryable ``EngineError`` naming the tool
and quoting the start of what the model sent. A best-effort ``{}`` was rejected: a tool run with
arguments the model did not mean is worse than a failed turn the agent can recover from, and
:class:`~callwright.engines.base.ToolCallRequest` has no field to flag the substitution.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ...errors import EngineError, EngineTimeout
from ..base import LLMDelta, Message, ToolCallRequest, ToolChoice, ToolSpec
from .window import ContextTooSmall, Window, characters

if TYPE_CHECKING:
    import openai
    from openai.types.chat import ChatCompletionChunk

API_KEY_ENV = "CALLWRIGHT_LLM_API_KEY"
# Sent when no key is configured: local servers ignore the header, and an explicit value stops the
# openai client from picking up OPENAI_API_KEY and sending it to whatever ``base_url`` points at.
_NO_KEY = "no-key"
_RETRYABLE_STATUS = frozenset({408, 409, 429})
_QUOTE_CHARS = 120


class OpenAICompatibleLlm:
    """Streams chat completions from an OpenAI-compatible server with the official ``openai`` client.

    ``api_key`` falls back to the ``CALLWRIGHT_LLM_API_KEY`` environment variable; it is never put in
    a message, a log line or ``repr``. ``timeout_s`` bounds connecting and each wait for the next
    streamed piece, not the whole reply: bound a whole turn with a cancel scope. ``extra_body`` is
    merged into every request for server-specific options (e.g. ``{"top_k": 20}``).
    ``stream_auto_tools=False`` asks without streaming when tools are offered and the model chooses
    (llama-cpp-python's ``chatml-function-calling`` cannot stream those; see the module notes).
    ``context_tokens`` is the model's context window: the messages are fitted into it before they
    are sent (:mod:`~callwright.engines.llm.window`: oldest turns dropped first). When it is not
    given and the server refuses a prompt as too long, the window is read from its answer and the
    request is made once more, fitted.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        timeout_s: float = 30.0,
        extra_body: Mapping[str, Any] | None = None,
        stream_auto_tools: bool = True,
        context_tokens: int | None = None,
    ) -> None:
        import openai  # imported when this engine is built, so `import callwright` stays light

        self.base_url = base_url
        self.model = model
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.timeout_s = timeout_s
        self.extra_body = dict(extra_body) if extra_body else None
        self.stream_auto_tools = stream_auto_tools
        self.window = Window(context_tokens)
        self.name = f"openai-compat:{model}"
        key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
        self._key = key or None
        self._client = openai.AsyncOpenAI(api_key=key or _NO_KEY, base_url=base_url, timeout=timeout_s, max_retries=0)

    def __repr__(self) -> str:
        return f"OpenAICompatibleLlm(base_url={self.base_url!r}, model={self.model!r})"

    async def stream(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec] = (),
        *,
        tool_choice: ToolChoice | None = None,
    ) -> AsyncIterator[LLMDelta]:
        """Stream one reply. ``tool_choice`` (default ``"auto"`` when there are tools) may force one tool.

        Iterate it to the end or close it (``contextlib.aclosing``) so the HTTP response is released.
        """
        fitted = self._fitted(messages, tools)
        for attempt in range(2):
            try:
                async for delta in self._stream(fitted, tools, tool_choice):
                    yield delta
                return
            except _Refused as refused:
                if attempt or not self.window.learn(refused.server_says, characters(fitted, tools)):
                    raise refused.error from refused.__cause__
            # Refused as too long before a word was yielded: the window is known now; fit and ask again.
            fitted = self._fitted(messages, tools)

    def _fitted(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> list[Message]:
        try:
            return self.window.fit(messages, tools, self.max_tokens)
        except ContextTooSmall as exc:
            raise ContextTooSmall(f"{self.name} at {self.base_url}: {exc}", engine=self.name) from None

    async def _stream(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec], tool_choice: ToolChoice | None
    ) -> AsyncIterator[LLMDelta]:
        import openai

        request: dict[str, Any] = {
            "model": self.model,
            "messages": to_wire_messages(messages),
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if tools:
            request["tools"] = [_wire_tool(spec) for spec in tools]
            # Sent even when it is the default: llama-cpp-python ignores the tools without it.
            request["tool_choice"] = _wire_tool_choice(tool_choice or "auto", tools)
        elif tool_choice not in (None, "auto", "none"):
            raise EngineError(f"tool_choice {tool_choice!r} was given without tools", engine=self.name)
        if self.temperature is not None:
            request["temperature"] = self.temperature
        if self.max_tokens is not None:
            request["max_tokens"] = self.max_tokens
        if self.extra_body:
            request["extra_body"] = self.extra_body

        calls: dict[int, _PartialCall] = {}
        finish_reason: str | None = None
        usage: dict[str, int] = {}
        whole = not self.stream_auto_tools and request.get("tool_choice") == "auto"
        if whole:
            del request["stream_options"]
            request["stream"] = False
        try:
            if whole:
                completion = await self._client.chat.completions.create(**request)
                if completion.usage is not None:
                    usage = _usage_dict(completion.usage)
                for answer in completion.choices[:1]:
                    if answer.message.content:
                        yield LLMDelta(text=answer.message.content)
                    for number, made in enumerate(answer.message.tool_calls or ()):
                        if made.type == "function":
                            call = calls.setdefault(number, _PartialCall(id=made.id))
                            call.add_name(made.function.name)
                            call.arguments.append(made.function.arguments or "")
                    finish_reason = answer.finish_reason
            else:
                chunks: openai.AsyncStream[ChatCompletionChunk] = await self._client.chat.completions.create(**request)
                async with chunks:
                    async for chunk in chunks:
                        if chunk.usage is not None:
                            usage = _usage_dict(chunk.usage)
                        for choice in chunk.choices[:1]:
                            delta = choice.delta
                            if delta.content:
                                yield LLMDelta(text=delta.content)
                            for piece in delta.tool_calls or ():
                                call = calls.setdefault(piece.index, _PartialCall())
                                call.id = call.id or piece.id
                                if piece.function is not None:
                                    call.add_name(piece.function.name)
                                    call.arguments.append(piece.function.arguments or "")
                            if choice.finish_reason is not None:
                                finish_reason = choice.finish_reason
        except openai.BadRequestError as exc:
            raise _Refused(self._engine_error(exc), _server_message(exc)) from exc
        except openai.APIError as exc:
            raise self._engine_error(exc) from exc
        except openai.OpenAIError as exc:
            raise EngineError(f"{self.name}: {self._redact(str(exc))}", engine=self.name) from exc

        if finish_reason is None:
            raise EngineError(
                f"{self.name} at {self.base_url}: the stream ended before the reply was finished "
                "(no finish_reason); the connection dropped or the server failed: check its log",
                engine=self.name,
                retryable=True,
            )
        for index in sorted(calls):
            yield LLMDelta(tool_call=self._finish_call(calls[index]))
        yield LLMDelta(finish_reason=finish_reason, usage=usage)

    async def aclose(self) -> None:
        """Close the HTTP connection pool. The engine cannot be used afterwards."""
        await self._client.close()

    async def __aenter__(self) -> OpenAICompatibleLlm:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ internals
    def _finish_call(self, call: _PartialCall) -> ToolCallRequest:
        if not call.name:
            raise EngineError(
                f"{self.name}: the server streamed a tool call without a function name; "
                "check that the server supports tool calling for this model",
                engine=self.name,
            )
        raw = "".join(call.arguments)
        call_id = call.id or f"call_{uuid.uuid4().hex[:24]}"
        try:
            arguments = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError as exc:
            why = f"tool call {call.name!r} has arguments that are not valid JSON ({exc.msg} at character {exc.pos}): {_quote(raw)}"
            return ToolCallRequest(id=call_id, name=call.name, arguments={}, invalid=why)
        if not isinstance(arguments, dict):
            why = f"tool call {call.name!r} has arguments that are a JSON {type(arguments).__name__}, not an object: {_quote(raw)}"
            return ToolCallRequest(id=call_id, name=call.name, arguments={}, invalid=why)
        return ToolCallRequest(id=call_id, name=call.name, arguments=arguments)

    def _engine_error(self, exc: openai.APIError) -> EngineError:
        import openai

        where = f"{self.name} at {self.base_url}"
        if isinstance(exc, openai.APITimeoutError):
            return EngineTimeout(f"{where}: no answer within {self.timeout_s:g} s", engine=self.name)
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__
            detail = f" ({type(cause).__name__}: {cause})" if cause is not None else ""
            return EngineError(
                f"{where}: cannot connect{self._redact(detail)}; check that the server is running "
                "and that base_url is right",
                engine=self.name,
                retryable=True,
            )
        server_says = self._redact(_server_message(exc))
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            if status in _RETRYABLE_STATUS or status >= 500:
                return EngineError(f"{where}: HTTP {status}: {server_says}", engine=self.name, retryable=True)
            hint = _hint_for_status(status)
            return EngineError(f"{where}: HTTP {status}: {server_says}; {hint}", engine=self.name)
        # An error event inside a stream that had started fine (no HTTP status).
        retryable = _error_type(exc) in {"server_error", "rate_limit_exceeded", "overloaded_error"}
        return EngineError(f"{where}: error in the stream: {server_says}", engine=self.name, retryable=retryable)

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text


class _Refused(Exception):
    """A 400 answer, kept apart so that a prompt refused as too long can be fitted and sent again."""

    def __init__(self, error: EngineError, server_says: str) -> None:
        super().__init__(str(error))
        self.error = error
        self.server_says = server_says


@dataclass(slots=True)
class _PartialCall:
    id: str | None = None
    name: str = ""
    arguments: list[str] = field(default_factory=list)

    def add_name(self, piece: str | None) -> None:
        # OpenAI sends the name once; llama-cpp-python repeats it in every chunk; some servers split it.
        if piece and piece != self.name:
            self.name += piece


def to_wire_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Our :class:`Message` objects as OpenAI chat ``messages``."""
    wire: list[dict[str, Any]] = []
    for number, message in enumerate(messages):
        item: dict[str, Any] = {"role": message.role, "content": message.content}
        if message.role == "assistant" and message.tool_calls:
            # "content" stays a string, even empty: llama-cpp-python rejects null and its
            # chatml-function-calling template fails when the key is missing.
            item["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
                }
                for call in message.tool_calls
            ]
        elif message.tool_calls:
            raise EngineError(
                f"messages[{number}] has role {message.role!r} and tool_calls; only assistant messages carry tool calls",
                engine="openai-compat",
            )
        if message.role == "tool":
            if not message.tool_call_id:
                raise EngineError(
                    f"messages[{number}] has role 'tool' but no tool_call_id; set it to the id of the "
                    "ToolCallRequest it answers",
                    engine="openai-compat",
                )
            item["tool_call_id"] = message.tool_call_id
        elif message.name:
            item["name"] = message.name
        wire.append(item)
    return wire


def _wire_tool(spec: ToolSpec) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": spec.name, "description": spec.description, "parameters": spec.parameters},
    }


def _wire_tool_choice(choice: ToolChoice, tools: Sequence[ToolSpec]) -> str | dict[str, Any]:
    if choice in ("auto", "none", "required"):
        return choice
    names = [spec.name for spec in tools]
    if choice not in names:
        raise EngineError(
            f"tool_choice {choice!r} is neither 'auto', 'none', 'required' nor one of the tools {names}",
            engine="openai-compat",
        )
    return {"type": "function", "function": {"name": choice}}


def _usage_dict(usage: openai.types.CompletionUsage) -> dict[str, int]:
    counts = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }
    return {key: value for key, value in counts.items() if isinstance(value, int)}


def _server_message(exc: openai.APIError) -> str:
    body = exc.body
    if isinstance(body, Mapping):
        error = body.get("error", body)
        if isinstance(error, Mapping) and isinstance(error.get("message"), str):
            return str(error["message"])
        if isinstance(body.get("detail"), str):  # FastAPI-style servers
            return str(body["detail"])
    return exc.message


def _error_type(exc: openai.APIError) -> str | None:
    body = exc.body
    if isinstance(body, Mapping):
        for key in ("type", "code"):
            if isinstance(body.get(key), str):
                return str(body[key])
    return None


def _hint_for_status(status: int) -> str:
    if status == 401:
        return f"check the API key (api_key or {API_KEY_ENV})"
    if status == 403:
        return "check that the API key may use this model"
    if status == 404:
        return "check base_url (it usually ends in /v1) and the model name"
    return "check the model name, temperature, max_tokens, extra_body, tools and messages"


def _quote(raw: str) -> str:
    return repr(raw if len(raw) <= _QUOTE_CHARS else raw[:_QUOTE_CHARS] + "…")
