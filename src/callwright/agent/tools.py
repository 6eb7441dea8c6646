"""Tools: async Python functions an agent calls, run so that the caller is never left in silence.

A tool is an ``async def`` whose parameters are typed, with a :class:`ToolContext` first if it
wants one (the call's clock, progress, the idempotency key). :class:`ToolSignature` turns those
type hints into a pydantic model: the JSON Schema a language model calls the tool by (array items,
enums, unions, nested models and ``Annotated[..., Field(description=...)]`` included), and the
validation of the arguments it sends, whose errors (:class:`~callwright.errors.ToolArgumentError`)
go back to the model. :func:`tool` says how the tool behaves on a live call::

    @tool(slow_after=0.8, timeout=8, filler="Let me pull up that order.")
    async def order_status(ctx: ToolContext, order_number: str) -> dict[str, str]: ...

    lookup = tool(lookup_order, timeout=5)  # a function written elsewhere, without a context

:class:`ToolRunner` runs one call of a tool for a reply, for every agent that calls tools (an agent
folder's dialogue and LLM brain, and :class:`~callwright.agent.llm.LlmAgent`):

* after ``slow_after`` seconds without a result it speaks the filler, then any progress the tool
  reports with ``await ctx.progress("...")``; every line is also a ``tool.progress`` event;
* the caller may talk meanwhile: ``on_interrupt="cancel"`` cancels the tool, ``"wait"`` lets it
  finish (its result is kept and told on the next turn). Tools with side effects wait by default;
* ``timeout`` ends in a spoken fallback, never in silence;
* ``slow_after`` and ``timeout`` are taken on the call's clock (``Context.clock``), which the tool
  gets as ``ctx.clock``: a tool that waits (polls a backend, backs off) sleeps on it, so a call on
  virtual time runs its tools on virtual time too;
* every call gets exactly one ``tool.result`` event (ok, error, timeout, cancelled or queued);
  arguments the signature does not accept end the call in an error before the tool runs;
* a tool with ``side_effects`` gets an idempotency key derived from the call, the tool and its
  arguments: a repeat (the caller asks again after a barge-in) returns the stored result and the
  side effect is not repeated. Pass ``ctx.idempotency_key`` on to the system that does the work.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, get_type_hints, overload

import anyio
from pydantic import BaseModel, ConfigDict, Field, PydanticUserError, ValidationError, create_model
from pydantic_core import to_jsonable_python

from .. import events as ev
from ..clock import Clock, MonotonicClock, TimedOut, within
from ..engines.base import ToolSpec
from ..errors import ToolArgumentError
from .base import Context, Say

log = logging.getLogger("callwright.tools")
# Lax validation: "2" is 2 for an int, "yes" is True for a bool, 42 is "42" for a str (slot and form
# values are text, models send numbers as strings); "2.5" is not an int. Unknown keys are dropped.
_LAX = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


@dataclass(frozen=True, slots=True)
class ToolOptions:
    slow_after: float = 1.0  # seconds before the filler is spoken
    timeout: float = 10.0
    on_interrupt: Literal["cancel", "wait"] | None = None  # None: "wait" with side effects, else "cancel"
    side_effects: bool = False
    background: bool = False  # runs as a durable job; the result follows by SMS
    filler: str | None = None
    timeout_reply: str | None = None
    description: str | None = None

    @property
    def waits(self) -> bool:
        return (self.on_interrupt or ("wait" if self.side_effects else "cancel")) == "wait"


ToolFn = Callable[..., Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class AgentTool:
    fn: ToolFn
    options: ToolOptions
    spec: ToolSpec
    signature: ToolSignature = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "signature", ToolSignature.of(self.fn))

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def parameters(self) -> tuple[str, ...]:
        """The names of the arguments the tool takes, in order."""
        return self.signature.parameters

    @property
    def required(self) -> tuple[str, ...]:
        """The names of the arguments the tool cannot do without (no default)."""
        return self.signature.required

    def validate(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """``arguments`` converted to the declared types, keys the tool does not take dropped.
        Raises :class:`~callwright.errors.ToolArgumentError`."""
        return self.signature.validate(arguments)

    async def __call__(self, ctx: ToolContext, **arguments: Any) -> Any:
        return await (self.fn(ctx, **arguments) if self.signature.context else self.fn(**arguments))


@overload
def tool(
    fn: ToolFn,
    *,
    slow_after: float = ...,
    timeout: float = ...,
    on_interrupt: Literal["cancel", "wait"] | None = ...,
    side_effects: bool = ...,
    background: bool = ...,
    filler: str | None = ...,
    timeout_reply: str | None = ...,
    description: str | None = ...,
) -> AgentTool: ...
@overload
def tool(
    fn: None = None,
    *,
    slow_after: float = ...,
    timeout: float = ...,
    on_interrupt: Literal["cancel", "wait"] | None = ...,
    side_effects: bool = ...,
    background: bool = ...,
    filler: str | None = ...,
    timeout_reply: str | None = ...,
    description: str | None = ...,
) -> Callable[[ToolFn], AgentTool]: ...
def tool(
    fn: ToolFn | None = None,
    *,
    slow_after: float = 1.0,
    timeout: float = 10.0,
    on_interrupt: Literal["cancel", "wait"] | None = None,
    side_effects: bool = False,
    background: bool = False,
    filler: str | None = None,
    timeout_reply: str | None = None,
    description: str | None = None,
) -> AgentTool | Callable[[ToolFn], AgentTool]:
    """Mark an async function as an agent tool (``@tool`` or ``@tool(...)``), or make one of a
    function written elsewhere: ``tool(get_order, timeout=5)``."""
    options = ToolOptions(slow_after, timeout, on_interrupt, side_effects, background, filler, timeout_reply, description)

    def wrap(f: ToolFn) -> AgentTool:
        if not inspect.iscoroutinefunction(f):
            raise TypeError(f"tool {f.__name__!r} must be 'async def'")
        return AgentTool(f, options, tool_spec(f, options.description))

    return wrap(fn) if fn is not None else wrap


@dataclass(frozen=True, slots=True)
class ToolSignature:
    """The parameters of a tool function (a first context parameter excluded) as a pydantic model:
    their JSON Schema for function calling, and the validation of the arguments a call brings."""

    tool: str
    model: type[BaseModel]
    context: bool = True  # the function's first parameter is the ToolContext

    @classmethod
    def of(cls, fn: Callable[..., Any]) -> ToolSignature:
        hints = get_type_hints(fn, include_extras=True)
        fields: dict[str, Any] = {}
        context = False
        for index, (name, param) in enumerate(inspect.signature(fn).parameters.items()):
            if index == 0 and (name == "ctx" or hints.get(name) is ToolContext):
                context = True
                continue
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            default = ... if param.default is param.empty else param.default
            # A neutral field name with the parameter's name as alias: a parameter may be called
            # anything (`json`, `model_id`, `_key`) without clashing with BaseModel's own names.
            fields[f"p{len(fields)}"] = (hints.get(name, Any), Field(default, alias=name))
        try:
            model = create_model(f"{fn.__name__}_arguments", __config__=_LAX, **fields)
            model.model_json_schema()
        except PydanticUserError as exc:
            raise TypeError(f"tool {fn.__name__!r}: its parameter types cannot be described as JSON Schema: {exc.message}") from None
        return cls(fn.__name__, model, context)

    @property
    def parameters(self) -> tuple[str, ...]:
        return tuple(info.alias or key for key, info in self.model.model_fields.items())

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(info.alias or key for key, info in self.model.model_fields.items() if info.is_required())

    def schema(self) -> dict[str, Any]:
        """An OpenAI function-calling schema: an object with properties and required, titles left
        out, definitions of nested models written in place (kept in ``$defs`` only if recursive)."""
        raw = self.model.model_json_schema()
        defs: dict[str, Any] = raw.get("$defs", {})
        recursive: list[str] = []
        properties = {name: _inline(prop, defs, (), recursive) for name, prop in raw.get("properties", {}).items()}
        schema: dict[str, Any] = {"type": "object", "properties": properties, "required": list(raw.get("required", []))}
        if recursive:
            schema["$defs"] = {name: _inline(d, defs, (name,), recursive) for name, d in defs.items()}
        return schema

    def validate(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """The arguments given, converted to the declared types (nested models as their classes);
        defaults are left to the function. Raises :class:`~callwright.errors.ToolArgumentError`."""
        try:
            valid = self.model.model_validate(dict(arguments))
        except ValidationError as exc:
            raise _argument_error(self.tool, exc) from None
        given = valid.model_fields_set
        return {info.alias or key: getattr(valid, key) for key, info in self.model.model_fields.items() if key in given}


def tool_spec(fn: ToolFn, description: str | None = None) -> ToolSpec:
    """The name, description and JSON Schema of a tool's arguments (the context parameter excluded).
    The description is ``description`` if given, else the docstring's first paragraph."""
    doc = inspect.getdoc(fn)
    summary = description or (doc.split("\n\n")[0] if doc else fn.__name__)
    return ToolSpec(fn.__name__, summary.strip(), ToolSignature.of(fn).schema())


