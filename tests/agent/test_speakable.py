"""Text written by a script or an LLM, rewritten so a voice says it right."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from callwright.agent.shaping import (
    say_date,
    say_digits,
    say_email,
    say_house_number,
    say_integer,
    say_list,
    say_money,
    say_number,
    say_numeral,
    say_ordinal,
    say_phone,
    say_time,
    say_year,
    speakable,
)


@pytest.mark.parametrize(
    ("written", "said"),
    [
        # prices
        ("That's $20.50.", "That's twenty dollars and fifty cents."),
        ("It is $3", "It is three dollars"),
        ("Only €5.99", "Only five euros and ninety-nine cents"),
        ("£12 each", "twelve pounds each"),
        ("$1 and $0.01", "one dollar and one cent"),
        ("$1,250.00 total", "one thousand two hundred fifty dollars total"),
        ("raised $1.5 million", "raised one point five million dollars"),
        ("a $5k budget", "a five-thousand-dollar budget"),  # an amount before a noun is an adjective
        ("a $20 voucher for $20", "a twenty-dollar voucher for twenty dollars"),
        ("a $20.50 fee", "a twenty-dollar-fifty fee"),
        ("a 20 USD fee", "a twenty-dollar fee"),
        ("a $5 or $10 fee", "a five dollars or ten dollars fee"),  # no noun right after: not an adjective
        ("20 USD", "twenty dollars"),
        # numbers
        ("1,250 seats", "one thousand two hundred fifty seats"),
        ("3.5 stars", "three point five stars"),
        ("the 21st floor", "the twenty-first floor"),
        ("on the 2nd, 3rd and 11th", "on the second, third and eleventh"),
        ("15% off", "fifteen percent off"),
        ("2.5 % more", "two point five percent more"),
        ("3-5 days", "three to five days"),
        ("-4 degrees", "minus four degrees"),
        ("5km away", "five kilometers away"),
        ("I have 3. Then 4.", "I have three. Then four."),
        ("code 0123 or 12345", "code zero one two three or one two three four five"),  # identifiers
        # dates
        ("2026-11-25", "Wednesday, November twenty-fifth"),
        ("See you 2026-11-25 15:00.", "See you Wednesday, November twenty-fifth at three p.m."),
        ("We close at 22:00.", "We close at ten p.m."),  # one full stop, not "p.m.."
        ("Starts at 19:30. Bring water.", "Starts at seven thirty p.m. Bring water."),
        ("Open 9am-5pm.", "Open nine a.m. to five p.m."),
        ("Due 11/25/2026", "Due Wednesday, November twenty-fifth"),
        ("on 11/25 at noon", "on November twenty-fifth at noon"),
        ("Friday 12/4", "Friday December fourth"),
        ("a ratio of 11/25", "a ratio of eleven to twenty-five"),
        ("Your delivery is 11/25.", "Your delivery is November twenty-fifth."),
        ("Baked 3/14, best before 3/21", "Baked March fourteenth, best before March twenty-first"),
        ("1/2 a cup, 3/4 of the bag", "one half a cup, three quarters of the bag"),
        ("on 1/2", "on January second"),  # a date word makes a small fraction a date
        ("rated 4/5", "rated four out of five"),
        ("9/10 points", "nine out of ten points"),
        ("13/40", "thirteen over forty"),  # no such date
        # times
        ("at 3:30 PM", "at three thirty p.m."),
        ("at 3:30pm.", "at three thirty p.m."),
        ("at 3:00 pm", "at three p.m."),
        ("from 9am to 5 p.m.", "from nine a.m. to five p.m."),
        ("at 15:30", "at three thirty p.m."),
        ("at 00:15", "at twelve fifteen a.m."),
        ("at 12:00 PM", "at noon"),
        ("at 3:30", "at three thirty"),  # no a.m./p.m. and not 24-hour: say what is written
        ("at 10:05", "at ten oh five"),
        ("at 3.5 pm", "at three point five pm"),  # not a clock time
        # phone numbers, read in their groups
        ("Call +1 415 555 0123", "Call four one five, five five five, zero one two three"),
        ("Call (415) 555-0123.", "Call four one five, five five five, zero one two three."),
        ("Call 415-555-0123", "Call four one five, five five five, zero one two three"),
        ("Call +44 20 7946 0958", "Call plus four four, two zero, seven nine four six, zero nine five eight"),
        ("Call 555-0123", "Call five five five, zero one two three"),
        # order and reference numbers, character by character
        ("Your order #A12345 shipped", "Your order number A one two three four five shipped"),
        ("order 4567 is ready", "order four five six seven is ready"),
        ("Order number 99", "Order number nine nine"),
        ("ref AB-778", "ref A B seven seven eight"),
        ("Confirmation: XK42", "Confirmation X K four two"),
        ("flight UA123", "flight U A one two three"),
        ("order 2 sandwiches", "order two sandwiches"),  # a count, not a reference
        ("We're #1!", "We're number one!"),
        # years
        ("Back in 2026.", "Back in twenty twenty-six."),
        ("since 1999", "since nineteen ninety-nine"),
        ("in 2005", "in two thousand five"),
        ("1500 people", "one thousand five hundred people"),
        # lists
        ("We have:\n- bread\n- cake\n- pie", "We have: bread, cake, and pie"),
        ("Options:\n1. Small\n2. Large\nWhich one?", "Options: Small and Large. Which one?"),
        ("* tea;\n* coffee.", "tea and coffee"),
        ("Pick 1) small, 2) medium, or 3) large.", "Pick small, medium, or large."),
        ("Steps: (1) call (2) pay (3) go. Then rest.", "Steps: call, pay, and go. Then rest."),
        (  # "a.m." inside the last item does not end the list's sentence
            "Open 1) weekdays 9 a.m. to 5 p.m., or 2) Saturdays 10 a.m. to 2 p.m. Call us!",
            "Open weekdays nine a.m. to five p.m. or Saturdays ten a.m. to two p.m. Call us!",
        ),
        # what it did before
        ("**Great** news 🎉 see [our page](https://x.example) for\n- more", "Great news see our page for more"),
        ("Visit https://example.com/a1 now", "Visit the link now"),
        ("# Title\n`code` and __bold__", "Title code and bold"),
        ("Nothing to change here.", "Nothing to change here."),
        ("", ""),
    ],
)
def test_speakable(written: str, said: str) -> None:
    assert speakable(written) == said


@pytest.mark.parametrize(
    ("say", "value", "said"),
    [
        (say_integer, 0, "zero"),
        (say_integer, 1250, "one thousand two hundred fifty"),
        (say_integer, 1_000_001, "one million one"),
        (say_integer, -7, "minus seven"),
        (say_ordinal, 21, "twenty-first"),
        (say_ordinal, 12, "twelfth"),
        (say_ordinal, 30, "thirtieth"),
        (say_ordinal, 100, "one hundredth"),
        (say_number, Decimal("3.50"), "three point five zero"),
        (say_number, "1,250.75", "one thousand two hundred fifty point seven five"),
        (say_number, 7, "seven"),
        (say_digits, "A12-3", "A one two three"),
        (say_numeral, "007", "zero zero seven"),
        (say_numeral, "1,250", "one thousand two hundred fifty"),
        (say_year, 2026, "twenty twenty-six"),
        (say_year, 1905, "nineteen oh five"),
        (say_year, 1900, "nineteen hundred"),
        (say_year, 2000, "two thousand"),
        (say_year, 2009, "two thousand nine"),
        (say_house_number, 12, "twelve"),
        (say_house_number, 221, "two twenty-one"),
        (say_house_number, 1205, "twelve oh five"),
        (say_house_number, 2000, "two thousand"),
        (say_house_number, 12345, "one two three four five"),
        (say_date, dt.date(2026, 11, 25), "Wednesday, November twenty-fifth"),
        (say_time, dt.time(15), "three p.m."),
        (say_time, dt.time(9, 5), "nine oh five a.m."),
        (say_time, dt.time(0), "midnight"),
        (say_money, Decimal("20.50"), "twenty dollars and fifty cents"),
        (say_money, Decimal("0.99"), "ninety-nine cents"),
        (say_money, Decimal("1.01"), "one dollar and one cent"),
        (say_money, Decimal(0), "zero dollars"),
        (say_phone, "+14155550123", "four one five, five five five, zero one two three"),
        (say_phone, "123", "one two three"),  # not a phone number: its digits as written
        (say_email, "sam.jones42@example.com", "sam dot jones four two at example dot com"),
        (say_list, ["a"], "a"),
        (say_list, ["a", "b"], "a and b"),
        (say_list, ["a", "b", "c"], "a, b, and c"),
    ],
)
def test_reading_rules(say: object, value: object, said: str) -> None:
    assert callable(say) and say(value) == said


def test_a_date_that_does_not_exist_is_not_read_as_one() -> None:
    assert "February" not in speakable("2026-02-30") and "March" not in speakable("2026-02-30")


def test_reading_rules_take_options() -> None:
    assert say_date(dt.date(2027, 1, 5), year=True) == "Tuesday, January fifth, twenty twenty-seven"
    assert say_date(dt.date(2027, 1, 5), weekday=False) == "January fifth"
    assert say_time(dt.time(15, 0), meridiem=False) == "three o'clock"
    assert say_money(Decimal("12.50"), "GBP") == "twelve pounds and fifty pence"
    assert say_money(Decimal("2"), "CHF") == "two C H F"
    assert say_phone("+442079460958", region="GB") == "zero two zero, seven nine four six, zero nine five eight"
    assert say_list(["tea", "coffee"], "or") == "tea or coffee"


def test_number_words_agree_with_inflect() -> None:
    import inflect  # slow to import (about 2 s), which is why callwright.agent.numbers has its own words

    engine = inflect.engine()
    numbers = [*range(0, 1200), 1999, 2026, 10_000, 12_345, 100_000, 1_000_000, 1_234_567, 987_654_321]
    for n in numbers:
        assert say_integer(n) == engine.number_to_words(n, andword="", comma=""), n
        assert say_ordinal(n) == engine.number_to_words(engine.ordinal(n), andword="", comma=""), n


@pytest.mark.parametrize(
    ("written", "said"),
    [
        ("Please hang up and call emergency services on 911 now.", "Please hang up and call emergency services on nine one one now."),
        ("Call 999 straight away.", "Call nine nine nine straight away."),
        ("Call or text 988 to talk to someone.", "Call or text nine eight eight to talk to someone."),
        ("Make the 911 call yourself.", "Make the nine one one call yourself."),
        ("We have 112 stores.", "We have one hundred twelve stores."),  # a count, not a number to dial
        ("It costs 911 dollars.", "It costs nine hundred eleven dollars."),
    ],
)
def test_emergency_numbers_are_said_digit_by_digit(written: str, said: str) -> None:
    assert speakable(written) == said


@pytest.mark.parametrize(
    ("written", "said"),
    [
        # units as words, American spelling throughout, singular for exactly one
        ("5 km", "five kilometers"),
        ("1 km", "one kilometer"),
        ("1.5 kg of flour", "one point five kilograms of flour"),
        ("1 kg", "one kilogram"),
        ("250 g", "two hundred fifty grams"),
        ("1 g", "one gram"),
        ("500 mg twice a day", "five hundred milligrams twice a day"),
        ("330 ml", "three hundred thirty milliliters"),
        ("2 L of water", "two liters of water"),
        ("1 l", "one liter"),
        ("12 cm", "twelve centimeters"),
        ("3 mm", "three millimeters"),
        ("100 m", "one hundred meters"),
        ("30 mph", "thirty miles per hour"),
        ("1 mph", "one mile per hour"),
        ("50 km/h", "fifty kilometers per hour"),
        ("the limit in km/h", "the limit in kilometers per hour"),
        ("38.5°C", "thirty-eight point five degrees Celsius"),
        ("-4 °C", "minus four degrees Celsius"),
        ("1°F", "one degree Fahrenheit"),
        ("5 lb", "five pounds"),
        ("1 lb", "one pound"),
        ("2 lbs", "two pounds"),
        ("8 oz", "eight ounces"),
        ("100%", "one hundred percent"),
        ("a 5 km walk", "a five-kilometer walk"),
        ("a 2 kg bag", "a two-kilogram bag"),
        ("a 1 kg bag of rice", "a one-kilogram bag of rice"),
        ("a 30 mph limit", "a thirty-mile-per-hour limit"),
        ("in 5 minutes", "in five minutes"),  # "m" is a unit only on its own
        ("5 items, 1 item", "five items, one item"),
        ("3 l.", "three liters."),
    ],
)
def test_units_are_said_as_words(written: str, said: str) -> None:
    assert speakable(written) == said


@pytest.mark.parametrize(
    ("written", "said"),
    [
        ("We're open 24/7.", "We're open twenty-four seven."),
        ("Pay $5/month", "Pay five dollars per month"),
        ("$12/hr", "twelve dollars per hour"),
        ("email and/or text", "email and or text"),
        ("Answer yes/no", "Answer yes or no"),
        ("c/o Sam Jones", "care of Sam Jones"),
        ("coffee w/ oat milk, tea w/o sugar", "coffee with oat milk, tea without sugar"),
        ("Price: N/A", "Price: not applicable"),
        ("Due 11/25/2026", "Due Wednesday, November twenty-fifth"),
    ],
)
def test_no_slash_reaches_the_voice(written: str, said: str) -> None:
    assert speakable(written) == said


def test_no_slash_and_no_doubled_stop_in_any_output() -> None:
    written = [
        "Orders placed 12/24 ship 12/27.", "Rates: $3/kg, 50 km/h, 4/4 stars, 1/8 inch, 31/12/2026 and 2/30.",
        "Call and/or text 24/7 w/ questions.", "It ends at 11:00.", "From 09:00. To 17:00.", "a/b/c", "5 / 7",
    ]
    for text in written:
        said = speakable(text)
        assert "/" not in said, (text, said)
        assert ".." not in said, (text, said)


@pytest.mark.parametrize(
    ("written", "said"),
    [
        ("Let's keep a upbeat tone.", "Let's keep an upbeat tone."),
        ("It's a unit of one.", "It's a unit of one."),
        ("an unit", "a unit"),
        ("a hour ago", "an hour ago"),
        ("It's an one-off.", "It's a one-off."),
        ("a 8 am start", "an eight a.m. start"),
        ("a 11-day wait", "an eleven-day wait"),
        ("a 18 month plan", "an eighteen month plan"),
        ("a 1,100 mile drive", "a one thousand one hundred mile drive"),
        ("A order is ready. A update follows.", "An order is ready. An update follows."),
        ("plan A or B", "plan A or B"),  # a letter, not an article
        ("a euro coin and a honest answer", "a euro coin and an honest answer"),
        ("an MRI and a URL", "an MRI and a URL"),
    ],
)
def test_a_or_an_by_sound(written: str, said: str) -> None:
    assert speakable(written) == said


def test_articles_agree_with_inflect() -> None:
    import inflect

    from callwright.agent.articles import article

    engine = inflect.engine()
    words = (
        "upbeat unit hour one-off once euro honest heir hotel umbrella usual user uniform uninformed unimportant "
        "apple egg ice orange ox yellow yttrium FBI MRI SMS NASA FAQ X-ray L-plate eight eleven eighteen eighty "
        "anxious angry upset happy neutral calm warm address email phone date time number money choice text "
        "history unicorn Ukrainian ubiquitous European ewe one uterus"
    ).split()
    for word in words:
        assert article(word) == engine.a(word).split()[0], word
