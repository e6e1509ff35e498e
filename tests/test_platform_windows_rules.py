"""Windows file semantics, exercised on Linux through the platform interface.

The Win32 calls themselves run only on Windows (type-checked with mypy --platform win32,
run on the windows-latest CI job). What they decide is tested here: the Windows rules
(wintext's winerror tables) plugged into the real Linux implementation, with real
folders, a real vault and the real agent service.
"""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent import platform
from agent.platform import wintext
from agent.platform.base import SourceFile
from agent.service.busy import IN_USE_FIRST_RETRY_SECONDS, IN_USE_MAX_RETRY_SECONDS, BusyFiles
from agent.vault.store import Vault
from tests.agent_harness import make_jpeg, make_jpeg_with_zip, read_events, wait_for, write_plain
from tests.test_service import Agent

OS_IMPL = type(platform.current())


def windows_error(code: int, message: str) -> OSError:
    """An OSError as CPython raises it on Windows: errno from its table, plus winerror."""
    error = OSError(
        errno.EINVAL if code in wintext.WINERRORS_NO_HARD_LINKS else errno.EACCES, message
    )
    error.winerror = code  # type: ignore[attr-defined]
    return error


class WindowsRules(OS_IMPL):  # type: ignore[misc,valid-type]
    """This OS's calls with Windows' reading of errors."""

    def is_in_use(self, error: OSError) -> bool:
        return wintext.winerror_in_use(error)

    def is_no_hard_links(self, error: OSError) -> bool:
        return wintext.winerror_no_hard_links(error)


@pytest.fixture
def windows_rules() -> Iterator[WindowsRules]:
    rules = WindowsRules()
    previous = platform.use(rules)
    yield rules
    platform.use(previous)


