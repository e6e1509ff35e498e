"""The `photogate` dispatcher: every command is reachable, each loads only its own module."""

from __future__ import annotations

import subprocess
import sys

import pytest

from agent import __version__
from agent.commands.cli import _COMMAND_MODULES, build_parser, main


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    for command in _COMMAND_MODULES:
        assert command in out


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().err


@pytest.mark.parametrize("command", sorted(_COMMAND_MODULES))
def test_each_command_has_its_own_parser(command: str) -> None:
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
