"""The pipeline's guards and helpers, in-process with the real engine, policy, vault and state:
what is left alone (outside the roots, ignored names, our own temp files, links, folders in
between), the scope rules, hashing, and the words of errors, notifications and events.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import time
from pathlib import Path
from typing import Any

import pytest

import agent.service.pipeline
from agent import platform
from agent.inspect.limits import Limits
from agent.model import Finding, Report, Severity, Verdict
from agent.policy.decide import Decision
from agent.policy.schema import (
    ActionSettings,
    FolderRule,
    InspectSettings,
    Policy,
    PolicyInfo,
)
from agent.service import staffdb
from agent.service.events import EventLog, read_events
from agent.service.pipeline import (
    Outcome,
    Pipeline,
    Scope,
    first_reason_text,
    hard_linked_finding,
    plain_error,
    sha256_of,
)
from agent.service.staff import StaffActions
from agent.service.statedb import FileVersion
from tests.agent_harness import has_flag_marker, make_jpeg, make_pe_bytes
from tests.pipeline_helpers import OS_IMPL, Clock, Notes, build, events_of

VERSIONED = Policy(policy=PolicyInfo(version="clinic-7"))


@pytest.fixture
def parts(tmp_path: Path) -> tuple[Pipeline, Scope, Path, Path, Notes]:
    notes = Notes()
    built = build(tmp_path, notifier=notes, ignore_patterns=("*.crdownload",))
    return built.pipeline, built.scope, built.downloads, built.home, notes


def _verdicts(home: Path) -> list[dict[str, Any]]:
    return events_of(home, "verdict")


# --- helpers ----------------------------------------------------------------------------------


def test_plain_error_is_one_bounded_line() -> None:
    assert plain_error(ValueError("bad\n  value\there")) == "ValueError: bad value here"
    assert plain_error(KeyError()) == "KeyError"
    assert plain_error(OSError("x" * 400)) == "OSError: " + "x" * 300


def test_hard_linked_finding_words() -> None:
    assert hard_linked_finding(3, "quarantine") == Finding(
        "scan.hard_linked",
        Severity.INFO,
        "This file has other names on this computer, so Photogate did not move or mark it.",
        detail=(
            "3 hard links: quarantine withheld (it would act on the other names' content too,"
            " or leave it behind under them)"
        ),
    )


def _decision(*reasons: object) -> Decision:
    return Decision("quarantine", reasons, False, "r")  # type: ignore[arg-type]


def test_first_reason_text_prefers_the_decisions_first_reason() -> None:
    finding = Finding("jpeg.trailing_data", Severity.HIGH, "m", payload="zip")
    report = Report(
        path="/x/a.jpg", type="jpeg", size=1, findings=(finding,), verdict=Verdict.QUARANTINE
    )
    assert first_reason_text(_decision("a plain reason"), report, "a.jpg") == "a plain reason"

    class Rule:
        message = "a rule's message"

    assert first_reason_text(_decision(Rule()), report, "a.jpg") == "a rule's message"
    from_finding = first_reason_text(_decision(finding), report, "a.jpg")
    from_summary = first_reason_text(_decision(""), report, "a.jpg")
    assert from_finding == from_summary  # the finding's plain words, also the summary's
    assert "ZIP" in from_finding
    assert first_reason_text(_decision(), report, "a.jpg") == from_summary


def test_sha256_of_needs_the_same_inode_and_a_size_within_the_cap(tmp_path: Path) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(b"abc")
    version = FileVersion.of(os.lstat(path))
    abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert sha256_of(str(path), version, 3) == abc
    assert sha256_of(str(path), version, 2) is None  # over the cap
    other = FileVersion(version.size, version.mtime_ns, version.inode + 1)
    assert sha256_of(str(path), other, 3) is None  # another file took the name
    assert sha256_of(str(tmp_path / "missing"), version, 3) is None
    link = tmp_path / "link"
    link.symlink_to(path)
    assert sha256_of(str(link), version, 3) is None  # a link is never followed


# --- scope ------------------------------------------------------------------------------------


def test_scope_root_is_the_deepest_watched_folder(tmp_path: Path) -> None:
    outer, inner = tmp_path / "a", tmp_path / "a" / "b"
    scope = Scope(roots=(inner, outer), excluded=(), ignore_patterns=())
    assert scope.root_of(str(inner / "x.jpg")) == inner
    assert scope.root_of(str(outer / "x.jpg")) == outer
    assert (
        Scope(roots=(outer, inner), excluded=(), ignore_patterns=()).root_of(str(inner / "x.jpg"))
        == inner
    )
    assert scope.root_of(str(tmp_path / "ab" / "x.jpg")) is None  # a prefix is no parent
    assert scope.root_of(str(outer)) is None


def test_scope_excludes_our_folders_by_real_path(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "vault").mkdir(parents=True)
    scope = Scope(roots=(tmp_path,), excluded=(home,), ignore_patterns=())
    assert scope.is_excluded(str(home))
    assert scope.is_excluded(str(home / "vault" / "x"))
    assert not scope.is_excluded(str(tmp_path / "homework" / "x"))
    (tmp_path / "alias").symlink_to(home)
    assert scope.is_excluded(str(tmp_path / "alias" / "x"))


def test_ignored_names_match_any_component_without_case() -> None:
    scope = Scope(roots=(), excluded=(), ignore_patterns=("*.crdownload", "*.download"))
    assert scope.is_ignored_name(["a.jpg.CRDOWNLOAD"])
    assert scope.is_ignored_name(["x.download", "inner.jpg"])
    assert scope.is_ignored_name([".sanitizing-a.jpg"])  # our own temp files, always
    assert scope.is_ignored_name([".photogate-restore-abc.tmp"])
    assert not scope.is_ignored_name(["a.jpg"])


# --- the guards -------------------------------------------------------------------------------


def test_paths_outside_the_roots_or_inside_ours_are_skipped(
    parts: tuple[Pipeline, Scope, Path, Path, Notes], tmp_path: Path
) -> None:
    pipeline, scope, downloads, home, notes = parts
    outside = tmp_path / "elsewhere.jpg"
    outside.write_bytes(make_pe_bytes(1))
    assert pipeline.process(str(outside), Policy(), scope) is Outcome.SKIPPED
    (downloads / "a.jpg.crdownload").write_bytes(make_pe_bytes(2))
    assert pipeline.process(str(downloads / "a.jpg.crdownload"), Policy(), scope) is Outcome.SKIPPED
    sub = downloads / "sub"
    sub.mkdir()
    (sub / "deep.jpg").write_bytes(make_pe_bytes(3))
    flat = Scope(roots=scope.roots, excluded=scope.excluded, ignore_patterns=(), recursive=False)
    assert pipeline.process(str(sub / "deep.jpg"), Policy(), flat) is Outcome.SKIPPED
    inside_home = Scope(roots=(tmp_path,), excluded=(home,), ignore_patterns=())
    home.mkdir(exist_ok=True)
    (home / "x.jpg").write_bytes(make_pe_bytes(4))
    assert pipeline.process(str(home / "x.jpg"), Policy(), inside_home) is Outcome.SKIPPED
    assert outside.exists() and (sub / "deep.jpg").exists() and (home / "x.jpg").exists()
    assert _verdicts(home) == [] and notes.shown == []
    assert pipeline.process(str(sub / "deep.jpg"), Policy(), scope) is Outcome.JUDGED


def test_links_folders_and_linked_parents_are_skipped(
    parts: tuple[Pipeline, Scope, Path, Path, Notes], tmp_path: Path
) -> None:
    pipeline, scope, downloads, _home, _ = parts
    real = tmp_path / "real.jpg"
    real.write_bytes(make_pe_bytes(5))
    (downloads / "link.jpg").symlink_to(real)
    assert pipeline.process(str(downloads / "link.jpg"), Policy(), scope) is Outcome.SKIPPED
    (downloads / "folder.jpg").mkdir()
    assert pipeline.process(str(downloads / "folder.jpg"), Policy(), scope) is Outcome.SKIPPED
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "evil.jpg").write_bytes(make_pe_bytes(6))
    (downloads / "via").symlink_to(outside, target_is_directory=True)
    assert pipeline.process(str(downloads / "via" / "evil.jpg"), Policy(), scope) is Outcome.SKIPPED
    assert real.exists() and (outside / "evil.jpg").exists()
    assert pipeline.process(str(downloads / "gone.jpg"), Policy(), scope) is Outcome.GONE


def test_a_clean_file_is_judged_once_per_version(
    parts: tuple[Pipeline, Scope, Path, Path, Notes],
) -> None:
    pipeline, scope, downloads, home, notes = parts
    photo = downloads / "photo.jpg"
    photo.write_bytes(make_jpeg(7))
    assert pipeline.process(str(photo), Policy(), scope) is Outcome.JUDGED
    assert pipeline.process(str(photo), Policy(), scope) is Outcome.UNCHANGED
    [event] = _verdicts(home)
    assert (event["action"], event["verdict"], event["size"]) == (
        "log",
        "clean",
        len(make_jpeg(7)),
    )
    assert notes.shown == []  # a clean file is never announced


def test_a_quarantine_is_recorded_announced_and_reported(
    parts: tuple[Pipeline, Scope, Path, Path, Notes],
) -> None:
    pipeline, scope, downloads, home, notes = parts
    bad = downloads / "invoice.jpg"
    bad.write_bytes(make_pe_bytes(8))
    assert pipeline.process(str(bad), Policy(), scope) is Outcome.JUDGED
    assert not bad.exists()
    [event] = _verdicts(home)
    [item] = pipeline.toolkit.vault.items()
    assert (event["action"], event["item_id"], event["folder"]) == (
        "quarantine",
        item.id,
        str(downloads),
    )
    assert "intended_action" not in event and "error" not in event  # None is left out
    record = pipeline.statedb.lookup(bad)
    assert record is not None and (record.action, record.item_id) == ("quarantine", item.id)
    [(title, body, fields)] = notes.shown
    assert title == "Photogate moved a dangerous file to safety"
    assert body.startswith("invoice.jpg: ")
    assert fields == {"item_id": item.id, "severity": "high"}


def test_a_dangerous_file_with_other_names_is_reported_and_left_alone(
    parts: tuple[Pipeline, Scope, Path, Path, Notes], tmp_path: Path
) -> None:
    pipeline, scope, downloads, home, notes = parts
    bad = downloads / "invoice.jpg"
    bad.write_bytes(make_pe_bytes(9))
    os.link(bad, tmp_path / "other-name.jpg")
    assert pipeline.process(str(bad), Policy(), scope) is Outcome.JUDGED
    assert bad.exists() and pipeline.toolkit.vault.items() == []
    [event] = _verdicts(home)
    assert (event["action"], event["intended_action"], event["link_count"]) == (
        "left_linked", "quarantine", 2,
    )  # fmt: skip
    assert "scan.hard_linked" in event["findings"]
    [(title, _, fields)] = notes.shown
    assert title == "Photogate found a dangerous file but could not move it"
    assert fields == {"item_id": None, "severity": "high"}
    # the other name goes: now the file is its own, and is moved
    (tmp_path / "other-name.jpg").unlink()
    assert pipeline.process(str(bad), Policy(), scope) is Outcome.JUDGED
    assert not bad.exists()


def test_paused_decisions_are_deferred(parts: tuple[Pipeline, Scope, Path, Path, Notes]) -> None:
    pipeline, scope, downloads, home, notes = parts
    bad = downloads / "invoice.jpg"
    bad.write_bytes(make_pe_bytes(10))
    assert pipeline.process(str(bad), Policy(), scope, paused=True) is Outcome.JUDGED
    assert bad.exists()
    [event] = _verdicts(home)
    assert (event["action"], event["intended_action"]) == ("deferred", "quarantine")
    assert notes.shown == []


def test_an_empty_new_file_settles(parts: tuple[Pipeline, Scope, Path, Path, Notes]) -> None:
    pipeline, scope, downloads, home, _ = parts
    (downloads / "placeholder.jpg").write_bytes(b"")
    assert pipeline.process(str(downloads / "placeholder.jpg"), Policy(), scope) is Outcome.SETTLE
    assert _verdicts(home) == []


def test_a_pipeline_failure_is_an_action_failed_event_never_a_raise(
    parts: tuple[Pipeline, Scope, Path, Path, Notes],
) -> None:
    pipeline, scope, downloads, home, _ = parts
    photo = downloads / "photo.jpg"
    photo.write_bytes(make_jpeg(11))

    def broken(path: str, limits: Limits) -> Report:
        raise RuntimeError("engine bug")

    pipeline.toolkit.inspect = broken
    assert pipeline.process(str(photo), Policy(), scope) is Outcome.SKIPPED
    [event] = [
        e for e in read_events(home / "logs" / "events.jsonl") if e["event"] == "action_failed"
    ]
    assert event["error"] == "RuntimeError: engine bug"
    assert event["path"] == str(photo)


# --- the words of a reason, from the finding, the file's type and its name ------------------


def test_first_reason_text_uses_the_type_and_the_name() -> None:
    """content.* sentences say what the name claims and what the bytes are."""
    finding = Finding("content.executable", Severity.HIGH, "a program")
    report = Report(
        path="/x/scan.png", type="pe", size=1, findings=(finding,), verdict=Verdict.QUARANTINE
    )
    expected = "This file pretends to be a PNG picture but is a Windows program."
    assert first_reason_text(_decision(finding), report, "scan.png") == expected
    assert first_reason_text(_decision(), report, "scan.png") == expected  # the summary

    class Coded:
        message = 42  # not words: the summary instead

    assert first_reason_text(_decision(Coded()), report, "scan.png") == expected


# --- decisions that depend on where the file is and what else holds it -----------------------


def _scanner_drop(downloads: Path, seed: int) -> tuple[Path, Path, Policy]:
    """A scanner's drop folder under the watched root, a trapped file in it, and a policy
    whose folder rule flags (rather than quarantines) high findings there."""
    scanner = downloads / "scanner"
    scanner.mkdir()
    bad = scanner / "invoice.jpg"
    bad.write_bytes(make_pe_bytes(seed))
    return scanner, bad, Policy(folder_rules=(FolderRule(path=str(scanner), high="flag"),))


def test_a_folder_rule_applies_to_the_files_own_folder(
    parts: tuple[Pipeline, Scope, Path, Path, Notes],
) -> None:
    """A rule for a subfolder of the watched root (a scanner's drop folder) is found."""
    pipeline, scope, downloads, home, _ = parts
    scanner, bad, policy = _scanner_drop(downloads, 20)
    assert pipeline.process(str(bad), policy, scope) is Outcome.JUDGED
    [event] = _verdicts(home)
    assert (event["action"], event["rule"]) == ("flag", f"folder:{scanner} severity:high")
    assert bad.exists()


class ExtendedPaths(OS_IMPL):  # type: ignore[misc,valid-type]
    """Windows' `\\\\?\\` form stood in for by /proc/self/root: another string, the same file."""

    def os_path(self, path: str) -> str:
        return "/proc/self/root" + path


def test_a_folder_rule_matches_the_path_staff_know_not_the_os_form(
    parts: tuple[Pipeline, Scope, Path, Path, Notes],
) -> None:
    pipeline, scope, downloads, home, _ = parts
    _, bad, policy = _scanner_drop(downloads, 21)
    previous = platform.use(ExtendedPaths())
    try:
        assert pipeline.process(str(bad), policy, scope) is Outcome.JUDGED
    finally:
        platform.use(previous)
    [event] = _verdicts(home)
    assert event["action"] == "flag"


def test_paused_flags_are_deferred_and_not_marked(
    parts: tuple[Pipeline, Scope, Path, Path, Notes],
) -> None:
    pipeline, scope, downloads, home, notes = parts
    target = downloads / "notes.jpg"
    target.write_bytes(random.Random(5).randbytes(4000))  # content.not_an_image: flag
    assert pipeline.process(str(target), Policy(), scope, paused=True) is Outcome.JUDGED
    assert not has_flag_marker(target)
    [event] = _verdicts(home)
    assert (event["action"], event["intended_action"]) == ("deferred", "flag")
    assert notes.shown == []


def test_a_flag_on_a_file_with_other_names_is_withheld(
    parts: tuple[Pipeline, Scope, Path, Path, Notes], tmp_path: Path
) -> None:
    pipeline, scope, downloads, home, _ = parts
    target = downloads / "notes.jpg"
    target.write_bytes(random.Random(6).randbytes(4000))
    os.link(target, tmp_path / "other-name.jpg")
    assert pipeline.process(str(target), Policy(), scope) is Outcome.JUDGED
    assert not has_flag_marker(target)  # marking it would mark the other name too
    [event] = _verdicts(home)
    assert (event["action"], event["intended_action"], event["link_count"]) == (
        "left_linked", "flag", 2,
    )  # fmt: skip


# --- a version already judged -----------------------------------------------------------------


def test_a_ctime_only_change_with_the_same_bytes_is_not_judged_again(
    parts: tuple[Pipeline, Scope, Path, Path, Notes],
) -> None:
    """A browser's xattr written after the verdict: same file, its record refreshed."""
    pipeline, scope, downloads, home, _ = parts
    photo = downloads / "photo.jpg"
    photo.write_bytes(make_jpeg(30))
    assert pipeline.process(str(photo), Policy(), scope) is Outcome.JUDGED
    judged = FileVersion.of(os.lstat(photo))
    _touch_ctime(photo, judged)
    changed = FileVersion.of(os.lstat(photo))
    assert pipeline.process(str(photo), Policy(), scope) is Outcome.UNCHANGED
    record = pipeline.statedb.lookup(photo)
    assert record is not None and record.version == changed
    assert len(_verdicts(home)) == 1


def test_a_rewrite_with_the_old_size_and_mtime_put_back_is_judged_again(
    parts: tuple[Pipeline, Scope, Path, Path, Notes],
) -> None:
    pipeline, scope, downloads, home, _ = parts
    photo = downloads / "photo.jpg"
    photo.write_bytes(make_pe_bytes(31))
    policy = Policy(actions=ActionSettings(high="log"))
    assert pipeline.process(str(photo), policy, scope) is Outcome.JUDGED
    before = os.lstat(photo)
    with open(photo, "r+b") as handle:  # in place: same inode, same size
        handle.seek(600)
        handle.write(b"\xff" * 4)
    os.utime(photo, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert pipeline.process(str(photo), policy, scope) is Outcome.JUDGED
    assert len(_verdicts(home)) == 2


def test_a_ctime_change_of_a_file_too_big_to_hash_is_judged_again(
    parts: tuple[Pipeline, Scope, Path, Path, Notes],
) -> None:
    """Without a SHA-256 nothing proves the bytes are the same."""
    pipeline, scope, downloads, home, _ = parts
    big = downloads / "big.jpg"
    big.write_bytes(make_jpeg(32) + bytes(1024 * 1024))
    policy = Policy(inspect=InspectSettings(max_file_mb=1))
    assert pipeline.process(str(big), policy, scope) is Outcome.JUDGED
    [event] = _verdicts(home)
    assert event["findings"] == ["resource.file_too_large"] and "sha256" not in event
    _touch_ctime(big, FileVersion.of(os.lstat(big)))
    assert pipeline.process(str(big), policy, scope) is Outcome.JUDGED
    assert len(_verdicts(home)) == 2


def _touch_ctime(path: Path, version: FileVersion) -> None:
    """Change only the ctime (an xattr write), waiting until the clock shows it."""
    for attempt in range(100):
        os.setxattr(path, "user.xdg.origin.url", f"https://example.invalid/{attempt}".encode())
        if os.lstat(path).st_ctime_ns != version.ctime_ns:
            return
        time.sleep(0.005)  # a coarse file system clock: the next tick
    raise AssertionError("the ctime never changed")


# --- released versions ------------------------------------------------------------------------


def test_a_restored_file_is_released_there_and_a_rewrite_is_judged_again(
    parts: tuple[Pipeline, Scope, Path, Path, Notes], caplog: pytest.LogCaptureFixture
) -> None:
    pipeline, scope, downloads, home, _ = parts
    bad = downloads / "lab_results.jpg"
    data = make_pe_bytes(40)
    bad.write_bytes(data)
    assert pipeline.process(str(bad), Policy(), scope) is Outcome.JUDGED
    [item] = pipeline.toolkit.vault.items()
    staff = StaffActions(
        pipeline.toolkit.vault, pipeline.statedb, EventLog(Policy().report, home), "p", via="cli"
    )
    staff.restore(item.id)
    assert bad.read_bytes() == data
    caplog.set_level(logging.INFO, logger="photogate.pipeline")

    assert pipeline.process(str(bad), Policy(), scope) is Outcome.UNCHANGED

    assert bad.exists() and len(_verdicts(home)) == 1
    record = pipeline.statedb.lookup(bad)
    assert record is not None
    assert (record.verdict, record.action, record.item_id, record.folder) == (
        "released", "released", item.id, str(downloads),
    )  # fmt: skip
    assert record.sha256 == hashlib.sha256(data).hexdigest()
    assert record.version == FileVersion.of(os.lstat(bad))
    assert [r.getMessage() for r in caplog.records if r.name == "photogate.pipeline"] == [
        f"lab_results.jpg was released by {staff.user}: left alone"
    ]
    counts = pipeline.statedb.counts()
    assert (counts.inspected, counts.quarantined) == (1, 1)  # a release is not a new verdict
    assert pipeline.process(str(bad), Policy(), scope) is Outcome.UNCHANGED

    # other bytes with the released size and mtime: judged (and moved) as usual
    released = os.lstat(bad)
    bad.write_bytes(make_pe_bytes(41))
    os.utime(bad, ns=(released.st_atime_ns, released.st_mtime_ns))
    assert pipeline.process(str(bad), Policy(), scope) is Outcome.JUDGED
    assert not bad.exists()


def test_a_release_is_of_one_version_at_one_path(
    parts: tuple[Pipeline, Scope, Path, Path, Notes],
) -> None:
    """Releases recorded for paths the agent never judged (a restore to a new place)."""
    pipeline, scope, downloads, home, _ = parts

    def released_as(path: Path, data: bytes, *, mtime_shift: int = 0) -> None:
        status = os.lstat(path)
        staffdb.record_release(
            pipeline.statedb,
            staffdb.Release(
                path=str(path), size=status.st_size, mtime_ns=status.st_mtime_ns + mtime_shift,
                sha256=hashlib.sha256(data).hexdigest(), item_id="a1", released_by="it",
                released_at=0.0, policy_version="p",
            ),
        )  # fmt: skip

    kept, other_time, other_bytes = (downloads / f"{n}.jpg" for n in ("kept", "time", "bytes"))
    for index, path in enumerate((kept, other_time, other_bytes)):
        path.write_bytes(make_pe_bytes(42 + index))
    released_as(kept, make_pe_bytes(42))
    released_as(other_time, make_pe_bytes(43), mtime_shift=1)
    released_as(other_bytes, make_pe_bytes(99))  # same size and time, other bytes
    outcomes = [pipeline.process(str(p), Policy(), scope) for p in (kept, other_time, other_bytes)]
    assert outcomes == [Outcome.UNCHANGED, Outcome.JUDGED, Outcome.JUDGED]
    assert kept.exists() and not other_time.exists() and not other_bytes.exists()
    record = pipeline.statedb.lookup(kept)
    assert record is not None and (record.action, record.item_id) == ("released", "a1")
    assert [e["path"] for e in _verdicts(home)] == [str(other_time), str(other_bytes)]


# --- which paths are looked at ----------------------------------------------------------------


def test_only_the_names_below_the_root_count_for_ignore_patterns_and_depth(
    tmp_path: Path,
) -> None:
    """The watched folder itself may be named like an ignored file, and its top files are
    judged when subfolders are not."""
    built = build(tmp_path, ignore_patterns=("*.download",))
    root = tmp_path / "scans.download"
    root.mkdir()
    photo = root / "photo.jpg"
    photo.write_bytes(make_jpeg(50))
    flat = Scope(roots=(root,), excluded=(built.home,), ignore_patterns=("*.download",),
                 recursive=False)  # fmt: skip
    assert built.pipeline.process(str(photo), Policy(), flat) is Outcome.JUDGED


def test_an_empty_file_is_judged_once_it_is_older_than_the_settle_time(
    parts: tuple[Pipeline, Scope, Path, Path, Notes], monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline, scope, downloads, home, _ = parts
    empty = downloads / "empty.jpg"
    empty.write_bytes(b"")
    written = 1_700_000_000  # whole seconds: the age below is exact
    os.utime(empty, ns=(written * 10**9, written * 10**9))
    clock = Clock()
    monkeypatch.setattr(agent.service.pipeline, "time", clock)
    clock.wall = written + 0.5
    assert pipeline.process(str(empty), Policy(), scope) is Outcome.SETTLE
    clock.wall = written + Policy().watch.settle_seconds  # exactly the settle time
    assert pipeline.process(str(empty), Policy(), scope) is Outcome.JUDGED
    [event] = _verdicts(home)
    assert event["size"] == 0


def test_an_empty_file_written_long_ago_is_judged(
    parts: tuple[Pipeline, Scope, Path, Path, Notes],
) -> None:
    pipeline, scope, downloads, _home, _ = parts
    empty = downloads / "empty.jpg"
    empty.write_bytes(b"")
    os.utime(empty, (time.time() - 3600, time.time() - 3600))
    assert pipeline.process(str(empty), Policy(), scope) is Outcome.JUDGED


class PathsTooLong(OS_IMPL):  # type: ignore[misc,valid-type]
    """What a path over MAX_PATH gives without the prefix: the OS refuses it."""

    def os_path(self, path: str) -> str:
        return path + "/" + "x" * 300  # the OS says no (here: ENOTDIR, a file is no folder)


def test_a_path_the_os_refuses_is_an_action_failed_event(
    parts: tuple[Pipeline, Scope, Path, Path, Notes],
) -> None:
    pipeline, scope, downloads, home, _ = parts
    photo = downloads / "photo.jpg"
    photo.write_bytes(make_jpeg(51))
    previous = platform.use(PathsTooLong())
    try:
        assert pipeline.process(str(photo), VERSIONED, scope) is Outcome.SKIPPED
    finally:
        platform.use(previous)
    [event] = events_of(home, "action_failed")
    assert (event["path"], event["policy_version"], event["error"]) == (
        str(photo), "clinic-7", "cannot read the file: Not a directory",
    )  # fmt: skip
