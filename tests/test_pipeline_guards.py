"""The pipeline's guards and helpers, in-process with the real engine, policy, vault and state:
what is left alone (outside the roots, ignored names, our own temp files, links, folders in
between), the scope rules, hashing, and the words of errors, notifications and events.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from agent.inspect.limits import Limits
from agent.model import Finding, Report, Severity, Verdict
from agent.policy.decide import Decision
from agent.policy.schema import Policy
from agent.service.events import read_events
from agent.service.pipeline import (
    Outcome,
    Pipeline,
    Scope,
    first_reason_text,
    hard_linked_finding,
    plain_error,
    sha256_of,
)
from agent.service.statedb import FileVersion
from tests.agent_harness import make_jpeg, make_pe_bytes
from tests.pipeline_helpers import Notes, build, events_of


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
