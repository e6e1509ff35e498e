"""Completion detection, the watchdog wrapper on real folders, and default watch folders."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path

import pytest

from agent.service import folders
from agent.service.watch import CompletionTracker, FolderWatcher
from tests.agent_harness import make_jpeg, wait_for, write_chrome_style, write_firefox_style

# --- CompletionTracker ----------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_closed_and_moved_are_ready_at_once_and_deduplicated() -> None:
    tracker = CompletionTracker(1.0)
    tracker.on_event("closed", "/w/a.jpg")
    tracker.on_event("closed", "/w/a.jpg")
    tracker.on_event("moved", "/w/b.jpg")
    assert tracker.next_ready(0) == "/w/a.jpg"
    assert tracker.next_ready(0) == "/w/b.jpg"
    assert tracker.next_ready(0) is None


def test_created_waits_for_the_settle_time() -> None:
    clock = FakeClock()
    tracker = CompletionTracker(2.0, clock=clock)
    tracker.on_event("created", "/w/a.jpg")
    assert tracker.due_settling() == []
    clock.now += 1.0
    tracker.on_event("modified", "/w/a.jpg")  # more writes push the deadline out
    clock.now += 1.5
    assert tracker.due_settling() == []
    clock.now += 0.6
    assert tracker.due_settling() == ["/w/a.jpg"]
    assert tracker.due_settling() == []


def test_close_after_create_makes_the_settling_path_ready() -> None:
    tracker = CompletionTracker(5.0)
    tracker.on_event("created", "/w/a.jpg")
    tracker.on_event("closed", "/w/a.jpg")
    assert tracker.next_ready(0) == "/w/a.jpg"
    assert tracker.pending_count == 0


def test_deleted_drops_a_settling_path() -> None:
    clock = FakeClock()
    tracker = CompletionTracker(1.0, clock=clock)
    tracker.on_event("created", "/w/a.jpg")
    tracker.on_event("deleted", "/w/a.jpg")
    clock.now += 5
    assert tracker.due_settling() == []


def test_overflow_drops_new_paths_and_says_so_once() -> None:
    tracker = CompletionTracker(1.0, max_pending=3)
    for index in range(5):
        tracker.on_event("closed", f"/w/{index}.jpg")
    assert tracker.pending_count == 3
    assert tracker.take_overflow() is True
    assert tracker.take_overflow() is False
    tracker.on_event("closed", "/w/0.jpg")  # already queued: not an overflow
    assert tracker.take_overflow() is False


def test_new_folders_are_reported_for_a_sweep() -> None:
    tracker = CompletionTracker(1.0)
    tracker.on_event("dir", "/w/sub")
    tracker.on_event("dir", "/w/sub")
    assert tracker.take_dirs() == ["/w/sub"]
    assert tracker.take_dirs() == []


def test_next_ready_wakes_up_when_a_path_arrives() -> None:
    tracker = CompletionTracker(1.0)
    got: list[str | None] = []
    thread = threading.Thread(target=lambda: got.append(tracker.next_ready(10)))
    thread.start()
    time.sleep(0.05)
    tracker.on_event("moved", "/w/x.jpg")
    thread.join(5)
    assert got == ["/w/x.jpg"]


# --- FolderWatcher on real folders ----------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def __call__(self, kind: str, path: str) -> None:
        with self.lock:
            self.events.append((kind, path))

    def kinds_for(self, path: Path) -> list[str]:
        with self.lock:
            return [kind for kind, p in self.events if p == str(path)]


@pytest.fixture
def watched(tmp_path: Path):
    recorder = Recorder()
    watcher = FolderWatcher(recorder)
    watcher.start()
    folder = tmp_path / "Downloads"
    folder.mkdir()
    assert watcher.add(folder, recursive=True) is None
    yield folder, recorder, watcher
    watcher.stop()


def test_close_write_is_reported_on_linux(watched) -> None:
    folder, recorder, _ = watched
    target = folder / "photo.jpg"
    target.write_bytes(make_jpeg(1))
    wait_for(lambda: "closed" in recorder.kinds_for(target), 5, "close event")


def test_chrome_rename_is_reported_as_moved_to_the_final_name(watched) -> None:
    folder, recorder, _ = watched
    target = folder / "photo.jpg"
    write_chrome_style(target, make_jpeg(2))
    wait_for(lambda: "moved" in recorder.kinds_for(target), 5, "moved event")


def test_firefox_placeholder_then_rename(watched) -> None:
    folder, recorder, _ = watched
    target = folder / "photo.jpg"
    write_firefox_style(target, make_jpeg(3))
    wait_for(lambda: "moved" in recorder.kinds_for(target), 5, "rename over placeholder")
    assert "closed" in recorder.kinds_for(target)  # the zero-byte placeholder's close


def test_reading_and_xattrs_do_not_wake_the_watcher(watched) -> None:
    folder, recorder, _ = watched
    target = folder / "photo.jpg"
    target.write_bytes(make_jpeg(4))
    # inotify delivers events in order: once a later file's event is here, every event of
    # what came before it is too. A sentinel file is how the test knows the watcher looked.
    first = folder / "sentinel-1.jpg"
    first.write_bytes(b"1")
    wait_for(lambda: "closed" in recorder.kinds_for(first), 5, "the first sentinel")
    before = len(recorder.kinds_for(target))
    assert before > 0
    target.read_bytes()
    # No user xattrs on this file system: the read alone is still checked.
    with contextlib.suppress(OSError):
        os.setxattr(target, "user.xdg.origin.url", b"https://example.invalid/")
    second = folder / "sentinel-2.jpg"
    second.write_bytes(b"2")
    wait_for(lambda: "closed" in recorder.kinds_for(second), 5, "the second sentinel")
    assert len(recorder.kinds_for(target)) == before


def test_a_failing_callback_does_not_kill_the_observer(tmp_path: Path) -> None:
    seen: list[str] = []

    def explode(kind: str, path: str) -> None:
        seen.append(path)
        raise RuntimeError("boom")

    watcher = FolderWatcher(explode)
    watcher.start()
    try:
        assert watcher.add(tmp_path, recursive=False) is None
        (tmp_path / "a.jpg").write_bytes(b"1")
        wait_for(lambda: str(tmp_path / "a.jpg") in seen, 5, "first event")
        (tmp_path / "b.jpg").write_bytes(b"2")
        wait_for(lambda: str(tmp_path / "b.jpg") in seen, 5, "event after the failure")
    finally:
        watcher.stop()


def test_missing_folder_is_a_problem_not_an_exception(tmp_path: Path) -> None:
    watcher = FolderWatcher(lambda kind, path: None)
    watcher.start()
    try:
        assert watcher.add(tmp_path / "nope", recursive=True) == "folder does not exist"
        assert watcher.watched() == set()
    finally:
        watcher.stop()


def test_new_subfolder_is_reported(watched) -> None:
    folder, recorder, _ = watched
    sub = folder / "album"
    sub.mkdir()
    wait_for(lambda: "dir" in recorder.kinds_for(sub), 5, "dir event")


def test_invalid_utf8_names_arrive_as_surrogate_escaped_text(watched) -> None:
    folder, recorder, _ = watched
    raw = os.fsencode(folder) + b"/bad\xff\xfename.jpg"
    with open(raw, "wb") as handle:
        handle.write(b"x")
    expected = os.fsdecode(raw)
    wait_for(lambda: "closed" in recorder.kinds_for(Path(expected)), 5, "event for bytes name")


# --- default folders ------------------------------------------------------------------------


def test_xdg_download_dir_is_read_from_user_dirs(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".config").mkdir(parents=True)
    (home / ".config" / "user-dirs.dirs").write_text(
        '# written by xdg-user-dirs-update\nXDG_DESKTOP_DIR="$HOME/Desktop"\n'
        'XDG_DOWNLOAD_DIR="$HOME/Téléchargements"\n',
        encoding="utf-8",
    )
    found = folders.default_folders("linux", env={"HOME": str(home)}, home=home)
    assert found[0] == str(home / "Téléchargements")
    assert "/tmp/pid-*" in found


def test_xdg_config_home_and_fallback(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    assert folders.xdg_download_dir(home, {}) == home / "Downloads"
    config = tmp_path / "cfg"
    config.mkdir()
    (config / "user-dirs.dirs").write_text('XDG_DOWNLOAD_DIR="/srv/dl"\n', encoding="utf-8")
    assert folders.xdg_download_dir(home, {"XDG_CONFIG_HOME": str(config)}) == Path("/srv/dl")


def test_windows_defaults_use_the_registry_for_outlook(tmp_path: Path) -> None:
    registry_file = tmp_path / "registry.txt"
    registry_file.write_text(
        r"HKCU\Software\Microsoft\Office\16.0\Outlook\Security\OutlookSecureTempFolder="
        r"C:\Users\Ann\AppData\Local\Microsoft\Windows\INetCache\Content.Outlook\AB12CD34"
        "\n",
        encoding="utf-8",
    )
    env = {
        "USERPROFILE": r"C:\Users\Ann",
        "LOCALAPPDATA": r"C:\Users\Ann\AppData\Local",
        "TEMP": r"C:\Users\Ann\AppData\Local\Temp",
    }
    found = folders.default_folders(
        "win32", env=env, home=Path("/nonexistent"), registry=folders.FileRegistry(registry_file)
    )
    joined = "\n".join(found)
    assert "Content.Outlook" in joined and "AB12CD34" in joined
    assert any(f.endswith(str(Path("Microsoft") / "Olk" / "Attachments")) for f in found)
    assert any(f.endswith("pid-*") and "Temp" in f for f in found)
    assert "Downloads" in found[0]


def test_windows_without_outlook_registry_value(tmp_path: Path) -> None:
    registry = folders.FileRegistry(tmp_path / "missing.txt")
    found = folders.default_folders("win32", env={}, home=tmp_path, registry=registry)
    assert not any("Content.Outlook" in f for f in found)


def test_expand_env_and_home() -> None:
    env = {"HOME": "/home/ann", "SCANS": "/srv/scans", "LOCALAPPDATA": "/x/local"}
    assert folders.expand("~/Downloads", env) == "/home/ann/Downloads"
    assert folders.expand("$SCANS/in", env) == "/srv/scans/in"
    assert folders.expand("${SCANS}/in", env) == "/srv/scans/in"
    assert folders.expand("%LOCALAPPDATA%/Olk", env) == "/x/local/Olk"
    assert folders.expand("$UNSET/x", env) == "$UNSET/x"


def test_glob_patterns_pick_up_folders_when_they_appear(tmp_path: Path) -> None:
    pattern = str(tmp_path / "pid-*")
    assert folders.expand_pattern(pattern) == []
    (tmp_path / "pid-123").mkdir()
    (tmp_path / "pid-file").write_text("not a folder")
    (tmp_path / "pid-link").symlink_to(tmp_path / "pid-123")
    assert folders.expand_pattern(pattern) == [tmp_path / "pid-123"]
    assert folders.is_glob_pattern(pattern)


def test_override_replaces_defaults_and_excludes_apply(tmp_path: Path) -> None:
    assert folders.configured_patterns(True, ["/a"], override=["/b", "/b"]) == ["/b"]
    assert folders.configured_patterns(False, ["/a", "/c"]) == ["/a", "/c"]
    inner = tmp_path / "x" / "y"
    inner.mkdir(parents=True)
    assert folders.is_excluded(inner, [str(tmp_path / "x")])
    assert not folders.is_excluded(tmp_path, [str(tmp_path / "x")])


def test_take_ready_takes_what_is_queued_in_order_up_to_a_bound() -> None:
    tracker = CompletionTracker(1.0)
    for name in ("a", "b", "c", "d"):
        tracker.on_event("moved", f"/w/{name}.jpg")
    assert tracker.take_ready(3) == ["/w/a.jpg", "/w/b.jpg", "/w/c.jpg"]
    assert tracker.ready_count == 1 and tracker.pending_count == 1
    tracker.on_event("moved", "/w/a.jpg")  # taken, so it can be queued again
    assert tracker.take_ready(10) == ["/w/d.jpg", "/w/a.jpg"]
    assert tracker.take_ready(10) == [] and tracker.pending_count == 0
