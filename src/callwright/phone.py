"""Phone numbers: the one place they are parsed, checked and written (with ``phonenumbers``).

Callers' numbers arrive in every form ("(415) 555-0123", "+1 415 555 0123", a Twilio ``From``);
the store, events and tools use E.164 ("+14155550123"). :func:`to_e164` turns a number a person or
a carrier gave into E.164, or None when it is not a valid number. :func:`is_e164` checks a number
an operator configured (a transfer target): the strict E.164 form, and a number that can exist
(the fictional 555 numbers of examples and tests are accepted).
"""

from __future__ import annotations

import re

import phonenumbers

E164_FORM = re.compile(r"\+[1-9]\d{6,14}")


def parse(raw: str, region: str = "US") -> phonenumbers.PhoneNumber | None:
    """``raw`` read as a number of ``region`` (when it has no country code), or None."""
    try:
        return phonenumbers.parse(raw, region.upper() if region else None)
    except phonenumbers.NumberParseException:
        return None


def format_e164(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def to_e164(raw: str | None, region: str = "US") -> str | None:
    """A valid number in E.164, or None when ``raw`` is missing or not a valid number."""
    number = parse(raw, region) if raw else None
    if number is None or not phonenumbers.is_valid_number(number):
        return None
    return format_e164(number)


def is_valid(raw: str, region: str = "US") -> bool:
    """Whether ``raw`` is a valid number (of ``region`` when it has no country code)."""
    number = parse(raw, region)
    return number is not None and phonenumbers.is_valid_number(number)


def is_e164(number: str) -> bool:
    """Whether a configured number is written in E.164 and could exist ("+15551230000" is fine)."""
    if not E164_FORM.fullmatch(number):
        return False
    parsed = parse(number, "")
    return parsed is not None and phonenumbers.is_possible_number(parsed)
