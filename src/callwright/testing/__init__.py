"""Helpers for testing agents and calls: the same ones Callwright's own tests use.

* :class:`TextCall` runs a real call with typed caller turns (what ``callwright chat`` uses);
* :class:`LocalCall` runs one in-process over audio, with fake or real engines;
* :mod:`callwright.testing.conversations` runs conversation suites (YAML files of realistic caller
  turns and what must happen) against an agent and reports a pass rate per suite;
* :func:`callwright.testing.server.running_server` serves an agent on a real socket for a test,
  and :func:`callwright.testing.server.server_process` runs ``callwright run`` in a process of its own;
* :class:`callwright.testing.voice.Line` is the caller's end of a live call over audio, and
  :func:`callwright.testing.voice.caller_says` what a synthetic caller says (espeak-ng, GPL, optional).
"""

from .calls import LocalCall, TextCall, silence, tone

__all__ = ["LocalCall", "TextCall", "silence", "tone"]
