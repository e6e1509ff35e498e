"""The pipeline on a burst: files judged one by one, acted on together (group commit).

Real engine, policy, vault, state DB and marker. Each file of a batch gets exactly one
verdict event and its own outcome; the dangerous ones go to the vault in one
`quarantine_many`; a file changed after it was judged stays (marked, retried) without
failing the others; one changed while it was inspected settles; a failure to record makes
the whole batch RETRY.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import sqlite3
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import agent.service.acting
import agent.service.pipeline
from agent import platform
from agent.inspect.limits import Limits
from agent.model import Report
from agent.platform import wintext
from agent.policy.schema import Policy, PolicyInfo, UiSettings
from agent.service import staffdb
from agent.service.events import EventLog, read_events
from agent.service.pipeline import Outcome, Pipeline, Scope
from agent.service.recovery import announce_cut_off_verdicts
from agent.service.statedb import FileVersion
from agent.vault.store import QuarantineRequest, QuarantineResult, Vault
from tests.agent_harness import has_flag_marker, make_jpeg, make_jpeg_with_zip, make_pe_bytes
from tests.pipeline_helpers import (
    Clock,
    HeldByAnotherProgram,
    Notes,
    after_a_ctime_tick,
    build,
    events_of,
    windows_error,
)


class CountingVault(Vault):
    """The real vault, remembering how many files each `quarantine_many` call was given."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.batches: list[int] = []

    def quarantine_many(self, requests: Sequence[QuarantineRequest]) -> list[QuarantineResult]:
        self.batches.append(len(requests))
        return super().quarantine_many(requests)


@pytest.fixture
def parts(tmp_path: Path) -> tuple[Pipeline, Scope, Path, Path]:
    built = build(tmp_path, vault_class=CountingVault)
    return built.pipeline, built.scope, built.downloads, built.home


def _verdicts(home: Path) -> list[dict[str, Any]]:
    return events_of(home, "verdict")


def _burst(downloads: Path) -> tuple[list[str], set[str]]:
    """Six files: every other one trapped (a ZIP after the JPEG, or a PE named .jpg)."""
    paths, bad = [], set()
    for index in range(6):
        path = downloads / f"scan-{index}.jpg"
        if index % 2:
            path.write_bytes(make_jpeg_with_zip(index) if index % 4 == 1 else make_pe_bytes(index))
            bad.add(str(path))
        else:
            path.write_bytes(make_jpeg(index))
        paths.append(str(path))
    return paths, bad


def _vault(pipeline: Pipeline) -> CountingVault:
    vault = pipeline.toolkit.vault
    assert isinstance(vault, CountingVault)
    return vault


def test_a_burst_is_moved_in_one_vault_batch_with_one_verdict_each(
    parts: tuple[Pipeline, Scope, Path, Path],
) -> None:
    pipeline, scope, downloads, home = parts
    paths, bad = _burst(downloads)
    judged: list[str] = []
    pipeline._on_judged = judged.append

    outcomes = pipeline.process_many(paths, Policy(), scope)

    assert outcomes == [Outcome.JUDGED] * 6
    assert _vault(pipeline).batches == [3]
    verdicts = _verdicts(home)
    assert Counter(e["path"] for e in verdicts) == Counter(paths)
    for event in verdicts:
        assert event["action"] == ("quarantine" if event["path"] in bad else "log")
        assert ("item_id" in event) == (event["path"] in bad)  # None fields are left out
    for path in paths:
        assert Path(path).exists() == (path not in bad)
        record = pipeline.statedb.lookup(path)
        assert record is not None
        assert record.action == ("quarantine" if path in bad else "log")
    items = {item.original_path: item.id for item in pipeline.toolkit.vault.items()}
    assert items == {e["path"]: e["item_id"] for e in verdicts if e["path"] in bad}
    counts = pipeline.statedb.counts()
    assert (counts.inspected, counts.quarantined, counts.unreviewed) == (6, 3, 3)
    assert judged == ["quarantine"]  # once per batch, with the last file's action
    # nothing left for crash recovery to announce
    with pipeline.statedb.transaction() as conn:
        assert conn.execute("SELECT COUNT(*) FROM pending_verdicts").fetchone()[0] == 0
    # the same versions again: nothing to do, no second verdict
    assert pipeline.process_many(paths, Policy(), scope) == [
        Outcome.GONE if path in bad else Outcome.UNCHANGED for path in paths
    ]
    assert len(_verdicts(home)) == 6


