"""The `photogate` dispatcher: every command is reachable, each loads only its own module."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from agent import __version__
from agent.commands.cli import build_parser, main

README = Path(__file__).resolve().parent.parent / "README.md"


def documented_commands() -> set[str]:
    """The subcommands the README's command table names (`| `photogate NAME ...` |`)."""
    text = README.read_text(encoding="utf-8")
    return set(re.findall(r"^\| `photogate ([a-z][a-z-]*)", text, flags=re.MULTILINE))


def test_the_readme_documents_the_commands_a_user_needs() -> None:
    assert {"run", "status", "scan", "quarantine", "review", "config"} <= documented_commands()


def test_help_lists_exactly_the_documented_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    listed = set(re.findall(r"^    ([a-z][a-z-]*)\s", out, flags=re.MULTILINE))
    assert listed == documented_commands(), "the README's command table and --help differ"


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().err


@pytest.mark.parametrize("command", sorted(documented_commands()))
def test_each_documented_command_has_its_own_parser(command: str) -> None:
    parser = build_parser(command)
    choices = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert command in choices


def test_scan_does_not_import_the_agent_machinery() -> None:
    code = (
        "import sys, agent.commands.cli as c; c.build_parser('scan');"
        "print(sorted(m for m in sys.modules if m in "
        "('agent.vault.store', 'agent.service.loop', 'agent.ui.tray', 'watchdog', 'pystray')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_python_dash_m_agent_reports_the_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "agent", "--version"], capture_output=True, text=True
    )
    assert result.returncode == 0
    assert result.stdout.strip() == f"photogate {__version__}"
