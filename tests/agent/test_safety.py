"""Safety in code: red-flag patterns, combinations across turns, negation, requests for a person.

The recovery line's rules are checked against its own documents: every section of
``warning-signs.md`` (the document's own words, read out by a caller) must raise a flag that acts.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from callwright.agent.safety import Level, Pattern, RedFlag, SafetyGuard, SafetyRules, wants_person
from callwright.agent.spec import load_definition
from callwright.errors import ConfigError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "agents"


@pytest.fixture(scope="module")
def recovery() -> SafetyRules:
    return SafetyRules.from_spec(load_definition(EXAMPLES / "recovery-line").spec.safety)


@pytest.fixture(scope="module")
def order_desk() -> SafetyRules:
    return SafetyRules.from_spec(load_definition(EXAMPLES / "order-desk").spec.safety)


def screen(rules: SafetyRules, *turns: str) -> list[str | None]:
    guard = SafetyGuard(rules)
    out = []
    for text in turns:
        verdict = guard.screen(text)
        out.append(None if verdict is None else f"{verdict.level}:{verdict.rule}")
    return out


# ------------------------------------------------------------------ the pattern language
def test_every_group_must_match_in_one_clause() -> None:
    pattern = Pattern.parse("calf|leg + swollen|hot")
    assert pattern.find("my calf is swollen") == ["calf", "swollen"]
    assert pattern.find("my calf is fine") is None
    guard = SafetyGuard(SafetyRules(flags=(_flag("clot", "urgent", "calf|leg + swollen"),)))
    assert guard.screen("my calf is fine, but my ankle is swollen") is None  # two thoughts, two clauses
    assert guard.screen("my calf is fine but it is swollen") is None


def test_the_symptom_must_not_be_negated_but_can_t_is_a_symptom() -> None:
    fever = Pattern.parse("fever|temperature")
    assert fever.find("i don't have a fever") is None
    assert fever.find("no fever at all") is None
    assert fever.find("i think i have a fever") == ["fever"]
    breath = Pattern.parse("can't breathe|short of breath")
    assert breath.find("i can't breathe") == ["can't breathe"]
    pee = Pattern.parse("not able|can't + pee")
    assert pee.find("i'm not able to pee") == ["not able", "pee"]  # the negator belongs to the first group


def test_regex_alternatives_and_prefixes() -> None:
    pattern = Pattern.parse("temperature|temp + /(?:3[89]|4[0-2])(?:\\.\\d+)?/")
    assert pattern.find("my temperature is 38.5") == ["temperature", "38.5"]
    assert pattern.find("my temp is 37.9") is None
    assert Pattern.parse("swell*").find("it's swelling up") == ["swelling"]
    assert Pattern.parse("temperature + high").find("my temperature's really high") == ["temperature's", "high"]


def test_a_bad_pattern_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="empty group"):
        Pattern.parse("calf + + swollen")
    with pytest.raises(ConfigError, match="bad regular expression"):
        Pattern.parse("a + /(unclosed/")


def test_a_combination_fires_only_after_its_earlier_flag() -> None:
    rules = SafetyRules(
        flags=(
            _flag("heavy_leg", "watch", "leg + heavy"),
            _flag("lungs", "emergency", "puffed out|breathless", after=("heavy_leg",)),
        )
    )
    assert screen(rules, "I get puffed out on the stairs") == [None]
    assert screen(rules, "my leg feels heavy", "I get puffed out on the stairs") == [None, "emergency:lungs"]
    assert screen(rules, "my leg feels heavy and I get puffed out") == ["emergency:lungs"]  # within one turn too


def test_the_highest_level_wins_and_its_advice_is_given() -> None:
    rules = SafetyRules(
        flags=(_flag("clot", "urgent", "calf + swollen"), _flag("lungs", "emergency", "breathless", advice="Call 911 now.")),
    )
    verdict = SafetyGuard(rules).screen("my calf is swollen and I'm breathless")
    assert verdict is not None and verdict.rule == "lungs" and verdict.level == "emergency"
    assert verdict.advice == "Call 911 now." and verdict.action == "transfer"


# ------------------------------------------------------------------ a person, please
@pytest.mark.parametrize(
    "said",
    [
        "get me a real person now",
        "put me through to someone",
        "transfer me to the on-call nurse",
        "can I speak to a human please",
        "operator",
        "I want to talk to your manager",
        "is there a person I can talk to",
        "connect me with a member of staff",
        "hi, I'd like to speak to a human please",
        "I need a person",
        # other words, other Englishes (a blind suite's callers showed each was missed)
        "could I have a quick word with somebody real",
        "I'd rather chat to a living soul, if you don't mind",
        "I'm not talking to a robot, get someone on the line",
        "can ye no just hand me on tae one of yer staff",
        "can I have a real human",
        # a callback turned down in the same breath is no callback (held-out-10)
        "no forget the callback just let me talk to a real person right now",
        "never mind the appointment, get me a human",
        "I don't want a ring back, I want to speak to somebody",
    ],
)
def test_requests_for_a_person(said: str) -> None:
    assert wants_person(said), said


@pytest.mark.parametrize(
    "said",
    [
        "can a nurse ring me tomorrow",
        "I want a nurse to call me back, not a transfer",
        "I'd like to book a call with a nurse",
        "I need someone to call me back",
        "I don't want to talk to a person",
        "should I talk to my doctor about the pain",
        "someone left the parcel at the door",
        "the driver was a real gentleman about it",
        "your staff were lovely last time",
        "is the sourdough real sourdough",
    ],
)
def test_not_requests_for_a_person_now(said: str) -> None:
    assert wants_person(said) is None, said


# ------------------------------------------------------------------ the example agents' rules
def warning_sections() -> list[tuple[str, str]]:
    text = (EXAMPLES / "recovery-line" / "knowledge" / "warning-signs.md").read_text()
    sections = re.split(r"^## ", text, flags=re.MULTILINE)[1:]
    return [(s.splitlines()[0], " ".join(s.splitlines()[1:]).strip()) for s in sections]


@pytest.mark.parametrize(("heading", "body"), warning_sections(), ids=[h for h, _ in warning_sections()])
def test_every_warning_sign_of_the_documents_raises_a_flag(recovery: SafetyRules, heading: str, body: str) -> None:
    """The caller says the document's own words: the rules must act on every section of them."""
    first_sentence = body.split(". ")[0]
    verdict = SafetyGuard(recovery).screen(first_sentence)
    assert verdict is not None and verdict.level in ("urgent", "emergency"), (heading, first_sentence)
    if "emergency services" in first_sentence.lower():
        assert verdict.level == "emergency", (heading, verdict)


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("my temperature is thirty eight point five", "urgent:fever"),
        ("I'm shivering and I feel awful", "urgent:fever"),
        ("nothing's gone into the bag since lunchtime", "urgent:no_drainage"),
        ("there are little clots in my wee", "urgent:bleeding_or_clots"),
        ("my right calf is red and hot to touch", "urgent:calf_clot"),
        ("I'm struggling to breathe", "emergency:chest_or_breathing"),
        ("there's a crushing pain in my chest", "emergency:chest_or_breathing"),
        ("the tube slipped out in the night", "urgent:catheter_out"),
        ("I've been throwing up all morning", "urgent:tummy"),
        ("since the catheter came out this morning I haven't been able to wee", "urgent:cannot_pass_urine"),
        ("my wound is oozing yellow stuff", "urgent:wound_infection"),
        ("I passed out in the bathroom", "emergency:collapse"),
        # two sayings a held-out suite showed the rules missed (docs/testing.md)
        ("my calf on the right side, it is very swollen and hot", "urgent:calf_clot"),
        ("I haven't managed to pee since six this morning", "urgent:cannot_pass_urine"),
        # hedges inside a symptom (held-out-4 showed "I can't seem to catch my breath" missed)
        ("I can't really get my breath", "emergency:chest_or_breathing"),
        ("honestly I can barely breathe", "emergency:chest_or_breathing"),
        ("my left calf is sort of puffy and a bit hot", "urgent:calf_clot"),
        ("there's kind of a crushing pain in my chest", "emergency:chest_or_breathing"),
        # Scots, Southern US, and a collapse told by someone else
        ("the bag's no had a drop in it since the morning", "urgent:no_drainage"),
        ("I ain't been able to pee since they took it out", "urgent:cannot_pass_urine"),
        ("my husband went down in the kitchen and he's not answering me", "emergency:collapse"),
        ("she's on the floor and won't wake up", "emergency:collapse"),
        ("I feel really ill today", "urgent:fever"),
        # heard by the recogniser in a real call as "I can't be at all, and my belly is bursting"
        ("since the cafeter came out, I can't be at all, and my belly is bursting", "urgent:cannot_pass_urine"),  # "ill" stays ill (it was once read as "i'll")
        # a catheter that came out by itself, as people say it (Irish "after coming out" is "has just come out")
        ("the catheter's after coming out on me", "urgent:catheter_out"),
        ("I rolled over and the tube slid right out", "urgent:catheter_out"),
        ("the whole catheter came out in the bed, balloon and all", "urgent:catheter_out"),
        # held-out-11: a dry bag told in Southern US English, urine not passed since removal
        ("the leg bag ain't had a drop in it since dinner", "urgent:no_drainage"),
        ("they took it out this morning and I have not passed any urine since, my bladder is aching", "urgent:cannot_pass_urine"),
        # a past sign that is back counts: history is not a way out
        ("I had a clot in my calf last year and now my leg is swollen again", "urgent:calf_clot"),
        ("my catheter got blocked earlier and it's still not draining", "urgent:no_drainage"),
    ],
)
def test_the_recovery_line_acts_on_warning_signs_in_everyday_words(recovery: SafetyRules, said: str, expected: str) -> None:
    assert screen(recovery, said) == [expected]


