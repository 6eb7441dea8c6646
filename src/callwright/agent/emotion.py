"""The caller's emotional state per turn, from their words and from the prosody of their voice.

Every rule is simple enough to read back from the trace: :class:`Estimate` names the cues that
fired. One :class:`EmotionTracker` per call. The style policy that acts on the estimates lives in
:mod:`~callwright.agent.style` and is re-exported here.

**Words.** ``words`` is vaderSentiment's compound score of the text as said. ``valence`` starts from
vader's score of the text without phone pleasantries ("thanks", "okay", "yes", "hello", "no
thanks": politeness, not feeling; vader scores "ok" +0.30 and "ok thanks" +0.62), then a small
lexicon adds what vader misses and what matters on a support line. A cue is ignored when one of
the three words before it negates it ("I'm not worried"), but not after a "no" that answers and a new
subject ("no, I'm fed up").

- *anger* and *profanity* (valence -0.4, arousal +0.3): "ridiculous", "unacceptable", "furious",
  "fed up", "useless", "third time", "called five times", "waste of time", "damn", ...; asking what
  the line is worth ("what is even the point of this line", "why do I even bother", "what good are
  you"; those words are left out of vader's score); and a complaint that blames "you lot" or "you
  people".
- *frustration* (valence -0.3): the ambivalent anger words ("fed up", "sick of", "had enough",
  "annoyed", "angry") with an object that is the caller's own situation, not the line: "fed up of
  being stuck indoors", "sick of this leg bag", "annoyed with myself". The caller is upset, not
  angry: a calm reply that answers them, and no count towards handing over. With no object ("I'm
  fed up") or one that is the line ("fed up with this service", "sick of waiting", "had enough of
  this"), they stay anger.
- *complaint* (valence -0.3, arousal +0.1): being let down, told as a fact: "never arrived",
  "charged twice", "lost my", "nobody called back", "still waiting", "been waiting three days",
  "overcharged", ...
- *sadness* (valence -0.3): sad words vader scores mildly or not at all: "gutted", "heartbroken",
  "feeling down".
- *anxiety* (valence -0.25, arousal +0.2): "worried", "scared", "anxious", "is this normal", ...
- *emergency* (as anxiety, and arousal +0.35 more): "bleeding", "can't breathe", "chest pain",
  "pain is getting worse", "unconscious", "overdose", ... The style policy escalates on these.
  A negated one still counts ("I'm not bleeding"), to be safe; one in a clause that asks about the
  sign ("what should I do if I notice bleeding", "signs of a heart attack") or tells the caller's
  history ("I had a stroke two years ago") does not, nor does "a stroke of luck".
- *sarcasm*: "oh great", "just perfect", "thanks a lot", "yeah right" in a sentence with a
  grievance word ("another", "again", "hold", "still", "nobody", ...), or "thanks for nothing":
  valence becomes ``-max(0.5, |vader|)``.

Arousal from words is ``0.15 + 0.35·|vader without pleasantries|``, plus the cue weights above,
plus 0.1 per exclamation mark (two at most) and 0.15 for shouting (most words, three or more, in
capitals).

**Voice.** :func:`measure_prosody` gives the median pitch, its spread in semitones, the level of
the voiced frames and, from the word count, words per voiced second. A loud or high voice is
judged against itself: the tracker's baseline is the median of the caller's earlier turns (the
last eight with at least 0.3 s voiced), and each measure becomes a z-score against it, with a
spread of at least 1.5 semitones, 3 dB and 12 % of the rate, so one or two earlier turns suffice.
The rate is compared in syllables (vowel groups of the text) per voiced second, which varies far
less from sentence to sentence than words per second.
The weighted mean ``0.5·z_pitch + 0.3·z_energy + 0.2·z_rate`` (each z clipped to ±4) adds 0.15
arousal per unit: a voice two units above its own baseline adds 0.3, a calmer one lowers arousal.
The first turn has no baseline, so its arousal comes from the words alone.

**Label**, the first rule that holds:

1. an anger or profanity cue and a negative valence → ``angry``;
2. an anxiety or emergency cue → ``anxious``;
3. valence ≤ -0.3 → ``angry`` when arousal ≥ 0.6, else ``upset``;
4. valence ≥ 0.5 → ``happy``;
5. otherwise ``neutral``.

Measured precision and recall per label on a held-out set written apart from this lexicon are in
docs/testing.md ("Emotion and intent scores, held out"). Known limits: sarcasm without a grievance word ("oh great, just perfect") reads as happy; the
lexicon is English; prosody is relative, so a caller agitated from the first word has an agitated
baseline (their words still count); the rate relies on the transcript matching the audio and
counts voiced time only, so it is not the words per minute a person would count.
"""

