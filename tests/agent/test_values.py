"""Typed values read from what speech recognisers write, and read back the way the agent says them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from callwright.agent.reading import yes_no
from callwright.agent.values import FieldKind, Parsed, parse_value, words_to_digits
from callwright.errors import ConfigError

NOW = dt.datetime(2026, 11, 24, 10, 0)  # a Tuesday morning
SIZES = ("small", "medium", "large", "extra large")


def parse(kind: FieldKind, text: str, **options: Any) -> Parsed | None:
    return parse_value(kind, text, now=NOW, **options)


@pytest.mark.parametrize(
    ("said", "digits"),
    [
        ("four five six seven", "4567"),
        ("forty five sixty seven", "4567"),
        ("four thousand five hundred sixty seven", "4567"),
        ("4567", "4567"),
        ("double five", "55"),
        ("triple zero", "000"),
        ("four oh one", "401"),
        ("a hundred and five", "105"),
        ("twelve hundred", "1200"),
        ("three point five", "3.5"),
        ("two thousand twenty six", "2026"),
        ("twenty twenty-six", "2026"),
        ("one hundred twenty three thousand four hundred", "123400"),
        ("room two twenty one, floor three", "room 221, floor 3"),
        ("Order Forty-Two please", "Order 42 please"),
        ("oh okay, no thanks", "oh okay, no thanks"),  # "oh" is zero only next to a number word
        ("the large one", "the large one"),  # a pronoun, not a number
        ("one of them", "one of them"),
        ("a table for one", "a table for 1"),
        ("wait a second", "wait a second"),  # ordinals are off by default
        ("nothing here", "nothing here"),
    ],
)
def test_words_to_digits(said: str, digits: str) -> None:
    assert words_to_digits(said) == digits


def test_words_to_digits_reads_ordinals_when_asked() -> None:
    assert words_to_digits("the twenty fifth or the first", ordinals=True) == "the 25th or the 1st"
    assert words_to_digits("the eleventh and the twenty second", ordinals=True) == "the 11th and the 22nd"


@pytest.mark.parametrize(
    ("kind", "said", "value", "text", "spoken", "certainty"),
    [
        # numbers: digit sequences are identifiers and are read back digit by digit
        ("number", "four five six seven", 4567, "4567", "four five six seven", 1.0),
        ("number", "forty five sixty seven", 4567, "4567", "four five six seven", 1.0),
        ("number", "four thousand five hundred sixty seven", 4567, "4567", "four thousand five hundred sixty-seven", 1.0),
        ("number", "4567", 4567, "4567", "four thousand five hundred sixty-seven", 1.0),
        ("number", "double five", 55, "55", "five five", 1.0),
        ("number", "four oh one", 401, "401", "four zero one", 1.0),
        ("number", "1,250", 1250, "1250", "one thousand two hundred fifty", 1.0),
        ("number", "three point five", Decimal("3.5"), "3.5", "three point five", 1.0),
        ("number", "minus five", -5, "-5", "minus five", 1.0),
        ("number", "two or three", 2, "2", "two", 0.6),  # more than one number: the first, less sure
        # phone numbers, normalised to E.164
        ("phone", "four one five five five five zero one two three", "+14155550123", "+14155550123", "four one five, five five five, zero one two three", 1.0),
        ("phone", "(415) 555-0123", "+14155550123", "+14155550123", "four one five, five five five, zero one two three", 1.0),
        ("phone", "my number is 415 555 0123 thanks", "+14155550123", "+14155550123", "four one five, five five five, zero one two three", 1.0),
        ("phone", "four one five, five five five, zero one two three", "+14155550123", "+14155550123", "four one five, five five five, zero one two three", 1.0),  # commas between digits join the run
        ("phone", "+44 20 7946 0958", "+442079460958", "+442079460958", "plus four four, two zero, seven nine four six, zero nine five eight", 1.0),
        ("phone", "plus four four two zero seven nine four six zero nine five eight", "+442079460958", "+442079460958", "plus four four, two zero, seven nine four six, zero nine five eight", 1.0),
        # dates, relative to Tuesday 2026-11-24
        ("date", "tomorrow", dt.date(2026, 11, 25), "2026-11-25", "tomorrow, Wednesday, November twenty-fifth", 1.0),
        ("date", "the day after tomorrow", dt.date(2026, 11, 26), "2026-11-26", "Thursday, November twenty-sixth", 1.0),
        ("date", "today", dt.date(2026, 11, 24), "2026-11-24", "today, Tuesday, November twenty-fourth", 1.0),
        ("date", "Friday", dt.date(2026, 11, 27), "2026-11-27", "Friday, November twenty-seventh", 1.0),
        ("date", "next Tuesday", dt.date(2026, 12, 1), "2026-12-01", "Tuesday, December first", 0.8),
        ("date", "this Tuesday", dt.date(2026, 11, 24), "2026-11-24", "today, Tuesday, November twenty-fourth", 1.0),
        ("date", "on the third", dt.date(2026, 12, 3), "2026-12-03", "Thursday, December third", 0.9),  # passed: next month
        ("date", "the twenty eighth", dt.date(2026, 11, 28), "2026-11-28", "Saturday, November twenty-eighth", 0.9),
        ("date", "the thirty first", dt.date(2026, 12, 31), "2026-12-31", "Thursday, December thirty-first", 0.9),  # November has 30
        ("date", "November 25th", dt.date(2026, 11, 25), "2026-11-25", "tomorrow, Wednesday, November twenty-fifth", 1.0),
        ("date", "november twenty fifth", dt.date(2026, 11, 25), "2026-11-25", "tomorrow, Wednesday, November twenty-fifth", 1.0),
        ("date", "the 5th of January", dt.date(2027, 1, 5), "2027-01-05", "Tuesday, January fifth, twenty twenty-seven", 1.0),
        ("date", "december third twenty twenty seven", dt.date(2027, 12, 3), "2027-12-03", "Friday, December third, twenty twenty-seven", 1.0),
        ("date", "friday the fourth", dt.date(2026, 12, 4), "2026-12-04", "Friday, December fourth", 0.9),
        ("date", "the 3rd of next month", dt.date(2026, 12, 3), "2026-12-03", "Thursday, December third", 0.9),
        ("date", "tomorrow, first thing", dt.date(2026, 11, 25), "2026-11-25", "tomorrow, Wednesday, November twenty-fifth", 1.0),
        ("date", "hold on a second, friday", dt.date(2026, 11, 27), "2026-11-27", "Friday, November twenty-seventh", 1.0),
        ("date", "in two weeks", dt.date(2026, 12, 8), "2026-12-08", "Tuesday, December eighth", 1.0),
        ("date", "11/25", dt.date(2026, 11, 25), "2026-11-25", "tomorrow, Wednesday, November twenty-fifth", 0.8),  # via dateparser
        ("date", "tomorrow at three", dt.date(2026, 11, 25), "2026-11-25", "tomorrow, Wednesday, November twenty-fifth", 1.0),
        # times: a bare hour 1-7 is p.m. (business hours), and less certain
        ("time", "tomorrow at three", dt.time(15, 0), "15:00", "three p.m.", 0.85),
        ("time", "three thirty pm", dt.time(15, 30), "15:30", "three thirty p.m.", 1.0),
        ("time", "3:30 p.m.", dt.time(15, 30), "15:30", "three thirty p.m.", 1.0),
        ("time", "three oh five pm", dt.time(15, 5), "15:05", "three oh five p.m.", 1.0),
        ("time", "half past two", dt.time(14, 30), "14:30", "two thirty p.m.", 0.85),
        ("time", "quarter to five", dt.time(16, 45), "16:45", "four forty-five p.m.", 0.85),
        ("time", "noon", dt.time(12, 0), "12:00", "noon", 1.0),
        ("time", "midnight", dt.time(0, 0), "00:00", "midnight", 1.0),
        ("time", "ten o'clock", dt.time(10, 0), "10:00", "ten a.m.", 0.85),
        ("time", "at ten in the morning", dt.time(10, 0), "10:00", "ten a.m.", 1.0),
        ("time", "tonight at eight", dt.time(20, 0), "20:00", "eight p.m.", 1.0),
        ("time", "9 am", dt.time(9, 0), "09:00", "nine a.m.", 1.0),
        ("time", "fifteen hundred", None, None, None, None),
        ("time", "um, four", dt.time(16, 0), "16:00", "four p.m.", 0.7),  # the whole answer is an hour
        # datetime: both parts; a time alone is the next such time
        ("datetime", "tomorrow at three", dt.datetime(2026, 11, 25, 15), "2026-11-25T15:00", "tomorrow, Wednesday, November twenty-fifth at three p.m.", 0.85),
        ("datetime", "friday at 2", dt.datetime(2026, 11, 27, 14), "2026-11-27T14:00", "Friday, November twenty-seventh at two p.m.", 0.85),
        ("datetime", "on the 3rd at 10 am", dt.datetime(2026, 12, 3, 10), "2026-12-03T10:00", "Thursday, December third at ten a.m.", 0.9),
        ("datetime", "three thirty pm", dt.datetime(2026, 11, 24, 15, 30), "2026-11-24T15:30", "today, Tuesday, November twenty-fourth at three thirty p.m.", 0.8),
        ("datetime", "9 am", dt.datetime(2026, 11, 25, 9), "2026-11-25T09:00", "tomorrow, Wednesday, November twenty-fifth at nine a.m.", 0.8),  # 9 am has passed
        # money
        ("money", "twenty dollars fifty", Decimal("20.50"), "20.50", "twenty dollars and fifty cents", 1.0),
        ("money", "twenty dollars and fifty cents", Decimal("20.50"), "20.50", "twenty dollars and fifty cents", 1.0),
        ("money", "twenty dollars and five cents", Decimal("20.05"), "20.05", "twenty dollars and five cents", 1.0),
        ("money", "$20.50", Decimal("20.50"), "20.50", "twenty dollars and fifty cents", 1.0),
        ("money", "$3.5", Decimal("3.50"), "3.50", "three dollars and fifty cents", 1.0),
        ("money", "twelve ninety nine", Decimal("12.99"), "12.99", "twelve dollars and ninety-nine cents", 0.8),
        ("money", "a hundred bucks", Decimal("100"), "100.00", "one hundred dollars", 1.0),
        ("money", "a hundred and twenty dollars", Decimal("120"), "120.00", "one hundred twenty dollars", 1.0),
        ("money", "a dollar fifty", Decimal("1.50"), "1.50", "one dollar and fifty cents", 1.0),
        ("money", "fifty cents", Decimal("0.50"), "0.50", "fifty cents", 1.0),
        ("money", "fifty", Decimal("50"), "50.00", "fifty dollars", 0.7),
        # email
        ("email", "sam dot jones at example dot com", "sam.jones@example.com", "sam.jones@example.com", "sam dot jones at example dot com", 0.9),
        ("email", "my email is sam dot jones at example dot com", "sam.jones@example.com", "sam.jones@example.com", "sam dot jones at example dot com", 0.9),
        ("email", "it's s a m at gmail dot com please", "sam@gmail.com", "sam@gmail.com", "sam at gmail dot com", 0.9),
        ("email", "john underscore smith forty two at company dot co dot uk", "john_smith42@company.co.uk", "john_smith42@company.co.uk", "john underscore smith four two at company dot co dot uk", 0.9),
        ("email", "Sam.Jones@Example.com", "sam.jones@example.com", "sam.jones@example.com", "sam dot jones at example dot com", 1.0),
        # address: a house number and a street word make it certain
        ("address", "twelve oak street", "12 Oak Street", "12 Oak Street", "twelve Oak Street", 1.0),
        ("address", "twelve oak street springfield", "12 Oak Street, Springfield", "12 Oak Street, Springfield", "twelve Oak Street, Springfield", 1.0),
        ("address", "I live at two twenty one baker street", "221 Baker Street", "221 Baker Street", "two twenty-one Baker Street", 1.0),
        ("address", "1250 Main St, apartment 4", "1250 Main St, Apartment 4", "1250 Main St, Apartment 4", "twelve fifty Main St, Apartment four", 1.0),
        ("address", "oak street", "Oak Street", "Oak Street", "Oak Street", 0.6),
        ("address", "twelve oak", "12 Oak", "12 Oak", "twelve Oak", 0.6),
        ("address", "springfield", "Springfield", "Springfield", "Springfield", 0.3),
        # choice
        ("choice", "large please", "large", "large", "large", 1.0),
        ("choice", "two larges", "large", "large", "large", 1.0),
        ("choice", "I'll take a small", "small", "small", "small", 1.0),
        ("choice", "extra large", "extra large", "extra large", "extra large", 1.0),  # the longer match wins
        ("choice", "medum", "medium", "medium", "medium", 0.82),
        ("choice", "the second one", "medium", "medium", "medium", 0.8),
        ("choice", "option four", "extra large", "extra large", "extra large", 0.8),
        # yes / no
        ("yes_no", "yes", True, "yes", "yes", 1.0),
        ("yes_no", "Yeah.", True, "yes", "yes", 1.0),
        ("yes_no", "that's right", True, "yes", "yes", 1.0),
        ("yes_no", "That’s right", True, "yes", "yes", 1.0),
        ("yes_no", "correct", True, "yes", "yes", 1.0),
        ("yes_no", "sure", True, "yes", "yes", 1.0),
        ("yes_no", "go ahead", True, "yes", "yes", 1.0),
        ("yes_no", "no problem", True, "yes", "yes", 1.0),
        ("yes_no", "yes but change the time please", True, "yes", "yes", 0.8),
        ("yes_no", "no", False, "no", "no", 1.0),
        ("yes_no", "nope", False, "no", "no", 1.0),
        ("yes_no", "that's wrong", False, "no", "no", 1.0),
        ("yes_no", "not quite", False, "no", "no", 1.0),
        ("yes_no", "no, that's not right", False, "no", "no", 1.0),
        # text
        ("text", "  oat milk, please ", "oat milk, please", "oat milk, please", "oat milk, please", 1.0),
    ],
)
def test_parse_value(kind: FieldKind, said: str, value: Any, text: str, spoken: str, certainty: float) -> None:
    parsed = parse(kind, said, choices=SIZES)
    if value is None:
        assert parsed is None
        return
    assert parsed == Parsed(value, text, spoken, certainty)


@pytest.mark.parametrize(
    ("kind", "said"),
    [
        ("number", "hello there"),
        ("phone", "five five five"),  # too short
        ("phone", "12345"),
        ("phone", "one two three four five six seven eight nine zero one two"),  # not a valid number
        ("phone", "call me maybe"),
        ("date", "banana"),
        ("date", "three thirty pm"),  # a time is not a date
        ("date", "whenever suits"),
        ("time", "tomorrow"),  # a date is not a time
        ("time", "11/25"),
        ("time", "for two people"),
        ("time", "at 25"),
        ("datetime", "tomorrow"),  # no time: ask for it
        ("datetime", "banana"),
        ("money", "nothing at all"),
        ("money", "5 euros"),  # not in the field's currency
        ("money", "€5"),
        ("email", "hello"),
        ("email", "sam at example"),  # no top-level domain
        ("email", "at dot com"),
        ("address", "12345"),
        ("choice", "nothing like that"),
        ("choice", "small or large"),  # two fit equally
        ("choice", "the ninth one"),
        ("yes_no", "banana"),
        ("yes_no", "I'm not sure"),
        ("yes_no", "maybe"),
        ("yes_no", "yes no"),  # both
        ("text", "   "),
        ("number", ""),
    ],
)
def test_what_is_not_there_is_none(kind: FieldKind, said: str) -> None:
    assert parse(kind, said, choices=SIZES) is None


def test_options_change_the_reading() -> None:
    assert parse("money", "5 euros", currency="EUR") == Parsed(Decimal(5), "5.00", "five euros", 1.0)
    assert parse("money", "€5.99", currency="EUR") == Parsed(Decimal("5.99"), "5.99", "five euros and ninety-nine cents", 1.0)
    assert parse("money", "twelve quid", currency="GBP") == Parsed(Decimal(12), "12.00", "twelve pounds", 1.0)
    uk = parse("phone", "oh two oh seven nine four six oh nine five eight", region="GB")
    assert uk == Parsed("+442079460958", "+442079460958", "zero two zero, seven nine four six, zero nine five eight", 1.0)
    gb_date = parse("date", "3/4", region="GB")  # day first outside the US
    assert gb_date is not None and gb_date.value == dt.date(2027, 4, 3)
    big = parse("choice", "a big one", choices=SIZES, synonyms={"large": ["big", "grande"]})
    assert big is not None and big.value == "large"
    assert parse("choice", "large", choices=()) is None  # nothing to match against


def test_time_zone_of_now_is_kept() -> None:
    now = dt.datetime(2026, 11, 24, 10, tzinfo=dt.timezone(dt.timedelta(hours=-8)))
    parsed = parse_value("datetime", "tomorrow at 9 am", now=now)
    assert parsed is not None and parsed.value == dt.datetime(2026, 11, 25, 9, tzinfo=now.tzinfo)


def test_an_unknown_kind_is_a_clear_error() -> None:
    misspelt: Any = "phon"
    with pytest.raises(ConfigError, match="kind 'phon' is not a field kind; did you mean 'phone'"):
        parse_value(misspelt, "415 555 0123")


@pytest.mark.parametrize(
    ("heard", "digits"),
    [
        ("Where is my order for five, six, seven?", "Where is my order 4567?"),  # moonshine's reading of 4567
        ("one to three four", "1234"),
        ("the phone is four one five, five five five, zero one two three", "the phone is 4155550123"),
        ("a table for two", "a table for 2"),  # not a digit string: "for" stays a word
        ("I want to order two oat milk", "I want to order 2 oat milk"),
    ],
)
def test_recogniser_homophones_and_commas_inside_digit_strings(heard: str, digits: str) -> None:
    assert words_to_digits(heard) == digits


# A term of address said with a yes or a no ("yes ma'am", "nah mate") is part of the answer, in any
# English; so are the ways of saying yes in other Englishes. Written for this test, not from the suites.
@pytest.mark.parametrize(
    ("said", "value"),
    [
        ("yes ma'am", True),
        ("yeah man", True),
        ("aye hen", True),
        ("yep boss", True),
        ("yes auntie", True),
        ("yeah bro, that's right", True),
        ("correct sir", True),
        ("sure thing pal", True),
        ("haan ji", True),
        ("ja", True),
        ("yebo", True),
        ("opo", True),
        ("nah mate", False),
        ("no ma'am", False),
        ("nope, sorry love", False),
    ],
)
def test_yes_and_no_with_a_term_of_address(said: str, value: bool) -> None:
    parsed = parse("yes_no", said)
    assert parsed is not None and (parsed.value, parsed.certainty) == (value, 1.0)
    heard = yes_no(said)
    assert (heard.value, heard.clear) == (value, True)
