"""Reading a caller turn the way a person would: the small signals around the facts.

People do not answer in forms. They say several things at once ("two oat milks to 12 Baker
Street"), hedge ("um, I think it's..."), correct themselves ("actually make it three", "no, I said
Tuesday"), point back ("two of those", "how much is it?"), ask the agent to repeat or slow down,
or just say "ok". The functions here read those signals from one turn; the dialogue manager
(:mod:`.dialogue`) decides what they mean in the state of the conversation.

* :func:`meta_request`: "say that again", "slower please", "hold on";
* :func:`yes_no`: yes, no, or a mere acknowledgement ("ok thanks"), with how clear it was;
* :func:`is_correction`, :func:`is_question`, :func:`drop_negated`;
* :func:`strip_fillers`: "I just said, 12 Baker Street" -> "12 Baker Street";
* :func:`resolve_references`: "two of those" -> "two oat milk" when oat milk was just discussed;
* :func:`find_values`: every typed value a turn gives, each taken from its own span of the words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from .numbers import say_digits
from .text import clauses, normalise, words
from .values import FieldKind, Parsed, parse_value

Meta = Literal["repeat", "slower", "wait", "presence"]

# ------------------------------------------------------------------ fillers
_FILLER_WORDS = r"(?:um+|uh+|uhm|erm?|ah+|hmm+|mm+|oh|so|well|like|right|yeah|yes|no|nope|nah|oops|ok|okay|sorry|actually|basically|look|listen|now)"
_LEAD_INS = (
    r"(?:i(?: just)? said|like i said|as i said|i told you|i already (?:said|told you)|i think|i guess|i believe|"
    r"i suppose|i mean|maybe|probably|let me think|let's see|let me see|you know|it's|its|it is|it'll be|that's|that is|"
    r"it should be|should be|make it|make that|change it to|change that to|i'd say|how about|what about|"
    r"my (?:\w+ )?(?:is|would be)|the (?:\w+ )?is)"
)
_LEADING = re.compile(rf"^(?:(?:{_FILLER_WORDS}|{_LEAD_INS})\b[\s,.:;!-]*)+")
_TRAILING = re.compile(
    r"(?:[\s,.]+(?:please|thanks|thank you|cheers|ta|i think|i guess|i believe|if that's ok(?:ay)?|if possible|"
    r"or so|you know|ok|okay|right|yeah|innit|like|or whatever|or something|and that|and stuff|"
    r"(?:as )?quick as you can|as soon as (?:you can|possible)|asap|if you can|when you can|love|mate|dear))+[\s.!?]*$"
)


def strip_fillers(text: str) -> str:
    """The value part of an answer: hesitations, lead-ins ("I just said", "I think it's") and
    polite tails ("please") removed. Returns the text unchanged when nothing else would be left."""
    s = " ".join(text.replace("’", "'").split()).strip(" ,.!?")
    stripped = _TRAILING.sub("", _LEADING.sub("", s.lower()))
    if not stripped.strip(" ,.!?"):
        return s
    # keep the caller's capitals: cut the same number of characters from the original
    start = s.lower().find(stripped.strip(" ,.!?")[:12]) if stripped else 0
    kept = s[max(0, start) : max(0, start) + len(stripped.strip(" ,.!?"))]
    return kept.strip(" ,.!?") or s


# ------------------------------------------------------------------ talk about the talk
_REPEAT = re.compile(
    r"\b(?:what(?:'d| did) (?:you|ya|u) (?:just )?say (?:the|that|those|these|it|my|your) (?:[a-z']+ ){0,3}?(?:was|were|is|are|cost|costs|came to)|"
    r"say (?:that|it|this) (?:again|one more time)|repeat (?:that|it|this|yourself)|(?:can|could|would) you repeat|come again|"
    r"pardon(?: me)?|what (?:was|did) (?:that|you say)|what did you (?:just )?say|"
    r"(?:didn't|did not|don't|do not) (?:quite |really )?(?:catch|hear|get|follow|understand) (?:that|it|you|what you said|all (?:of )?that|the (?:end|last bit))|"
    r"missed (?:that|it|what you said|the (?:end|last bit|first bit)(?: of (?:it|that))?)|(?:you )?lost me(?: there)?|"
    r"go (?:over|through) (?:that|it) again|run (?:that|it) (?:by|past) me again|one more time|say again|once more|i beg your pardon)\b"
)
_BARE_WHAT = re.compile(r"^(?:sorry|what|huh|eh|pardon|excuse me|sorry what|what's that|you what)\W*$")
_SLOWER = re.compile(r"\b(?:slow(?:er| down)|(?:more )?slowly|too fast|(?:so|very|really) fast|not so fast)\b")
_WAIT = re.compile(
    r"\b(?:(?:hold on|hang on|wait|bear with me)(?: (?:a|one|just a) (?:sec(?:ond)?|moment|minute|mo))?|"
    r"(?:one|just a|give me a) (?:sec(?:ond)?|moment|minute|mo)|"
    r"(?:let me|lemme|i'll|i need to|i have to|i've got to|gotta) (?:just )?(?:go and )?(?:find|check|get|grab|look(?: for| up)?|dig (?:out|up)|fetch)"
    r"(?: (?:my|the|that|this|it|them|those|a|an|some|your|our)(?: [a-z']+){0,6})?)\b"
)
# Why the caller asks to wait or to hear it again: said after the request, and no value in it.
_META_REASON = re.compile(
    r"\b(?:(?:i'm|i am|we're) (?:in the car|driving|on the (?:road|bus|train|motorway|highway)|outside|walking|"
    r"a (?:bit|little) (?:deaf|hard of hearing)|hard of hearing)|(?:the )?line(?:'s| is) (?:bad|terrible|awful|poor|crackly)|"
    r"(?:you're|you are) breaking up|(?:it's|it is) (?:noisy|loud|windy) here|bad (?:line|signal|reception)|"
    r"(?:my )?english (?:is not|isn't) (?:so |very )?good|i'm writing (?:it|this|that) down|writing (?:it|this) down|"
    r"my (?:ears|hearing) (?:aren't|are not|isn't|is not) what (?:they|it) (?:were|was|used to be)|"
    r"(?:my )?(?:ears|hearing)(?:'s|'re| is| are)? (?:bad|poor|going|not (?:great|good|the best|brilliant|so good|what it was))|"
    r"i'm (?:not )?(?:as young as i was|getting on|old)|(?:i'm|i am) (?:a bit |a little )?slow|"
    r"(?:the|my) (?:kettle|tv|telly|television|radio|baby|dog|kids?|hoover|vacuum|washing machine|traffic|wind|bus|train|"
    r"lorry|truck|music|doorbell|phone)(?:'s| (?:was|were|is|are|went|started))(?: (?:going|on|off|barking|crying|screaming|loud|blaring|ringing))?|"
    r"(?:it's|it is|it was) (?:so |really |too )?(?:noisy|loud)(?: here| in here)?|someone (?:was|is) talking)\b"
)
_VOCATIVE = r"love|mate|dear|pet|hun|honey|sir|madam|ma'am|man|buddy|pal|darling|son"
_NOT_META = re.compile(r"[a-z]{3,}")


def meta_request(text: str) -> Meta | None:
    """A request about the conversation itself, when that is all the turn says."""
    s = normalise(text, digits=False).strip()
    # "pardon dear, could you say that again a bit slower": several requests in one turn; slower wins
    found = [(kind, pattern) for kind, pattern in (("slower", _SLOWER), ("repeat", _REPEAT), ("wait", _WAIT)) if pattern.search(s)]
    if found:
        rest = s
        for _, pattern in found:
            rest = pattern.sub(" ", rest)
        rest = _META_REASON.sub(" ", rest)  # every way the turn says it, and why
        rest = re.sub(
            rf"\b(?:{_FILLER_WORDS}|{_VOCATIVE}|please|can you|could you|would you|you|that|it|a bit|little|i|sorry|what|said|"
            r"again|bit|and|say|go|talk|speak|just|more|for me|quite|there|the|of|all|bit|this time|time|these days|nowadays|"
            r"lately|any ?more)\b", " ", rest,
        )
        if not _NOT_META.search(rest):
            return found[0][0]  # type: ignore[return-value]
        # "hold on a sec, it's in my emails somewhere": a wait whose reason is the caller's own words
        if (found[0][0] == "wait" and _WAIT.match(_WAIT_OPENER.sub("", s)) and len(rest.split()) <= 8 and not re.search(r"\d", normalise(rest)) and not is_question(rest)
                and not REQUEST_VERB.search(rest) and not _CORRECTION.search(rest) and not re.search(r"\b(?:change|cancel|wrong)\b", rest)):
            return "wait"
    if _BARE_WHAT.match(s):
        return "repeat"
    if _PRESENCE.search(s) and not _NOT_META.search(_PRESENCE_WORDS.sub(" ", _PRESENCE.sub(" ", s))):
        return "presence"
    return None


_WAIT_OPENER = re.compile(rf"^(?:(?:please|{_FILLER_WORDS}|{_VOCATIVE})\b[\s,.]*)+")
# "hello? you still there?", "is anyone there", "can you hear me": is the agent still on the line
_PRESENCE = re.compile(
    r"\b(?:(?:are )?(?:you|ya|u) (?:still )?(?:there|with me|on the line)|(?:is )?(?:any|some)(?:one|body) (?:still )?there|"
    r"(?:can|could|do) you (?:still )?hear me|(?:have|did) (?:i|we) (?:lose|lost) you|(?:have|did) you (?:gone|go) (?:away|quiet)|"
    r"(?:you've|have you) gone quiet|is this thing on|hello hello)\b"
)
_PRESENCE_WORDS = re.compile(rf"\b(?:hello|hi|hiya|hey|helloo+|{_FILLER_WORDS}|{_VOCATIVE}|still|there|please|sorry|at all|now)\b")


# An aside to someone in the room ("sorry, I was talking to my son, not you"; "hang on, kids") and
# "where was I": neither answers nor corrects what the agent asked.
_ASIDE_TO_ROOM = re.compile(
    r"(?:\b(?:sorry|oh|um+|uh+)[\s,.]+)*\b(?:(?:i was|i'm|i am|was) (?:just )?(?:talking|speaking|shouting|saying that) to (?:my|the|our|me) [a-z]+"
    r"(?:,? not (?:to )?you)?|(?:sorry,? )?not (?:talking to )?you(?:,? (?:love|dear|sorry|mate|son))?(?=[\s,.!]|$)|"
    r"(?:hang on|hold on|wait|shush|quiet|be quiet|stop that|put that down),? (?:kids|boys|girls|guys|you lot|children|love|darling|sweetheart)(?:[\s,]+(?:i'm|i am) on the phone)?)\b[\s,.!]*"
    r"|\b(?:where was i|where were we|what was i saying)\b[\s,.?!]*"
)


def without_asides(text: str) -> str:
    """The turn without what the caller said to someone else in the room, or to themselves:
    "sorry i was talking to my son not you, where was i, two please" -> "two please". "" when
    the turn was nothing else."""
    s = " ".join(text.replace("’", "'").split())
    kept = _ASIDE_TO_ROOM.sub(" ", s.lower())
    if kept == s.lower():
        return text
    return " ".join(kept.split()).strip(" ,.")


_FAREWELL = re.compile(
    r"\b(?:bye|goodbye|good bye|bye bye|see you|see ya|take care|cheerio|so long|night night|"
    r"(?:you |you all )?have a (?:good|nice|great|lovely|blessed|wonderful) (?:day|one|evening|night|weekend|afternoon)|"
    r"have a good one|have a nice one|talk (?:to you )?(?:later|soon)|that's all|that's everything|that's it for now|"
    r"i'll let you go|i'll leave it there)\b"
)
_LEAVING_WORDS = re.compile(
    r"\b(?:ok|okay|alright|all right|right|well|thanks|thank you|thanks very much|thank you very much|cheers|great|lovely|"
    r"then|so|anyway|and|oh|ah|um|uh|er|no|nope|nah|yes|yeah|actually|now|for now|love|mate|dear|all|for (?:all )?your help|"
    r"very much|so much|a lot|a million|i'll (?:just )?(?:do it|order it|sort it|try)(?: (?:in|on|through|via) the (?:app|website|site)| online| myself| later)?|"
    r"i'll (?:call|ring|phone) (?:you )?(?:back|later)|in the app|online|"
    r"never ?mind|forget it|forget about it|don't bother|leave it|scrap that|cancel (?:it|that)|i'm done|that's fine)\b"
)


def farewell(text: str) -> bool:
    """The caller is leaving: the turn says goodbye and nothing but thanks, acknowledgements or "never
    mind" around it ("alright then, y'all have a blessed day now, bye"; "actually never mind, bye")."""
    s = normalise(text, digits=False)
    if not _FAREWELL.search(s):
        return False
    rest = _LEAVING_WORDS.sub(" ", _FAREWELL.sub(" ", s))
    return not re.search(r"[a-z0-9]", rest)