def test_restore_falls_back_to_rename_where_windows_says_no_hard_links(
    tmp_path: Path, windows_rules: WindowsRules, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FAT/exFAT: CreateHardLinkW fails with ERROR_INVALID_FUNCTION, which Python gives as
    EINVAL; the restore must still land, byte-identical and marked."""
    downloads = tmp_path / "Downloads"
    downloads.mkdir()
    photo = downloads / "xray.jpg"
    photo.write_bytes(make_jpeg_with_zip(3))
    vault = Vault(tmp_path / "vault")
    item = vault.quarantine(photo, [], detected_type="jpeg", policy_version="t")

    def no_links(src: object, dst: object, **_: object) -> None:
        raise windows_error(wintext.ERROR_INVALID_FUNCTION, "Incorrect function")

    monkeypatch.setattr(os, "link", no_links)
    restored = vault.restore(item.id)
    assert restored == photo and photo.read_bytes() == make_jpeg_with_zip(3)
    assert vault.items() == []
    assert [p.name for p in downloads.iterdir()] == ["xray.jpg"]  # no temp left behind


def test_without_windows_rules_the_same_einval_is_not_mistaken_for_no_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Control: POSIX's reading of EINVAL is "a real error" (so the rule above matters)."""
    assert not platform.PortablePlatform().is_no_hard_links(
        windows_error(wintext.ERROR_INVALID_FUNCTION, "Incorrect function")
    )
    assert wintext.winerror_no_hard_links(windows_error(wintext.ERROR_NOT_SUPPORTED, "x"))
    assert not wintext.winerror_no_hard_links(OSError(errno.EINVAL, "no winerror"))


def test_backoff_doubles_to_its_cap() -> None:
    busy = BusyFiles()
    delays = []
    for _ in range(10):
        busy.found_in_use("a")
        delays.append(busy.retry_delay("a"))
    assert delays[:3] == [IN_USE_FIRST_RETRY_SECONDS, 2 * IN_USE_FIRST_RETRY_SECONDS, 2.0]
    assert delays[-1] == IN_USE_MAX_RETRY_SECONDS and sorted(delays) == delays
    busy.done("a")
    assert busy.attempts("a") == 0


class HeldByAnotherProgram(WindowsRules):
    """A file "held" by a browser: the probe says busy twice, then the quarantine's open
    gets a sharing violation once, as CreateFileW would."""

    def __init__(self, held: str) -> None:
        self.held = held
        self.probes = 0
        self.opens = 0
        self._lock = threading.Lock()

    def writer_done(self, path: str) -> bool:
        if os.path.basename(path) != self.held:
            return True
        with self._lock:
            self.probes += 1
            return self.probes > 2

    def open_source(self, path: Path) -> SourceFile:
        if path.name == self.held:
            with self._lock:
                self.opens += 1
                if self.opens == 1:
                    raise windows_error(wintext.ERROR_SHARING_VIOLATION, "in use")
        return super().open_source(path)


def test_a_file_in_use_is_retried_until_it_is_quarantined(tmp_path: Path) -> None:
    held = HeldByAnotherProgram("invoice.jpg")
    previous = platform.use(held)
    agent = Agent(tmp_path)
    agent.service.start()
    try:
        bad = agent.downloads / "invoice.jpg"
        good = agent.downloads / "holiday.jpg"
        write_plain(bad, make_jpeg_with_zip(11))
        write_plain(good, make_jpeg(12))
        event = agent.wait_verdict(bad, timeout=20)
        agent.wait_verdict(good)
    finally:
        agent.service.stop()
        platform.use(previous)
    assert event["action"] == "quarantine" and not bad.exists()
    # Probe busy, busy, free -> open: sharing violation -> probe free -> open: quarantined.
    assert (held.probes, held.opens) == (4, 2)
    verdicts = [e for e in read_events(agent.home) if e["event"] == "verdict"]
    assert [e["action"] for e in verdicts if e["path"] == str(bad)] == ["quarantine"]
    assert not [e for e in read_events(agent.home) if e["event"] == "action_failed"]
    assert agent.service.pipeline.busy.attempts(str(bad)) == 0  # forgotten once judged


class ExtendedPaths(OS_IMPL):  # type: ignore[misc,valid-type]
    """Windows' `\\\\?\\` form stood in for by /proc/self/root: another string, the same file."""

    def os_path(self, path: str) -> str:
        return "/proc/self/root" + path


def test_every_file_call_uses_the_os_path_form_and_reports_the_plain_path(
    tmp_path: Path,
) -> None:
    """Past MAX_PATH Windows only opens `\\\\?\\C:\\...`: the pipeline must hand that form to
    every file call (stat, hash, inspect, quarantine) and still report the path staff know."""
    previous = platform.use(ExtendedPaths())
    agent = Agent(tmp_path)
    agent.service.start()
    try:
        bad = agent.downloads / "invoice.jpg"
        write_plain(bad, make_jpeg_with_zip(21))
        event = agent.wait_verdict(bad)
    finally:
        agent.service.stop()
        platform.use(previous)
    assert event["path"] == str(bad) and event["action"] == "quarantine"
    (item,) = agent.vault().items()
    assert item.original_path == "/proc/self/root" + str(bad)  # what restore will open
    assert not bad.exists()


class PathsTooLong(OS_IMPL):  # type: ignore[misc,valid-type]
    """What a path over MAX_PATH gives without the prefix: the OS refuses it."""

    def os_path(self, path: str) -> str:
        return path + "/" + "x" * 300  # ENAMETOOLONG: one component over 255 bytes


def test_a_path_the_os_refuses_is_reported_never_skipped_silently(tmp_path: Path) -> None:
    previous = platform.use(PathsTooLong())
    agent = Agent(tmp_path)
    agent.service.start()
    try:
        target = agent.downloads / "scan.jpg"
        write_plain(target, make_jpeg(22))

        def failure() -> dict[str, object] | None:
            found = [e for e in read_events(agent.home) if e["event"] == "action_failed"]
            return next((e for e in found if e.get("path") == str(target)), None)

        event = wait_for(failure, 10, "an action_failed event for the refused path")
    finally:
        agent.service.stop()
        platform.use(previous)
    assert "cannot read the file" in str(event["error"])
