"""End to end: the real `photogate run --headless` process on real folders.

Each test starts the agent as a subprocess on a private PHOTOGATE_HOME (tests/agent_harness)
and checks the outcome the way a person or IT would: files in the vault (`photogate
quarantine list`), files left alone, xattr markers, the audit log, `photogate status`.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.agent_harness import (
    AgentProcess,
    has_flag_marker,
    make_jpeg,
    make_jpeg_with_zip,
    make_pe_bytes,
    photogate,
    quarantine_list,
    read_events,
    verdicts,
    wait_for,
    write_chrome_style,
    write_firefox_style,
    write_plain,
)

pytestmark = pytest.mark.slow

BURST_FILES = 5_000
KILL_BURST_FILES = 300


def config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        '[policy]\nversion = "e2e-1"\n\n[watch]\nuse_default_folders = false\n'
        f"settle_seconds = 0.5\nsweep_interval_seconds = 300.0\n{extra}",
        encoding="utf-8",
    )
    return path


def folders(tmp_path: Path) -> tuple[Path, Path]:
    downloads = tmp_path / "Downloads"
    attachments = tmp_path / "pid-4242"
    downloads.mkdir()
    attachments.mkdir()
    return downloads, attachments


def verdict_paths(home: Path) -> dict[str, list[dict[str, object]]]:
    by_path: dict[str, list[dict[str, object]]] = {}
    for event in verdicts(home):
        by_path.setdefault(str(event["path"]), []).append(event)
    return by_path


def test_browser_downloads_status_and_a_second_agent(tmp_path: Path) -> None:
    downloads, attachments = folders(tmp_path)
    home = tmp_path / "home"
    agent = AgentProcess(home, [downloads, attachments], config(tmp_path)).start()
    try:
        benign_chrome = downloads / "xray.jpg"
        benign_firefox = downloads / "smile.jpg"
        bad_chrome = downloads / "invoice.jpg"
        bad_firefox = downloads / "lab-result.jpg"
        flagged = attachments / "notes.jpg"
        write_chrome_style(benign_chrome, make_jpeg(1))
        write_firefox_style(benign_firefox, make_jpeg(2), pause=0.002)
        write_chrome_style(bad_chrome, make_jpeg_with_zip(3))
        write_firefox_style(bad_firefox, make_pe_bytes(4), chunk=128, pause=0.002)
        write_plain(flagged, b"this is not a picture at all, only text\n" * 20)
        wanted = {benign_chrome, benign_firefox, bad_chrome, bad_firefox, flagged}
        wait_for(lambda: {str(p) for p in wanted} <= set(verdict_paths(home)), 20, "five verdicts")
        assert benign_chrome.read_bytes() == make_jpeg(1)
        assert benign_firefox.read_bytes() == make_jpeg(2)
        assert not has_flag_marker(benign_chrome)
        assert not bad_chrome.exists() and not bad_firefox.exists()
        assert flagged.exists() and has_flag_marker(flagged)
        listed = {item["original_path"]: item for item in quarantine_list(home)}
        assert set(listed) == {str(bad_chrome), str(bad_firefox)}
        assert listed[str(bad_firefox)]["sha256"] == hashlib.sha256(make_pe_bytes(4)).hexdigest()
        by_path = verdict_paths(home)
        assert all(len(by_path[str(p)]) == 1 for p in wanted)  # placeholder got none
        assert not any(p.endswith((".part", ".crdownload")) for p in by_path)

        def counted() -> dict[str, Any] | None:
            status = photogate(home, "status", "--json")
            assert status.returncode == 0, status.stderr
            info: dict[str, Any] = json.loads(status.stdout)
            return info if (info.get("counts") or {}).get("inspected") == 5 else None

        info = wait_for(counted, 10, "the status file to count the five files")
        assert info["running"] is True and info["pid"] == agent.process.pid
        assert info["policy"]["version"] == "e2e-1"
        assert {f["path"] for f in info["folders"] if f["watching"]} == {
            str(downloads),
            str(attachments),
        }
        assert info["counts"]["quarantined"] == 2 and info["counts"]["flagged"] == 1
        assert info["process"]["rss_mb"] > 0
        text = photogate(home, "status")
        assert text.returncode == 0 and "running in per-user mode" in text.stdout

        second = photogate(home, "run", "--headless", "--watch", str(downloads), timeout=30)
        assert second.returncode == 2
        assert "already running" in second.stderr and str(agent.process.pid) in second.stderr
    finally:
        assert agent.stop() == 0
    stopped = photogate(home, "status")
    assert stopped.returncode == 3 and "not running" in stopped.stdout
    log_text = (home / "logs" / "agent.log").read_text(encoding="utf-8")
    assert "watching 2 folders" in log_text and "headless" in log_text


def test_kill_9_during_a_burst_of_quarantines_loses_nothing(tmp_path: Path) -> None:
    downloads, _ = folders(tmp_path)
    home = tmp_path / "home"
    originals = {}
    agent = AgentProcess(home, [downloads], config(tmp_path)).start()
    for index in range(KILL_BURST_FILES):
        path = downloads / f"dropper-{index:04d}.jpg"
        data = make_jpeg_with_zip(index)
        write_plain(path, data)
        originals[str(path)] = hashlib.sha256(data).hexdigest()
    # Killed once the first copies reach items/: the burst is moved in batches (group
    # commit) and its verdicts are written after each batch, later than the first moves.
    items = home / "vault" / "items"
    wait_for(lambda: any(items.glob("*.json")), 20, "the first stored copies", interval=0.002)
    agent.kill()  # in the middle of the burst
    # Nothing lost at this moment: each file is at its path, or in the vault.
    in_vault = {item["original_path"]: item for item in quarantine_list(home)}
    for path, sha in originals.items():
        at_path = Path(path).exists()
        assert at_path or path in in_vault, f"lost {path}"
        assert not (at_path and path in in_vault), f"both in place and in the vault: {path}"
        if path in in_vault:
            assert in_vault[path]["sha256"] == sha
    assert len(in_vault) < KILL_BURST_FILES  # the kill really interrupted the burst
    # Restart: the startup sweep finishes the job.
    agent = AgentProcess(home, [downloads], config(tmp_path)).start()
    try:
        wait_for(
            lambda: not any(downloads.iterdir()) and len(quarantine_list(home)) == len(originals),
            60,
            "every dropper in the vault",
        )
    finally:
        agent.stop()
    items = quarantine_list(home)
    assert sorted(item["original_path"] for item in items) == sorted(originals)
    assert all(item["sha256"] == originals[item["original_path"]] for item in items)


def test_files_that_arrive_while_stopped_are_caught_at_restart(tmp_path: Path) -> None:
    downloads, _ = folders(tmp_path)
    home = tmp_path / "home"
    agent = AgentProcess(home, [downloads], config(tmp_path)).start()
    agent.stop()
    bad = downloads / "sub" / "while-away.jpg"
    bad.parent.mkdir()
    write_plain(bad, make_pe_bytes(5))
    good = downloads / "fine.jpg"
    write_plain(good, make_jpeg(6))
    agent = AgentProcess(home, [downloads], config(tmp_path)).start()
    try:
        wait_for(lambda: str(good) in verdict_paths(home), 20, "the benign file's verdict")
        wait_for(lambda: not bad.exists(), 20, "the dropper to be quarantined")
    finally:
        agent.stop()
    assert [item["original_path"] for item in quarantine_list(home)] == [str(bad)]
    assert good.read_bytes() == make_jpeg(6)


def test_a_burst_of_5000_files_gets_exactly_one_verdict_each(tmp_path: Path) -> None:
    downloads, _ = folders(tmp_path)
    home = tmp_path / "home"
    benign = make_jpeg(7)
    malicious = make_jpeg_with_zip(8)
    agent = AgentProcess(home, [downloads], config(tmp_path)).start()
    try:
        expected_bad = set()
        for index in range(BURST_FILES):
            path = downloads / f"burst-{index:05d}.jpg"
            if index % 100 == 0:
                write_plain(path, malicious)
                expected_bad.add(str(path))
            else:
                write_plain(path, benign)
        wait_for(lambda: len(verdicts(home)) >= BURST_FILES, 110, "5,000 verdicts", 0.5)
        # Any duplicate would come from an event still queued: wait until the agent says
        # it has nothing queued, settling or being swept (its status file's activity).
        wait_for(
            lambda: (
                (agent.status() or {}).get("activity", {}).get("idle") is True
                and (agent.status() or {})["activity"]["settled"] >= BURST_FILES
            ),
            60,
            "the agent to be idle after the burst",
            0.2,
        )
        by_path = verdict_paths(home)
        assert len(by_path) == BURST_FILES
        duplicates = [p for p, events in by_path.items() if len(events) != 1]
        assert duplicates == []
        quarantined = {p for p, events in by_path.items() if events[0]["action"] == "quarantine"}
        assert quarantined == expected_bad
        wait_for(
            lambda: (
                json.loads(photogate(home, "status", "--json").stdout)["counts"]["inspected"]
                == BURST_FILES
            ),
            10,
            "the status file to count every file",
        )
    finally:
        agent.stop()


HOSTILE_NAMES = [
    b"new\nline.jpg",
    b"carriage\rreturn\x1b[2J.jpg",
    "invoice_\u202egpj.exe".encode(),
    "photo\u200b\u2066x\u2069.jpg".encode(),
    b"bad-utf8-\xff\xfe\xc3(.jpg",
    b"L" * 251 + b".jpg",  # 255 bytes: the longest name Linux allows
]


def test_hostile_names_do_not_break_logs_database_or_restore(tmp_path: Path) -> None:
    downloads, _ = folders(tmp_path)
    home = tmp_path / "home"
    contents = {}
    agent = AgentProcess(home, [downloads], config(tmp_path)).start()
    try:
        for index, name in enumerate(HOSTILE_NAMES):
            raw = os.fsencode(downloads) + b"/" + name
            data = make_pe_bytes(100 + index)
            with open(raw, "wb") as handle:
                handle.write(data)
            contents[raw] = data
        wait_for(lambda: not any(downloads.iterdir()), 20, "every hostile file quarantined")
        wait_for(
            lambda: (
                json.loads(photogate(home, "status", "--json").stdout)["counts"]["quarantined"]
                == len(HOSTILE_NAMES)
            ),
            10,
            "the status file to count every quarantine",
        )
    finally:
        agent.stop()
    events = read_events(home)  # every line parses
    raw_log = (home / "logs" / "events.jsonl").read_bytes()
    assert all(32 <= b < 127 or b == 10 for b in raw_log)  # no raw control/bidi characters
    assert raw_log.count(b"\n") == len(events)
    items = quarantine_list(home)
    assert len(items) == len(HOSTILE_NAMES)
    for item in items:
        restored = photogate(home, "quarantine", "restore", item["id"])
        assert restored.returncode == 0, restored.stderr
    for raw, data in contents.items():
        with open(raw, "rb") as handle:
            assert handle.read() == data
    agent_log = (home / "logs" / "agent.log").read_bytes()
    assert b"\x1b" not in agent_log and "\u202e".encode() not in agent_log
