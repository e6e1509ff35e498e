"""Release is real: a restored file stays, across events, sweeps and restarts (issue 10).

A real headless agent watches a real folder. A Windows program named like a photo is
quarantined; IT restores it with `photogate quarantine restore`; the agent records the
version as released and leaves it alone. A changed file and the same bytes under another
name are still caught. A crash between the quarantine and its verdict event is healed at
the next start by the event the crash cut off.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from agent.service import staffdb
from agent.service.statedb import RELEASED_ACTION, StateDB
from agent.vault.journal import CRASH_ENV
from tests.agent_harness import (
    AgentProcess,
    make_pe_bytes,
    photogate,
    quarantine_list,
    read_events,
    verdicts,
    wait_for,
    write_plain,
)

TIMEOUT_SECONDS = 20.0
FAST_SWEEPS = (
    "[watch]\nuse_default_folders = false\nsettle_seconds = 0.2\nsweep_interval_seconds = 1.0\n"
)


def _policy(tmp_path: Path) -> Path:
    policy = tmp_path / "policy.toml"
    policy.write_text(FAST_SWEEPS + '\n[policy]\nversion = "release-test-7"\n')
    return policy


def _quarantined(home: Path, path: Path) -> list[dict[str, Any]]:
    return [
        event
        for event in verdicts(home)
        if event.get("path") == str(path) and event.get("action") == "quarantine"
    ]


def _row_action(home: Path, path: Path) -> str | None:
    with StateDB(home / "state.sqlite3", readonly=True) as db:
        record = db.lookup(path)
    return None if record is None else record.action


def test_a_restored_file_stays_and_changes_are_still_caught(
    photogate_home: Path, tmp_path: Path
) -> None:
    downloads = tmp_path / "Downloads"
    downloads.mkdir()
    target = downloads / "lab_results.jpg"
    payload = make_pe_bytes(7)
    with AgentProcess(photogate_home, [downloads], config=_policy(tmp_path)):
        write_plain(target, payload)
        wait_for(lambda: _quarantined(photogate_home, target), TIMEOUT_SECONDS, "the quarantine")
        wait_for(lambda: not target.exists(), TIMEOUT_SECONDS, "the file to leave the folder")
        (item,) = quarantine_list(photogate_home)

        restored = photogate(
            photogate_home, "quarantine", "--config", str(_policy(tmp_path)), "restore", item["id"]
        )
        assert restored.returncode == 0, restored.stderr
        assert f"Put back as {target}." in restored.stdout
        assert "will not stop this file again there" in restored.stdout
        assert target.read_bytes() == payload

        # The agent sees the file (event, then sweeps every second) and records the release.
        wait_for(
            lambda: _row_action(photogate_home, target) == RELEASED_ACTION,
            TIMEOUT_SECONDS,
            "the agent to record the restored file as released",
        )
        assert target.read_bytes() == payload
        assert quarantine_list(photogate_home) == []
        assert len(_quarantined(photogate_home, target)) == 1

    # Across a restart, even when the agent's memory of the path was pruned: the release
    # table alone keeps it, and the startup sweep records it as released again.
    with StateDB(photogate_home / "state.sqlite3") as db:
        db.forget(target)
    with AgentProcess(photogate_home, [downloads], config=_policy(tmp_path)):
        wait_for(
            lambda: _row_action(photogate_home, target) == RELEASED_ACTION,
            TIMEOUT_SECONDS,
            "the restarted agent to honour the release",
        )
        assert target.read_bytes() == payload
        assert len(_quarantined(photogate_home, target)) == 1

        # The same bytes under another name are judged as usual.
        elsewhere = downloads / "copy_of_results.jpg"
        shutil.copyfile(target, elsewhere)
        wait_for(lambda: _quarantined(photogate_home, elsewhere), TIMEOUT_SECONDS, "the copy")
        # A changed file is judged as usual.
        with target.open("ab") as handle:
            handle.write(b"more")
        wait_for(
            lambda: len(_quarantined(photogate_home, target)) == 2,
            TIMEOUT_SECONDS,
            "the changed file to be caught",
        )

    restored_events = [e for e in read_events(photogate_home) if e["event"] == "restored"]
    assert len(restored_events) == 1
    event = restored_events[0]
    assert event["item_id"] == item["id"]
    assert event["sha256"] == item["sha256"]
    assert event["path"] == str(target)
    assert event["released"] is True
    assert event["via"] == "cli"
    assert event["policy_version"] == "release-test-7"
    assert event["user"]
    with StateDB(photogate_home / "state.sqlite3", readonly=True) as db:
        release = staffdb.release_for(db, str(target))
    assert release is not None and release.sha256 == item["sha256"]
    assert release.item_id == item["id"] and release.policy_version == "release-test-7"


def test_restore_to_a_taken_name_says_so_and_releases_the_new_name(
    photogate_home: Path, tmp_path: Path
) -> None:
    downloads = tmp_path / "Downloads"
    downloads.mkdir()
    target = downloads / "scan.jpg"
    with AgentProcess(photogate_home, [downloads], config=_policy(tmp_path)):
        write_plain(target, make_pe_bytes(8))
        wait_for(lambda: _quarantined(photogate_home, target), TIMEOUT_SECONDS, "the quarantine")
        wait_for(lambda: not target.exists(), TIMEOUT_SECONDS, "the file to leave the folder")
        (item,) = quarantine_list(photogate_home)
        target.write_bytes(b"")  # someone saved another scan.jpg meanwhile (empty: never caught)
        restored = photogate(
            photogate_home, "quarantine", "--config", str(_policy(tmp_path)), "restore", item["id"]
        )
        assert restored.returncode == 0, restored.stderr
        landed = downloads / "scan (restored 1).jpg"
        assert f"Put back as {landed}." in restored.stdout
        assert "already there, so it got a new name" in restored.stdout
        wait_for(
            lambda: _row_action(photogate_home, landed) == RELEASED_ACTION,
            TIMEOUT_SECONDS,
            "the release under the new name",
        )
        assert landed.read_bytes() == make_pe_bytes(8)


def test_a_crash_after_the_quarantine_still_reaches_the_audit_log(
    photogate_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    downloads = tmp_path / "Downloads"
    downloads.mkdir()
    target = downloads / "invoice.jpg"
    # The harness passes this process's environment on: the agent dies at the crash point.
    monkeypatch.setenv(CRASH_ENV, "quarantined-before-verdict")
    crashing = AgentProcess(photogate_home, [downloads], config=_policy(tmp_path)).start()
    monkeypatch.delenv(CRASH_ENV)
    write_plain(target, make_pe_bytes(9))
    assert crashing.process is not None
    assert crashing.process.wait(timeout=TIMEOUT_SECONDS) != 0  # killed at the crash point
    assert not target.exists()
    assert _quarantined(photogate_home, target) == []  # the crash cut the event off

    with AgentProcess(photogate_home, [downloads], config=_policy(tmp_path)):
        (event,) = wait_for(
            lambda: _quarantined(photogate_home, target), TIMEOUT_SECONDS, "the recovered event"
        )
    (item,) = quarantine_list(photogate_home)
    assert event["recovered"] is True
    assert event["item_id"] == item["id"]
    assert event["sha256"] == item["sha256"]
    assert event["findings"] and event["type"] == "pe"
    assert event["policy_version"] == "release-test-7"