def _inline(schema: Any, defs: Mapping[str, Any], seen: tuple[str, ...], recursive: list[str]) -> Any:
    """``schema`` with its ``$ref`` to ``defs`` replaced by the definitions and ``title`` dropped."""
    if isinstance(schema, list):
        return [_inline(item, defs, seen, recursive) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        name = ref.removeprefix("#/$defs/")
        if name in seen:
            recursive.append(name)
            out["$ref"] = ref
        else:
            out.update(_inline(defs[name], defs, (*seen, name), recursive))
    for key, value in schema.items():
        if key in ("$ref", "title"):
            continue
        if key in ("properties", "patternProperties"):
            out[key] = {name: _inline(sub, defs, seen, recursive) for name, sub in value.items()}
        elif key in ("default", "enum", "const", "examples"):
            out[key] = value  # values, not schemas
        else:
            out[key] = _inline(value, defs, seen, recursive)
    return out


def _argument_error(tool: str, exc: ValidationError) -> ToolArgumentError:
    missing: list[str] = []
    invalid: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]).lstrip(".")
        if error["type"] == "missing" and len(error["loc"]) == 1:
            missing.append(path)
        else:
            got = repr(error["input"])
            invalid.setdefault(path, f"{error['msg']} (got {got if len(got) <= 60 else got[:57] + '...'})")
    parts = [f"argument {path!r}: {problem}" for path, problem in invalid.items()]
    if missing:
        parts.append(f"missing required argument{'s' if len(missing) > 1 else ''} {', '.join(repr(m) for m in missing)}")
    return ToolArgumentError(f"{tool}: {'; '.join(parts)}", tool=tool, missing=missing, invalid=invalid)


