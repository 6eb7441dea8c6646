"""The ``environment:`` block of a scenario: what it accepts, and what it says when it does not."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from callwright.simulate import SOUNDS, Environment, Phone, Wideband
from callwright.simulate.environment import BurstKind, NoiseKind

DOCS = Path(__file__).resolve().parents[2] / "docs" / "simulator.md"


def test_an_unknown_noise_kind_is_refused_with_the_valid_kinds() -> None:
    with pytest.raises(ValidationError) as caught:
        Environment.model_validate({"noise": {"kind": "cafe", "snr_db": 5}})
    (error,) = caught.value.errors()
    assert error["loc"] == ("noise", "kind")
    assert all(f"'{kind}'" in error["msg"] for kind in ("white", "pink", "brown", "babble", "traffic", "market", "crowd"))


def test_unknown_fields_and_wrong_types_are_refused() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Environment.model_validate({"noise": {"kind": "pink", "snr_db": 5, "level": 3}})
    with pytest.raises(ValidationError, match="valid number"):
        Environment.model_validate({"noise": {"kind": "pink", "snr_db": "5"}})  # strict: no strings for numbers
    with pytest.raises(ValidationError, match=r"'wideband', 'phone'"):
        Environment.model_validate({"channel": "radio"})


def test_a_room_too_short_for_its_size_or_a_distance_past_its_walls_is_refused() -> None:
    with pytest.raises(ValidationError, match=re.escape("too short for a 10.0 x 10.0 x 3.0 m room")):
        Environment.model_validate({"room": {"rt60": 0.1, "size": [10.0, 10.0, 3.0]}})
    with pytest.raises(ValidationError, match="does not fit"):
        Environment.model_validate({"room": {"rt60": 0.5, "size": [3.0, 3.0, 2.5], "distance": 2.5}})


def test_channel_by_name_and_defaults() -> None:
    assert Environment().channel == Wideband()
    assert Environment.model_validate({"channel": "phone"}).channel == Phone()
    phone = Phone(loss_rate=0.1, loss_burst=4.0)
    assert phone.bad_to_good == 0.25
    assert phone.good_to_bad / (phone.good_to_bad + phone.bad_to_good) == pytest.approx(0.1)


def test_the_documented_example_is_valid() -> None:
    text = DOCS.read_text()
    block = re.search(r"```yaml\n(environment:.*?)```", text, re.S)
    assert block is not None, "docs/simulator.md has no ```yaml environment: example"
    environment = Environment.model_validate(yaml.safe_load(block.group(1))["environment"])
    assert environment.noise is not None and environment.room is not None and environment.bursts
    assert isinstance(environment.channel, Phone)


def test_every_sound_is_in_the_docs_table_with_its_licence() -> None:
    kinds = set(NoiseKind.__args__) | set(BurstKind.__args__)
    assert kinds == set(SOUNDS)
    rows = {line.split("|")[1].strip().strip("`"): line for line in DOCS.read_text().splitlines() if line.startswith("| `")}
    for kind, sound in SOUNDS.items():
        assert kind in rows, f"docs/simulator.md: no table row for sound {kind!r}"
        assert sound.licence.split(" ")[0] in rows[kind], f"docs/simulator.md: row {kind!r} lacks its licence"