@pytest.mark.parametrize(
    "said",
    [
        "I don't have a fever, when can I drive again",
        "how do I prevent blood clots",
        "what are the warning signs I should look out for",
        "how often should I empty my leg bag",
        "is it normal to have pink urine",
        "can I have a bath",
        "my temperature is 37.2",
        "when can I go back to the gym",
        "I empty the bag twice a day",
        "what should I do to make sure I don't get a clot",
        "I can barely wait to get back on the golf course",
        "my dad phoned but the nurse isn't answering me",
        "it's no bother, I dropped the leaflet on the floor",
        # what-ifs, someone's history, a problem already put right, the operation's site (held-out-11)
        "quick what if for you, what should I do if the tube comes out while I'm asleep",
        "what happens if the bag stops draining overnight",
        "my brother got a blood clot after his knee op two years ago, how do I stop that happening to me",
        "the bag was blocked this morning but the nurse came and flushed it, it's draining fine now",
        "my back's killing me from the hospital bed, they operated on my tummy not my back",
    ],
)
def test_the_recovery_line_does_not_raise_flags_on_ordinary_questions(recovery: SafetyRules, said: str) -> None:
    assert screen(recovery, said) == [None]


def test_a_heavy_leg_then_breathlessness_is_an_emergency(recovery: SafetyRules) -> None:
    assert screen(recovery, "my leg feels a bit heavy", "and I get puffed out on the stairs") == [
        None,
        "emergency:clot_reached_lungs",
    ]
    assert screen(recovery, "I get puffed out on the stairs") == [None]


