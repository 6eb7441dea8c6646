"""Building engines by name."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from callwright.engines.registry import EngineRegistry, EngineSpec, build_stt, build_tts, build_vad
from callwright.errors import ConfigError


def test_unknown_names_get_a_suggestion_and_the_valid_names() -> None:
    with pytest.raises(
        ConfigError, match=r"stt engine 'whispr' is unknown; did you mean 'whisper'\? valid: moonshine, whisper"
    ):
        build_stt("whispr")
    with pytest.raises(ConfigError, match=r"tts engine 'Piper' is unknown; did you mean 'piper'\?"):
        build_tts("Piper")
    with pytest.raises(ConfigError, match=r"vad engine 'cobra' is unknown; valid: silero, webrtc$"):
        build_vad("cobra")


def test_missing_optional_dependency_says_what_to_install() -> None:
    registry = EngineRegistry(
        {"tts": {"fancy": EngineSpec("callwright.engines.fakes:FakeTts", {"no_such_module_here": "fancy-tts"})}}
    )
    with pytest.raises(
        ConfigError, match=r"tts engine 'fancy' needs fancy-tts, which is not installed: install callwright\[local\]"
    ):
        registry.tts("fancy")
    with pytest.raises(ConfigError, match="unknown engine kind 'stt'"):
        registry.stt("fancy")


def test_engines_are_built_once_per_options() -> None:
    assert build_vad("webrtc") is build_vad("webrtc")
    aggressive = build_vad("webrtc", mode=3)
    assert aggressive is not build_vad("webrtc") and aggressive is build_vad("webrtc", mode=3)
    with pytest.raises(ConfigError, match=r"webrtc.*unexpected keyword argument 'loudness'"):
        build_vad("webrtc", loudness=3)
    with pytest.raises(ConfigError, match="mode must be 0, 1, 2 or 3"):
        build_vad("webrtc", mode=7)


def test_every_default_engine_builds() -> None:
    registry = EngineRegistry()
    built = [registry.stt(n) for n in registry.names("stt")] + [registry.tts(n) for n in registry.names("tts")]
    built += [registry.vad(n) for n in registry.names("vad")]
    assert [engine.name for engine in built] == ["moonshine", "whisper", "espeak", "piper", "silero", "webrtc"]


def test_gpl_engines_are_not_imported_unless_selected() -> None:
    script = textwrap.dedent(
        """
        import sys
        from callwright.engines import registry, resilient, fakes
        stt = registry.build_stt("moonshine"), registry.build_stt("whisper")
        registry.build_vad("silero"), registry.build_vad("webrtc")
        piper = registry.build_tts("piper")  # selected, but not used yet: piper itself loads lazily
        assert not {"piper", "espeakng_loader", "torch", "moonshine_cpp"} & set(sys.modules), sorted(sys.modules)
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run([sys.executable, "-c", script], check=True, env=env)