@dataclass
class ToolContext:
    """What a running tool knows about its call."""

    call_id: str
    caller: str | None
    turn: int
    idempotency_key: str | None
    data_dir: Path
    _progress: Callable[[str], Awaitable[None]] | None = None
    clock: Clock = field(default_factory=MonotonicClock)  # the call's: sleep on it, not on anyio.sleep

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` on the call's clock (a test or a simulation on virtual time does not wait)."""
        await self.clock.sleep_until(self.clock.now() + seconds)

    async def progress(self, text: str) -> None:
        """Tell the caller how it is going ("I found three stores nearby, checking stock now")."""
        if self._progress is not None:
            await self._progress(text)


class Ledger(Protocol):
    """Where side effects are recorded (the Store implements it; :class:`MemoryLedger` for tests)."""

    async def claim_tool(self, key: str, name: str, arguments: dict[str, Any], phone: str | None) -> Any: ...

    async def finish_tool(self, key: str, status: str, result: Any) -> None: ...


@dataclass(frozen=True, slots=True)
class _Claim:
    status: Literal["new", "running", "done"]
    result: Any = None


class MemoryLedger:
    def __init__(self) -> None:
        self._rows: dict[str, _Claim] = {}

    async def claim_tool(self, key: str, name: str, arguments: dict[str, Any], phone: str | None) -> _Claim:
        if key in self._rows:
            return self._rows[key]
        self._rows[key] = _Claim("running")
        return _Claim("new")

    async def finish_tool(self, key: str, status: str, result: Any) -> None:
        if status == "ok":
            self._rows[key] = _Claim("done", result)
        else:
            self._rows.pop(key, None)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a tool call ended, for the brain to phrase."""

    name: str
    status: Literal["ok", "error", "timeout", "cancelled", "queued"]
    result: Any = None
    error: str | None = None
    replayed: bool = False
    spoken: bool = False  # a filler or progress line was already said


def idempotency_key(call_id: str, name: str, arguments: Mapping[str, Any]) -> str:
    canonical = json.dumps({"call": call_id, "tool": name, "args": arguments}, sort_keys=True, default=_plain)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


@dataclass
class ToolRunner:
    """Runs tools for one call. ``late`` holds results that finished after a barge-in, to tell next."""

    ledger: Ledger = field(default_factory=MemoryLedger)
    data_dir: Path = Path(".callwright")
    default_filler: str = "One moment please."
    late: list[Outcome] = field(default_factory=list)
    _count: int = 0

    async def run(self, tool: AgentTool, arguments: dict[str, Any], *, turn: int, context: Context) -> AsyncIterator[Say | Outcome]:
        """Yield spoken lines while the tool works, then exactly one :class:`Outcome`.
        Arguments the tool's signature does not accept end the call in an error; the tool does not run."""
        tasks = context.tasks
        if tasks is None:  # checked before anything is recorded or claimed
            raise RuntimeError("ToolRunner.run needs context.tasks (the Call sets it while a reply runs)")
        emit = context.emit or (lambda event: None)
        self._count += 1
        call = f"{turn}.{self._count}"
        opts = tool.options
        try:
            arguments = tool.validate(arguments)
        except ToolArgumentError as exc:
            emit(ev.ToolCalled(turn=turn, call=call, name=tool.name, arguments=_plain(arguments)))
            emit(ev.ToolResult(turn=turn, call=call, name=tool.name, status="error", error=exc.message))
            yield Outcome(tool.name, "error", error=exc.message)
            return
        plain = _plain(arguments)
        key = idempotency_key(context.call_id, tool.name, plain) if opts.side_effects else None
        emit(ev.ToolCalled(turn=turn, call=call, name=tool.name, arguments=plain, idempotency_key=key))
        if key is not None:
            claim = await self.ledger.claim_tool(key, tool.name, plain, context.caller)
            if claim.status != "new":
                # Done before (or still running after a crash): never run a side effect twice.
                status: Literal["ok", "error"] = "ok" if claim.status == "done" else "error"
                error = None if claim.status == "done" else "an earlier attempt is still in progress"
                emit(ev.ToolResult(turn=turn, call=call, name=tool.name, status=status, result=claim.result, error=error, replayed=True))
                yield Outcome(tool.name, status, claim.result, error, replayed=True)
                return

        clock = context.clock
        lines_tx, lines_rx = anyio.create_memory_object_stream[str](16)
        box: list[Outcome] = []
        started = clock.now()
        spoken = False
        held = ""
        consumer_gone = False

        async def progress(text: str) -> None:
            emit(ev.ToolProgress(turn=turn, call=call, name=tool.name, text=text, kind="progress"))
            try:
                lines_tx.send_nowait(text)
            except (anyio.WouldBlock, anyio.ClosedResourceError, anyio.BrokenResourceError):
                pass  # nobody listening any more (barge-in), or the caller is being flooded: the event is kept

        ctx = ToolContext(context.call_id, context.caller, turn, key, self.data_dir, progress, clock)

        def record(outcome: Outcome) -> None:
            if box:
                return
            box.append(outcome)
            ms = round((clock.now() - started) * 1000, 1)
            emit(ev.ToolResult(turn=turn, call=call, name=tool.name, status=outcome.status, result=_jsonable(outcome.result), error=outcome.error, ms=ms))
            if consumer_gone and outcome.status == "ok":
                self.late.append(outcome)

        timed_out = Outcome(tool.name, "timeout", error=f"no result after {opts.timeout:g} s")

        async def work() -> None:
            async with lines_tx:
                with anyio.CancelScope(shield=opts.waits):
                    try:
                        result = await within(clock, opts.timeout, lambda: tool(ctx, **arguments))
                    except TimeoutError:  # a time limit of the tool's own (a client's) counts as a timeout too
                        record(timed_out)
                    except anyio.get_cancelled_exc_class():
                        record(Outcome(tool.name, "cancelled", error="the caller interrupted"))
                        raise
                    except Exception as exc:  # tools are user code: a failure is a result, not a crash
                        # one line for the operator (the error is also the tool.result); the traceback at debug
                        log.warning("tool %s failed: %s: %s", tool.name, type(exc).__name__, exc)
                        log.debug("tool %s traceback", tool.name, exc_info=exc)
                        record(Outcome(tool.name, "error", error=f"{type(exc).__name__}: {exc}"))
                    else:
                        record(timed_out if isinstance(result, TimedOut) else Outcome(tool.name, "ok", result))
                    finally:
                        if key is not None and box:
                            with anyio.CancelScope(shield=True):
                                await self.ledger.finish_tool(key, box[0].status, _jsonable(box[0].result))

        tasks.start_soon(work)
        filler_at = clock.now() + opts.slow_after
        try:
            async with lines_rx:
                while True:
                    try:
                        if spoken:
                            text: str | TimedOut = await lines_rx.receive()
                        else:
                            text = await within(clock, filler_at - clock.now(), lines_rx.receive)
                    except anyio.EndOfStream:
                        break
                    if isinstance(text, TimedOut):  # slow_after has passed without a result: the filler
                        spoken = True
                        filler = opts.filler or self.default_filler
                        emit(ev.ToolProgress(turn=turn, call=call, name=tool.name, text=filler, kind="filler"))
                        yield Say(_sentence(filler))
                        if held:
                            yield Say(_sentence(held))
                    elif not spoken and clock.now() < filler_at:
                        held = text  # early progress is not worth saying if the result is close
                    else:
                        spoken = True
                        yield Say(_sentence(text))
        except BaseException:
            consumer_gone = True  # a barge-in: a tool that waits records its result in `late`
            raise
        outcome = box[0] if box else Outcome(tool.name, "cancelled", error="ended without a result")
        yield Outcome(outcome.name, outcome.status, outcome.result, outcome.error, outcome.replayed, spoken)


def _sentence(text: str) -> str:
    text = text.strip()
    return text + ("" if text.endswith((".", "!", "?")) else ".") + " "


def _plain(value: Any) -> Any:
    """Arguments as JSON values (nested models as objects, dates as ISO text), for events and keys."""
    return to_jsonable_python(value, fallback=str)


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return json.loads(json.dumps(value, default=str))
