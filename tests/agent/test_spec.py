"""Agent folders are checked completely on load, with file, line, field, problem and suggestion."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from callwright.agent.spec import load_definition
from callwright.cli import main
from callwright.errors import ConfigError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "agents"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    target = tmp_path / "order-desk"
    shutil.copytree(EXAMPLES / "order-desk", target)
    return target


def edit(folder: Path, old: str, new: str) -> None:
    path = folder / "agent.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def line_of(folder: Path, needle: str) -> int:
    return next(i for i, line in enumerate((folder / "agent.yaml").read_text().splitlines(), 1) if needle in line)


@pytest.mark.parametrize("name", ["order-desk", "recovery-line"])
def test_the_examples_load(name: str) -> None:
    d = load_definition(EXAMPLES / name)
    assert d.spec.name == name and d.tools


def test_a_wrong_slot_type_names_line_field_and_suggestion(folder: Path) -> None:
    edit(folder, "slots: {order_number: number}", "slots: {order_number: nmber}")
    with pytest.raises(ConfigError) as err:
        load_definition(folder)
    message = str(err.value)
    assert f"agent.yaml:{line_of(folder, 'nmber')}: field 'intents[0].slots.order_number'" in message
    assert "did you mean 'number'?" in message


def test_an_unknown_field_is_an_error_not_ignored(folder: Path) -> None:
    edit(folder, "greeting_known:", "greting_known:")
    with pytest.raises(ConfigError, match=r"unknown field 'greting_known'; did you mean 'greeting_known'\?"):
        load_definition(folder)


def test_a_missing_tool_is_named_with_a_suggestion(folder: Path) -> None:
    edit(folder, "tool: order_status", "tool: order_stat")
    with pytest.raises(ConfigError) as err:
        load_definition(folder)
    assert f":{line_of(folder, 'tool: order_stat')}: field 'intents[0].tool': tool 'order_stat' is not defined; did you mean 'order_status'?" in str(err.value)


def test_broken_yaml_points_at_the_line(folder: Path) -> None:
    (folder / "agent.yaml").write_text("name: x\npersona: [unclosed\ngreeting: hi\n")
    with pytest.raises(ConfigError, match=r"agent.yaml:\d+: not valid YAML"):
        load_definition(folder)


def test_a_tools_module_that_fails_to_import_is_reported(folder: Path) -> None:
    (folder / "tools.py").write_text("import sqlite\n")
    with pytest.raises(ConfigError, match=r"tools.py: failed to import: ModuleNotFoundError"):
        load_definition(folder)


def test_required_fields_and_missing_folders(folder: Path, tmp_path: Path) -> None:
    edit(folder, "persona: >", "personality: >")
    with pytest.raises(ConfigError, match="field 'persona': is required"):
        load_definition(folder)
    with pytest.raises(ConfigError, match="no such agent folder"):
        load_definition(tmp_path / "nowhere")


def test_a_missing_knowledge_folder_is_reported(folder: Path) -> None:
    shutil.rmtree(folder / "knowledge")
    with pytest.raises(ConfigError, match=r"field 'knowledge.folder': folder .* does not exist"):
        load_definition(folder)


def test_check_command_exits_2_with_the_message(folder: Path) -> None:
    edit(folder, "type: address", "type: adress")
    result = CliRunner().invoke(main, ["check", str(folder)])
    assert result.exit_code == 2
    assert "did you mean 'address'?" in result.output
    ok = CliRunner().invoke(main, ["check", str(EXAMPLES / "order-desk")])
    assert ok.exit_code == 0 and "order-desk: ok" in ok.output


def test_the_readme_example_is_a_valid_agent(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    yaml_text = readme.split("```yaml\n# agent.yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "agent.yaml").write_text(yaml_text)
    (tmp_path / "tools.py").write_text(
        "from callwright.agent.tools import ToolContext, tool\n\n"
        "@tool\nasync def book_appointment(ctx: ToolContext, when: str) -> dict:\n    return {'when_spoken': when}\n"
    )
    d = load_definition(tmp_path)
    assert d.spec.name == "clinic" and "book_appointment" in d.tools


# ------------------------------------------------------------------ what no single field can say
def test_an_unknown_placeholder_is_named_with_a_suggestion(folder: Path) -> None:
    edit(folder, "delivered to {address}. Shall I place the order?", "delivered to {adress}. Shall I place the order?")
    with pytest.raises(ConfigError) as caught:
        load_definition(folder)
    line = line_of(folder, "{adress}")
    assert f"agent.yaml:{line}: field 'intents[3].confirm': placeholder {{adress}} has no value here; did you mean 'address'?" in str(caught.value)


def test_a_result_placeholder_needs_a_tool(folder: Path) -> None:
    edit(folder, "reply: We deliver groceries every day", "reply: Until {result.eta}. We deliver groceries every day")
    with pytest.raises(ConfigError, match=r"field 'intents\[4\]\.reply': placeholder \{result\.eta\} has no value here"):
        load_definition(folder)


def test_a_tool_parameter_no_slot_or_field_provides(folder: Path) -> None:
    edit(folder, "slots: {quantity: number, product: text}", "slots: {quantity: number, item: text}")
    edit(folder, "product: What would you like to order?", "item: What would you like to order?")
    edit(folder, "So that's {quantity} {product}", "So that's {quantity} {item}")
    edit(folder, "summary: your order of {quantity} {product}", "summary: your order of {quantity} {item}")
    with pytest.raises(ConfigError, match="tool 'place_order' needs parameter 'product', which no slot or form field here provides"):
        load_definition(folder)


def test_a_transfer_number_must_be_e164(folder: Path) -> None:
    edit(folder, 'transfer_to: "+15551230000"', 'transfer_to: "555-123-0000"')
    with pytest.raises(ConfigError) as caught:
        load_definition(folder)
    assert f"agent.yaml:{line_of(folder, 'transfer_to')}: field 'escalation.transfer_to': '555-123-0000' is not a phone number in E.164 form" in str(caught.value)


def test_a_red_flag_pattern_that_does_not_parse(folder: Path) -> None:
    edit(folder, '- "anaphyla*|allergic reaction', '- "anaphyla* + + allergic reaction')
    with pytest.raises(ConfigError, match=r"field 'safety\.red_flags\[0\]\.when\[2\]': safety pattern .* an empty group"):
        load_definition(folder)


def test_an_unknown_reply_line(folder: Path) -> None:
    edit(folder, "memory: {enabled: true, summaries: 3}", "memory: {enabled: true, summaries: 3}\nreplies: {goodby: See you!}")
    with pytest.raises(ConfigError, match=r"field 'replies\.goodby': unknown line 'goodby'; did you mean 'goodbye'"):
        load_definition(folder)


def test_language_is_english_only_and_said_so(folder: Path) -> None:
    edit(folder, "name: order-desk", "name: order-desk\nlanguage: fr")
    with pytest.raises(ConfigError) as caught:
        load_definition(folder)
    assert str(caught.value).endswith(
        f"agent.yaml:{line_of(folder, 'language:')}: field 'language': only 'en' is supported: "
        "every speech and reading rule is English (got 'fr')"
    ), caught.value


def test_voice_tts_names_an_engine_and_a_server_speaks_with_it(folder: Path) -> None:
    from callwright.server import voice_settings
    from callwright.settings import Settings

    edit(folder, "voice: {rate: 1.0, pitch: 1.0}", "voice: {tts: espek, rate: 1.0, pitch: 1.0}")
    with pytest.raises(ConfigError, match=r"field 'voice\.tts': TTS engine 'espek' is unknown; did you mean 'espeak'\?"):
        load_definition(folder)
    edit(folder, "tts: espek", "tts: espeak")
    spec = load_definition(folder).spec
    assert spec.voice.tts == "espeak"
    settings = Settings.load(tts="piper")
    assert voice_settings(settings, spec.voice.tts).tts == "espeak"  # the agent's engine, over --tts
    assert voice_settings(settings, None) is settings