def test_a_file_changed_after_it_was_judged_stays_and_the_others_are_moved(
    parts: tuple[Pipeline, Scope, Path, Path],
) -> None:
    """The first dropper is rewritten while a later file of its batch is inspected."""
    pipeline, scope, downloads, home = parts
    paths, bad = _burst(downloads)
    first_bad = paths[1]
    real_inspect = pipeline.toolkit.inspect

    def inspect_and_rewrite_the_first_dropper(path: str, limits: Limits) -> Report:
        if path == paths[4]:
            Path(first_bad).write_bytes(make_pe_bytes(99))  # same name, other bytes
        return real_inspect(path, limits)

    pipeline.toolkit.inspect = inspect_and_rewrite_the_first_dropper
    outcomes = pipeline.process_many(paths, Policy(), scope)

    assert outcomes == [
        Outcome.JUDGED,
        Outcome.RETRY,
        Outcome.JUDGED,
        Outcome.JUDGED,
        Outcome.JUDGED,
        Outcome.JUDGED,
    ]
    assert Path(first_bad).read_bytes() == make_pe_bytes(99)
    assert has_flag_marker(Path(first_bad))  # left where it was, but marked
    events = {e["path"]: e for e in _verdicts(home)}
    assert len(events) == 6
    failed = events[first_bad]
    assert failed["action"] == "quarantine_failed" and failed["intended_action"] == "quarantine"
    assert "changed after it was inspected" in failed["error"]
    assert "item_id" not in failed
    for path in bad - {first_bad}:
        assert events[path]["action"] == "quarantine" and not Path(path).exists()
    assert pipeline.statedb.failed_count() == 1
    # its retry judges the new version and moves it
    assert pipeline.process_many([first_bad], Policy(), scope) == [Outcome.JUDGED]
    assert not Path(first_bad).exists() and pipeline.statedb.failed_count() == 0
    retried = [e for e in _verdicts(home) if e["path"] == first_bad]
    assert [e["action"] for e in retried] == ["quarantine_failed", "quarantine"]
    assert retried[1]["retried"] is True
    assert _vault(pipeline).batches == [3, 1]


def test_a_file_changed_while_inspected_settles_and_the_batch_goes_on(
    parts: tuple[Pipeline, Scope, Path, Path],
) -> None:
    pipeline, scope, downloads, home = parts
    paths, _bad = _burst(downloads)
    real_inspect = pipeline.toolkit.inspect

    def inspect_while_a_writer_appends(path: str, limits: Limits) -> Report:
        report = real_inspect(path, limits)
        if path == paths[2]:
            with open(path, "ab") as handle:
                handle.write(b"more")
        return report

    pipeline.toolkit.inspect = inspect_while_a_writer_appends
    outcomes = pipeline.process_many(paths, Policy(), scope)

    assert outcomes[2] is Outcome.SETTLE
    assert [o for i, o in enumerate(outcomes) if i != 2] == [Outcome.JUDGED] * 5
    assert paths[2] not in {e["path"] for e in _verdicts(home)}
    assert pipeline.statedb.lookup(paths[2]) is None
    assert len(_verdicts(home)) == 5


