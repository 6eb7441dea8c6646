"""One call's agent, composed: safety, memory, emotion and the dialogue around a brain.

Per caller turn, in this order (each step can end the turn):

1. the caller's emotion is estimated and a reply style chosen (a ``Style`` act: voice rate, pitch);
2. tool results that finished after a barge-in are told;
3. a value typed into a texted web form fills the field it was sent for;
4. **safety**, in code: a red flag gets its advice first and then a person; "a person, please" gets a
   person at once; this holds whatever the dialogue was doing and whichever brain is used;
5. sustained anger hands over to a person;
6. "say that again", "slower please" and "hold on" are about the conversation, not a request;
7. the dialogue reads the turn: a misheard turn is asked again, an answer to the agent's question is
   read as one, and a new request goes to the brain (after the scope check).

The brain (:class:`~callwright.agent.dialogue.Brain`) is a part of this object, not a subclass of
it: the embedded brain and the LLM brain are swapped without touching anything above.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .. import events as ev
from ..clock import offload
from ..engines.base import VoiceStyle
from .base import Act, Agent, Context, Say, Style, Turn
from .dialogue import Dialogue
from .emotion import EmotionTracker
from .memory import CallerMemory
from .reading import asks_capabilities, farewell, is_question, meta_request, small_talk, without_asides, yes_no
from .replies import fill
from .safety import SafetyGuard
from .state import Brain, Question
from .style import StyleDecision, StylePolicy, StylePolicyOptions
from .tools import Outcome, ToolRunner

if TYPE_CHECKING:
    from .app import AgentApp

SLOWER = 0.85  # each "slower please" multiplies the speaking rate by this (down to MIN_RATE)
MIN_RATE = 0.7


class SpecAgent(Agent):
    """The agent of one call, for an agent folder."""

    def __init__(self, app: AgentApp, brain: Brain) -> None:
        self.app = app
        self.spec = app.spec
        self.name = app.spec.name
        self.brain = brain
        self.context: Context | None = None
        self.memory = CallerMemory(app, self._emit)
        self.runner = ToolRunner(ledger=app.ledger, data_dir=app.services.data_dir / "agents" / app.spec.name, default_filler=app.replies["filler"])
        self.dialogue = Dialogue(app, self.memory, self.runner)
        self.guard = SafetyGuard(app.safety)
        self.tracker = EmotionTracker()
        e = self.spec.emotion
        self.policy = StylePolicy(
            StylePolicyOptions(
                allow_upbeat=e.allow_upbeat,
                escalate_after_angry_turns=e.escalate_after_angry_turns,
                # with red-flag rules, distress is judged by them; the emotion lexicon is the fallback
                escalate_on_distress=e.escalate_on_distress and not self.spec.safety.red_flags,
            )
        )
        self.slow = 1.0  # the caller asked us to speak more slowly
        self.voice = VoiceStyle(rate=self.spec.voice.rate, pitch=self.spec.voice.pitch)
        self.last_reply = ""  # what the caller heard last, for "say that again"
        self._label = "neutral"  # the caller's emotion this turn

    # ------------------------------------------------------------------ call lifecycle
    def greeting(self, context: Context) -> str | None:
        """agent.yaml's ``greeting``: what :meth:`open` says to a caller it does not know (a known
        caller is greeted by name)."""
        return self.spec.greeting

    async def open(self, context: Context) -> str | None:
        """Identify the caller by number, recall earlier calls, and greet accordingly."""
        self._bind(context)
        greeting = await self.memory.open(context.caller)
        if self.memory.open_issue is not None:
            self.dialogue.question = Question("recall", self.memory.recall_question)
        self.last_reply = greeting
        return greeting

    async def aclose(self) -> None:
        await self.memory.close(self.context.call_id if self.context else "", self.app.services.now())

    def _bind(self, context: Context) -> None:
        self.context = context
        self.dialogue.context = context

    def _emit(self, event: ev.Event) -> None:
        if self.context is not None and self.context.emit is not None:
            self.context.emit(event)

    # ------------------------------------------------------------------ one turn
    async def respond(self, turn: Turn, context: Context) -> AsyncIterator[Act]:
        self._bind(context)
        if turn.source == "greeting":
            return
        said: list[str] = []
        # "say that again" and "are you still there?" leave the last reply as it was, to be said again
        repeat = meta_request(turn.text) in ("repeat", "slower", "presence") if turn.source in ("speech", "text") else False
        async for act in self._respond(turn):
            if isinstance(act, Say):
                said.append(act.text)
            yield act
        text = " ".join(s.strip() for s in said if s.strip())
        if text and not repeat:
            self.last_reply = text

    async def _respond(self, turn: Turn) -> AsyncIterator[Act]:
        spoken = turn.source in ("speech", "text")
        decision = None
        if self.spec.emotion.enabled and spoken:
            decision = await self._feel(turn)
            yield self._style(decision)
        for outcome in self.runner.late:
            yield Say(self._late_line(outcome) + " ")
        self.runner.late.clear()
        d = self.dialogue
        if turn.source == "web":
            async for act in d.web_value(turn):
                yield act
            return
        if spoken:
            verdict = self.guard.screen(turn.text)
            if verdict is not None:
                async for act in d.safety(turn, verdict):
                    yield act
                return
        # a callback being booked, where a person could take the call now instead
        booking = d.task is not None and bool(d.task.escalation) and d.escalation.mode("transfer") == "transfer"
        if decision is not None and decision.escalate and (not d.escalated or booking):
            # an angry caller in the middle of booking a callback is put through now, where a person can be
            async for act in d.escalate(turn, "the caller is upset or in distress", mode="transfer" if booking else None):
                yield act
            return
        if spoken and (said := without_asides(turn.text)) != turn.text:
            # "sorry, I was talking to my son, not you... two please": only what was said to the agent
            turn = replace(turn, text=said or "hold on")
        meta = meta_request(turn.text) if spoken else None
        if meta is not None:
            async for act in self._meta(meta):
                yield act
            return
        answering = d.question is not None and yes_no(turn.text).value is True  # "yes that's everything" confirms
        if spoken and farewell(turn.text) and not answering:  # "alright then, have a good day, bye": in any state, they are leaving
            async for act in d.goodbye(turn):
                yield act
            return
        chat = small_talk(turn.text) if spoken else None
        if chat == "":  # "hiya, you alright? did you have a nice weekend?": answered, and back to business
            pending = f" {d.question.text}" if d.question is not None else ""
            yield Say(self.app.replies["small_talk_pending" if pending else "small_talk"] + pending)
            return
        if chat is not None:  # "g'day, how was your weekend, anyway I'm after some sourdough": the request
            turn = replace(turn, text=chat)
        if spoken and d.question is None and asks_capabilities(turn.text):
            yield Say(self._capabilities())
            return
        prefix = decision.prefix if decision is not None else ""
        if prefix and self._label == "upset" and is_question(turn.text):
            prefix = ""  # a question with a sad word in it ("allergic", "broken") is not a grievance to soothe
        async for act in d.respond(turn, self.brain, prefix=prefix):
            yield act

    def _capabilities(self) -> str:
        """"What can you do?": the agent's own list of what it is for (``scope.does``)."""
        does = self.spec.scope.does
        if not does:
            return self.app.replies["recall_no"]
        listed = does[0] if len(does) == 1 else f"{', '.join(does[:-1])} and {does[-1]}"
        return fill(self.app.replies["capabilities"], {"does": listed})

    async def _meta(self, meta: str) -> AsyncIterator[Act]:
        if meta == "wait":
            yield Say(self.app.replies["take_your_time"])
            return
        if meta == "presence":
            pending = self.dialogue.question
            yield Say(self.app.replies["still_here"] + (f" {pending.text}" if pending is not None else ""))
            return
        if meta == "slower":
            self.slow = max(MIN_RATE / max(self.voice.rate, 0.01), self.slow * SLOWER)
            yield Style(VoiceStyle(rate=self.voice.rate * self.slow, pitch=self.voice.pitch))
        yield Say(self.last_reply or self.app.replies["not_repeating"])

    # ------------------------------------------------------------------ emotion and style
    async def _feel(self, turn: Turn) -> StyleDecision:
        estimate = await offload(self.tracker.estimate, turn.text, turn.audio, turn.sample_rate)
        self._emit(
            ev.EmotionEstimated(
                turn=turn.index, label=estimate.label, valence=round(estimate.valence, 3), arousal=round(estimate.arousal, 3),
                words=round(estimate.words, 3), prosody={k: round(v, 3) for k, v in estimate.prosody.items()},
            )
        )
        self._label = estimate.label
        decision = self.policy.choose(estimate)
        self._emit(ev.StyleChosen(turn=turn.index, style=decision.style, rate=decision.rate, pitch=decision.pitch, reason=decision.reason))
        self.dialogue.style = decision.style
        return decision

    def _style(self, decision: StyleDecision) -> Style:
        rate = max(MIN_RATE, self.spec.voice.rate * decision.rate * self.slow)
        self.voice = VoiceStyle(rate=self.spec.voice.rate * decision.rate, pitch=self.spec.voice.pitch * decision.pitch)
        return Style(VoiceStyle(rate=rate, pitch=self.voice.pitch))

    def _late_line(self, outcome: Outcome) -> str:
        intent = next((i for i in self.spec.intents if i.tool == outcome.name), None)
        if intent is not None and intent.reply:
            values: dict[str, Any] = {"result": outcome.result}
            if self.dialogue.task is not None:
                values.update(self.dialogue.task.slots)
            return fill(intent.reply, values)
        return self.app.replies["late_result"]

