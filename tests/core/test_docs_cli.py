"""docs/cli.md documents every command, argument and flag of ``callwright``: read from the click
parser itself, not from a list kept by hand, so a new flag fails here until it is documented."""

from __future__ import annotations

import re
from pathlib import Path

import click

from callwright.cli import main

DOCS = Path(__file__).parents[2] / "docs" / "cli.md"


def _section(text: str, command: str | None) -> str:
    """The text of ``## callwright <command>`` (the introduction before the first for None)."""
    if command is None:
        return text[: text.index("\n## ")]
    start = text.index(f"\n## callwright {command}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def _undocumented(group: click.Group, text: str) -> list[str]:
    problems = []
    commands: list[tuple[str | None, click.Command]] = [(None, group), *group.commands.items()]
    for name, command in commands:
        where = f"callwright {name}" if name else "callwright"
        try:
            section = _section(text, name)
        except ValueError:
            problems.append(f"{where}: no '## {where}' section")
            continue
        for param in command.params:
            if isinstance(param, click.Argument):
                if not re.search(rf"\b{re.escape(param.human_readable_name)}\b", section):
                    problems.append(f"{where}: argument {param.human_readable_name} is not described")
            elif isinstance(param, click.Option) and not param.hidden:
                flag = next(o for o in param.opts if o.startswith("--"))
                if not re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", section):
                    problems.append(f"{where}: flag {flag} is not in its section")
    return problems


def test_every_command_argument_and_flag_is_in_cli_md() -> None:
    assert len(main.commands) >= 5
    assert _undocumented(main, DOCS.read_text()) == []


def test_the_check_fails_for_an_undocumented_flag() -> None:
    @click.group()
    def tool() -> None: ...

    @tool.command()
    @click.option("--documented")
    @click.option("--invented-flag")
    @click.argument("thing")
    def run(documented: str, invented_flag: str, thing: str) -> None: ...

    text = "# Command line\n\n## callwright run\n\n`--documented` does it.\n"
    assert _undocumented(tool, text) == [
        "callwright run: flag --invented-flag is not in its section",
        "callwright run: argument THING is not described",
    ]