# ------------------------------------------------------------------ small talk, and "what can you do?"
_SMALL_TALK = re.compile(
    r"\b(?:how (?:are|r) (?:you|ya|things|we)(?: (?:doing|keeping|getting on|today|this morning|this afternoon))*"
    r"(?!\s+(?:going|gonna|planning|able|supposed|meant|to|it|that|this|with|for|about|on)\b)|"
    r"how(?:'s| is| has) (?:it going|things|life|everything|your day|your morning|your week|your weekend)(?: (?:going|been|treating you))?|"
    r"how (?:was|were) (?:your|the|ur) (?:long )?(?:weekend|holiday|holidays|day|week|break|christmas|thanksgiving|easter|bank holiday)|"
    r"did (?:you|ya) (?:have|get|enjoy) (?:a |the |your )?(?:nice |good |lovely |great |decent |relaxing )?"
    r"(?:long )?(?:weekend|holiday|holidays|day off|break|time off)|"
    r"hope (?:you(?:'re| are)|you've been|ya) (?:well|ok|okay|keeping well|good|having a (?:good|nice) (?:day|week|one))|"
    r"(?:you|ya|u) (?:alright|all right|ok|okay|well)(?! (?:with|to|if|for)\b)|how do you do|how you doing|how ya doing|"
    r"what's up|wassup|how(?:'s| is) the weather|(?:lovely|nice|horrible|awful|terrible|miserable|grim|glorious) "
    r"(?:weather|day) (?:today|out there|isn't it|innit|eh)?)\b"
)
# What may stand beside small talk and still leave nothing to answer: greetings, names and fillers.
_CHAT_WORDS = re.compile(
    r"\b(?:hi|hiya|hello|hey|hey there|hi there|good (?:morning|afternoon|evening)|g'day|morning|afternoon|evening|"
    r"hen|love|dear|mate|pal|darling|hun|sir|madam|ma'am|man|bro|there|ha|haha|lol|oh|ah|um|uh|er|so|well|anyway|"
    r"anyways|yeah|yes|ok|okay|right|then|thanks|thank you|honestly|and|just|lovely|great|nice|good|fine|cheers|"
    r"i'm|im|i am|well thanks|good thanks|fine thanks|not bad|cannae complain|can't complain|yourself|you|and you|"
    r"by the way|btw|the|a)\b"
)


def small_talk(text: str) -> str | None:
    """What is left of a turn once its small talk is set aside ("g'day how was your long weekend
    anyway i'm after some sourdough": "anyway i'm after some sourdough"; "" when it was nothing but
    small talk), or None when the turn has none."""
    s = normalise(text, digits=False)
    if not _SMALL_TALK.search(s):
        return None
    rest = " ".join(_SMALL_TALK.sub(" ", s).split()).strip(" ,.;!?")
    if not re.search(r"[a-z0-9]", _CHAT_WORDS.sub(" ", rest)):
        return ""
    while (lead := _CHAT_WORDS.match(rest)) is not None and lead.group() not in ("the", "a", "you", "i'm", "i am", "im") and lead.end() < len(rest):
        # "hiya anyway is the shop open": the greeting and the "anyway" go too
        rest = rest[lead.end() :].lstrip(" ,.;!?")
    return rest


