"""`photogate quarantine ...` as a real subprocess against a real vault on disk."""

from __future__ import annotations

import base64
import getpass
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.vault.store import Vault
from tests.vault_helpers import FINDINGS, REPO_ROOT, sample_bytes

CLI_TIMEOUT_SECONDS = 60.0
HOSTILE_NAME = b"scan\n\xe2\x80\xaegpj.exe \xff.jpg"  # newline, RLO, invalid UTF-8
RETENTION_DAYS = 7


@pytest.fixture
def setup(tmp_path: Path) -> dict[str, Path]:
    """A PHOTOGATE_HOME, a machine policy putting the vault elsewhere, and a Downloads folder."""
    home = tmp_path / "home"
    home.mkdir()
    vault_root = tmp_path / "policy-vault"
    config = tmp_path / "machine.toml"
    config.write_text(
        f'[policy]\nversion = "cli-test-3"\n\n'
        f"[vault]\npath = {json.dumps(str(vault_root))}\nretention_days = {RETENTION_DAYS}\n"
    )
    downloads = tmp_path / "Downloads"
    downloads.mkdir()
    return {"home": home, "vault": vault_root, "config": config, "downloads": downloads}


def _photogate(setup: dict[str, Path], *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PHOTOGATE_HOME": str(setup["home"])}
    argv = [sys.executable, "-m", "agent", "quarantine", "--config", str(setup["config"]), *args]
    return subprocess.run(
        argv,
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        errors="surrogateescape",
        timeout=CLI_TIMEOUT_SECONDS,
    )


def _user_vault(setup: dict[str, Path]) -> Path:
    return setup["vault"] / getpass.getuser()


def _put(setup: dict[str, Path], raw_name: bytes, data: bytes, clock: float | None = None) -> str:
    path = Path(os.fsdecode(os.path.join(os.fsencode(setup["downloads"]), raw_name)))
    path.write_bytes(data)
    vault = Vault(_user_vault(setup), clock=(lambda: clock) if clock is not None else time.time)
    return vault.quarantine(path, FINDINGS, detected_type="jpeg", policy_version="cli-test-3").id


def test_empty_vault(setup: dict[str, Path]) -> None:
    done = _photogate(setup, "list")
    assert (done.returncode, done.stdout, done.stderr) == (0, "The quarantine is empty.\n", "")
    done = _photogate(setup, "list", "--json")
    assert (done.returncode, done.stdout) == (0, "")
    # The policy's machine-wide vault.path was used, in this account's own subfolder.
    assert (setup["vault"] / getpass.getuser() / "vault.key").exists()
    assert not (setup["home"] / "vault").exists()


def test_list_json_lines_and_safe_human_list(setup: dict[str, Path]) -> None:
    hostile = _put(setup, HOSTILE_NAME, b"evil bytes")
    plain = _put(setup, b"plain.jpg", sample_bytes(5, 4000))

    done = _photogate(setup, "list", "--json")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2
    records = {r["id"]: r for r in map(json.loads, lines)}
    assert set(records) == {hostile, plain}
    for record in records.values():
        assert {"id", "original_path", "sha256", "size", "quarantined_at", "findings"} <= set(
            record
        )
        assert record["findings"][0]["code"] == FINDINGS[0].code
        assert record["quarantined_at"].endswith("Z")
    raw_path = base64.b64decode(records[hostile]["original_path_b64"])
    assert raw_path == os.fsencode(setup["downloads"]) + b"/" + HOSTILE_NAME
    assert records[hostile]["size"] == len(b"evil bytes")

    human = _photogate(setup, "list")
    assert human.returncode == 0
    assert len(human.stdout.splitlines()) == 3  # header + one line per item, no forged lines
    assert "\u202e" not in human.stdout and "\\u202e" in human.stdout
    assert hostile[:12] in human.stdout and plain[:12] in human.stdout


def test_show_restore_delete_and_unknown_ids(setup: dict[str, Path]) -> None:
    data = sample_bytes(9, 70_000)
    first = _put(setup, HOSTILE_NAME, data)
    second = _put(setup, b"second.jpg", b"second")

    shown = _photogate(setup, "show", first[:8], "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["id"] == first
    human = _photogate(setup, "show", first)
    assert human.returncode == 0
    assert "\u202e" not in human.stdout and FINDINGS[0].code in human.stdout
    assert json.loads(shown.stdout)["sha256"] in human.stdout

    restored = _photogate(setup, "restore", first)
    assert restored.returncode == 0, restored.stderr
    original = Path(os.fsdecode(os.path.join(os.fsencode(setup["downloads"]), HOSTILE_NAME)))
    assert original.read_bytes() == data
    assert "Restored" in restored.stdout and "\n" not in restored.stdout.rstrip("\n")

    it_folder = setup["downloads"].parent / "for-it"
    it_folder.mkdir()
    (it_folder / "second.jpg").write_bytes(b"already here")
    again = _photogate(setup, "restore", second, "--to", str(it_folder))
    assert again.returncode == 0, again.stderr
    assert (it_folder / "second.jpg").read_bytes() == b"already here"
    assert (it_folder / "second (restored 1).jpg").read_bytes() == b"second"

    for action in (["show", first], ["restore", first], ["delete", "0" * 32], ["show", "nope"]):
        failed = _photogate(setup, *action)
        assert failed.returncode == 2, action
        assert "no quarantined item with id" in failed.stderr

    third = _put(setup, b"third.jpg", b"third")
    deleted = _photogate(setup, "delete", third)
    assert (deleted.returncode, deleted.stdout) == (0, f"Deleted {third}\n")
    assert _photogate(setup, "list", "--json").stdout == ""


def test_purge_uses_policy_retention_by_default(setup: dict[str, Path]) -> None:
    now = time.time()
    old = _put(setup, b"old.jpg", b"old", clock=now - (RETENTION_DAYS + 1) * 86400)
    recent = _put(setup, b"recent.jpg", b"recent", clock=now - (RETENTION_DAYS - 1) * 86400)

    done = _photogate(setup, "purge")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"Purged 1 item(s) quarantined more than {RETENTION_DAYS} days ago",
        f"  {old}",
    ]
    assert [
        json.loads(x)["id"] for x in _photogate(setup, "list", "--json").stdout.splitlines()
    ] == [recent]
    assert _photogate(setup, "purge", "--older-than", "0.5").stdout.splitlines()[1:] == [
        f"  {recent}"
    ]
    assert _photogate(setup, "purge", "--older-than", "-3").returncode == 2


def test_tampered_record_is_refused_with_a_clear_message(setup: dict[str, Path]) -> None:
    item_id = _put(setup, b"a.jpg", b"aaa")
    record = _user_vault(setup) / "items" / f"{item_id}.json"
    record.write_text(record.read_text().replace('"size": 3', '"size": 30'))

    shown = _photogate(setup, "show", item_id)
    assert shown.returncode == 2
    assert f"quarantine record {item_id} has been altered" in shown.stderr
    listed = _photogate(setup, "list", "--json")
    assert listed.returncode == 0 and listed.stdout == ""
    assert f"warning: quarantine record {item_id} has been altered" in listed.stderr
    assert _photogate(setup, "restore", item_id).returncode == 2
    assert not (setup["downloads"] / "a.jpg").exists()


def test_a_broken_machine_policy_leaves_the_last_good_one_in_use(setup: dict[str, Path]) -> None:
    # Issue 13: `quarantine ...` refused to run at all while the agent ran on the last good one.
    item = _put(setup, b"kept.jpg", b"evil")
    assert _photogate(setup, "list").returncode == 0  # the good policy is seen once
    setup["config"].write_text('[vault]\nretention_days = "seven"\n', encoding="utf-8")
    done = _photogate(setup, "list", "--json")
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["id"] for line in done.stdout.splitlines()] == [item]
    notes = done.stderr.splitlines()
    assert len(notes) == 1
    assert notes[0].startswith("photogate: note: the machine policy is broken (")
    assert "vault.retention_days" in notes[0]
    assert notes[0].endswith("using the last good policy 'cli-test-3'")
    shown = _photogate(setup, "show", item, "--json")
    assert shown.returncode == 0 and json.loads(shown.stdout)["id"] == item
