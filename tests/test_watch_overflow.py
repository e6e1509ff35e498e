"""ReadDirectoryChangesW overflows (watchdog #1019): detected, and the folder swept at once.

Windows cannot run here; what runs is (1) the detector on a reader shaped like watchdog's
DirectoryChangeReader (its queue gets one empty buffer at start, then one per overflow),
and (2) the real agent on Linux with a burst's events thrown away, as an overflowed buffer
throws them away, and the overflow reported: every file must be judged within 10 s.
"""

from __future__ import annotations

import queue
import time
from pathlib import Path

import pytest

from agent.service import watch
from agent.service.watch import OverflowSignallingQueue, hook_overflow
from tests.agent_harness import make_jpeg, make_jpeg_with_zip, read_events, wait_for
from tests.test_service import Agent

BURST_FILES = 1200  # more than a 64 KB change buffer holds (about 1,000 short names)
JUDGED_WITHIN_SECONDS = 10.0  # issue 14: every file judged within 10 s of the burst


def test_an_empty_buffer_after_the_start_is_an_overflow() -> None:
    seen: list[str] = []
    buffers = OverflowSignallingQueue(lambda: seen.append("overflow"))
    buffers.put((b"", True))  # the reader thread's "I have started"
    assert seen == []
    buffers.put((b"\x01\x02", True))
    buffers.put((b"", True))  # lpBytesReturned == 0: the kernel discarded a buffer
    assert seen == ["overflow"]
    assert [buffers.get_nowait() for _ in range(3)] == [
        (b"", True),
        (b"\x01\x02", True),
        (b"", True),
    ]


class ReaderLikeWatchdogs:
    """The part of watchdog.observers.winapi.DirectoryChangeReader the hook relies on."""

    def __init__(self, path: str, *, recursive: bool) -> None:
        self._path = path
        self._recursive = recursive
        self._buf_queue: queue.Queue[tuple[bytes, bool]] = queue.Queue()

    def deliver(self, buf: bytes) -> None:
        self._buf_queue.put((buf, True))


def test_the_hook_reports_the_overflowing_folder() -> None:
    folders: list[str] = []
    assert hook_overflow(ReaderLikeWatchdogs, folders.append)
    assert hook_overflow(ReaderLikeWatchdogs, folders.append)  # twice: hooked once
    reader = ReaderLikeWatchdogs("C:\\Users\\fd\\Downloads", recursive=False)
    reader.deliver(b"")
    reader.deliver(b"x")
    reader.deliver(b"")
    assert folders == ["C:\\Users\\fd\\Downloads"]
    watch._overflow_listeners.remove(folders.append)


def test_every_file_of_an_overflowed_burst_is_judged_within_10_seconds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent = Agent(tmp_path)
    agent.service.start()
    try:
        dropped: set[str] = set()  # paths whose events the "overflow" swallowed

        def overflowed_buffer(self: watch._Handler, event: object) -> None:
            dropped.add(str(getattr(event, "src_path", "")))  # lost, as in a full buffer

        monkeypatch.setattr(watch._Handler, "dispatch", overflowed_buffer)
        trapped = agent.downloads / "invoice.jpg"
        for index in range(BURST_FILES):
            (agent.downloads / f"IMG_{index:04d}.jpg").write_bytes(make_jpeg(index % 7))
        trapped.write_bytes(make_jpeg_with_zip(5))
        written = {str(p) for p in agent.downloads.iterdir()}
        wait_for(
            lambda: written <= dropped,
            JUDGED_WITHIN_SECONDS,
            "the observer to see (and the overflow to swallow) every file's events",
        )
        # Still dropping from here on: whatever is judged now was found because the overflow
        # was reported, not from a late event. Nothing was judged from the lost events.
        assert not [e for e in read_events(agent.home) if e["event"] == "verdict"]
        started = time.monotonic()
        agent.service.watcher.on_overflow(str(agent.downloads))  # what the hook reports
        wait_for(
            lambda: len({e["path"] for e in agent.verdicts()}) >= BURST_FILES + 1,
            JUDGED_WITHIN_SECONDS,
            f"all {BURST_FILES + 1} files judged",
        )
        elapsed = time.monotonic() - started
    finally:
        agent.service.stop()
    print(f"{BURST_FILES + 1} files judged {elapsed:.2f} s after the overflow was reported")
    assert elapsed < JUDGED_WITHIN_SECONDS
    assert not trapped.exists()
    assert [e["action"] for e in agent.verdicts(trapped)] == ["quarantine"]