from __future__ import annotations

import math
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import soxr

from .safety import ASKING_ABOUT
from .style import StyleDecision, StylePolicy, StylePolicyOptions

__all__ = [
    "EmotionTracker",
    "Estimate",
    "Label",
    "Prosody",
    "StyleDecision",
    "StylePolicy",
    "StylePolicyOptions",
    "measure_prosody",
]

Label = Literal["angry", "upset", "anxious", "happy", "neutral"]

# ---------------------------------------------------------------------------------------- prosody
_RATE = 8000  # analysis rate: the telephone band holds the pitch and nearly all voiced energy
_FRAME = 320  # 40 ms
_HOP = 160  # 20 ms
_FMIN, _FMAX = 60.0, 500.0
_TAU_MIN = int(_RATE / _FMAX)
_TAU_MAX = math.ceil(_RATE / _FMIN)
_WINDOW = _FRAME - _TAU_MAX - 1  # YIN's integration window: each lag compares _WINDOW samples
_NFFT = 512
_DIP = 0.15  # YIN: the first local minimum of the normalised difference below this is the period
_APERIODIC = 0.3  # frames whose best dip is above this are unvoiced (noise, fricatives, silence)
_FLOOR_DB = -100.0


@dataclass(frozen=True, slots=True)
class Prosody:
    """How a turn was said. ``pitch_hz`` is None when no frame was voiced."""

    pitch_hz: float | None  # median fundamental frequency of the voiced frames
    pitch_var: float  # standard deviation of the pitch, in semitones around the median
    energy_db: float  # RMS level of the voiced frames, dBFS (-100 when nothing was voiced)
    rate_wps: float | None  # words per voiced second, when the word count is known
    voiced_s: float  # seconds of voiced frames


