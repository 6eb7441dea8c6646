"""The one phone-number normaliser: what callers say and carriers send, and what operators configure."""

from __future__ import annotations

import pytest

from callwright.phone import is_e164, to_e164


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("(415) 555-0123", "US", "+14155550123"),
        ("415 123 4567", "US", None),  # no US exchange starts with 1
        ("(650) 253-0000", "US", "+16502530000"),
        ("+44 20 7946 0958", "US", "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("anonymous", "US", None),
        ("", "US", None),
        (None, "US", None),
    ],
)
def test_callers_numbers_become_e164(raw: str | None, region: str, e164: str | None) -> None:
    assert to_e164(raw, region) == e164


@pytest.mark.parametrize(
    ("number", "ok"),
    [("+15551230000", True), ("+442079460958", True), ("15551230000", False), ("+1 555 123 0000", False), ("+0123456789", False), ("+1555", False)],
)
def test_configured_numbers_must_be_written_in_e164(number: str, ok: bool) -> None:
    assert is_e164(number) is ok