_CAPABILITIES = re.compile(
    r"\bwhat (?:(?:else|exactly|all) )?(?:can|do|could|will) (?:you|ya|u|this line|this service|this number) "
    r"(?:(?:actually|even|exactly|really) )?(?:do|help (?:me |us )?with|help with|handle|deal with|sort out|sort)\b|"
    r"\bwhat (?:(?:else|sort of things?|kind of things?) )?(?:can|could|should) i (?:ask|call) (?:you )?(?:about|for)\b|"
    r"\bwhat (?:is|'s) this (?:line|number|service) (?:for|about)\b|\bwhat (?:are|is) (?:you|this) (?:for|able to do)\b|"
    r"\bwhat (?:services|options) (?:do|have) you\b|\bhow (?:does|do) this (?:work|line work|service work)\b"
)


def asks_capabilities(text: str) -> bool:
    """The caller asks what the agent can do ("i've never rung before, what can you actually do?")."""
    s = normalise(text, digits=False)
    asked = _CAPABILITIES.search(s)
    # "what can you do about my late order?" asks for something to be done, not what the agent does
    return asked is not None and not re.search(r"[a-z0-9]", _AFTER_CAPABILITIES.sub(" ", s[asked.end() :]))


_AFTER_CAPABILITIES = re.compile(
    r"\b(?:for me|for us|for people|here|exactly|then|actually|please|love|mate|dear|then|like|on this line|on here|"
    r"over the phone|by phone|anyway|and what can't you|and what you can't|and what not)\b"
)


# ------------------------------------------------------------------ yes, no, ok
_ACK = re.compile(
    r"^(?:(?:ok(?:ay)?|alright|all right|right|thanks|thank you|cheers|got it|i see|great|cool|fine|lovely|grand|brilliant|"
    r"champion|smashing|cracking|ace|magic|super|wonderful|that'll do|that will do|sounds grand|"
    r"mm+|mhm|uh huh|hmm+|oh)[\s,.!]*)+$"
)
_AMBIGUOUS = re.compile(
    r"^(?:ok(?:ay)?|alright|all right|right|fine|mm+|mhm|uh huh|i guess|maybe|sure i guess|lovely|grand|brilliant|great|"
    r"champion|smashing|cracking|ace|magic|super|wonderful|that'll do|that will do|sounds grand)[\s,.!]*$"
)
_STRONG_YES = re.compile(
    r"\b(?:yes|yeah|yep|yup|ya|aye|correct|exactly|absolutely|definitely|of course|please do|go ahead|do it|"
    r"that's right|that is right|that's correct|sounds good|that works|that's fine|perfect|sure|certainly|yes please|"
    r"that's it|that's the one|spot on|bang on|go for it|you got it|go on then|go on|aye|righto|sure thing|"
    r"yeh|yah|yas|yass|yessir|ja|yebo|haan|opo)\b"
)


@dataclass(frozen=True, slots=True)
class YesNo:
    value: bool | None  # None: neither (or both)
    clear: bool  # a clear answer ("yes please") rather than an acknowledgement ("ok") or a hedge
    ack: bool  # only an acknowledgement: "ok", "ok thanks", "cheers"


# A hedged yes ("I suppose so", "yeah I guess so", "if you like"): a yes, but not a clear one.
_WEAK_YES = re.compile(
    r"^(?:(?:yeah|yes|yep|ok(?:ay)?|alright|well|um+|uh+|er+m?|oh|hmm+|i mean|go on then)[\s,.]+)*"
    r"(?:i (?:guess|suppose|reckon|think)(?: so)?|(?:guess|suppose|reckon) so|i should think so|might as well|"
    r"why not|if you (?:like|want|think so|think i should)|if (?:it|that) helps|could do|i don't see why not|sure i guess)"
    r"(?:[\s,.]+(?:yeah|yes|yep|ok(?:ay)?|so|then|i guess|i suppose|go on|why not))*$"
)


def yes_no(text: str) -> YesNo:
    s = normalise(text, digits=False).strip(" .!?,")
    if _WEAK_YES.match(s):
        return YesNo(True, False, False)
    if _ACK.match(s):
        return YesNo(True if _AMBIGUOUS.match(s) else None, False, True)
    parsed = parse_value("yes_no", text)
    if parsed is None:
        return YesNo(None, False, False)
    clear = parsed.value is False or bool(_STRONG_YES.search(s))
    return YesNo(bool(parsed.value), clear, False)


# ------------------------------------------------------------------ corrections, questions
_CORRECTION = re.compile(
    r"^(?:no|nope|nah|not|sorry|oops|wait)\b.*?\b(?:i said|i meant|i mean|it's|its|it is|it should be|should be|"
    r"make it|make that|change|instead|not|i want|i wanted|i asked for)\b"
    r"|^not \w+(?: \w+)?,"
    r"|\b(?:actually|i meant|i mean|sorry i meant|make (?:it|that)|change (?:it|that|the \w+) to|instead|rather|"
    r"correction|not \w+(?: \w+)?,? (?:but|it's|its)|i said|i asked for|scratch that|on second thought|"
    r"go back to|back to (?:\d+|the|my)|(?:change|put|make) (?:it|that) back)\b"
)
_QUESTION_START = re.compile(
    r"^(?:(?:and|but|so|oh|wait|sorry|also|um|uh|er|erm|quick question|one more thing|actually|hey|hang on|hold on|"
    r"by the way|before that|before i forget|while i remember|while i think of it|one other thing|another thing|just|ok|okay|right|"
    r"well|then|mate|love|listen|look|hi|hiya|hello|hey there|hi there|g'day|good morning|good afternoon|good evening|"
    r"morning|afternoon|evening|please|excuse me|hmm|ha|lovely|right then)[\s,]+)*"
    r"(?:what|what's|whats|when|where|where's|how|how's|why|which|who|whose|is|are|am|do|does|did|can|could|will|would|"
    r"should|shall|have|has|any|is there|are there|may|might|must)\b"
)


def is_correction(text: str) -> bool:
    s = normalise(text, digits=False)
    return bool(_CORRECTION.search(s) or _CORRECTION.search(_EXCLAIM.sub("", s)))


def is_question(text: str) -> bool:
    s = normalise(text, digits=False).strip()
    return s.endswith("?") or any(_QUESTION_START.match(c) for c in clauses(s) or [s])


_DENIAL = re.compile(r"^(?:(?:and|but|so|um|uh|well)\s+)*(?:i (?:don't|do not|haven't|have not|didn't) (?:have|got|get|feel)|no |not |there's no |there is no |i've not got)")
_LEAD_IN = re.compile(r"^(?:(?:and|but|so|um|uh|well|hi|hello|ok|okay)\s+)*(?:i (?:just )?(?:wanted|want|would like|was wondering|wonder) (?:to (?:know|ask|check) )?|i have a question(?: about)?|quick question|can you tell me)\s*")


_FEELING = re.compile(
    r"^(?:(?:and|but|so|um|uh|oh|well)\s+)*i'?m (?:really |so |very |a bit |quite |getting )?"
    r"(?:scared|worried|frightened|terrified|anxious|nervous|concerned|upset|confused|panicking|stressed)"
    r"(?: about (?:this|it|that))?$"
)


_CONTENT = re.compile(r"[a-z0-9]{3,}")


def request_part(text: str) -> str:
    """A turn without the acknowledgements before its request ("ok fair enough, who will win the
    election" -> "who will win the election"), for matching intents. A price asked the way a search
    box is typed is the question it stands for ("oat milk price please" -> "how much is oat milk")."""
    s = normalise(text, digits=False)
    parts = clauses(s)
    while len(parts) > 1 and (_ACK.match(parts[0]) or _ASIDE.match(parts[0])):
        parts = parts[1:]
    parts = [_PRICE_BOX.sub(r"how much is \g<thing>", c) for c in parts]
    return ", ".join(parts) if parts else s


_PRICE_BOX = re.compile(
    r"^(?P<thing>(?:(?!(?:what|what's|how|is|are|do|does|can|could|i|i'm|my|your|and|the)\b)[a-z']+ ){0,3}"
    r"(?!(?:what|what's|how|is|are|the)\b)[a-z']+) (?:price|prices|cost|costs)(?= please$| then$| thanks$|$)"
)