def measure_prosody(audio: np.ndarray, sample_rate: int, words: int | None = None) -> Prosody:
    """Pitch, pitch spread, voiced energy and speaking rate of mono int16 ``audio``.

    The audio is resampled to 8 kHz and cut in 40 ms frames every 20 ms. Each frame's pitch comes
    from YIN (de Cheveigné & Kawahara, 2002): the difference function by FFT, its cumulative-mean
    normalisation, the first dip below 0.15 (not the deepest one, which avoids octave errors) and
    parabolic interpolation around it. A frame is voiced when that dip is below 0.3 and the frame
    is within 35 dB of the turn's loudest frames (and above -60 dBFS). 3 to 7 ms per 5 s of audio.
    """
    samples = np.asarray(audio, dtype=np.float32).reshape(-1) / 32768.0
    if sample_rate != _RATE and samples.size:
        samples = soxr.resample(samples, sample_rate, _RATE, quality="MQ")
    if samples.size < _FRAME:
        samples = np.pad(samples, (0, _FRAME - samples.size))
    count = 1 + (samples.size - _FRAME) // _HOP
    frames = samples[np.arange(_FRAME)[None, :] + _HOP * np.arange(count)[:, None]].astype(np.float64)

    # YIN difference d(tau) = sum_j (x_j - x_{j+tau})^2 over the window, by FFT cross-correlation.
    cross = np.fft.irfft(np.conj(np.fft.rfft(frames[:, :_WINDOW], _NFFT)) * np.fft.rfft(frames, _NFFT), _NFFT)
    lags = np.arange(_TAU_MAX + 2)
    squares = np.concatenate([np.zeros((count, 1)), np.cumsum(frames**2, axis=1)], axis=1)
    energy = squares[:, lags + _WINDOW] - squares[:, lags]
    diff = np.maximum(energy[:, :1] + energy - 2.0 * cross[:, : _TAU_MAX + 2], 0.0)
    cmnd = np.ones_like(diff)
    cmnd[:, 1:] = diff[:, 1:] * lags[1:] / np.maximum(np.cumsum(diff[:, 1:], axis=1), 1e-12)

    band = cmnd[:, _TAU_MIN - 1 : _TAU_MAX + 2]  # one lag either side, for minima and interpolation
    inner = band[:, 1:-1]
    dips = (inner < _DIP) & (inner <= band[:, :-2]) & (inner <= band[:, 2:])
    best = np.where(dips.any(axis=1), dips.argmax(axis=1), inner.argmin(axis=1))
    rows = np.arange(count)
    left, centre, right = band[rows, best], band[rows, best + 1], band[rows, best + 2]
    curvature = left - 2.0 * centre + right
    shift = np.where(curvature > 1e-9, 0.5 * (left - right) / np.where(curvature > 1e-9, curvature, 1.0), 0.0)
    period = best + _TAU_MIN + np.clip(shift, -0.5, 0.5)

    level = 10.0 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    loud = float(np.percentile(level, 95))
    voiced = (centre < _APERIODIC) & (level > max(-60.0, loud - 35.0))
    voiced_s = float(np.count_nonzero(voiced)) * _HOP / _RATE
    if not voiced.any():
        return Prosody(pitch_hz=None, pitch_var=0.0, energy_db=_FLOOR_DB, rate_wps=None, voiced_s=0.0)
    pitch = _RATE / period[voiced]
    median = float(np.median(pitch))
    semitones = np.clip(12.0 * np.log2(pitch / median), -12.0, 12.0)  # a stray octave error counts once
    energy_db = 10.0 * math.log10(float(np.mean(frames[voiced] ** 2)) + 1e-12)
    rate = words / voiced_s if words is not None and voiced_s > 0 else None
    return Prosody(
        pitch_hz=median, pitch_var=float(np.std(semitones)), energy_db=energy_db, rate_wps=rate, voiced_s=voiced_s
    )


# ------------------------------------------------------------------------------------------- words
def _cues(*patterns: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(patterns) + r")\b")


# Asking what the line is worth, which is not a question: "what is even the point of this line", "why
# do I even bother". Its words are left out of vader's score ("good", "help"): the cue carries the feeling.
_WORTH_ASKED = (
    r"what(?:'s| is) even the point|what(?:'s| is) the (?:bloody |actual |flipping )?point (?:of|in) (?:you\b|your|you lot|"
    r"(?:this|the|your) (?:line|service|helpline|number|place|company)|(?:even )?(?:calling|ringing|phoning|having)\b)|"
    r"why (?:do|did|should) i (?:even |ever )?bother|what (?:are|is) you (?:lot |people )?(?:even )?(?:for|good for)|"
    r"what good are you|(?:you're|you are|you've been) (?:no|zero|not any) (?:help|use)|"
    r"(?:is|does) (?:anyone|anybody) (?:there )?(?:even |actually )?(?:listening|care|give a)"
)

