"""Test-only failure hooks: named as test hooks, and inert in a frozen build."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from agent import testhooks
from agent.sanitize import child as sanitize_child
from agent.vault import journal

REPO_ROOT = Path(__file__).resolve().parent.parent

_CRASH_CHILD = """
import sys
if sys.argv[1] == "frozen":
    sys.frozen = True  # what PyInstaller sets in the shipped build
from agent.vault.journal import crash_point
crash_point("encrypted")
print("survived", flush=True)
"""


def _run_crash_child(mode: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PHOTOGATE_TEST_HOOK_VAULT_CRASH_AT": "encrypted"}
    return subprocess.run(
        [sys.executable, "-c", _CRASH_CHILD, mode],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_the_hooks_are_named_as_test_hooks() -> None:
    assert journal.CRASH_ENV == "PHOTOGATE_TEST_HOOK_VAULT_CRASH_AT"
    assert sanitize_child.TEST_FAULT_ENV == "PHOTOGATE_TEST_HOOK_SANITIZE_FAULT"
    assert all(name.startswith("PHOTOGATE_TEST_HOOK_") for name in testhooks.HOOKS)


def test_the_vault_crash_hook_kills_a_source_run_and_not_a_frozen_build() -> None:
    source = _run_crash_child("source")
    assert source.returncode == -signal.SIGKILL and "survived" not in source.stdout
    frozen = _run_crash_child("frozen")
    assert frozen.returncode == 0 and frozen.stdout.strip() == "survived", frozen.stderr


def test_an_unknown_name_is_never_read(monkeypatch: object) -> None:
    os.environ["PHOTOGATE_SOMETHING_ELSE"] = "x"
    try:
        assert testhooks.hook_value("PHOTOGATE_SOMETHING_ELSE") == ""
    finally:
        del os.environ["PHOTOGATE_SOMETHING_ELSE"]
