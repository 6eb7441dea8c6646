"""Per-call trace files: one JSON line per event, exactly as the client received it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import IO

from .. import events as ev

log = logging.getLogger("callwright.trace")


class JsonlTrace:
    """An event sink writing ``<dir>/<call id>.jsonl``. Closed when the call ends."""

    def __init__(self, directory: str | Path, call_id: str) -> None:
        self.path = Path(directory) / f"{call_id}.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] | None = self.path.open("a", encoding="utf-8")

    def __call__(self, event: ev.Event) -> None:
        if self._file is None:
            return
        try:
            self._file.write(event.model_dump_json() + "\n")
            if isinstance(event, ev.CallEnded):
                self.close()
        except OSError as exc:  # a full disk must not end the call
            log.error("trace %s: cannot write (%s); tracing stopped for this call", self.path, exc)
            self.close()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def read_trace(path: str | Path) -> list[object]:
    return [ev.parse_server_event(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line]