# fmt: off
_LEXICON: dict[str, re.Pattern[str]] = {
    "anger": _cues(
        r"ridiculous", r"unacceptable", r"furious", r"fed up", r"useless", r"pathetic", r"outrageous",
        r"incompetent", r"disgraceful", r"a disgrace", r"sick (?:and tired )?of", r"waste of (?:my )?time",
        r"appalling", r"shambles", r"angry", r"annoyed", r"(?:just|now|finally|properly) sort (?:it|this) out|sort (?:it|this) out (?:now|already|for once)",
        r"(?:second|third|fourth|fifth|sixth|umpteenth|\d+(?:st|nd|rd|th)) time",
        r"called (?:two|three|four|five|six|ten|several|so many|\d+) times", r"fix (?:this|it) now",
        r"(?:rung|rang|phoned|called|tried) (?:this line |you |this number |here )?(?:two|three|four|five|six|ten|several|so many|\d+) times",
        r"(?:an? |absolute |complete |total |bloody )+joke", r"joke of a", r"having a laugh", r"taking the (?:mick|piss)",
        r"(?:had|have had) enough", r"beyond a joke", r"disgusted", r"livid", r"fuming",
        _WORTH_ASKED,
    ),
    "profanity": _cues(
        r"damn\w*", r"dammit", r"the hell", r"crap\w*", r"shit\w*", r"bullshit", r"fuck\w*", r"bloody",
        r"wtf", r"pissed(?: off)?", r"screw (?:this|you|it)",
    ),
    "complaint": _cues(  # being let down, which vader scores as neutral facts
        r"never (?:arrived|came|showed up)", r"(?:hasn't|has not|didn't|did not|still not) (?:arrived|come)",
        r"charged (?:me )?twice", r"double charged", r"lost my", r"(?:was|were|got) stolen", r"let down",
        r"(?:nobody|no one) (?:has |have |had )?(?:ever )?(?:called|calls|rang|rung|phoned|got back|gets back|got in touch|"
        r"answers|answered|came)",
        r"still waiting", r"overcharged", r"(?:is|are|was|were) missing",
        # a wait told by its length: "I've been waiting three days", "waited all weekend"
        r"(?:waiting|waited|(?:been|sat|sitting) on hold)(?: on hold| in (?:a|the) queue)? (?:for |on )?(?:over |nearly |almost |more than |about |the )?"
        r"(?:an?|one|two|three|four|five|six|seven|several|so many|\d+|all) (?:days?|hours?|weeks?|months?|weekend|morning|afternoon)",
    ),
    "sadness": _cues(  # sad words vader scores mildly or not at all
        r"gutted", r"heartbroken", r"(?:feel|feeling|felt) (?:so |really |very )?down",
    ),
    "anxiety": _cues(
        r"worried", r"worry(?:ing)?", r"scared", r"afraid", r"anxious", r"nervous", r"panick?(?:ing|ed)?",
        r"terrified", r"frightened", r"freaking out", r"is (?:this|that|it) normal",
        r"(?:don't|do not) know what to do",
    ),
    "emergency": _cues(
        r"bleeding", r"(?:can't|cannot|can not|couldn't) breathe", r"(?:not|stopped) breathing",
        r"(?:trouble|difficulty) breathing", r"chest pains?", r"pain (?:is )?getting worse", r"heart attack",
        r"(?<!breast )(?<!back )stroke(?! of\b)", r"seizures?", r"breathless", r"(?:can't|cannot) wake",
        r"(?:face|mouth) (?:is |has )?(?:drooping|dropped)", r"unconscious", r"passed out", r"collapsed", r"overdosed?", r"choking",
        r"suicid\w*", r"kill myself", r"end my life", r"allergic reaction", r"severe pain",
    ),
}
_SARCASM = _cues(
    r"(?:oh|just|how|well) (?:great|perfect|wonderful|fantastic|brilliant|lovely)", r"thanks a lot", r"yeah right",
)
_GRIEVANCE = _cues(
    r"another", r"again", r"still", r"hold", r"holding", r"waiting", r"nobody", r"no one", r"never", r"cut off",
    r"disconnected",
)
_WORTH_ASKED_CUE = _cues(_WORTH_ASKED)
_ALWAYS_SARCASTIC = _cues(r"thanks for (?:nothing|wasting my time)")
# The organisation named as a crowd ("you lot", "you people"): blame when the turn holds a grievance
# ("I've been waiting three days for you lot"); alone it is only a way of saying "you" ("do you lot
# deliver on Sundays").
_BLAME = _cues(r"you lot", r"your lot", r"you people", r"you guys")
# Words of anger that may be about the caller's own situation instead of the line: "I'm fed up of
# being stuck indoors", "sick of this catheter", "annoyed with myself" are frustration (upset, not
# angry); "fed up with this service", "sick of waiting", "had enough of being passed around", and the
# same words with no object ("I'm fed up"), are anger at the line.
_AMBIVALENT = re.compile(r"^(?:fed up|sick (?:and tired )?of|(?:had|have had) enough|annoyed|angry)$")
_OBJECT = re.compile(r"\s*(?:(?:of|with|about|at)\s+)?(?P<object>[^,.;!?]*)")
_AT_THE_LINE = _cues(
    r"you", r"your", r"you're", r"line", r"service", r"helpline", r"number", r"company", r"staff", r"people",
    r"nurses?", r"calls?", r"callbacks?", r"call ?backs?", r"calling", r"ringing", r"phoning", r"hold", r"wait",
    r"waiting(?! to)", r"delays?", r"runaround", r"nobody", r"no one", r"being (?:ignored|passed|fobbed|kept|messed|cut off|put on)",
)
_THE_CALL_ITSELF = re.compile(r"^(?:(?:all )?(?:this|that|it)|everything|the lot)(?: (?:now|already|again|nonsense|rubbish|carry on))?$")
_PLEASANTRY = re.compile(r"(?<!not )(?<!n't )" + _cues(  # "not okay" is not politeness
    r"no,? thanks?(?: you)?", r"thank you", r"thanks", r"please", r"okay", r"ok", r"yes", r"yeah", r"sure",
    r"alright", r"all right", r"hello", r"hi", r"hey", r"good (?:morning|afternoon|evening)",
    r"(?:i'd|i would|we'd|we would) like",  # a request, not a feeling ("I'd like to order ...")
    r"honestly", r"to be honest", r"frankly",  # how it is said, not a feeling (vader scores "honestly" +0.46)
).pattern)
# fmt: on
# A sign the caller asks about, or had long ago, is not happening now (the emergency cue is dropped).
_CLAUSE_BREAK = re.compile(r"[.;!?]+\s*|,\s*(?=but\b)|\s+but\s+")
_HYPOTHETICAL = _cues(
    r"what (?:should|do|would) i do if", r"what if", r"in case", r"if (?:i|he|she|it|there) (?:notice|get|see|has|have|is)",
    r"is (?:\w+ ){0,4}something (?:i|to) should", r"should i (?:worry|be worried) (?:about|if)",
)
_HISTORY = _cues(r"(?:years?|months?|weeks?) ago", r"years back", r"last year", r"history of", r"in the past", r"used to")
_NEGATION = re.compile(r"^(?:not|no|never|without|hardly|\w+n't)\W*$")
_UNNEGATE = {"stop", "help", "quit"}
_SUBJECTS = {"i", "i'm", "i've", "i'd", "i'll", "im", "ive", "we", "we're", "we've", "you're", "they", "they're", "he", "he's",
             "she", "she's", "it's", "this", "that's", "there's"}  # fmt: skip

