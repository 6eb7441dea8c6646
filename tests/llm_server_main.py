"""``python tests/llm_server_main.py ARGS``: llama-cpp-python's OpenAI-compatible server, with every
completion capped at :data:`MAX_TOKENS` when the request set no cap of its own.

llama-cpp-python 0.3.36's ``chatml-function-calling`` handler, when the model chooses a tool itself
(``tool_choice: auto``), generates with ``max_tokens=None`` (unbounded, up to the context) whatever
the request asked: a small model that runs on can hold the one-request-at-a-time server for
minutes, and a test's next request waits behind it (seen here: a 240 s timeout in one run of five).
Capping it is the request's own limit applied where the handler drops it.
"""

from __future__ import annotations

import sys
from typing import Any

MAX_TOKENS = 64  # the largest cap any test asks for


def main() -> None:
    from llama_cpp import Llama
    from llama_cpp.server.__main__ import main as serve

    original = Llama.create_completion

    def capped(self: Llama, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("max_tokens", 16) is None:
            kwargs["max_tokens"] = MAX_TOKENS
        return original(self, *args, **kwargs)

    Llama.create_completion = capped  # type: ignore[method-assign]
    sys.argv[0] = "llama_cpp.server"
    serve()


if __name__ == "__main__":
    main()
