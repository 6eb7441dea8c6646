"""How far a simulator run has got, on standard error, for the person (or the CI log) watching.

On a terminal: one line rewritten in place (``\\r`` and erase-to-end-of-line, which every terminal
since the VT100 knows), with the cases done out of all, the passes, the failures, the time so far
and the last case. Anywhere else (a CI log, a pipe): one plain line per case, as it finishes, so a
log reads the same as before. No dependency: the line is short and a bar would need the width.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from typing import TextIO

from .runner import CaseResult


class Progress:
    """Told each result as it comes (:meth:`done`), it keeps ``stream`` up to date."""

    def __init__(self, total: int, stream: TextIO, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.total = total
        self.stream = stream
        self.tty = stream.isatty()
        self.clock = clock
        self.started = clock()  # wall time, meant: how long the run has taken, for whoever watches it
        self.passed = 0
        self.failed = 0

    def done(self, result: CaseResult) -> None:
        if result.passed:
            self.passed += 1
        else:
            self.failed += 1
        count = self.passed + self.failed
        verdict = "pass" if result.passed else "FAIL"
        if not self.tty:
            self.stream.write(f"[{count}/{self.total}] {verdict}  {result.case.name}\n")
            self.stream.flush()
            return
        elapsed = int(self.clock() - self.started)
        line = (f"[{count}/{self.total}] {self.passed} passed, {self.failed} failed, "
                f"{elapsed // 60}:{elapsed % 60:02d}  {verdict} {result.case.name}")
        width = shutil.get_terminal_size().columns - 1
        self.stream.write("\r" + (line if len(line) <= width else line[: width - 1] + "…") + "\x1b[K")
        self.stream.flush()

    def close(self) -> None:
        """End the rewritten line, so what is printed next starts on a line of its own."""
        if self.tty and self.passed + self.failed:
            self.stream.write("\n")
            self.stream.flush()