_analyzer: Any = None


# Words that are positive to a sentiment lexicon but describe a product or a fact, not a feeling:
# "gluten free", "free range", "is it safe for a peanut allergy" are questions, not good news.
_NOT_FEELINGS = re.compile(
    r"\b(?:gluten|sugar|dairy|nut|peanut|fat|lactose|caffeine|alcohol|salt|egg|soy|wheat|meat|cruelty|pain|hands|"
    r"toll|duty|tax|fee|cage|scent|fragrance|smoke|crease|care|risk|fuss)[- ]free\b|\bfree[- ](?:range|delivery|of charge|"
    r"trial|sample|returns?|shipping|parking)\b|\bfor free\b|\bdying (?:for|to)\b|\b(?:safe|okay|ok|fine|good|alright) (?:for|to|with)\b"
)
_GOOD_NEWS = _cues(
    r"thank(?:s| you)", r"cheers", r"great", r"brilliant", r"wonderful", r"fantastic", r"perfect", r"love", r"glad",
    r"happy", r"pleased", r"relieved", r"much better", r"feeling better", r"(?:it )?worked", r"excellent", r"amazing",
)


# Words of the talk, not of a feeling: an apology ("sorry, say that again"), a term of address ("love",
# "mate"), a "no" that answers. VADER reads "sorry" as sad and "love" as happy.
_VOCATIVE = re.compile(
    r"(?P<before>^|,|\b(?:thanks|cheers|sorry|hello|right|okay|thank you|ta|hi|yes|no|ok))\s*"
    r"(?:love|dear|darling|hun|honey|pet|mate|sweetheart|duck|pal|buddy|sir|madam)\b",
    re.I,
)
_TALK_WORDS = re.compile(
    r"\b(?:sorry|pardon|excuse me)\b(?! (?:to hear|for your|about (?:that|this|your)))|^(?:(?:ah|oh|um|uh|well)\s+)*no\b(?!\s+(?:one|way|good))",
    re.I,
)