_ASIDE = re.compile(
    r"^(?:(?:ok(?:ay)?|alright|right|fine|fair enough|great|cool|lovely|thanks|thank you|cheers|oh|well|hi|hiya|hello|"
    r"hey|sorry|before you do|one more thing|quick one|quick question|by the way|hang on|hold on|wait)[\s,.!]*)+$"
)


def question_part(text: str) -> str:
    """What a turn asks, for searching the documents: denials ("I don't have a fever"), feelings
    ("I'm really scared") and lead-ins ("I just wanted to know") removed; what the caller
    describes stays, because "is that normal?" means nothing without it."""
    s = normalise(text, digits=False)
    asked = _ASKED_AFTER.search(s)
    if asked is not None and len(asked.group("question").split()) >= 3 and not _POINTS_BACK.match(asked.group("question")):
        # "no chest pain or nothing like that no fever i'm fine i just wanna know when i can get in the
        # bath": a recogniser writes no commas; what comes after "I want to know" is the question
        s = asked.group("question")
    parts = [c for c in clauses(s) if not _DENIAL.match(c) and not _FEELING.match(c) and not _ASIDE.match(c)]
    parts = parts or clauses(s) or [s]
    return " ".join(_LEAD_IN.sub("", c) for c in parts).strip() or text


_POINTS_BACK = re.compile(r"^(?:(?:is|was|does|do|should|can|will) )?(?:that|it|this|those|these|they)\b")  # "is that normal?" needs what came before
# A lead-in in the middle of a turn: the question follows it ("... anyway what i wanted to ask was ...")
_ASKED_AFTER = re.compile(
    r"(?:\w+\W+){3,}?(?:i (?:just |only |really )?(?:wanted|want|wanna|would like|'d like|need|needed) (?:to )?"
    r"(?:know|ask|check)(?: (?:if|whether))?|i was (?:just )?wondering(?: if| whether)?|"
    r"(?:my|the) question (?:is|was)|what i (?:wanted|want|wanna|meant) to (?:ask|know) (?:is|was))\s+(?P<question>.+)$"
)


_NOT_THIS_BUT = re.compile(r"\bnot\s+(?P<wrong>[^,.;]+?)\s*(?:,|\bbut\b|\bit's\b|\bits\b)\s*(?P<right>.+)$", re.I)
_THIS_NOT = re.compile(r"^(?P<right>.+?)[\s,]+not\s+(?P<wrong>[^,.;]+)$", re.I)


def drop_negated(text: str) -> str:
    """The part of a correction that is meant: "not Elm Street, Elm Road" -> "Elm Road"."""
    if m := _NOT_THIS_BUT.search(text):
        return m.group("right").strip(" ,.")
    if m := _THIS_NOT.search(text):
        return m.group("right").strip(" ,.")
    return text


def replaced_part(text: str, values: Mapping[str, str]) -> tuple[str, str] | None:
    """"No, it's 21, not 12" read against what was heard: the one value that holds "12" as words of
    its own, with "21" in their place ("12 Baker Street" -> "21 Baker Street"), as (name, new text).
    None when no value, or more than one, holds the part turned down. The new part may be said with
    the words around it ("oh shoot, it's fourteen Elm Street, not four": "4 Elm Street" -> "14 Elm Street")."""
    s = _EXCLAIM.sub("", normalise(text).rstrip(" .!?"))
    match = _NOT_THIS_BUT.search(s) or _THIS_NOT.search(s)
    if match is None:
        return None
    right = re.sub(rf"\b(?:{_VOCATIVE})\b", " ", strip_fillers(_EXCLAIM.sub("", match.group("right").strip(" ,."))))
    right = " ".join(_SAYS_IT_IS.split(right)[-1].split()).strip(" ,.")  # "crap, it's Cedar Avenue": what it is
    wrong = match.group("wrong").strip(" ,.")
    if not right or not wrong or len(right.split()) > 4:
        return None
    part = re.compile(rf"(?<![\w]){re.escape(wrong)}(?![\w])", re.I)
    holding = [name for name, value in values.items() if value and part.search(normalise(str(value)))]
    if len(holding) != 1:
        return None
    name = holding[0]
    value = str(values[name])
    plain = normalise(value)
    found = part.search(plain)
    assert found is not None
    start, end = found.span()
    # "no, I said Oak Road, not street": the words the right part repeats from before the part turned
    # down are replaced with it ("7 Oak Street" -> "7 Oak Road", not "7 Oak Oak Road")
    said = right.lower().split()
    before = plain[:start].split()
    while len(said) > 1 and before and before[-1] == said[0]:
        start = plain.rfind(before.pop(), 0, start)
        said = said[1:]
    # ... and from after it ("14 Elm Street, not 4" -> "14 Elm Street", not "14 Elm Street Elm Street")
    after = plain[end:].split()
    kept = next((k for k in range(min(len(after), len(said) - 1), 0, -1) if said[-k:] == after[:k]), 0)
    for word in after[:kept]:
        end = plain.index(word, end) + len(word)
    return name, value[:start] + right + value[end:]


# What a caller exclaims before putting it right: "oh shoot", "dang", "my bad"
_EXCLAIM = re.compile(
    r"^(?:(?:oh|ah|aw|ugh|argh|shoot|dang|darn|damn|dammit|crap|heck|bugger|bother|shucks|gosh|golly|jeez|geez|blimey|"
    r"crikey|whoops|oops|dear me|my bad|my mistake|silly me|apologies|sorry about that|so sorry|hmm+|um+|uh+|er+m?)\b[\s,.!-]*)+",
    re.I,
)
_SAYS_IT_IS = re.compile(r"\b(?:it's|its|it is|it should be|should be|i said|i meant|i mean|make it|make that)\b")


# ------------------------------------------------------------------ references
_PRONOUN = r"(?:those|them|these|that one|this one|that|this|it|they|the same)"
_REFERENCES = [
    re.compile(rf"\b(?P<n>\d+|a couple|a few|some|one|two|three|four|five|six|seven|eight|nine|ten|a dozen) of {_PRONOUN}\b"),
    re.compile(rf"\b(?P<verb>take|have|get|order|buy|want|try|grab|add) (?:one of )?{_PRONOUN}\b"),
    re.compile(rf"\bhow much (?P<verb>is|are|does|do|would|will) {_PRONOUN}\b"),
    re.compile(rf"\b(?P<verb>is|are|was|were) {_PRONOUN}\b(?= (?:in stock|available|gluten|vegan|organic|fresh|any good|on sale|nut|dairy|free))"),
    # "I'll take one", "I'll have two then": a count with nothing after it counts the thing just named
    re.compile(r"\b(?P<verb>take|have|get|order|buy|want|try|grab|add) (?P<n>one|two|three|four|five|six|a couple|a few|\d+)"
               r"(?=\s*(?:[,.;!?]|$|please\b|then\b|thanks\b|too\b|as well\b))"),
]


# "two of the second one", "the first ones", "the latter": a thing by its place among those talked about
_ORDINAL = re.compile(
    r"\b(?:(?P<n>\d+|a couple|a few|some|one|two|three|four|five|six|seven|eight|nine|ten|a dozen) of )?"
    r"(?:the|that|those) (?:(?P<which>first|second|third|fourth|last|1st|2nd|3rd|4th|other) (?:one|ones|thing|things|kind|item)"
    r"|(?P<formal>former|latter))\b"
)
_PLACES_IN_LIST = {"first": 0, "1st": 0, "former": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "fourth": 3, "4th": 3, "last": -1, "latter": -1}


