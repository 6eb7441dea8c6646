"""Words and sentences of what a caller said: the one tokenizer the agent layer reads turns with.

Speech recognisers write numbers as words or digits, use curly apostrophes or none ("dont"), and
rarely punctuate. :func:`normalise` makes one form of all that (lower case, straight apostrophes,
"don't" for "dont", number words as digits); :func:`words` cuts it into words; :func:`clauses` cuts
it where a new thought may start ("but", "and then", punctuation), so a rule about one symptom is
not satisfied by words from two different thoughts.
"""

from __future__ import annotations

import itertools
import re
import threading

import Stemmer

from .numbers import words_to_digits

_WORD = re.compile(r"[a-z0-9]+(?:['.][a-z0-9]+)*")
_CONTRACTIONS = {
    "dont": "don't", "doesnt": "doesn't", "didnt": "didn't", "cant": "can't", "wont": "won't", "isnt": "isn't",
    "arent": "aren't", "wasnt": "wasn't", "havent": "haven't", "hasnt": "hasn't", "im": "i'm", "ive": "i've",
    "couldnt": "couldn't", "shouldnt": "shouldn't", "wouldnt": "wouldn't",  # not "ill" or "id": "I feel ill", "order id"
    # spoken forms recognisers write as heard: one spelling for the rules, the matcher and the documents
    "y'all": "you", "yall": "you", "youse": "you", "gonna": "going to", "wanna": "want to", "gotta": "got to",
    "lemme": "let me", "gimme": "give me", "dunno": "don't know", "kinda": "kind of", "sorta": "sort of",
    "outta": "out of", "cuz": "because", "coz": "because", "'cause": "because", "ain't": "isn't", "yous": "you",
    # regional words with one plain meaning
    "knackered": "tired", "pushbike": "bike", "cheerio": "bye", "tara": "bye",
    # Scots: the negatives and the small words
    "tae": "to", "ye": "you", "yer": "your", "dae": "do", "och": "oh", "nae": "no", "masel": "myself",
    "dinnae": "don't", "dinna": "don't", "cannae": "can't", "canny": "can't", "didnae": "didn't", "isnae": "isn't",
    "wisnae": "wasn't", "doesnae": "doesn't", "wouldnae": "wouldn't", "couldnae": "couldn't", "havnae": "haven't",
    "havenae": "haven't", "huvnae": "haven't", "hasnae": "hasn't", "willnae": "won't", "shouldnae": "shouldn't",
    # Southern US
    "mornin": "morning", "evenin": "evening", "nothin": "nothing", "somethin": "something",
    # dropped g's, as recognisers write them ("I'm callin' about my order")
    "callin": "calling", "lookin": "looking", "waitin": "waiting", "tryin": "trying", "askin": "asking",
    "wonderin": "wondering", "goin": "going", "comin": "coming", "gettin": "getting", "orderin": "ordering",
    "checkin": "checking", "ringin": "ringing", "phonin": "phoning", "talkin": "talking", "sayin": "saying",
    "hurtin": "hurting", "bleedin": "bleeding", "throwin": "throwing", "feelin": "feeling", "drainin": "draining",
    # Boston and other non-rhotic spellings a recogniser writes as heard
    "ordah": "order", "fathah": "father", "mothah": "mother", "brothah": "brother", "sistah": "sister",
    "numbah": "number", "watah": "water", "lettah": "letter", "bettah": "better", "aftah": "after",
    "othah": "other", "dinnah": "dinner", "summah": "summer", "wintah": "winter", "heah": "here", "theah": "there",
}  # fmt: skip
_PHRASES = {  # regional phrases with one plain meaning, said as more than one word
    r"\bta-ra\b|\bta ta\b|\bsee ya\b|\bcatch you later\b": "bye",
    r"\bpush bike\b": "bike",
    r"\bgive (me|us|him|her|my \w+) a (?:bell|ring|buzz|shout|tinkle|call)\b": r"call \1",
    # ways of asking how a thing stands: "what's happening with 1234" asks its status
    r"\b(?:what's|whats|what is) (?:happening|going on|the story|the latest|the deal) (?:with|on)\b|"
    r"\bany (?:news|update|updates|word|joy) (?:on|about|with)\b|\bwhere are (?:we|things) (?:with|on)\b": "what's the status of",
    # a thing that should have come and did not
    r"\b(?:has|have)(?:n't| not) (?:come|turned up|shown up|showed up|got here|come through)\b|\bnever (?:came|turned up|showed up|arrived)\b|"
    r"\b(?:is|are)(?:n't| not) here yet\b": "hasn't arrived",
    # asking by the negative ("can ye no just put me through", "won't you put me through") is asking
    r"\b(?:can you no|can't you)\b": "can you", r"\b(?:could you no|couldn't you)\b": "could you",
    r"\b(?:will you no|won't you)\b": "will you", r"\b(?:would you no|wouldn't you)\b": "would you",
    # "ain't" is "isn't" ("it ain't right") or "haven't" ("I ain't been able to")
    r"\bisn't (been|got|had|done|seen|eaten|drunk|slept|managed|passed|gone|heard)\b": r"haven't \1",
    r"\bfixing to\b|\bfixin to\b|\bfixin' to\b": "about to",
    # Scots "no" before a participle is "not": "the bag's no had a drop", "it's no working"
    r"\b(\w+)'s no (had|been|got|come|came|drained|filled|done|moved|stopped|working|draining|filling)\b": r"\1 has not \2",
    r"\b(?:is|it's) no (working|right|draining|filling|stopping)\b": r"is not \1",
    # Scots "wee" before a noun is "little" ("my wee granddaughter", "a wee bit"); urine stays urine
    # ("my wee is dark", "the wee bag", "having a wee")
    r"\b(a|my|the|your|his|her|our|their|this|that|wee) wee (?!(?:is|was|has|had|smells?|smelt|looks?|looked|seems?|"
    r"keeps?|comes?|came|goes|went|burns?|stings?|bags?|samples?|tests?|infections?|pot|bottle|jug|colou?r|smell|"
    r"stream|flow|tube|pipe|and|or|in|into|on|at|for|to|from|when|but|now|then|though|please|if|so|after|before|"
    r"since|because|every|all|again|hurts?|hurting|pains?|painful|sore|feels?|felt|yet|today|tonight|earlier|"
    r"lately|there|here|first|last|more|less|it|a|the|my|this|that|these|those|just|once|twice|ok|okay|fine|"
    r"normally|properly)\b)(?=[a-z])": r"\1 little ",
    # "I'm after some sourdough" (UK, Irish, Australian) is looking for it; "you got any?" asks if there is some
    r"\b(i'm|i am|we're|we are) after (some|a|an|any|the)\b": r"\1 looking for \2",
    r"(?<!do )\b(?:you|ya) got any\b": "do you have any",
    # Jamaican patois: "wah me fi do", "when me fi start dem"
    r"\b(?:me|mi) fi\b": "should i", r"\bwah\b": "what", r"\bdem\b": "them", r"\bting\b": "thing",
}
_PHRASE = re.compile("|".join(f"(?:{p})" for p in _PHRASES))
_SPOKEN_WORD = re.compile(r"[a-z']+")
_NEGATORS = frozenset({"not", "no", "never", "without", "hardly", "nor", "none", "neither"})
_CLAUSE = re.compile(r"[!?;,]+\s*|\.(?!\d)\s*|\s+(?:but|although|though|however|except)\s+")
_CONTRAST = re.compile(r"\s*[.!?;]\s*(?:but|although|though|however)\b|\s*,?\s+(?:but|although|though|however|except)\s+")
_SOFT = re.compile(r"[,]+\s*|\.(?!\d)\s*|[!?;]+\s*")
# A piece that only addresses the listener or fills a pause ("my catheter, hon, it slipped out") joins
# nothing: the pieces on either side of it are neighbours.
_ADDRESS = re.compile(
    r"(?:(?:oh|well|um+|uh+|er+m?|so|look|listen|you know|like|hon|honey|love|luv|dear|darling|sweetheart|sweetie|pet|"
    r"mate|bro|man|dude|sir|ma'am|madam|miss|boss|chief|buddy|pal|duck|ducks|babe|sugar|my dear|my love|my friend|"
    r"my dear|lad|lass|girl|ya know|innit|eh|ah|right|okay|ok)\s*)+"
)


