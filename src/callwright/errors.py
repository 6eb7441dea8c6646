"""The one exception tree of Callwright.

Every error carries a ``category`` (what kind of failure it is) and ``retryable`` (whether
trying again, or handing the work to a second engine, may succeed). Context such as the call id
and the stage is attached where the error is raised, so a message can say what, where and what
to do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar


class CallwrightError(Exception):
    """Base of every error Callwright raises on purpose."""

    category: ClassVar[str] = "internal"
    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        retryable: bool | None = None,
        call_id: str | None = None,
        stage: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if retryable is not None:
            self.retryable = retryable
        self.call_id = call_id
        self.stage = stage

    def __str__(self) -> str:
        where = " ".join(
            part for part in (f"call {self.call_id}" if self.call_id else "", self.stage or "") if part
        )
        return f"{where}: {self.message}" if where else self.message


class ConfigError(CallwrightError):
    """A setting, agent file or command-line option is wrong. Never retryable."""

    category = "config"


class ProtocolError(CallwrightError):
    """A client sent something the protocol does not allow (bad JSON, unknown event, bad audio)."""

    category = "protocol"

    def __init__(self, message: str, *, code: str, close_code: int = 1008, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.code = code
        self.close_code = close_code


class EngineError(CallwrightError):
    """A speech or language engine failed. ``retryable`` says whether to try again."""

    category = "engine"

    def __init__(self, message: str, *, engine: str, retryable: bool = False, **kw: object) -> None:
        super().__init__(message, retryable=retryable, **kw)  # type: ignore[arg-type]
        self.engine = engine


class AgentError(CallwrightError):
    """The agent (user code: its greeting, ``open`` or a turn's reply) raised something that is not a
    Callwright error. The call goes on: a failed turn is answered with the fallback line."""

    category = "agent"

    def __init__(self, message: str, *, agent: str, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.agent = agent


class EngineTimeout(EngineError):
    """An engine did not answer within its deadline. Retryable."""

    category = "timeout"

    def __init__(self, message: str, *, engine: str, **kw: object) -> None:
        super().__init__(message, engine=engine, retryable=True, **kw)


class ToolArgumentError(CallwrightError):
    """A tool was called with arguments its signature does not accept: the caller's (a language
    model's, a form's) mistake, not the tool's, so the tool is not run. ``missing`` names the
    required parameters not given, ``invalid`` says what is wrong with each bad argument; the
    message names the tool and is written to be sent back to the model as the tool's result."""

    category = "tool"

    def __init__(
        self,
        message: str,
        *,
        tool: str,
        missing: Sequence[str] = (),
        invalid: Mapping[str, str] | None = None,
        **kw: object,
    ) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.tool = tool
        self.missing = tuple(missing)
        self.invalid = dict(invalid or {})