def resolve_references(text: str, referent: str | None, mentioned: Sequence[str] = ()) -> str:
    """Put the thing just talked about in place of "those", "it" or "one" ("two of those" ->
    "2 oat milk"), and a thing named by its place among those talked about (``mentioned``, in the
    order they came up) in place of "the second one" or "the other one". Unchanged when there is no
    referent or no reference."""
    found = _ORDINAL.search(normalise(text, digits=False)) if mentioned else None
    if found is not None:
        which = found.group("which") or found.group("formal")
        # "the other one": of two things talked about, the one not talked about last
        at = _PLACES_IN_LIST.get(which, -2 if len(mentioned) == 2 and referent == mentioned[-1] else len(mentioned))
        if -len(mentioned) <= at < len(mentioned) and (which in ("last", "latter", "other") or len(mentioned) > 1):
            thing = " ".join(v for v in (found.group("n"), mentioned[at]) if v)
            return found.string[: found.start()] + thing + found.string[found.end() :]
    if not referent:
        return text
    s = normalise(text, digits=False)
    out = s
    for pattern in _REFERENCES:
        match = pattern.search(out)
        if match is None:
            continue
        head = " ".join(v for v in (match.groupdict().get("verb"), match.groupdict().get("n")) if v)
        replacement = f"{head} {referent}" if pattern is not _REFERENCES[2] else f"how much {head} {referent}"
        out = out[: match.start()] + replacement + out[match.end() :]
        break
    return out


# ------------------------------------------------------------------ values from one turn
_STREET = (
    r"street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|place|pl|way|terrace|circle|highway|"
    r"hwy|parkway|pkwy|square|sq|crescent|close|trail|alley|plaza|row|walk|grove|hill|gardens|mews"
)
_ADDRESS_SPAN = re.compile(rf"\b(?P<addr>\d+[a-z]?(?: [a-z][a-z']*){{1,4}}? (?:{_STREET})\b(?:,? (?:apartment|apt|flat|unit|suite) \w+)?)")
_CITY_AFTER = re.compile(r"^,\s*(?P<city>[a-z][a-z ]{2,30}?)(?=$|[,.;!?]| and | please| tomorrow| today| at | thanks)")
_CITY_AFTER_ANSWER = re.compile(r"^,?\s*(?P<city>[a-z][a-z ]{2,30}?)(?=$|[,.;!?]| and | please| tomorrow| today| at | thanks)")
# words no town is made of: what follows an address is then something else ("quick as you can", "innit")
_NOT_TOWN = frozenset(
    "as you can quick quickly soon possible please thanks cheers ta innit yeah yes like or whatever something it is "
    "was the that this i i'm my me mate love dear asap if when just now today tomorrow tonight ok okay right".split()
)
_WHEN_SPAN = re.compile(
    r"\b(?:(?:on|this|next|coming|for|by)\s+)?(?:day after tomorrow|tomorrow|today|tonight|next week|"
    r"(?:mon|tues|wednes|thurs|fri|satur|sun)day)(?:\s+(?:morning|afternoon|evening|night))?\b"
    r"|\b(?:at|by|around|about|from|after|before)\s+\d{1,2}(?:[:.]\d{2})?(?:\s*(?:[ap]\.?\s?m\.?|o'?clock))?"
    r"(?:\s+(?:in the (?:morning|afternoon|evening)|tonight|at night))?\b"
    r"|\b\d{1,2}(?:[:.]\d{2})?\s*(?:[ap]\.?\s?m\.?|o'?clock)\b"
    r"|\bin the (?:morning|afternoon|evening)\b|\b(?:noon|midday|midnight)\b"
)
_PHONE_SPAN = re.compile(r"\+?\d[\d\s-]{8,}\d")
_EMAIL_SPAN = re.compile(r"\S+@\S+|\b\S+ at \S+ dot \S+")
_QUANTITY_WORDS = {"a": 1, "an": 1, "one": 1, "a couple of": 2, "a couple": 2, "couple of": 2, "a pair of": 2,
                   "half a dozen": 6, "a dozen": 12, "dozen": 12, "a few": 3, "just the one": 1, "the one": 1,
                   "just one": 1, "a single": 1, "a pair": 2}  # fmt: skip
_QUANTITY = re.compile(
    r"\b(?:half a dozen|a couple of|a couple|couple of|a pair of|a dozen|a few|a single|an?|one)\b(?= [a-z])"
    r"|\b(?:just the one|the one|just one|a pair|a couple|a dozen|half a dozen)\b"
)
_ABOUT = re.compile(r"\b(?:about|regarding|concerning|because of|because|to discuss|to talk about)\s+(?P<topic>.{3,})$")
_QUANTITY_NAMES = ("quantity", "qty", "count", "how_many", "number_of", "amount_of", "items")
# where a noun phrase ends ("oat milk | delivered to ...")
_BOUNDARY = frozenset(
    "delivered deliver sent send shipped to for at by on in from please thanks thank tomorrow today "
    "tonight and asap now instead then but because so if with when which that who "
    "she's he's it's they're we're i'm you're she he they we i over round across brought bring brung".split()
)
_GENERIC_FRAME = frozenset(
    "i i'd i'll i'm id ill im me my we our you your can could would will may might please just want wanted wanna need like "
    "love get got have has had buy order ordering purchase take grab looking look find search searching for sell "
    "sells selling stock stocked there is are any some do does did a an the of to um uh er so well ok okay "
    "yeah yes also and maybe think guess hi hello hey actually still great cool lovely perfect thanks "
    "no nope nah not make change changed instead said meant mean sorry rather wait oops correction it that them "
    "those these this one ones same but only what about how hiya morning afternoon evening there please "
    "it's its that's there's here's what's i've we're you're they're let's lemme gonna wanna gotta y'all yall ya "
    "guys folks mate dear oh um uh er erm hmm ah hey as always usual usually again too address details postcode zip "
    "wondering around approximately much many "
    # what is asked of a thing, not a thing: "order status", "any tracking on it"
    "status tracking update updates prices costs".split()
)
_CONTAINERS = frozenset(
    "box boxes loaf loaves bottle bottles pack packs packet packets carton cartons bag bags tin tins can cans jar jars "
    "bunch bunches tub tubs case cases dozen punnet punnets slice slices piece pieces".split()
)


@dataclass(frozen=True, slots=True)
class Found:
    """A value found in a turn, and the characters of the normalised turn it came from."""

    parsed: Parsed
    span: tuple[int, int] | None = None


def noun_phrase(text: str, frame: frozenset[str] | set[str] = frozenset()) -> str | None:
    """The thing a request names: "hiya, can I buy two loaves of sourdough please" -> "sourdough".

    The turn is cut into runs of content words (request words, numbers and fillers between them),
    and the run most like the thing asked for wins: one that follows a quantity ("one box of
    eggs") or a word asking for it ("do you have eggs"), not one that follows a place word ("to my
    office"); on a tie, the first. A container is not the thing ("two boxes of eggs" -> "eggs",
    "two sourdough loaves" -> "sourdough").
    """
    found = thing_named(text, frame)
    return found[0] if found else None


def thing_named(text: str, frame: frozenset[str] | set[str] = frozenset()) -> tuple[str, str] | None:
    """The thing a request names, and the words it was asked for in: "two boxes of eggs" ->
    ("eggs", "boxes of eggs"). The first is the value (what a tool gets); the second is what the
    agent reads back, so "two boxes of eggs" is not read back as "two eggs"."""
    said = _IDIOMS.sub(" ", normalise(text, digits=True))
    skip = _GENERIC_FRAME | _REQUEST_WORDS | _COUNTS | set(frame)
    phrase = _best_run(words(said), skip)
    if not phrase:
        return None
    while phrase and phrase[-1] == "of":
        phrase.pop()
    as_said = " ".join(phrase)
    while len(phrase) > 2 and phrase[1] == "of" and phrase[0] in _CONTAINERS:  # "boxes of eggs" -> "eggs"
        phrase = phrase[2:]
    if len(phrase) > 1 and phrase[-1] in _CONTAINERS:  # "sourdough loaves" -> "sourdough"
        phrase = phrase[:-1]
    thing = " ".join(phrase)
    return (thing, as_said or thing) if thing else None


# Words that ask for a thing: what follows them is the thing ("do you have eggs", "I'd like salmon").
REQUEST_VERB = re.compile(
    r"\b(?:have|got|sell|sells|stock|stocks|carry|carries|order|buy|get|want|like|take|send|deliver|need|looking for|find|"
    r"bring|grab|try|ordering|buying|how much (?:is|are|does|do|for)|price of|cost of|in stock|book|"
    r"(?:call|ring|phone) (?:me|us)|(?:call|ring|phone) (?:\w+ ){0,2}back|speak to|talk to)\b"
)
_NEGATIVE = re.compile(r"\b(?:no|not|don't|do not|doesn't|never|without)\b")  # "I don't need a person" asks for nothing