def test_dizziness_then_heavy_bleeding_is_an_emergency(recovery: SafetyRules) -> None:
    assert screen(recovery, "I felt dizzy when I stood up", "there's a lot of blood in the bag") == [
        None,
        "emergency:bleeding_after_faint",
    ]
    # clots as patients describe them, after feeling faint
    assert screen(recovery, "I've been a bit lightheaded today", "now there's blobs of jelly in the wee bag") == [
        None,
        "emergency:bleeding_after_faint",
    ]


def test_an_allergy_in_the_past_is_history_unless_it_is_back(order_desk: SafetyRules) -> None:
    assert screen(order_desk, "my girl had hives from kiwi a few years ago, she's fine now, do you sell kiwis") == [None]
    assert screen(order_desk, "he had hives from peanuts as a kid and now his lips are swelling up") == ["emergency:allergic_reaction"]


def test_the_order_desk_acts_on_an_allergic_reaction(order_desk: SafetyRules) -> None:
    assert screen(order_desk, "his lips are swelling up after your cookies") == ["emergency:allergic_reaction"]
    assert screen(order_desk, "is your bread safe for a peanut allergy") == [None]


def _flag(name: str, level: Level, *patterns: str, after: tuple[str, ...] = (), advice: str = "") -> RedFlag:
    return RedFlag(name, level, tuple(Pattern.parse(p) for p in patterns), advice, after)


def test_a_planned_removal_is_not_an_accident_but_a_fall_is(recovery: SafetyRules) -> None:
    assert screen(recovery, "the nurse took my catheter out yesterday, when can I drive") == [None]
    assert screen(recovery, "I took a shower and the catheter fell out") == ["urgent:catheter_out"]


def test_a_word_of_address_between_the_thing_and_the_sign_does_not_hide_the_sign(recovery: SafetyRules) -> None:
    """"my catheter, love, it came out": the pieces either side of "love" are read together (held-out-12)."""
    assert screen(recovery, "the tube, darling, it's fallen out in the night") == ["urgent:catheter_out"]
    assert screen(recovery, "my calf, mate, um, it's gone all swollen and hot") == ["urgent:calf_clot"]
    assert screen(recovery, "the tube, darling, it's fine, I'm just asking about the bag") == [None]