# A trouble denied is not a feeling: "no chest pain or nothing like that, no fever, I'm fine"
_DENIALS = re.compile(
    r"\b(?:no|without|not any|haven't got any|don't have any)\s+(?:\w+\s+){0,2}?(?:pain|pains|fever|temperature|bleeding|"
    r"swelling|sickness|problems?|trouble|issues?|worries|complaints?|symptoms?)\b(?:\s+(?:or|and)\s+(?:nothing|anything)\s+like\s+that)?",
    re.I,
)


def _vader(text: str) -> float:
    global _analyzer
    if _analyzer is None:  # 45 ms to load the lexicon, once per process
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        _analyzer = SentimentIntensityAnalyzer()
    text = _TALK_WORDS.sub(" ", _VOCATIVE.sub(r"\g<before> ", _DENIALS.sub(" ", text)))
    return float(_analyzer.polarity_scores(text)["compound"]) if text.strip() else 0.0


def _asks(text: str) -> bool:
    return text.rstrip().endswith("?") or bool(
        re.match(r"(?:(?:and|so|um|uh|hi|hello|hey|ok|okay|also)[, ]+)*(?:do|does|is|are|can|could|will|would|have|has|what|when|where|how|which|who|why)\b", text)
    )


def _syllables(text: str) -> int:
    """Vowel groups per word (a silent final e dropped), one per digit: close enough for a rate."""
    count = 0
    for word in re.findall(r"[a-z']+|\d", text):
        groups = len(re.findall(r"[aeiouy]+", word))
        if word.endswith("e") and not word.endswith(("le", "ee")) and groups > 1:
            groups -= 1
        count += max(1, groups)
    return count


def _negated(text: str, start: int) -> bool:
    """Whether one of the three words before ``start`` negates it ("not worried", but "can't stop
    worrying"). A "no" that answers, then a subject, is a new clause: "no, I'm fed up" is fed up (but
    "I don't think it's ridiculous" is not ridiculous)."""
    before = text[:start].split()[-3:]
    negators = [i for i, word in enumerate(before) if _NEGATION.search(word)]
    if not negators:
        return False
    after = [word.strip(",.;:!?") for word in before[negators[-1] + 1 :]]
    answered = before[negators[-1]].strip(",.;:!?") in ("no", "nah", "nope") and _SUBJECTS.intersection(after)
    return not (_UNNEGATE.intersection(after) or answered)


def _find(pattern: re.Pattern[str], text: str, kind: str) -> list[str]:
    """``kind:phrase`` for each match; an emergency does not count when the clause asks about the
    sign, tells the caller's history ("what if I notice bleeding", "I had a stroke two years ago")
    or denies it outright ("no chest pain or anything like that"). Safety rules decide escalation on
    their own (:mod:`.safety`); this is the caller's state, for the tone of the reply."""
    found = []
    for match in pattern.finditer(text):
        if kind == "emergency":
            if _not_happening(_clause_at(text, match.start())) or _DENIED.search(text[: match.start()]):
                continue
        elif _negated(text, match.start()):
            continue
        elif kind == "anger" and _AMBIVALENT.match(match.group(0)) and _about_the_situation(text, match):
            found.append(f"frustration:{match.group(0)}")
            continue
        found.append(f"{kind}:{match.group(0)}")
    return found