def normalise(text: str, *, digits: bool = True) -> str:
    """Lower case, straight apostrophes, one space between words, number words as digits."""
    s = text.lower().replace("’", "'").replace("‘", "'")
    s = _SPOKEN_WORD.sub(lambda m: _CONTRACTIONS.get(m.group(), m.group()), " ".join(s.split()))
    if _PHRASE.search(s):
        for pattern, plain in _PHRASES.items():
            s = re.sub(pattern, plain, s)
    if digits:
        s = words_to_digits(s, clock=True)
    return s


def words(text: str) -> list[str]:
    """The words of already normalised text (apostrophes and decimal points kept inside a word)."""
    return _WORD.findall(text)


def clauses(text: str) -> list[str]:
    """Normalised text cut into clauses."""
    return [c.strip() for c in _CLAUSE.split(text) if c.strip()]


def thoughts(text: str) -> list[str]:
    """Clauses, plus each pair of neighbours a comma or a full stop joins ("my calf on the right,
    it is swollen": the second clause is about the first). "But" and "although" keep two apart."""
    out: list[str] = []
    for part in _CONTRAST.split(text):
        pieces = [c.strip() for c in _SOFT.split(part) if c.strip() and not _ADDRESS.fullmatch(c.strip())]
        out.extend(pieces)
        out.extend(f"{a} {b}" for a, b in itertools.pairwise(pieces))
    return out


def is_negator(word: str) -> bool:
    return word in _NEGATORS or (word.endswith("n't") and word not in ("can't", "couldn't"))


def negated(tokens: list[str], index: int, *, window: int = 3) -> bool:
    """Whether the word at ``index`` is negated by one of the ``window`` words before it.

    "can't" and "couldn't" do not negate: "I can't breathe" and "I couldn't stop shaking" report a
    symptom. "not sure"/"don't know" hedges are not negations of what follows them either.
    """
    before = tokens[max(0, index - window) : index]
    for position, word in enumerate(before):
        if is_negator(word):
            rest = before[position + 1 :]
            if word in ("not", "don't") and rest[:1] in (["sure"], ["know"], ["think"]):
                continue
            return True
    return False


def stems(tokens: list[str]) -> list[str]:
    """Each word's Snowball English stem ("cleaning", "cleaned" -> "clean"): the one stemmer of the
    agent layer (intents and documents)."""
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:  # a PyStemmer instance must not be used by two threads at once
        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    found: list[str] = stemmer.stemWords(tokens)
    return found


_local = threading.local()
