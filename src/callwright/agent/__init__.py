"""Agents: ``Agent.respond(turn, context)`` takes a caller turn and yields acts.

An agent never touches audio; the voice loop renders its acts. That keeps every agent testable
in text (``callwright chat``, unit tests) and identical in voice.
"""

from .base import Act, Agent, Context, Hangup, Say, Turn
from .scripted import Rule, ScriptedAgent

__all__ = ["Act", "Agent", "Context", "Hangup", "Rule", "Say", "ScriptedAgent", "Turn"]