_DENIED = re.compile(r"\b(?:no|without|never had|not had|haven't had|hasn't had|no sign of|free of)\s+(?:\w+\s+)?$")


def _about_the_situation(text: str, match: re.Match[str]) -> bool:
    """Whether a word of anger is about the caller's situation, not the line (see ``_AMBIVALENT``)."""
    after = text[match.end() :]
    if not match.group(0).endswith("of") and not re.match(r"\s*(?:of|with|about|at)\b", after):
        return False  # "I'm fed up", "I'm fed up, this is useless": no object, so the call itself
    found = _OBJECT.match(after)
    aimed = " ".join((found.group("object") if found else "").split()[:5])
    return bool(aimed) and not _THE_CALL_ITSELF.match(aimed) and not _AT_THE_LINE.search(aimed)


def _clause_at(text: str, at: int) -> str:
    starts = [m.end() for m in _CLAUSE_BREAK.finditer(text, 0, at)]
    end = _CLAUSE_BREAK.search(text, at)
    return text[starts[-1] if starts else 0 : end.start() if end else len(text)]


def _not_happening(clause: str) -> bool:
    return bool(ASKING_ABOUT.search(clause) or _HYPOTHETICAL.search(clause) or _HISTORY.search(clause))


def _shouting(text: str) -> bool:
    """Three or more words in capitals, and most of the words ("my ATM PIN" is not shouting)."""
    words = re.findall(r"[A-Za-z]{2,}", text)
    capitals = sum(1 for word in words if word.isupper())
    return capitals >= 3 and capitals >= 0.6 * len(words)


@dataclass(frozen=True, slots=True)
class Estimate:
    """The caller's state in one turn. ``cues`` names the lexicon entries that fired."""

    label: Label
    valence: float  # -1 (negative) .. 1 (positive)
    arousal: float  # 0 (calm) .. 1 (agitated)
    words: float  # vader's compound score of the text as said
    # pitch_hz, pitch_var, energy_db, rate_wps, rate_sps (syllables), voiced_s; pitch_z, energy_z, rate_z
    prosody: dict[str, float] = field(default_factory=dict)
    cues: tuple[str, ...] = ()  # "anger:ridiculous", "emergency:bleeding", "sarcasm:oh great", "prosody:+2.1"


def _label(valence: float, arousal: float, cues: tuple[str, ...]) -> Label:
    kinds = {cue.split(":", 1)[0] for cue in cues}
    if kinds & {"anger", "profanity"} and valence < 0:
        return "angry"
    if kinds & {"anxiety", "emergency"}:
        return "anxious"
    if valence <= -0.3:
        return "angry" if arousal >= 0.6 else "upset"
    if valence >= 0.5:
        return "happy"
    return "neutral"


# ----------------------------------------------------------------------------------------- tracker
_WEIGHTS = {"pitch": 0.5, "energy": 0.3, "rate": 0.2}
_SCALE_FLOORS = {"pitch": 1.5, "energy": 3.0, "rate": 0.12}  # semitones, dB, natural log of the ratio
_AROUSAL_PER_UNIT = 0.15
_MIN_VOICED_S = 0.3  # shorter turns ("yes") say too little about the voice to join the baseline


