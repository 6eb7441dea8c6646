"""Helpers for testing agents and calls: the same ones Callwright's own tests use.

* :class:`TextCall` runs a real call with typed caller turns (what ``callwright chat`` uses);
* :class:`LocalCall` runs one in-process over audio, with fake or real engines;
* :mod:`callwright.testing.conversations` runs conversation suites (YAML files of realistic caller
  turns and what must happen) against an agent and reports a pass rate per suite.
"""

from .calls import LocalCall, TextCall, silence, tone

__all__ = ["LocalCall", "TextCall", "silence", "tone"]
