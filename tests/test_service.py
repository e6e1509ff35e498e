"""The agent service in-process, with the real engine, policy, vault and xattr marker."""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.errors import AlreadyRunningError
from agent.policy.keeper import PolicyKeeper
from agent.service.lock import AgentLock, is_locked
from agent.service.loop import AgentService
from agent.service.state import AgentState
from agent.vault.store import Vault
from tests.agent_harness import (
    has_flag_marker,
    make_jpeg,
    make_jpeg_with_zip,
    make_pe_bytes,
    read_events,
    wait_for,
    write_chrome_style,
    write_firefox_style,
    write_plain,
)

SETTLE = 0.4  # seconds: short, so placeholder and settle tests run quickly


class RecordingNotifier:
    """A Notifier that remembers what it was asked to show."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str | None, str]] = []

    def notify(
        self, title: str, message: str, *, item_id: str | None = None, severity: str = "high"
    ) -> None:
        self.sent.append((title, message, item_id, severity))


def write_config(path: Path, version: str = "test-1", extra: str = "") -> None:
    path.write_text(
        f'[policy]\nversion = "{version}"\n\n'
        f"[watch]\nuse_default_folders = false\nsettle_seconds = {SETTLE}\n"
        f"sweep_interval_seconds = 300.0\n{extra}",
        encoding="utf-8",
    )


class Agent:
    def __init__(
        self, tmp_path: Path, watch: list[Path] | None = None, home: Path | None = None
    ) -> None:
        self.home = home or tmp_path / "home"
        self.downloads = tmp_path / "Downloads"
        self.downloads.mkdir(exist_ok=True)
        self.config = tmp_path / "config.toml"
        if not self.config.exists():
            write_config(self.config)
        self.notifier = RecordingNotifier()
        self.states: list[AgentState] = []
        self.keeper = PolicyKeeper(self.config, self.home / "preferences.toml")
        assert self.keeper.problem is None, self.keeper.problem
        self.service = AgentService(
            self.keeper,
            watch_override=[str(p) for p in (watch or [self.downloads])],
            home=self.home,
            notifier=self.notifier,
        )
        self.service.add_listener(self.states.append)

    def verdicts(self, path: Path | None = None) -> list[dict[str, Any]]:
        found = [e for e in read_events(self.home) if e["event"] == "verdict"]
        return found if path is None else [e for e in found if e.get("path") == str(path)]

    def wait_verdict(self, path: Path, count: int = 1, timeout: float = 10) -> dict[str, Any]:
        return wait_for(
            lambda: len(self.verdicts(path)) >= count and self.verdicts(path)[count - 1],
            timeout,
            f"verdict #{count} for {path.name}",
        )

    def looked(self, *, settled_after: int = -1, sweeps_after: int = -1) -> None:
        """Wait until the agent says it looked: more paths settled / sweeps done, and idle.

        The negative checks ("no second verdict") wait on this instead of a fixed sleep:
        `settled` counts every path the worker finished with, `idle` means nothing is queued,
        settling or being swept (AgentService.progress).
        """

        def done() -> bool:
            settled, sweeps, idle = self.service.progress()
            return idle and settled > settled_after and sweeps > sweeps_after

        wait_for(done, 20, "the agent to look and be idle")

    def vault(self) -> Vault:
        return Vault(self.home / "vault")


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[Agent]:
    running = Agent(tmp_path)
    running.service.start()
    yield running
    running.service.stop()


def test_chrome_download_malicious_goes_to_the_vault_benign_stays(agent: Agent) -> None:
    good = agent.downloads / "holiday.jpg"
    bad = agent.downloads / "invoice.jpg"
    write_chrome_style(good, make_jpeg(1))
    write_chrome_style(bad, make_jpeg_with_zip(2))
    bad_event = agent.wait_verdict(bad)
    good_event = agent.wait_verdict(good)
    assert good.read_bytes() == make_jpeg(1)
    assert good_event["action"] == "log" and good_event["policy_version"] == "test-1"
    assert not bad.exists()
    assert bad_event["action"] == "quarantine" and bad_event["findings"] == ["jpeg.trailing_data"]
    items = agent.vault().items()
    assert [item.id for item in items] == [bad_event["item_id"]]
    assert items[0].original_path == str(bad)
    assert agent.vault().read_content(items[0].id) == make_jpeg_with_zip(2)
    title, message, item_id, severity = agent.notifier.sent[0]
    assert item_id == bad_event["item_id"] and severity == "high"
    assert message.startswith("invoice.jpg: ") and "moved" in title.lower()
    # the temp name never got a verdict of its own
    assert not any(e["path"].endswith(".crdownload") for e in agent.verdicts())


def test_firefox_placeholder_gets_no_verdict_only_the_final_file(agent: Agent) -> None:
    target = agent.downloads / "scan.jpg"
    write_firefox_style(target, make_pe_bytes(3), chunk=256, pause=0.01)
    event = agent.wait_verdict(target)
    assert event["size"] > 0 and event["action"] == "quarantine"
    agent.looked()  # the placeholder's own settle check has run by now
    assert len(agent.verdicts(target)) == 1
    assert not any(e["path"].endswith(".part") for e in agent.verdicts())


def test_an_empty_file_that_stays_empty_is_judged_after_the_settle_time(agent: Agent) -> None:
    target = agent.downloads / "empty.jpg"
    target.write_bytes(b"")
    event = agent.wait_verdict(target)
    assert event["size"] == 0
    agent.looked()
    assert len(agent.verdicts(target)) == 1


def test_flagged_file_stays_with_the_marker_and_one_verdict_per_version(agent: Agent) -> None:
    target = agent.downloads / "notes.jpg"
    data = random.Random(5).randbytes(4000)  # no known format: content.not_an_image (medium)
    write_plain(target, data)
    event = agent.wait_verdict(target)
    assert event["action"] == "flag"
    assert target.read_bytes() == data and has_flag_marker(target)
    assert agent.notifier.sent and agent.notifier.sent[0][3] == "medium"
    # A second event for unchanged content (a browser's xattr/Zone.Identifier write, a
    # re-open) does not inspect or notify again.
    settled, _, _ = agent.service.progress()
    os.setxattr(target, "user.xdg.origin.url", b"https://example.invalid/notes.jpg")
    with target.open("ab"):
        pass  # open for writing + close: IN_CLOSE_WRITE without a change
    agent.looked(settled_after=settled)  # the close event was taken and the file looked at
    assert len(agent.verdicts(target)) == 1 and len(agent.notifier.sent) == 1
    # Changed content is a new version: judged again.
    write_plain(target, make_jpeg(6))
    second = agent.wait_verdict(target, count=2)
    assert second["action"] == "log"
    assert agent.service.snapshot().flagged_total == 1
    assert [r.path for r in agent.service.statedb.list_flagged()] == []  # now clean


def test_symlinks_our_vault_and_temp_names_are_never_judged(tmp_path: Path) -> None:
    # The agent's home (with its vault) lies inside the watched folder on purpose.
    downloads = tmp_path / "Downloads"
    downloads.mkdir()
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(make_pe_bytes(7))
    running = Agent(tmp_path, home=downloads / "photogate-home")
    running.service.start()
    try:
        (downloads / "link.jpg").symlink_to(outside)
        (downloads / "linked-dir").symlink_to(tmp_path)
        write_plain(downloads / "half.jpg.crdownload", make_pe_bytes(8))
        write_plain(downloads / "real.jpg", make_pe_bytes(9))
        running.wait_verdict(downloads / "real.jpg")
        assert len(running.vault().items()) == 1  # the vault now holds a file: not judged
        _, sweeps, _ = running.service.progress()
        running.service.request_sweep()  # a sweep must skip the same things
        running.looked(sweeps_after=sweeps)
        paths = {e["path"] for e in running.verdicts()}
        assert paths == {str(downloads / "real.jpg")}
        assert outside.exists() and (downloads / "link.jpg").is_symlink()
        assert (downloads / "half.jpg.crdownload").exists()
    finally:
        running.service.stop()


def test_startup_sweep_catches_files_that_arrived_while_stopped(tmp_path: Path) -> None:
    downloads = tmp_path / "Downloads"
    (downloads / "sub").mkdir(parents=True)
    old = downloads / "sub" / "old.jpg"
    old.write_bytes(make_jpeg_with_zip(10))
    past = time.time() - 60
    os.utime(old, (past, past))
    running = Agent(tmp_path)
    running.service.start()
    try:
        event = running.wait_verdict(old)
        assert event["action"] == "quarantine" and not old.exists()
    finally:
        running.service.stop()
    # A second start does not judge the same versions again.
    keep = downloads / "keep.jpg"
    keep.write_bytes(make_jpeg(11))
    os.utime(keep, (past, past))
    running = Agent(tmp_path)
    running.service.start()
    try:
        running.wait_verdict(keep)
        running.looked()
    finally:
        running.service.stop()
    running = Agent(tmp_path)
    running.service.start()
    try:
        running.looked(sweeps_after=0)  # the startup sweep listed everything
        assert len(running.verdicts(keep)) == 1
    finally:
        running.service.stop()


def test_paused_files_are_logged_not_moved_then_acted_on_after_resume(agent: Agent) -> None:
    agent.service.pause(600)
    assert agent.service.snapshot().paused_until is not None
    bad = agent.downloads / "later.jpg"
    write_plain(bad, make_jpeg_with_zip(12))
    event = agent.wait_verdict(bad)
    assert event["action"] == "deferred" and event["intended_action"] == "quarantine"
    assert bad.exists() and agent.notifier.sent == []
    agent.service.resume()
    second = agent.wait_verdict(bad, count=2)
    assert second["action"] == "quarantine" and not bad.exists()
    assert agent.service.snapshot().paused_until is None


def test_folder_that_appears_later_is_watched_and_one_that_disappears_is_reported(
    tmp_path: Path,
) -> None:
    later = tmp_path / "Later"
    running = Agent(tmp_path, watch=[tmp_path / "Downloads", later])
    running.service.start()
    try:
        state = running.service.snapshot()
        status = {f.path: f for f in state.folders}
        assert status[str(later)].watching is False
        assert status[str(later)].problem == "folder does not exist yet"
        later.mkdir()
        wait_for(
            lambda: any(
                f.path == str(later) and f.watching for f in running.service.snapshot().folders
            ),
            10,
            "the new folder to be watched",
        )
        bad = later / "x.jpg"
        write_plain(bad, make_pe_bytes(13))
        assert running.wait_verdict(bad)["action"] == "quarantine"
        later.rmdir()
        wait_for(
            lambda: any(
                f.path == str(later) and not f.watching and f.problem == "folder disappeared"
                for f in running.service.snapshot().folders
            ),
            10,
            "the vanished folder to be reported",
        )
        assert "folder disappeared" in (running.service.snapshot().problem or "")
        assert any(e["event"] == "folder_missing" for e in read_events(running.home))
        # the other folder still works
        good = running.downloads / "y.jpg"
        write_plain(good, make_jpeg(14))
        assert running.wait_verdict(good)["action"] == "log"
    finally:
        running.service.stop()


def test_policy_hot_reload_and_rejection(agent: Agent) -> None:
    write_config(agent.config, version="test-2")
    wait_for(lambda: agent.service.snapshot().policy_version == "test-2", 10, "policy test-2")
    agent.config.write_text("[watch]\nsettle_seconds = -5\n", encoding="utf-8")
    wait_for(lambda: agent.service.snapshot().policy_problem, 10, "the rejection")
    assert agent.service.snapshot().policy_version == "test-2"
    kinds = [e["event"] for e in read_events(agent.home)]
    assert "policy_loaded" in kinds and "policy_rejected" in kinds
    rejected = next(e for e in read_events(agent.home) if e["event"] == "policy_rejected")
    assert "settle_seconds" in rejected["problem"]
    target = agent.downloads / "z.jpg"
    write_plain(target, make_jpeg(15))
    assert agent.wait_verdict(target)["policy_version"] == "test-2"


def test_review_trigger_status_file_and_listeners(agent: Agent) -> None:
    write_plain(agent.downloads / "a.jpg", make_pe_bytes(16))
    agent.wait_verdict(agent.downloads / "a.jpg")
    wait_for(lambda: agent.service.snapshot().unreviewed == 1, 5, "unreviewed count")
    wait_for(lambda: any(s.quarantined_total == 1 for s in agent.states), 5, "listener call")
    status_file = agent.home / "run" / "status.json"
    status = wait_for(
        lambda: (
            status_file.exists()
            and json.loads(status_file.read_text())["counts"]["quarantined"] == 1
            and json.loads(status_file.read_text())
        ),
        10,
        "status file with the count",
    )
    assert status["pid"] == os.getpid()
    assert status["policy"]["version"] == "test-1"
    assert "config.toml" in status["policy"]["source"]
    assert status["folders"] == [{"path": str(agent.downloads), "watching": True, "problem": None}]
    (agent.home / "run" / "reviewed").touch()
    wait_for(lambda: agent.service.snapshot().unreviewed == 0, 5, "reviewed trigger")
    assert not (agent.home / "run" / "reviewed").exists()


def test_a_second_lock_on_the_same_home_is_refused(tmp_path: Path) -> None:
    runtime = tmp_path / "run"
    with AgentLock(runtime):
        assert is_locked(runtime)
        with pytest.raises(AlreadyRunningError, match=f"already running \\(pid {os.getpid()}\\)"):
            AgentLock(runtime).acquire()
    assert not is_locked(runtime)
    with AgentLock(runtime):  # free again
        pass


def test_status_text_tells_waiting_folders_from_broken_ones(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from agent.commands.status import _print_text

    info = {
        "running": True,
        "pid": 1,
        "home": "/h",
        "policy": {"version": "v1", "source": "built-in"},
        "folders": [
            {"path": "/home/a/Downloads", "watching": True, "problem": None},
            {"path": "/tmp/pid-*", "watching": False, "problem": None},
            {"path": "/mnt/share", "watching": False, "problem": "access denied"},
        ],
        "counts": {},
    }
    _print_text(info)
    lines = capsys.readouterr().out.splitlines()
    assert any(line.split()[:2] == ["watching", "/home/a/Downloads"] for line in lines)
    assert any("waiting" in line and "/tmp/pid-*" in line for line in lines)
    assert any("NOT watching" in line and "access denied" in line for line in lines)