def test_a_batch_is_cut_once_judging_took_its_time(
    parts: tuple[Pipeline, Scope, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """BATCH_MAX_SECONDS 0: every file is acted on right after it is judged."""
    pipeline, scope, downloads, home = parts
    monkeypatch.setattr(agent.service.pipeline, "BATCH_MAX_SECONDS", 0.0)
    paths, _bad = _burst(downloads)
    judged: list[str] = []
    pipeline._on_judged = judged.append

    assert pipeline.process_many(paths, Policy(), scope) == [Outcome.JUDGED] * 6

    assert _vault(pipeline).batches == [1, 1, 1]
    assert judged == ["log", "quarantine"] * 3
    assert [e["path"] for e in _verdicts(home)] == paths  # in order, one each


def _disk_full_on_record(monkeypatch: pytest.MonkeyPatch, pipeline: Pipeline, nth: int) -> None:
    """The state DB's `record` fails as on a full disk at its `nth` call, works otherwise."""
    real_record = pipeline.statedb.record
    calls: list[str] = []

    def full_on_the_nth(path: str, *args: Any, **kwargs: Any) -> None:
        calls.append(path)
        if len(calls) == nth:
            raise sqlite3.OperationalError("database or disk is full")
        real_record(path, *args, **kwargs)

    monkeypatch.setattr(pipeline.statedb, "record", full_on_the_nth)


def test_a_failure_to_record_makes_the_whole_batch_retry(
    parts: tuple[Pipeline, Scope, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline, scope, downloads, home = parts
    paths, bad = _burst(downloads)
    problems: list[tuple[str, str | None]] = []
    pipeline.on_problem = lambda source, problem: problems.append((source, problem))
    _disk_full_on_record(monkeypatch, pipeline, 3)
    assert pipeline.process_many(paths, Policy(), scope) == [Outcome.RETRY] * 6
    assert problems == [
        ("state", "cannot record verdicts (OperationalError: database or disk is full)")
    ]
    assert _verdicts(home) == []  # no event before the verdicts are recorded
    monkeypatch.undo()
    assert all(pipeline.statedb.lookup(p) is None for p in paths)  # rolled back as a whole
    # space is back: the retries judge the files still there (the droppers were moved)
    outcomes = pipeline.process_many(paths, Policy(), scope)
    assert outcomes == [Outcome.GONE if p in bad else Outcome.JUDGED for p in paths]
    assert problems[-1] == ("state", None)


def test_one_file_whose_guards_fail_does_not_stop_the_batch(
    parts: tuple[Pipeline, Scope, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline, scope, downloads, home = parts
    paths, _bad = _burst(downloads)
    real_inspect = pipeline.toolkit.inspect

    def broken_on_one(path: str, limits: Limits) -> Report:
        if path == paths[3]:
            raise RuntimeError("engine bug")
        return real_inspect(path, limits)

    pipeline.toolkit.inspect = broken_on_one
    outcomes = pipeline.process_many(paths, Policy(), scope)
    assert outcomes[3] is Outcome.SKIPPED
    assert [o for i, o in enumerate(outcomes) if i != 3] == [Outcome.JUDGED] * 5
    events = read_events(home / "logs" / "events.jsonl")
    failures = [e for e in events if e["event"] == "action_failed"]
    assert [(e["path"], e["error"]) for e in failures] == [(paths[3], "RuntimeError: engine bug")]
    assert Path(paths[3]).exists()
    assert _vault(pipeline).batches == [2]


# --- acting on a batch: what is recorded, announced and left for recovery ----------------------

PE_REASON = "This file pretends to be a JPEG picture but is a Windows program."
NOT_AN_IMAGE_REASON = "This file is named like a picture but is not one."
VERSIONED = Policy(policy=PolicyInfo(version="clinic-7"))


def _not_an_image(seed: int, size: int = 4000) -> bytes:
    """No known format under a picture's name: content.not_an_image (medium), flagged."""
    return random.Random(seed).randbytes(size)


def _log_lines(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "photogate.pipeline" and r.levelno == level
    ]


def test_a_quarantine_records_reports_and_announces_every_field(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notes = Notes()
    built = build(tmp_path, notifier=notes)
    bad = built.downloads / "invoice.jpg"
    data = make_pe_bytes(8)
    bad.write_bytes(data)
    sha256 = hashlib.sha256(data).hexdigest()
    caplog.set_level(logging.INFO, logger="photogate.pipeline")

    assert built.pipeline.process(str(bad), VERSIONED, built.scope) is Outcome.JUDGED

    (item,) = built.pipeline.toolkit.vault.items()
    assert (item.sha256, item.detected_type, item.policy_version, item.size) == (
        sha256, "pe", "clinic-7", len(data),
    )  # fmt: skip
    assert [f.code for f in item.findings] == ["content.executable"]
    (event,) = built.verdicts()
    expected = {
        "policy_version": "clinic-7",
        "path": str(bad),
        "sha256": sha256,
        "size": len(data),
        "type": "pe",
        "verdict": "quarantine",
        "findings": ["content.executable"],
        "severity": "high",
        "action": "quarantine",
        "rule": "severity:high",
        "item_id": item.id,
        "folder": str(built.downloads),
    }
    assert {key: event.get(key) for key in expected} == expected
    for absent in ("intended_action", "allowlisted", "error", "link_count", "retried"):
        assert absent not in event  # None is left out
    record = built.pipeline.statedb.lookup(bad)
    assert record is not None
    assert (record.verdict, record.action, record.sha256, record.detected_type) == (
        "quarantine", "quarantine", sha256, "pe",
    )  # fmt: skip
    assert (record.finding_codes, record.item_id, record.folder) == (
        ("content.executable",), item.id, str(built.downloads),
    )  # fmt: skip
    counts = built.pipeline.statedb.counts()
    assert (counts.inspected, counts.quarantined, counts.flagged, counts.unreviewed) == (1, 1, 0, 1)
    assert notes.shown == [
        (
            "Photogate moved a dangerous file to safety",
            f"invoice.jpg: {PE_REASON}",
            {"item_id": item.id, "severity": "high"},
        )
    ]
    assert _log_lines(caplog, logging.WARNING) == []
    assert built.judged == ["quarantine"]  # the constructor's on_judged, once per batch
    with built.pipeline.statedb.transaction() as conn:
        assert conn.execute("SELECT COUNT(*) FROM pending_verdicts").fetchone()[0] == 0


def test_the_duration_is_from_the_start_of_judging_to_the_event_in_ms(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A clock moved by hand: inspecting takes 1.2345679 s, the event says 1234.57 ms."""
    built = build(tmp_path)
    photo = built.downloads / "photo.jpg"
    photo.write_bytes(make_jpeg(1))
    clock = Clock(100.0)
    monkeypatch.setattr(agent.service.pipeline, "time", clock)
    monkeypatch.setattr(agent.service.acting, "time", clock)
    real_inspect = built.pipeline.toolkit.inspect

    def slow_inspect(path: str, limits: Limits) -> Report:
        clock.now += 1.2345679
        return real_inspect(path, limits)

    built.pipeline.toolkit.inspect = slow_inspect
    assert built.pipeline.process(str(photo), Policy(), built.scope) is Outcome.JUDGED
    (event,) = built.verdicts()
    assert event["duration_ms"] == 1234.57
    for absent in ("severity", "item_id", "allowlisted"):
        assert absent not in event  # a clean file: no severity, nothing moved
    assert event["rule"] == "clean"


def test_a_batch_is_cut_when_judging_took_exactly_its_time(
    parts: tuple[Pipeline, Scope, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline, scope, downloads, _home = parts
    clock = Clock(0.0)
    monkeypatch.setattr(agent.service.pipeline, "time", clock)
    monkeypatch.setattr(agent.service.pipeline, "BATCH_MAX_SECONDS", 0.25)
    real_inspect = pipeline.toolkit.inspect

    def quarter_second_inspect(path: str, limits: Limits) -> Report:
        clock.now += 0.25
        return real_inspect(path, limits)

    pipeline.toolkit.inspect = quarter_second_inspect
    paths = []
    for index in range(2):
        path = downloads / f"invoice-{index}.jpg"
        path.write_bytes(make_pe_bytes(index))
        paths.append(str(path))
    assert pipeline.process_many(paths, Policy(), scope) == [Outcome.JUDGED] * 2
    assert _vault(pipeline).batches == [1, 1]  # 0.25 s of judging reached the bound: acted


def test_a_flagged_file_is_marked_and_recorded_as_marked(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notes = Notes()
    built = build(tmp_path, notifier=notes)
    target = built.downloads / "notes.jpg"
    data = _not_an_image(5)
    target.write_bytes(data)
    written = FileVersion.of(os.lstat(target))
    after_a_ctime_tick(tmp_path, written.ctime_ns)  # so that the marker's change shows
    caplog.set_level(logging.INFO, logger="photogate.pipeline")

    assert built.pipeline.process(str(target), Policy(), built.scope) is Outcome.JUDGED

    assert target.read_bytes() == data
    assert built.pipeline.toolkit.marker.read(target) == {  # type: ignore[attr-defined]
        "user.photogate.verdict": "untrusted",
        "user.photogate.reason": NOT_AN_IMAGE_REASON,
    }
    marked = FileVersion.of(os.lstat(target))
    assert marked.ctime_ns != written.ctime_ns  # the marker changed the ctime...
    record = built.pipeline.statedb.lookup(target)
    assert record is not None and record.version == marked  # ...which is remembered
    assert (record.action, record.verdict, record.item_id) == ("flag", "flag", None)
    (event,) = built.verdicts()
    assert (event["action"], event["severity"], event["rule"]) == (
        "flag", "medium", "severity:medium",
    )  # fmt: skip
    assert "error" not in event and "item_id" not in event
    assert notes.shown == [
        (
            "Photogate marked a suspicious file",
            f"notes.jpg: {NOT_AN_IMAGE_REASON}",
            {"item_id": None, "severity": "medium"},
        )
    ]
    counts = built.pipeline.statedb.counts()
    assert (counts.inspected, counts.quarantined, counts.flagged, counts.unreviewed) == (1, 0, 1, 1)
    assert _log_lines(caplog, logging.WARNING) == []
    assert built.pipeline.process(str(target), Policy(), built.scope) is Outcome.UNCHANGED


class RefusingMarker:
    """A file system that does not take the marker (FAT, a read-only share): mark says False."""

    def __init__(self) -> None:
        self.asked: list[tuple[Path, str]] = []

    def mark(self, path: Path, *, reason: str, origin_url: str | None = None) -> bool:
        self.asked.append((path, reason))
        return False


def test_a_flag_the_file_system_refuses_is_reported_with_its_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notes = Notes()
    built = build(tmp_path, notifier=notes)
    marker = RefusingMarker()
    built.pipeline.toolkit.marker = marker
    target = built.downloads / "notes.jpg"
    target.write_bytes(_not_an_image(6))
    written = FileVersion.of(os.lstat(target))
    caplog.set_level(logging.INFO, logger="photogate.pipeline")

    assert built.pipeline.process(str(target), Policy(), built.scope) is Outcome.JUDGED

    refused = "the file system does not accept the untrusted-origin marker"
    assert marker.asked == [(target, NOT_AN_IMAGE_REASON)]
    (event,) = built.verdicts()
    assert (event["action"], event["error"]) == ("flag", refused)
    assert _log_lines(caplog, logging.WARNING) == [f"flag: notes.jpg ({refused})"]
    record = built.pipeline.statedb.lookup(target)
    assert record is not None and record.version == written  # nothing changed the file
    assert [title for title, _, _ in notes.shown] == ["Photogate marked a suspicious file"]


def test_a_flagged_file_rewritten_before_its_marker_is_judged_again(
    parts: tuple[Pipeline, Scope, Path, Path],
) -> None:
    """The marker lands on other bytes than were judged: the judged version is recorded."""
    pipeline, scope, downloads, home = parts
    target, other = downloads / "notes.jpg", downloads / "photo.jpg"
    target.write_bytes(_not_an_image(7))
    other.write_bytes(make_jpeg(7))
    real_inspect = pipeline.toolkit.inspect

    def inspect_and_rewrite_the_first(path: str, limits: Limits) -> Report:
        if path == str(other):
            target.write_bytes(_not_an_image(8, 5000))
        return real_inspect(path, limits)

    pipeline.toolkit.inspect = inspect_and_rewrite_the_first
    assert pipeline.process_many([str(target), str(other)], Policy(), scope) == [Outcome.JUDGED] * 2
    pipeline.toolkit.inspect = real_inspect
    assert pipeline.process(str(target), Policy(), scope) is Outcome.JUDGED
    assert [e["size"] for e in _verdicts(home) if e["path"] == str(target)] == [4000, 5000]


def test_a_file_held_by_another_program_is_busy_then_moved(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Windows: the quarantine's open meets a sharing violation: not complete yet (BUSY)."""
    built = build(tmp_path)
    pipeline = built.pipeline
    bad = built.downloads / "invoice.jpg"
    bad.write_bytes(make_pe_bytes(4))
    caplog.set_level(logging.INFO, logger="photogate.pipeline")
    previous = platform.use(HeldByAnotherProgram("invoice.jpg", opens=1))
    try:
        assert pipeline.process(str(bad), Policy(), built.scope) is Outcome.BUSY
        assert bad.exists() and has_flag_marker(bad)  # marked while it waits
        assert pipeline.busy.attempts(str(bad)) == 1
        assert built.verdicts() == [] and pipeline.statedb.lookup(bad) is None
        assert pipeline.statedb.failed_count() == 0  # never a final failure
        with pipeline.statedb.transaction() as conn:  # nothing for crash recovery either
            assert conn.execute("SELECT COUNT(*) FROM pending_verdicts").fetchone()[0] == 0
        assert _log_lines(caplog, logging.INFO) == [
            "invoice.jpg is in use by another program (look 1); trying again"
        ]
        assert pipeline.process(str(bad), Policy(), built.scope) is Outcome.JUDGED
    finally:
        platform.use(previous)
    assert not bad.exists() and pipeline.busy.attempts(str(bad)) == 0
    assert [e["action"] for e in built.verdicts()] == ["quarantine"]


def test_a_file_whose_writer_still_holds_it_is_busy(tmp_path: Path) -> None:
    built = build(tmp_path)
    photo = built.downloads / "photo.jpg"
    photo.write_bytes(make_jpeg(5))
    previous = platform.use(HeldByAnotherProgram("photo.jpg", probes=2))
    try:
        for look in (1, 2):
            assert built.pipeline.process(str(photo), Policy(), built.scope) is Outcome.BUSY
            assert built.pipeline.busy.attempts(str(photo)) == look
        photo.unlink()  # deleted while held: gone, and its count forgotten
        assert built.pipeline.process(str(photo), Policy(), built.scope) is Outcome.GONE
    finally:
        platform.use(previous)
    assert built.pipeline.busy.attempts(str(photo)) == 0


def test_a_stat_that_meets_a_sharing_violation_is_busy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = build(tmp_path)
    photo = built.downloads / "photo.jpg"
    photo.write_bytes(make_jpeg(6))
    real_lstat = os.lstat
    held = [str(photo)]

    def lstat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        if os.fspath(path) in held:
            raise windows_error(wintext.ERROR_SHARING_VIOLATION, "in use")
        return real_lstat(path, *args, **kwargs)

    monkeypatch.setattr(os, "lstat", lstat)
    previous = platform.use(HeldByAnotherProgram("nothing"))
    try:
        assert built.pipeline.process(str(photo), Policy(), built.scope) is Outcome.BUSY
        assert built.pipeline.busy.attempts(str(photo)) == 1
        held.clear()  # the other program let go
        assert built.pipeline.process(str(photo), Policy(), built.scope) is Outcome.JUDGED
    finally:
        platform.use(previous)
    assert built.pipeline.busy.attempts(str(photo)) == 0


def test_a_vault_that_fails_as_a_whole_leaves_every_file_marked_for_a_retry(
    tmp_path: Path,
) -> None:
    built = build(tmp_path)
    bad = [built.downloads / f"invoice-{i}.jpg" for i in range(2)]
    for index, path in enumerate(bad):
        path.write_bytes(make_pe_bytes(20 + index))
    vault_root = built.home / "vault"
    vault_root.rename(built.home / "vault-gone")
    vault_root.write_bytes(b"")  # a file where the vault was: nothing opens inside it

    outcomes = built.pipeline.process_many([str(p) for p in bad], VERSIONED, built.scope)

    assert outcomes == [Outcome.RETRY] * 2
    assert all(path.exists() and has_flag_marker(path) for path in bad)
    events = built.verdicts()
    assert [(e["path"], e["action"]) for e in events] == [
        (str(path), "quarantine_failed") for path in bad
    ]
    assert all(str(e["error"]).startswith("NotADirectoryError: ") for e in events)
    assert built.pipeline.statedb.failed_count() == 2


class ShortVault(Vault):
    """A broken vault: one result fewer than the files it was given."""

    def quarantine_many(self, requests: Sequence[QuarantineRequest]) -> list[QuarantineResult]:
        return super().quarantine_many(requests)[:-1]


def test_a_vault_answering_for_fewer_files_fails_the_batch_loudly(tmp_path: Path) -> None:
    """No file may be recorded as moved on a result that is not its own."""
    built = build(tmp_path, vault_class=ShortVault)
    bad = [built.downloads / f"invoice-{i}.jpg" for i in range(2)]
    for index, path in enumerate(bad):
        path.write_bytes(make_pe_bytes(30 + index))

    outcomes = built.pipeline.process_many([str(p) for p in bad], VERSIONED, built.scope)

    assert outcomes == [Outcome.SKIPPED] * 2
    assert built.verdicts() == []
    failures = events_of(built.home, "action_failed")
    assert [(e["path"], e["policy_version"]) for e in failures] == [
        (str(path), "clinic-7") for path in bad
    ]
    assert all(str(e["error"]).startswith("ValueError: zip()") for e in failures)
    assert all(built.pipeline.statedb.lookup(path) is None for path in bad)


class Crashed(BaseException):
    """The process died here (what the crash hook's SIGKILL does, without killing pytest)."""


def test_a_crash_after_the_move_leaves_the_verdict_for_recovery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = build(tmp_path)
    bad = built.downloads / "invoice.jpg"
    data = make_pe_bytes(40)
    bad.write_bytes(data)
    sha256 = hashlib.sha256(data).hexdigest()

    def crash_point(name: str) -> None:
        if name == "quarantined-before-verdict":
            raise Crashed

    monkeypatch.setattr(agent.service.acting, "crash_point", crash_point)
    with pytest.raises(Crashed):
        built.pipeline.process(str(bad), VERSIONED, built.scope)

    assert not bad.exists() and built.verdicts() == []  # moved, not announced
    ((path, pending_sha256, fields, _started),) = staffdb.pending_verdicts(built.pipeline.statedb)
    assert (path, pending_sha256) == (str(bad), sha256)
    assert fields == {
        "policy_version": "clinic-7",
        "sha256": sha256,
        "size": len(data),
        "type": "pe",
        "verdict": "quarantine",
        "findings": ["content.executable"],
        "folder": str(built.downloads),
    }
    # the next start announces it from those fields
    events = EventLog(Policy().report, built.home)
    vault = built.pipeline.toolkit.vault
    assert announce_cut_off_verdicts(built.pipeline.statedb, vault, events) == 1
    (event,) = built.verdicts()
    (item,) = vault.items()
    assert (event["item_id"], event["policy_version"], event["recovered"]) == (
        item.id, "clinic-7", True,
    )  # fmt: skip


def test_nothing_moved_is_no_crash_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The crash hook marks "moved, not yet announced": a batch whose moves all failed is not."""
    built = build(tmp_path)
    bad = built.downloads / "invoice.jpg"
    bad.write_bytes(make_pe_bytes(41))
    points: list[str] = []
    monkeypatch.setattr(agent.service.acting, "crash_point", points.append)
    previous = platform.use(HeldByAnotherProgram("invoice.jpg", opens=1))
    try:
        assert built.pipeline.process(str(bad), Policy(), built.scope) is Outcome.BUSY
        assert points == []
        assert built.pipeline.process(str(bad), Policy(), built.scope) is Outcome.JUDGED
    finally:
        platform.use(previous)
    assert points == ["quarantined-before-verdict"]


def test_a_move_that_keeps_failing_is_counted_and_announced_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The dropper is rewritten while another file of its batch is inspected, twice."""
    built = build(tmp_path)
    pipeline, scope = built.pipeline, built.scope
    dropper = built.downloads / "invoice.jpg"
    dropper.write_bytes(make_pe_bytes(50))
    real_inspect = pipeline.toolkit.inspect
    rewrites = iter(range(51, 60))

    def inspect_and_rewrite_the_dropper(path: str, limits: Limits) -> Report:
        if path != str(dropper):
            dropper.write_bytes(make_pe_bytes(next(rewrites)))  # same name, other bytes
        return real_inspect(path, limits)

    pipeline.toolkit.inspect = inspect_and_rewrite_the_dropper
    caplog.set_level(logging.INFO, logger="photogate.pipeline")

    def counts() -> tuple[int, int]:
        totals = pipeline.statedb.counts()
        return totals.inspected, totals.quarantined

    photos = [built.downloads / f"photo-{i}.jpg" for i in range(2)]
    for index, photo in enumerate(photos):
        photo.write_bytes(make_jpeg(60 + index))
    first = pipeline.process_many([str(dropper), str(photos[0])], Policy(), scope)
    assert first == [Outcome.RETRY, Outcome.JUDGED]
    assert counts() == (2, 0)
    (failed,) = [e for e in built.verdicts() if e["path"] == str(dropper)]
    assert failed["action"] == "quarantine_failed" and "retried" not in failed
    warned = _log_lines(caplog, logging.WARNING)
    assert len(warned) == 1 and warned[0].startswith("quarantine_failed: invoice.jpg (VaultError: ")
    assert warned[0].endswith(f"{failed['error']})")

    second = pipeline.process_many([str(dropper), str(photos[1])], Policy(), scope)
    assert second == [Outcome.RETRY, Outcome.JUDGED]
    assert counts() == (3, 0)  # the retry is not inspected anew, nor announced again
    assert [e["path"] for e in built.verdicts()].count(str(dropper)) == 1
    record = pipeline.statedb.lookup(dropper)
    assert record is not None and (record.action, record.item_id) == ("quarantine_failed", None)
    assert pipeline.statedb.failed_count() == 1
    (still,) = [m for m in _log_lines(caplog, logging.INFO) if m.startswith("still cannot move")]
    assert still.startswith("still cannot move invoice.jpg (VaultError: ")
    assert "changed after it was inspected" in still

    assert pipeline.process_many([str(dropper)], Policy(), scope) == [Outcome.JUDGED]
    assert counts() == (3, 1)  # moved at last: counted as quarantined, not as inspected
    moved = [e for e in built.verdicts() if e["path"] == str(dropper)][-1]
    assert (moved["action"], moved["retried"]) == ("quarantine", True)
    record = pipeline.statedb.lookup(dropper)
    assert record is not None and record.action == "quarantine" and record.item_id is not None
    assert pipeline.statedb.failed_count() == 0


def test_an_allowlisted_file_is_only_logged(tmp_path: Path) -> None:
    notes = Notes()
    built = build(tmp_path, notifier=notes)
    bad = built.downloads / "invoice.jpg"
    data = make_pe_bytes(70)
    bad.write_bytes(data)
    policy = Policy(allowlist_sha256=(hashlib.sha256(data).hexdigest(),))
    assert built.pipeline.process(str(bad), policy, built.scope) is Outcome.JUDGED
    assert bad.exists() and not has_flag_marker(bad)
    (event,) = built.verdicts()
    assert (event["action"], event["allowlisted"], event["rule"], event["severity"]) == (
        "log", True, "allowlist", "high",
    )  # fmt: skip
    assert notes.shown == []


def test_a_notifier_that_fails_does_not_fail_the_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        def notify(self, title: str, body: str, **fields: Any) -> None:
            raise RuntimeError("no notification daemon")

    built = build(tmp_path, notifier=Broken())  # type: ignore[arg-type]
    bad = built.downloads / "invoice.jpg"
    bad.write_bytes(make_pe_bytes(71))
    caplog.set_level(logging.INFO, logger="photogate.pipeline")
    assert built.pipeline.process(str(bad), Policy(), built.scope) is Outcome.JUDGED
    assert not bad.exists()
    (failure,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert failure.getMessage() == "notifier failed" and failure.exc_info is not None


def test_notifications_show_a_long_name_cut_to_its_bound(tmp_path: Path) -> None:
    notes = Notes()
    built = build(tmp_path, notifier=notes)
    name = "a" * 70 + ".jpg"
    (built.downloads / name).write_bytes(make_pe_bytes(72))
    assert built.pipeline.process(str(built.downloads / name), Policy(), built.scope) is (
        Outcome.JUDGED
    )
    ((_, body, _),) = notes.shown
    assert body == "a" * 29 + "…" + "a" * 26 + ".jpg" + f": {PE_REASON}"  # 60 characters


def test_no_notifications_when_the_policy_turns_them_off(tmp_path: Path) -> None:
    notes = Notes()
    built = build(tmp_path, notifier=notes)
    bad = built.downloads / "invoice.jpg"
    bad.write_bytes(make_pe_bytes(73))
    quiet = Policy(ui=UiSettings(notifications=False))
    assert built.pipeline.process(str(bad), quiet, built.scope) is Outcome.JUDGED
    assert not bad.exists() and notes.shown == []


def test_a_state_failure_is_a_problem_until_a_call_goes_through_without_one(
    parts: tuple[Pipeline, Scope, Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A guard's read or a batch's record failing on a full disk: the problem stays set
    for the whole call, however the other files of it fare."""
    pipeline, scope, downloads, _home = parts
    paths, _bad = _burst(downloads)
    problems: list[tuple[str, str | None]] = []
    pipeline.on_problem = lambda source, problem: problems.append((source, problem))
    real_lookup = pipeline.statedb.lookup

    def locked_on_the_first(path: str | os.PathLike[str]) -> Any:
        if os.fspath(path) == paths[0]:
            raise sqlite3.OperationalError("database is locked")
        return real_lookup(path)

    monkeypatch.setattr(pipeline.statedb, "lookup", locked_on_the_first)
    caplog.set_level(logging.INFO, logger="photogate.pipeline")
    outcomes = pipeline.process_many(paths, Policy(), scope)
    assert outcomes == [Outcome.RETRY] + [Outcome.JUDGED] * 5
    problem = "cannot record verdicts (OperationalError: database is locked)"
    assert problems == [("state", problem)]  # not cleared by the five that went through
    assert _log_lines(caplog, logging.WARNING) == [f"{problem}; scan-0.jpg will be looked at again"]

    monkeypatch.undo()
    monkeypatch.setattr(agent.service.pipeline, "BATCH_MAX_SECONDS", 0.0)
    _disk_full_on_record(monkeypatch, pipeline, 1)
    problems.clear()
    photos = [downloads / f"photo-{i}.jpg" for i in range(2)]
    for index, photo in enumerate(photos):
        photo.write_bytes(make_jpeg(80 + index))
    assert pipeline.process_many([str(p) for p in photos], Policy(), scope) == [
        Outcome.RETRY,
        Outcome.JUDGED,
    ]  # one batch each: the first failed, the second went through
    full = "cannot record verdicts (OperationalError: database or disk is full)"
    assert problems == [("state", full)]
    monkeypatch.undo()
    assert pipeline.process_many([str(photos[0])], Policy(), scope) == [Outcome.JUDGED]
    assert problems[-1] == ("state", None)


def test_a_pipeline_bug_is_logged_with_its_traceback(
    parts: tuple[Pipeline, Scope, Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    pipeline, scope, downloads, home = parts
    photo = downloads / "photo.jpg"
    photo.write_bytes(make_jpeg(90))

    def broken(path: str, limits: Limits) -> Report:
        raise RuntimeError("engine bug")

    pipeline.toolkit.inspect = broken
    caplog.set_level(logging.INFO, logger="photogate.pipeline")
    assert pipeline.process(str(photo), VERSIONED, scope) is Outcome.SKIPPED
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.getMessage() == "pipeline failed on photo.jpg"
    assert record.exc_info is not None and isinstance(record.exc_info[1], RuntimeError)
    (event,) = events_of(home, "action_failed")
    assert (event["path"], event["policy_version"], event["error"]) == (
        str(photo), "clinic-7", "RuntimeError: engine bug",
    )  # fmt: skip
