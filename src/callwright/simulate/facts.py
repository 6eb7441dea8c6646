"""Hard names, numbers and addresses: the facts a caller gives that recognisers get wrong.

A scenario asks for a fact by kind, ``fact: {kind: address, hard: true}``, and :meth:`FactSpec.draw`
picks one with the case's seed. Each :class:`Fact` comes with how it should be **written** (what the
agent must capture: the reference for slot accuracy) and how the caller **says** it (the text the
voice speaks: respelled where an English synthesiser would misread it, the way the caller would
pronounce it; digits as a person reads them, "oh" and "double" included).

Hard ones are hard for a reason, given in ``why``: a spelling far from its sound (Siobhán, Leicester,
Schuylkill), letters that sound alike on a phone line (the E-set B D E G P T V, and M N, F S), teens
against tens (fifteen and fifty), "double four" and "oh" for zero. Easy ones (Smith, 4567, 12 Main
Street) are the control.

Phone numbers are from the ranges set aside for fiction, so no real line is read out: 555-0100 to
0199 in North America; 020 7946 0xxx, 0161 496 0xxx and 07700 900xxx in the UK (Ofcom); 0491 570
006-159 and (02) 5550 xxxx in Australia (ACMA). Names and streets are invented combinations of
common given names, surnames and real place names.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Literal, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict

FactKind = Literal["name", "phone", "order_number", "address"]
FACT_KINDS: tuple[str, ...] = ("name", "phone", "order_number", "address")
T = TypeVar("T")


@dataclass(frozen=True)
class Fact:
    kind: str
    written: str  # how the agent should write it down
    spoken: str  # what the caller says (the text given to the voice)
    language: str  # of ``spoken``: give it to a voice of this language
    culture: str
    hard: bool
    why: str  # what makes it hard ("" for an easy one)

    @property
    def spelled(self) -> str:
        """The written form letter by letter ("S I O B H A N"), as a caller spells it when asked;
        accents dropped, digits and letters only."""
        folded = unicodedata.normalize("NFKD", self.written).encode("ascii", "ignore").decode()
        return " ".join(ch.upper() for ch in folded if ch.isalnum())


class FactSpec(BaseModel):
    """``fact: {kind: address, hard: true, culture: gb}`` in a scenario."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    kind: FactKind
    hard: bool = False
    culture: str | None = None  # one of cultures(kind, hard); any when left out

    def draw(self, seed: int) -> Fact:
        return fact(self.kind, seed=seed, hard=self.hard, culture=self.culture)


# (written, spoken, culture, why); the spoken form is for an English voice unless the culture is es/pt-br.
_NAMES_HARD = [
    ("Siobhán Ó Briain", "Shivawn O Breen", "ie", "Irish spelling: Siobhán is said shiv-AWN"),
    ("Niamh Ó Súilleabháin", "Neev O Soolavawn", "ie", "Irish spelling: Niamh is NEEV, Ó Súilleabháin oh SOOL-a-vawn"),
    ("Caoimhe Mac Giolla", "Keeva Mack Gilla", "ie", "Irish spelling: Caoimhe is KEE-va"),
    ("Tadhg Ó Dochartaigh", "Tige O Dockerty", "ie", "Irish spelling: Tadhg rhymes with tiger's first syllable"),
    ("Alasdair Menzies", "Alister Mingis", "gb", "Scottish: Menzies is said MING-iss"),
    ("Eilidh Urquhart", "Aylee Erkurt", "gb", "Scottish: Eilidh is AY-lee, Urquhart ERK-urt"),
    ("Hugh Cholmondeley", "Hyoo Chumlee", "gb", "English: Cholmondeley is said CHUM-lee"),
    ("Rhiannon Featherstonehaugh", "Reeannon Fanshaw", "gb", "English: Featherstonehaugh is said FAN-shaw"),
    ("Grzegorz Szczepański", "Gzhegosh Shchepanski", "pl", "Polish consonant clusters"),
    ("Małgorzata Przybylska", "Mawgozhata Pshibilska", "pl", "Polish: ł is a w, rz a zh"),
    ("Nguyễn Thị Huyền", "Win Tee Hwen", "vn", "Vietnamese: Nguyễn is said close to win"),
    ("Trần Quốc Bảo", "Chun Kwock Bow", "vn", "Vietnamese tones and spelling"),
    ("Chukwuemeka Okonkwo", "Chookwemeka Okonkwo", "ng", "Igbo name, six syllables"),
    ("Oluwaseun Adeyemi", "Oluwashayoon Adeyemi", "ng", "Yoruba: the s is sh"),
    ("Venkataraghavan Subramanian", "Venkataraghavan Subramanian", "in", "Tamil name, eight syllables"),
    ("Xiomara Echeverría", "Seeomara Echeverreea", "es", "Spanish: the X is an s"),
    ("João Gonçalves", "Zhwow Gonsalves", "pt-br", "Portuguese: João is one nasal syllable"),
]
_NAMES_EASY = [
    ("John Smith", "John Smith", "us"), ("Mary Johnson", "Mary Johnson", "us"), ("David Brown", "David Brown", "gb"),
    ("Sarah Wilson", "Sarah Wilson", "gb"), ("Michael Taylor", "Michael Taylor", "au"), ("Emma Clarke", "Emma Clarke", "ie"),
]