def asking_clause(text: str) -> str | None:
    """The one clause of a longer turn that asks for something ("can a nurse call my husband back" in
    "can a nurse call my husband back, he's got questions about his pads"); None when the turn is
    one clause, or asks in several or none."""
    parts = clauses(normalise(text, digits=False))
    asking = [c for c in parts if REQUEST_VERB.search(c) and len(c.split()) >= 3 and not _NEGATIVE.search(c) and not _TELLS.match(c)]
    return asking[0] if len(parts) >= 2 and len(asking) == 1 else None


# Asking *about* ("what time do you deliver till?", "do your loaves have nuts in them?", "do you charge
# for delivering it?") is not asking *for*: a question of that form never places an order or books.
_ASKS_ABOUT = re.compile(
    r"^(?:(?:and|but|so|also|oh|um|uh|er|well|wait|ok|okay|sorry|actually|quick question|just|hang on|hold on|"
    r"anyway|anyways|anyhow|right|now|listen|look|"  # "anyway, is my order coming today": back to business, still asking
    r"(?:can|could) you tell me|do you know|i was wondering|i wonder|tell me)[\s,]+)*"
    r"(?:(?:what|what's|whats|when|where|where's|why|which|who|how(?! about)(?! (?:do|can|could) (?:i|we) (?:order|buy|get|book)))\b(?! about)"
    r"|(?:do|does|did|is|are|was|were)\b(?!\s+(?:it|there|you|that)\s+(?:possible|ok|okay|alright|all right|any way|able|think|reckon|mind)\b)"
    r"(?!\s+(?:you|ya) (?:able|think|reckon|mind|wanna|want)\b)"
    # "has my order left yet?", "will the eggs be here today?": how a thing stands
    r"|(?:has|hasn't|haven't)\s+(?:my|me|our|the|your|his|her|their|it|they)\b|(?:will|won't)\s+(?:my|me|our|the|your|his|her|their)\b)"
)
# A search box said out loud asks about a thing, not for it: "order status please", "oat milk price",
# "delivery times", "the cost of the salmon"
_ATTRIBUTE = r"(?:price|prices|cost|costs|status|update|updates|tracking|times|hours|fees?|charges?|policy|availability)"
_ASKS_OF_A_THING = re.compile(
    rf"^(?:[a-z']+ ){{1,3}}{_ATTRIBUTE}(?: (?:for|of|on) (?:[a-z']+ ){{0,2}}#?\d+| #?\d+)?(?: (?:please|thanks|then))?$"
    rf"|^(?:the |your )?{_ATTRIBUTE} (?:of|for|on)\b"
)
_ASKS_FOR = re.compile(
    r"\b(?:(?:can|could|may|might) (?:i|we)|(?:can|could|would|will) you (?!tell|explain|say|let me know|check if|confirm|know)|"
    r"i'?d like|i would like|i want|i wanna|i'll (?:take|have|get|order)|i will (?:take|have|get|order)|i need|we need|we want|"
    r"(?:is it|would it be|would that be)(?: at all)? possible|(?:i|we) (?:was|were) wondering|(?:i|we) wondered|"
    r"(?:would|will) you be able to|are you able to|any chance (?:you|i|we) could|"
    r"please (?:send|deliver|bring|order|get|add|book))\b"
    r"|^(?:(?:ok|okay|right|yes|yeah|so|and)[\s,]+)*(?:send|deliver|bring|order|get|add|give|book)\b"
)


_PLEASE = re.compile(r"\bplease\b")  # "two more please" asks; "what time do you close please" still asks about
def asks_for(text: str) -> bool:
    """A clause asks for something to be done or had ("I want to check on a delivery", "can I get ...")."""
    return any(_ASKS_FOR.search(c) for c in clauses(normalise(text, digits=False)))


# Telling what happened ("my eggs arrived broken", "the milk came split open") is not asking either.
_REPORTS = re.compile(r"\b(?:arrived|came|come|was|were|got here|turned up|showed up|went|had|has been|have been)\b")


def not_a_request(text: str) -> bool:
    """A question about something, or a report of what happened, with no clause that asks for
    something to be done."""
    parts = clauses(normalise(text, digits=False)) or [normalise(text, digits=False)]
    if any(not _ASKS_OF_A_THING.match(c) and (_ASKS_FOR.search(c) or (_PLEASE.search(c) and len(c.split()) > 1 and not _ASKS_ABOUT.match(c)))
           for c in parts):
        return False
    marked = "?" in text  # "y'all delivering on Christmas Day?": a question by its mark, with no question word
    return marked or any(_ASKS_ABOUT.match(c) or _REPORTS.search(c) or _ASKS_OF_A_THING.match(c) for c in parts)


_AND_ASKS = re.compile(
    r"\s*(?:[,;?]\s*)?\b(?:and|also|plus)\s+(?:also\s+)?(?=(?:what|what's|when|where|how|why|which|who|can|could|do|does|is|are|will|would|should|am)\b)"
    r"|\?\s*"
)


# "I have two questions", "two things", "a couple of quick questions": a count said before the questions
_ANNOUNCED = re.compile(
    r"^(?:(?:so|ok(?:ay)?|right|well|um+|uh+|hi|hello|yeah|and|also)[\s,]+)*(?:(?:i(?:'ve| have)?(?: got)?|i've|there's|there are|just|got)\s+)?"
    r"(?:a couple of|couple of|a few|two|three|2|3|some) (?:quick |little |more )?(?:questions|things|queries|bits)"
    r"(?: (?:for you|to ask(?: you)?|actually|really|if that's ok(?:ay)?))?[\s,:;.-]*(?:(?:first|firstly|one)[\s,:]+)?"
)


def questions(text: str) -> list[str]:
    """The questions of a turn that asks two ("what time do you deliver till and can I pay with apple
    pay" -> two); one item when it asks one."""
    s = _ANNOUNCED.sub("", normalise(text, digits=False))
    parts = [p.strip(" ,.") for p in _AND_ASKS.split(s)]
    asked = [p for p in parts if len(p.split()) >= 3 and is_question(p)]
    return asked if len(asked) >= 2 else [text]


_ASKS_AGENT_TO_ACT = re.compile(
    r"^(?:(?:and|so|ok|okay|right|well|hi|hello|hiya|listen|look|um|uh|er)[\s,]+)*(?:please[\s,]+)?"
    r"(?:(?:can|could|would|will) you(?: please)?|please|i need you to|i want you to|i'd like you to)\s+"
    r"(?!tell|explain|say|let me know|help me understand|remind|repeat|go over|check if|check whether|confirm|"
    r"give me (?:some )?(?:advice|information|info|an idea)|advise|describe|talk me through|walk me through)(?=[a-z])"
)


def asks_agent_to_act(text: str) -> bool:
    """The caller asks the agent to do something ("can you move my appointment to next month"), not
    to tell them something: documents do not do things."""
    return bool(_ASKS_AGENT_TO_ACT.match(normalise(text, digits=False)))


_OPENER = r"^(?:(?:and|but|so|also|oh|um|just|please|quick question|one thing|one more thing|i want to ask)[\s,]+)*"
_PROPERTY = re.compile(
    _OPENER + r"(?:is|are|does|do|did|was|were|will|would|can)\s+"
    r"(?:your|the|these|those|this|that|it|they|any of your|all your)\b(?!\s+(?:possible|ok to|alright to))"
    # what the business takes or does: "do you take EBT cards?", "do you accept cheques?", "do you do refunds?"
    r"|" + _OPENER + r"(?:do|does|will|would|can) "
    r"(?:you|you guys|you lot|you folks|they) (?:take|accept|allow|offer|do|deliver|charge|give|refund|price match)\b"
    r"|" + _OPENER + r"(?:can|could|may|do) (?:i|we) (?:pay|tip|use)\b"
)


def asks_property(text: str) -> bool:
    """A yes/no question about what a thing is or has ("is your gluten free bread safe for a coeliac?",
    "does the sourdough have nuts in it?"), which the documents answer rather than a product search."""
    return any(_PROPERTY.match(c) for c in clauses(normalise(text, digits=False)))


