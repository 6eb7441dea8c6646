import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from callwright.cli import main
from callwright.errors import ConfigError
from callwright.settings import SETTINGS, Settings

DOCS = Path(__file__).parents[2] / "docs" / "cli.md"


def test_binding_beyond_loopback_requires_a_token() -> None:
    with pytest.raises(ConfigError, match="token"):
        Settings.load(host="0.0.0.0")
    assert Settings.load(host="0.0.0.0", token="s3cret").host == "0.0.0.0"
    assert Settings.load(host="::1").host == "::1"


def test_environment_variables_and_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLWRIGHT_PORT", "9001")
    monkeypatch.setenv("CALLWRIGHT_PARTIALS", "yes")
    s = Settings.load(max_calls=3)
    assert (s.port, s.partials, s.max_calls) == (9001, True, 3)
    monkeypatch.setenv("CALLWRIGHT_PORT", "many")
    with pytest.raises(ConfigError, match="CALLWRIGHT_PORT='many'"):
        Settings.load()
    monkeypatch.setenv("CALLWRIGHT_PORT", "9001")
    monkeypatch.setenv("CALLWRIGHT_PARTIALS", "off")
    assert Settings.load().partials is False
    monkeypatch.setenv("CALLWRIGHT_PARTIALS", "ture")  # a typo is an error, not False
    with pytest.raises(ConfigError, match="CALLWRIGHT_PARTIALS='ture' is not a valid bool"):
        Settings.load()


def test_secrets_are_masked() -> None:
    s = Settings.load(token="abc", llm_api_key="sk-123")
    assert s.public()["token"] == "***" and s.public()["llm_api_key"] == "***"


def test_every_setting_is_documented() -> None:
    text = DOCS.read_text()
    for f in SETTINGS:
        assert f"--{f.name.replace('_', '-')}" in text, f.name
        assert f"CALLWRIGHT_{f.name.upper()}" in text, f.name


def test_every_command_documented_and_has_help() -> None:
    runner = CliRunner()
    text = DOCS.read_text()
    for name in main.commands:
        result = runner.invoke(main, [name, "--help"])
        assert result.exit_code == 0, result.output
        assert f"callwright {name}" in text


def test_usage_errors_exit_2_with_a_precise_message() -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["call"])
    assert result.exit_code == 2
    assert "exactly one of --wav FILE or --say TEXT" in result.output
    result = runner.invoke(main, ["run", "--host", "0.0.0.0"])
    assert result.exit_code == 2 and "token" in result.output
    result = runner.invoke(main, ["run", "--agent", "frontdesk"])
    assert result.exit_code == 2 and "did you mean 'front-desk'" in result.output
    result = runner.invoke(main, ["run", "--port", "eighty"])
    assert result.exit_code == 2


def test_chat_holds_a_text_conversation() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "callwright.cli", "chat"],
        input="what are your opening hours\nbye\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"agent> .*eight in the morning", proc.stdout)
    assert "Goodbye" in proc.stdout