# (digits, English, Spanish, Portuguese): teens and tens, which are confused with each other
_NUMBERS = [
    (13, "thirteen", "trece", "treze"), (30, "thirty", "treinta", "trinta"),
    (14, "fourteen", "catorce", "catorze"), (40, "forty", "cuarenta", "quarenta"),
    (15, "fifteen", "quince", "quinze"), (50, "fifty", "cincuenta", "cinquenta"),
    (16, "sixteen", "dieciséis", "dezesseis"), (60, "sixty", "sesenta", "sessenta"),
    (17, "seventeen", "diecisiete", "dezessete"), (70, "seventy", "setenta", "setenta"),
    (18, "eighteen", "dieciocho", "dezoito"), (80, "eighty", "ochenta", "oitenta"),
    (19, "nineteen", "diecinueve", "dezenove"), (90, "ninety", "noventa", "noventa"),
]
# (written street and town, spoken, culture, why); the house number is put in front (or after, es/pt)
_STREETS_HARD = [
    ("Leicester Road, Bicester", "Lester Road, Bister", "gb", "English towns said far from their spelling"),
    ("Worcester Street, Towcester", "Wooster Street, Toaster", "gb", "English towns said far from their spelling"),
    ("Magdalen Road, Loughborough", "Maudlin Road, Luffbruh", "gb", "English names said far from their spelling"),
    ("Beaulieu Close, Alnwick", "Bewlee Close, Annick", "gb", "English names said far from their spelling"),
    ("Station Road, Milngavie", "Station Road, Mullguy", "gb", "Scottish: Milngavie is mull-GUY"),
    ("High Street, Kirkcudbright", "High Street, Kirkoobree", "gb", "Scottish: Kirkcudbright is kir-KOO-bree"),
    ("Heol y Bryn, Machynlleth", "Hayol uh Brin, Mahuncleth", "gb", "Welsh spelling"),
    ("Schuylkill Avenue, Philadelphia", "Skoolkill Avenue, Philadelphia", "us", "Schuylkill is said SKOOL-kill"),
    ("Tchoupitoulas Street, New Orleans", "Chopatoolus Street, New Orleans", "us", "Tchoupitoulas is chop-a-TOO-lus"),
    ("Front Street, Natchitoches", "Front Street, Nackitush", "us", "Natchitoches is said NACK-a-tush"),
    ("Main Street, Dún Laoghaire", "Main Street, Dun Leary", "ie", "Irish: Dún Laoghaire is dun LEER-ee"),
    ("Strand Street, Youghal", "Strand Street, Yawl", "ie", "Irish: Youghal is said yawl"),
    ("Calle de Joaquín Costa, Madrid", "calle de Joaquín Costa, Madrid", "es", "a Spanish address in Spanish"),
    ("Rua Conselheiro Brotero, São Paulo", "rua Conselheiro Brotero, São Paulo", "pt-br", "a Brazilian address in Portuguese"),
]
_STREETS_EASY = [
    ("Main Street, Springfield", "us"), ("Oak Avenue, Portland", "us"), ("High Street, Oxford", "gb"),
    ("Church Road, Bristol", "gb"), ("George Street, Sydney", "au"),
]
_LANGUAGE = {"es": "es", "pt-br": "pt-br"}
_E_SET = "BCDEGPTVZ"  # letters that differ only in their first consonant, lost in the phone band
_NASALS_FRICATIVES = "MNFS"
_DIGIT_WORDS = ["oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def cultures(kind: str, hard: bool) -> list[str]:
    """The cultures :func:`fact` can draw ``kind`` from."""
    if kind == "name":
        return sorted({c for *_, c, _ in _NAMES_HARD} if hard else {c for *_, c in _NAMES_EASY})
    if kind == "address":
        return sorted({c for *_, c, _ in _STREETS_HARD} if hard else {c for _, c in _STREETS_EASY})
    if kind == "phone":  # "double four" is British and Australian usage, so the hard ones are from there
        return ["au", "gb"] if hard else ["au", "gb", "us"]
    if kind == "order_number":
        return ["any"]
    raise ValueError(f"unknown fact kind {kind!r}; expected one of {', '.join(FACT_KINDS)}")


def fact(kind: str, *, seed: int, hard: bool = False, culture: str | None = None) -> Fact:
    """One fact of ``kind``, drawn with ``seed`` (the same seed, the same fact)."""
    known = cultures(kind, hard)
    if culture is not None and culture not in known:
        raise ValueError(f"no {'hard ' if hard else ''}{kind} for culture {culture!r}; cultures: {', '.join(known)}")
    rng = np.random.default_rng(seed)
    if kind == "name":
        return _name(rng, hard, culture)
    if kind == "address":
        return _address(rng, hard, culture)
    if kind == "phone":
        return _phone(rng, hard, culture or known[int(rng.integers(len(known)))])
    return _order_number(rng, hard)


def _pick(rng: np.random.Generator, items: list[T]) -> T:
    return items[int(rng.integers(len(items)))]


def _name(rng: np.random.Generator, hard: bool, culture: str | None) -> Fact:
    if hard:
        written, spoken, where, why = _pick(rng, [n for n in _NAMES_HARD if culture in (None, n[2])])
        return Fact("name", written, spoken, "en", where, True, why)
    written, spoken, where = _pick(rng, [n for n in _NAMES_EASY if culture in (None, n[2])])
    return Fact("name", written, spoken, "en", where, False, "")


def _address(rng: np.random.Generator, hard: bool, culture: str | None) -> Fact:
    if not hard:
        house = int(rng.integers(2, 13))
        street, where = _pick(rng, [s for s in _STREETS_EASY if culture in (None, s[1])])
        return Fact("address", f"{house} {street}", f"{_cardinal(house)} {street}", "en", where, False, "")
    number, plain, spanish, portuguese = _pick(rng, _NUMBERS)
    written, spoken, where, why = _pick(rng, [s for s in _STREETS_HARD if culture in (None, s[2])])
    why += f"; house number {number}, which a teen/ten confusion turns into {_partner(number)}"
    if where in _LANGUAGE:  # the number after the street, in the caller's language
        street, town = written.split(", ")
        said_street, said_town = spoken.split(", ")
        said = spanish if where == "es" else portuguese
        return Fact("address", f"{street} {number}, {town}", f"{said_street}, {said}, {said_town}", _LANGUAGE[where], where, True, why)
    return Fact("address", f"{number} {written}", f"{plain} {spoken}", "en", where, True, why)


def _phone(rng: np.random.Generator, hard: bool, culture: str) -> Fact:
    tail = f"{int(rng.integers(0, 1000)):03d}"
    if culture == "us":
        area = _pick(rng, ["212", "312", "415", "617"])
        local = f"01{tail[1:]}"  # 555-0100 to 0199
        written, groups = f"+1 {area} 555 {local}", [area, "555", local]
    elif culture == "gb":
        written, groups = _pick(
            rng,
            [
                (f"+44 20 7946 0{tail}", ["020", "7946", f"0{tail}"]),
                (f"+44 161 496 0{tail}", ["0161", "496", f"0{tail}"]),
                (f"+44 7700 900{tail}", ["07700", "900", tail]),
            ],
        )
    else:
        last = f"{int(rng.integers(6, 160)):03d}"  # 0491 570 006 to 159
        written, groups = f"+61 491 570 {last}", ["0491", "570", last]
    spoken = ", ".join(_digits(group, double=hard) for group in groups)
    why = "digits read with 'oh' for zero and 'double' for a pair" if hard else ""
    return Fact("phone", written, spoken, "en", culture, hard, why)


def _order_number(rng: np.random.Generator, hard: bool) -> Fact:
    if not hard:
        digits = f"{int(rng.integers(1000, 10000))}"
        return Fact("order_number", digits, " ".join(_DIGIT_WORDS[int(d)] for d in digits), "en", "any", False, "")
    letters = [str(_pick(rng, list(_E_SET if rng.random() < 0.7 else _NASALS_FRICATIVES))) for _ in range(3)]
    number = _pick(rng, _NUMBERS)
    written = f"{''.join(letters)}-{number[0]}"
    spoken = f"{' '.join(letters)}, {number[1]}"
    why = f"letters that sound alike on a phone line, and {number[0]}, which sounds like {_partner(number[0])}"
    return Fact("order_number", written, spoken, "en", "any", True, why)


def _digits(group: str, *, double: bool) -> str:
    """A digit group as a person reads it: zero as "oh"; with ``double``, "double four" for 44."""
    said: list[str] = []
    index = 0
    while index < len(group):
        digit = group[index]
        if double and index + 1 < len(group) and group[index + 1] == digit:
            said.append(f"double {_DIGIT_WORDS[int(digit)]}")
            index += 2
        else:
            said.append(_DIGIT_WORDS[int(digit)])
            index += 1
    return " ".join(said)


def _partner(number: int) -> int:
    """The teen or ten it is confused with: 15 and 50."""
    return (number - 10) * 10 if number < 20 else number // 10 + 10


def _cardinal(number: int) -> str:
    ones = "zero one two three four five six seven eight nine ten eleven twelve".split()
    return ones[number]
