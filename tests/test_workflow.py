"""The installers workflow (which only GitHub's Windows/macOS runners can run) is well formed
and checks what issue 14 asks: tests on three systems, installed scan exit codes 1 and 0, a
file quarantined by the installed agent, a silent upgrade over a running install, and an
uninstall that removes the program and keeps the vault. Every native command in PowerShell is
followed by its own exit-code check (GitHub only checks a pwsh step's last command)."""

from __future__ import annotations

import importlib.util
import re
from typing import Any

from tests.conftest import REPO_ROOT

WORKFLOW = REPO_ROOT / ".github" / "workflows" / "installers.yml"
NATIVE = re.compile(r"^\s*(?:& |python |pyinstaller |vcpkg )")
TEXT = WORKFLOW.read_text(encoding="utf-8")


def _job_text(job: str) -> str:
    """The lines of one job (from `  <job>:` to the next top-level job)."""
    match = re.search(rf"(?ms)^  {job}:\n(.*?)(?=^  [a-z]+:\n|\Z)", TEXT)
    assert match, f"no job {job}"
    return match.group(1)


def test_workflow_parses_where_a_yaml_parser_is_installed() -> None:
    if importlib.util.find_spec("yaml") is None:
        # Shape check without a parser: no tabs, and every job is a two-space key.
        assert "\t" not in TEXT
        assert re.findall(r"(?m)^  ([a-z]+):$", TEXT)[:4] == ["tests", "linux", "windows", "macos"]
        return
    import yaml

    workflow: dict[Any, Any] = yaml.safe_load(TEXT)
    jobs = workflow["jobs"]
    assert set(jobs) == {"tests", "linux", "windows", "macos"}
    assert jobs["tests"]["strategy"]["matrix"]["os"] == ["windows-latest", "macos-13", "macos-14"]
    assert jobs["windows"]["needs"] == "tests" and jobs["macos"]["needs"] == "tests"
    assert jobs["macos"]["strategy"]["matrix"]["os"] == ["macos-13", "macos-14"]
    for job in ("tests", "linux", "macos"):
        assert jobs[job]["defaults"]["run"]["shell"] == "bash"  # bash -eo pipefail
    assert jobs["windows"]["defaults"]["run"]["shell"] == "pwsh"
    for job in jobs.values():
        for step in job["steps"]:
            assert "uses" in step or ("run" in step and step.get("name")), step


def test_the_suite_and_the_type_checks_run_on_every_system() -> None:
    tests = _job_text("tests")
    for command in (
        "python -m pytest -q -ra",
        "mypy --platform win32 agent",
        "mypy --platform darwin agent",
    ):
        assert command in tests


def test_every_native_powershell_command_checks_its_exit_code() -> None:
    lines = _job_text("windows").splitlines()
    unchecked = []
    for index, line in enumerate(lines):
        if NATIVE.match(line) and "| Out-Null" not in line and "=" not in line.split("&")[0]:
            following = lines[index + 1] if index + 1 < len(lines) else ""
            if "$LASTEXITCODE" not in following:
                unchecked.append(line.strip())
        if "Start-Process" in line and "-Wait" in line:
            following = lines[index + 1]
            assert "$p.ExitCode -ne 0" in following, line
    assert unchecked == []


def test_windows_job_proves_install_scan_quarantine_upgrade_uninstall() -> None:
    windows = _job_text("windows")
    assert '"/VERYSILENT","/SUPPRESSMSGBOXES","/NORESTART"' in windows
    assert 'if ($LASTEXITCODE -ne 1) { throw "scan of the trapped sample' in windows
    assert 'if ($LASTEXITCODE -ne 0) { throw "scan of the clean sample' in windows
    assert 'Rename-Item "$env:WATCHED\\invoice.jpg.crdownload"' in windows
    assert "quarantine list --json" in windows
    assert "Silent upgrade over the running install" in windows
    assert "the old agent still runs after the upgrade" in windows
    assert (
        'if (Test-Path "$env:ProgramFiles\\Photogate") { throw "program folder still there" }'
        in windows
    )
    assert "the uninstall removed the users' vault" in windows
    assert 'if ($acl.Owner -ne "BUILTIN\\Administrators")' in windows


def test_macos_job_proves_the_same_with_explicit_exit_codes() -> None:
    macos = _job_text("macos")
    assert 'code=0; "$exe" scan trapped.jpg || code=$?' in macos
    assert '[ "$code" -eq 1 ]' in macos and '[ "$code" -eq 0 ]' in macos
    assert 'sudo installer -pkg "$PKG" -target /' in macos  # the upgrade over the running agent
    assert "test ! -e /Applications/Photogate.app" in macos
    assert macos.count('ls "$vault"/*.pgq') == 2  # the vault before and after the uninstall
    for block in re.findall(r"run: \|\n((?:          .*\n)+)", macos):
        assert block.lstrip().startswith("set -u"), block