class EmotionTracker:
    """Estimates each caller turn; one tracker per call, so the caller's voice is its own baseline.

    The baseline is the median of the caller's previous ``baseline_turns`` turns that had at
    least 0.3 s of voiced speech; the spread is their median absolute deviation, never below the
    floors in the module docstring.
    """

    def __init__(self, baseline_turns: int = 8) -> None:
        self._history: deque[dict[str, float]] = deque(maxlen=baseline_turns)

    def estimate(self, text: str, audio: np.ndarray | None = None, sample_rate: int = 16000) -> Estimate:
        normalised = " ".join(text.lower().replace("’", "'").split())
        words = _vader(text)
        base = _vader(_PLEASANTRY.sub(" ", _NOT_FEELINGS.sub(" ", _WORTH_ASKED_CUE.sub(" ", normalised))))
        if _asks(normalised) and not _GOOD_NEWS.search(normalised):
            base = min(base, 0.2)  # a question is not good news, however positive its words
        cues = [cue for kind, pattern in _LEXICON.items() for cue in _find(pattern, normalised, kind)]
        blame = _BLAME.search(normalised)
        if blame and any(cue.startswith("complaint:") for cue in cues):
            cues.append(f"anger:{blame.group(0)}")  # let down, and the line is to blame
        sarcastic = _ALWAYS_SARCASTIC.search(normalised)
        if sarcastic is None and _GRIEVANCE.search(normalised):
            sarcastic = _SARCASM.search(normalised)
        valence = base
        if sarcastic:
            cues.append(f"sarcasm:{sarcastic.group(0)}")
            valence = min(-0.5, -abs(base))
        kinds = {cue.split(":", 1)[0] for cue in cues}
        valence -= 0.4 * bool(kinds & {"anger", "profanity"}) + 0.25 * bool(kinds & {"anxiety", "emergency"})
        valence -= 0.3 * bool(kinds & {"complaint", "sadness", "frustration"})
        arousal = 0.15 + 0.35 * abs(base)
        arousal += 0.3 * bool(kinds & {"anger", "profanity"}) + 0.2 * bool(kinds & {"anxiety", "emergency"})
        arousal += 0.1 * ("complaint" in kinds) + 0.35 * ("emergency" in kinds) + 0.1 * min(text.count("!"), 2)
        arousal += 0.15 * _shouting(text)

        prosody: dict[str, float] = {}
        if audio is not None and audio.size:
            measured = measure_prosody(audio, sample_rate, words=len(text.split()) or None)
            raise_units = self._compare(measured, _syllables(normalised), prosody)
            if raise_units is not None:
                arousal += _AROUSAL_PER_UNIT * raise_units
                cues.append(f"prosody:{raise_units:+.1f}")
        valence = max(-1.0, min(1.0, valence))
        arousal = max(0.0, min(1.0, arousal))
        cue_tuple = tuple(cues)
        return Estimate(
            label=_label(valence, arousal, cue_tuple),
            valence=round(valence, 3),
            arousal=round(arousal, 3),
            words=round(words, 3),
            prosody=prosody,
            cues=cue_tuple,
        )

    def _compare(self, measured: Prosody, syllables: int, out: dict[str, float]) -> float | None:
        """Fill ``out`` with the measures and their z-scores; return the weighted raise, if any.

        The rate is compared in syllables per voiced second: words per second swing by half between
        a sentence of short words and one of long words said at the same speed.
        """
        now: dict[str, float] = {"energy": measured.energy_db}
        if measured.pitch_hz is not None:
            out["pitch_hz"] = round(measured.pitch_hz, 1)
            out["pitch_var"] = round(measured.pitch_var, 2)
            now["pitch"] = 12.0 * math.log2(measured.pitch_hz)
        out["energy_db"] = round(measured.energy_db, 1)
        if measured.rate_wps is not None:
            out["rate_wps"] = round(measured.rate_wps, 2)
        if syllables and measured.voiced_s > 0:
            out["rate_sps"] = round(syllables / measured.voiced_s, 2)
            now["rate"] = math.log(syllables / measured.voiced_s)
        out["voiced_s"] = round(measured.voiced_s, 2)
        if measured.voiced_s < _MIN_VOICED_S:
            return None
        total = weight = 0.0
        for name, value in now.items():
            past = [turn[name] for turn in self._history if name in turn]
            if not past:
                continue
            centre = float(np.median(past))
            spread = max(1.4826 * float(np.median(np.abs(np.asarray(past) - centre))), _SCALE_FLOORS[name])
            z = max(-4.0, min(4.0, (value - centre) / spread))
            out[f"{name}_z"] = round(z, 2)
            total += _WEIGHTS[name] * z
            weight += _WEIGHTS[name]
        self._history.append(now)
        return total / weight if weight else None