# A clause that tells about someone or something else is context, not a request: "he's got questions"
_TELLS = re.compile(
    r"^(?:(?:and|but|so|because|cause|as)\s+)?(?:(?:he|she|it|they|his|her|their|(?:my|our) \w+)(?:'s|'ve|'d| has| have| had| is| are| was| were)"
    r"|(?:i|we)(?:'ve)? got (?:the|a|my|our|people|family|friends|guests|kids|visitors)|(?:i|we) (?:had|have had))\b"
)


_REQUEST_WORDS = frozenset(
    "have got sell sells stock stocks carry carries order buy get want like take send deliver need find bring grab try "
    "ordering buying looking much price cost make having".split()
)
_IDIOMS = re.compile(  # ways of asking that name nothing
    r"\b(?:by any chance|at all|if (?:you )?(?:can|could|possible|poss)|for me|you lot|you guys|you folks|"
    r"or whatever|or something|or anything|and that|and stuff|and all that|one thing|another thing|"
    r"good (?:morning|afternoon|evening)|kindly|whether you (?:are|have)|if you (?:are|have)|are having|"
    r"(?:can you |could you |please )?(?:tell me|let me know)|i want to (?:ask|know)|"
    r"as well|any chance|when you get a (?:minute|sec|second|chance))\b"
)
_DETERMINERS = frozenset("the your that this those these them".split())
_COUNTED = "countedquantity"  # where find_values took a quantity from the turn
_COUNTS = frozenset(f"a an some any few couple dozen another {_COUNTED}".split())  # words that count what follows
_PLACES = frozenset("to at in into from near on".split())  # what follows is where or when, not the thing


def _best_run(tokens: list[str], skip: frozenset[str] | set[str]) -> list[str]:
    runs: list[tuple[float, int, list[str]]] = []  # (score, -position, words)
    current: list[str] = []
    before: list[str] = []  # the skipped words since the last run
    asked = False  # a request word came earlier in the turn

    def close() -> None:
        nonlocal current
        if current:
            runs.append((_run_score(before, asked), -len(runs), current))
            current = []

    for token in tokens:
        if token == "of" and current and current[-1] in _CONTAINERS:
            current.append(token)
            continue
        if token in _DETERMINERS and current and current[-1] == "of":  # "a loaf of the gluten free bread"
            continue
        if token in skip or token in _BOUNDARY or token.replace(".", "").isdigit():
            if current:
                close()
                before = []
            before.append(token)
            asked = asked or token in _REQUEST_WORDS
            continue
        current.append(token)
    close()
    return max(runs)[2] if runs else []


def _run_score(before: list[str], asked: bool) -> float:
    """How much a run of words, after the skipped words ``before``, looks like the thing asked for."""
    score = 1.0 if asked else 0.0
    last = before[-1] if before else ""
    if last.replace(".", "").isdigit() or last in _COUNTS:
        return score + 2  # "2 oat milks", "a box of eggs", "some salmon"
    request = max((i for i, w in enumerate(before) if w in _REQUEST_WORDS), default=-1)
    after_request = before[request + 1 :]  # "want to order eggs": the "to" belongs to the request
    if any(w in _PLACES for w in after_request):
        score -= 2  # "to my office", "at work"
    elif any(w in _BOUNDARY and w != "for" for w in after_request):
        score -= 1  # "... and", "... because", "... with"
    return score


def coverage(value: Parsed, text: str) -> float:
    """How much of an answer (fillers aside) a value accounts for: "4 5 6 7" all of it, "sick 7" half."""
    said = words(normalise(strip_fillers(text)))
    if not said:
        return 0.0
    value_words = words(normalise(value.text))
    digits = "".join(w for w in said if w.isdigit())
    if value.text.isdigit() and value.text in digits:
        used = sum(1 for w in said if w.isdigit())
    else:
        used = sum(1 for w in said if w in value_words)
    return used / len(said)


_REPAIRABLE = r"(?:\d+|monday|tuesday|wednesday|thursday|friday|saturday|sunday|today|tomorrow)"
_SELF_REPAIR = re.compile(
    rf"\b(?P<first>{_REPAIRABLE})\b(?P<kept>(?: [a-z]+){{0,3}}?)[\s,.]+"
    r"(?:(?:um+|uh+|er+m?)\b[\s,.]*)*"
    r"(?:(?:no|nope|sorry|wait|oops|hang on|hold on|actually|make (?:that|it)|i mean|i meant|or rather|rather|scratch that)\b[\s,.]*)+"
    rf"(?P<second>{_REPAIRABLE})\b"
)


def self_repaired(s: str) -> str:
    """A normalised turn with the caller's repairs made: "two avocados, no actually make that 6, to
    40 Main Street" -> "6 avocados, to 40 Main Street"; "Tuesday, sorry, Wednesday" -> "Wednesday".
    A number is replaced only by a number and a day only by a day."""

    def repair(match: re.Match[str]) -> str:
        first, second = match.group("first"), match.group("second")
        if first.isdigit() != second.isdigit():
            return match.group()
        return second + match.group("kept")

    return _SELF_REPAIR.sub(repair, s)


# "the night bag. no sorry, the wound dressing": in a free-text answer, only the repaired part counts
_TEXT_REPAIR = re.compile(
    r"[,.;!]\s*(?:(?:um+|uh+|er+m?|oh)\b[\s,.]*)*(?:(?:no|nope|sorry|oops|wait|actually|i mean|i meant|or rather|rather|scratch that|"
    r"hang on|let me think)\b[\s,.]*)+(?=[a-z0-9])", re.I,
)


def repaired_text(text: str) -> str:
    """A free-text answer with the caller's repair made: "the night bag, no sorry, the wound
    dressing" -> "the wound dressing"; "my knee, I mean my hip" -> "my hip"."""
    parts = _TEXT_REPAIR.split(text)
    return parts[-1].strip(" ,.") if len(parts) > 1 and parts[-1].strip(" ,.") else text


_NUMBER_WORD = (
    r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|"
    r"eighteen|nineteen|twenty|thirty|forty|fifty|\d{1,2})"
)
_SAID_TWICE = re.compile(rf"\b(?P<n>{_NUMBER_WORD})[\s,.]+(?P=n)\b")
_DIGIT_WORD = re.compile(rf"^(?:{_NUMBER_WORD}|oh|zero|o)$")


def said_once(text: str) -> str:
    """A number said twice in a row is said once ("two two please", "three, three's plenty" -> "two
    please", "three's plenty"), and an "oh" just before it is a filler; a run of digits ("four four
    five six") stays as it is. Only for an answer to a question that asks for a number."""
    s = " ".join(text.replace("’", "'").lower().split())
    for match in _SAID_TWICE.finditer(s):
        before = s[: match.start()].rstrip(" ,.").split()
        after = s[match.end() :].lstrip(" ,.").split()
        if before and before[-1] == "oh":
            before = before[:-1]
        if (before and _DIGIT_WORD.match(before[-1])) or (after and _DIGIT_WORD.match(after[0].split("'")[0])):
            continue  # a run of digits: an order or phone number
        start = match.start() - (3 if s[: match.start()].endswith("oh ") else 0)
        return s[:start] + match.group("n") + s[match.end() :]
    return text


def find_values(
    text: str,
    wanted: Mapping[str, FieldKind],
    *,
    now: datetime,
    region: str = "US",
    choices: Mapping[str, Sequence[str]] | None = None,
    frame: frozenset[str] | set[str] = frozenset(),
    whole: str | None = None,
    about: frozenset[str] | set[str] = frozenset(),
) -> dict[str, Parsed]:
    """Every value of ``wanted`` (name -> kind) the turn gives, each from its own words.

    Distinctive values are taken first and their words removed, so that the rest cannot be read
    twice: e-mail, phone, address, date and time, then money, numbers, choices, and last the free
    text ("two oat milks to 12 Baker Street tomorrow at 3": the address and the time are taken, 2 is
    the quantity, "oat milks" the product). ``whole`` names the one field the caller was asked
    for: its value may take the whole answer ("Baker Street" is an address when it answers
    "what's the address?", not when it is said in passing). Text fields named in ``about`` (a
    form's "reason") are taken only from "about ..." ("ring me tomorrow about my wound").
    """
    if whole is not None and wanted.get(whole) == "number":
        text = said_once(text)
    s = self_repaired(normalise(text))
    found: dict[str, Parsed] = {}
    order = ["email", "phone", "address", "datetime", "date", "time", "money", "number", "choice", "yes_no", "text"]
    names = sorted(wanted, key=lambda n: (order.index(wanted[n]) if wanted[n] in order else 99, n != whole))
    for name in names:
        kind = wanted[name]
        value, s = _take(
            kind, name, s, text, now=now, region=region, choices=(choices or {}).get(name, ()), frame=frame,
            whole=name == whole, about=name in about,
        )
        if value is not None:
            found[name] = value
    return found


