"""Real speech: recordings of people that install offline, each with what was said.

Synthetic voices are cleaner and more regular than people; a suite that only ever hears them says
little about real callers. These recordings are the "real speech" condition (``engine: recording``
in a caller's voice, picked by id). None is copied into Callwright: each is read at run time from
the package that installs it, and a missing package raises a :class:`~callwright.errors.ConfigError`
naming it.

There are few (13, 53 s in all), read or prompted rather than conversational, and the speakers are
mostly unnamed; ``docs/simulator.md`` lists them. Where a transcript comes from is stated for each:
the files that ship beside the audio, a grammar that ships with it, or the corpus's file-naming rule.
"""

from __future__ import annotations

import functools
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..audio.pcm import Pcm
from ..audio.wav import read_wav
from ..errors import ConfigError

POCKETSPHINX = Path("/usr/share/pocketsphinx/test/data")
POCKETSPHINX_INSTALL = "apt-get install pocketsphinx-testdata"
POCKETSPHINX_LICENCE = "BSD-2 (Carnegie Mellon University)"


@dataclass(frozen=True)
class Recording:
    """One recording of a person. ``transcript`` is what was said, lower case, words only."""

    id: str
    transcript: str
    speaker: str
    source: str
    licence: str
    install: str
    transcript_from: str
    path: Path | None = None  # None: inside a wheel, found where it is installed


def _librivox() -> list[Recording]:
    folder = POCKETSPHINX / "librivox"
    found = []
    for said, name in _transcription(folder / "transcription"):
        found.append(
            Recording(
                id=f"librivox-{name.rsplit('-', 1)[1]}",
                transcript=said,
                speaker="one LibriVox reader (female), Sense and Sensibility ch. 1",
                source=f"pocketsphinx-testdata: {folder}/{name}.wav",
                licence="public domain (LibriVox reading); " + POCKETSPHINX_LICENCE + " for the test set",
                install=POCKETSPHINX_INSTALL,
                transcript_from="librivox/transcription (ships with the audio)",
                path=folder / f"{name}.wav",
            )
        )
    return found


def _cards() -> list[Recording]:
    folder = POCKETSPHINX / "cards"
    return [
        Recording(
            id=f"cards-{name}",
            transcript=said,
            speaker="an unnamed speaker of CMU's tests (names of playing cards)",
            source=f"pocketsphinx-testdata: {folder}/{name}.wav",
            licence=POCKETSPHINX_LICENCE,
            install=POCKETSPHINX_INSTALL,
            transcript_from="cards/cards.transcription (ships with the audio)",
            path=folder / f"{name}.wav",
        )
        for said, name in _transcription(folder / "cards.transcription")
    ]


def _transcription(path: Path) -> list[tuple[str, str]]:
    """(what was said, file name) for each ``<s> words </s> (name)`` line of a Sphinx transcription."""
    if not path.exists():
        raise ConfigError(f"real speech needs {path}, which is missing: {POCKETSPHINX_INSTALL} ({POCKETSPHINX_LICENCE})")
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        said = re.fullmatch(r"<s>(.*)</s> \((.*)\)", line.strip())
        if said is not None:
            lines.append((" ".join(said.group(1).split()), said.group(2)))
    return lines


def _others() -> list[Recording]:
    return [
        Recording(
            id="goforward",
            transcript="go forward ten meters",
            speaker="an unnamed speaker of CMU's tests",
            source=f"pocketsphinx-testdata: {POCKETSPHINX}/goforward.raw (16 kHz, 16-bit, headerless)",
            licence=POCKETSPHINX_LICENCE,
            install=POCKETSPHINX_INSTALL,
            transcript_from="the <move> rule of goforward.gram, which ships beside it (pocketsphinx's tests expect it)",
            path=POCKETSPHINX / "goforward.raw",
        ),
        Recording(
            id="tidigits-2934z",
            transcript="two nine three four zero",
            speaker="an unnamed speaker (a TIDIGITS-style digit string)",
            source=f"pocketsphinx-testdata: {POCKETSPHINX}/tidigits/dhd.2934z.raw (16 kHz, 16-bit, headerless)",
            licence=POCKETSPHINX_LICENCE,
            install=POCKETSPHINX_INSTALL,
            transcript_from="the file name, by TIDIGITS' naming rule (digits, z for zero), as tidigits.lsn reads man.ah.2934za",
            path=POCKETSPHINX / "tidigits" / "dhd.2934z.raw",
        ),
        Recording(
            id="beckett",
            transcript="ever tried ever failed no matter try again fail again fail better",
            speaker="an unnamed speaker reading Beckett (Worstward Ho)",
            source="the moonshine-cpp wheel: moonshine_cpp/test-data/beckett.wav",
            licence="MIT (moonshine-cpp)",
            install="pip install callwright[local] (moonshine-cpp, the default STT)",
            transcript_from="Beckett's words, as Callwright's STT tests use them",
        ),
    ]


@functools.cache
def recordings() -> dict[str, Recording]:
    """Every recording of a person that is installed, by id (raises if pocketsphinx-testdata is missing)."""
    return {recording.id: recording for recording in (*_librivox(), *_cards(), *_others())}


def recording(recording_id: str) -> Recording:
    """The recording ``recording_id``, or a :class:`ConfigError` listing the ids there are."""
    found = recordings()
    if recording_id not in found:
        raise ConfigError(f"no recording {recording_id!r}; recordings: {', '.join(found)}")
    return found[recording_id]


def load(recording_id: str) -> tuple[Pcm, int]:
    """The audio of ``recording_id`` as recorded: (mono PCM16, sample rate)."""
    path = recording(recording_id).path
    if path is None:  # beckett
        spec = importlib.util.find_spec("moonshine_cpp")  # finds the wheel without running its code
        if spec is None or not spec.submodule_search_locations:
            raise ConfigError("recording 'beckett' needs the moonshine-cpp wheel: pip install callwright[local]")
        return read_wav(Path(spec.submodule_search_locations[0]) / "test-data" / "beckett.wav")
    if not path.exists():
        raise ConfigError(f"recording {recording_id!r} needs {path}, which is missing: {POCKETSPHINX_INSTALL}")
    if path.suffix == ".raw":
        return np.fromfile(path, dtype="<i2").astype(np.int16), 16000
    return read_wav(path)