def _take(
    kind: FieldKind, name: str, s: str, original: str, *, now: datetime, region: str, choices: Sequence[str],
    frame: frozenset[str] | set[str], whole: bool, about: bool = False,
) -> tuple[Parsed | None, str]:
    """One value of ``kind`` from ``s``, and ``s`` without the words it used."""
    if kind == "address":
        match = _ADDRESS_SPAN.search(s)
        if match is not None:
            end = match.end()
            city = (_CITY_AFTER_ANSWER if whole else _CITY_AFTER).match(s[end:])
            if city is not None and not set(city.group("city").split()) & _NOT_TOWN:
                end += city.end()
            parsed = parse_value("address", s[match.start() : end])
            return parsed, _cut(s, match.start(), end)
        if whole:
            answer = address_part(s)
            parsed = parse_value("address", answer)
            if parsed is not None and parsed.certainty >= 0.6:
                return parsed, ""
        return None, s
    if kind in ("datetime", "date", "time"):
        parsed = parse_value(kind, s, now=now, region=region)
        rest = _WHEN_SPAN.sub(" ", s)
        return (parsed if parsed is not None and parsed.certainty >= 0.5 else None), rest
    if kind == "phone":
        parsed = parse_value("phone", s, region=region)
        return parsed, _PHONE_SPAN.sub(" ", s) if parsed else s
    if kind == "email":
        parsed = parse_value("email", original)
        return parsed, _EMAIL_SPAN.sub(" ", s) if parsed else s
    if kind == "money":
        parsed = parse_value("money", s)
        return (parsed if parsed is not None and parsed.certainty >= 0.8 else None), s
    if kind == "number":
        target = drop_negated(s) if whole else s
        cued = _cued_number(name, target)
        if cued is not None:
            return cued, _cut(s, *cued_span) if (cued_span := _cued_span(name, s)) else s
        parsed = parse_value("number", target)
        if parsed is None and any(part in name for part in _QUANTITY_NAMES):
            match = _QUANTITY.search(target)
            if match is not None:
                n = _QUANTITY_WORDS[match.group(0)]
                return Parsed(n, str(n), str(n), 0.9), _cut(s, match.start(), match.end(), _COUNTED) if target is s else s
        if parsed is None:
            return None, s
        digits = re.search(re.escape(parsed.text.lstrip("-")), s)
        quantity = any(part in name for part in _QUANTITY_NAMES)
        if quantity and not whole and digits and _NAMES_AN_ID.search(s[: digits.start()]):
            # "my order 4567": an order's number, not how many; a count may still be elsewhere
            value, _ = _take(kind, name, _cut(s, digits.start(), digits.end()), original, now=now, region=region,
                             choices=choices, frame=frame, whole=whole, about=about)
            return value, s
        counted = _COUNTED if quantity else ""  # "2 oat milks": the count stays visible
        rest = _cut(s, digits.start(), digits.end(), counted) if digits else s
        return (parsed if parsed.certainty >= 0.5 else None), rest
    if kind == "choice":
        parsed = parse_value("choice", s, choices=choices)
        return parsed, s
    if kind == "yes_no":
        parsed = parse_value("yes_no", s)
        return parsed, s
    # text
    s = s.replace(_COUNTED, " ") if whole else s
    if whole:
        answer = strip_fillers(drop_negated(repaired_text(s) if s.strip() else repaired_text(original)))
        return (Parsed(answer, answer, answer, 1.0) if answer else None), ""
    if about:
        match = _ABOUT.search(s)
        if match is None:
            return None, s
        topic = match.group("topic").strip(" ,.")
        return (Parsed(topic, topic, topic, 0.8) if topic else None), s[: match.start()]
    found = thing_named(s, frame)
    return (Parsed(found[0], found[0], found[1], 0.8) if found else None), s


_PLACE_PART = re.compile(r"^[a-z0-9][a-z0-9 .-]*$")
_NOT_A_PLACE = re.compile(r"^(?:it|it's|its|that|that's|the|this|which|where|i|i'm|you|he|she|they|we|but|because|so|and|just|please)\b")


# A caller still looking for the rest of it: what follows is not part of the address.
_STILL_LOOKING = re.compile(
    r"[\s,.]+(?:hang on|hold on|wait|one sec(?:ond)?|just a (?:sec|second|minute|moment)|let me (?:just )?(?:check|find|look|get)|"
    r"i(?:'ll| will)? (?:need to|have to|gotta|got to|just)? ?(?:find|check|look (?:up|for)|get)|"
    r"i (?:can't|cannot|don't) (?:remember|recall|know) the (?:number|house number|postcode|zip)|what's the number)\b.*$",
    re.IGNORECASE,
)


def address_part(text: str) -> str:
    """What an answer to "what's the address?" holds of one: fillers and the negated part dropped, and
    the clauses after it that are not a town or a code ("elm road, elm street's the other side of
    town" -> "elm road"; "baker street, springfield" stays)."""
    said = strip_fillers(_EXCLAIM.sub("", drop_negated(text)))
    said = _STILL_LOOKING.sub("", said)  # "it's birch road hang on i need to find the number"
    first, *rest = [p.strip() for p in said.split(",")]
    kept = [first]
    for part in rest:
        if not part or len(part.split()) > 4 or not _PLACE_PART.match(part.lower()) or _NOT_A_PLACE.match(part.lower()):
            break
        kept.append(part)
    return ", ".join(kept)


_CUES = ("number", "no", "ref", "reference", "id", "code", "account", "order", "ticket", "booking")
_NAMES_AN_ID = re.compile(  # "my order 4567", "order number 4567", "ref 88": an identifier comes next ("to order 2" counts)
    r"(?:\b(?:my|the|your|our|this|that|his|her|their|an?) (?:order|booking|account|ticket|reference|ref|parcel)|"
    r"\b(?:number|no|id|code|ref)|#)\s*(?:(?:is|was)\s+)?#?\s*$"
)


def _cue_pattern(name: str) -> re.Pattern[str] | None:
    """Words that introduce the value of an identifier slot ("order_number": "order 1234", "number 1234")."""
    if any(part in name for part in _QUANTITY_NAMES):
        return None
    parts = {p for p in name.lower().split("_") if len(p) > 1} | set(_CUES)
    if not parts & set(_CUES):
        return None
    cue = "|".join(sorted(map(re.escape, parts), key=len, reverse=True))
    # "order 4567", "order number is 4567", "the number on the email is 4567", "ref from the letter: 88"
    between = r"(?:(?:on|in|from|at the top of) (?:the|my|your|our) \w+(?: \w+)? )?(?:(?:number|no|is|was|of|says|said|reads)\s+)*"
    return re.compile(rf"\b(?:{cue})\s+{between}#?:?\s*(?P<n>\d[\d ]*\d|\d)\b")


def _cued_span(name: str, s: str) -> tuple[int, int] | None:
    pattern = _cue_pattern(name)
    match = pattern.search(s) if pattern is not None else None
    return match.span("n") if match is not None else None


def _cued_number(name: str, s: str) -> Parsed | None:
    """An identifier said after its cue word: "order 1234" in "two hours late, order 1234"."""
    span = _cued_span(name, s)
    if span is None:
        return None
    parsed = parse_value("number", s[span[0] : span[1]])
    return Parsed(parsed.value, parsed.text, say_digits(parsed.text), parsed.certainty) if parsed is not None else None


def _cut(s: str, start: int, end: int, mark: str = "") -> str:
    """``s`` without the characters a value used; ``mark`` stands in their place."""
    return (s[:start] + f" {mark} " + s[end:]).strip()
