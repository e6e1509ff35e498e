"""The pipeline on a burst: files judged one by one, acted on together (group commit).

Real engine, policy, vault, state DB and marker. Each file of a batch gets exactly one
verdict event and its own outcome; the dangerous ones go to the vault in one
`quarantine_many`; a file changed after it was judged stays (marked, retried) without
failing the others; one changed while it was inspected settles; a failure to record makes
the whole batch RETRY.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import agent.service.pipeline
from agent.inspect.limits import Limits
from agent.model import Report
from agent.policy.schema import Policy
from agent.service.events import read_events
from agent.service.pipeline import Outcome, Pipeline, Scope
from agent.vault.store import QuarantineRequest, QuarantineResult, Vault
from tests.agent_harness import has_flag_marker, make_jpeg, make_jpeg_with_zip, make_pe_bytes
from tests.pipeline_helpers import build, events_of


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


def test_a_failure_to_record_makes_the_whole_batch_retry(
    parts: tuple[Pipeline, Scope, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline, scope, downloads, home = parts
    paths, bad = _burst(downloads)
    problems: list[tuple[str, str | None]] = []
    pipeline.on_problem = lambda source, problem: problems.append((source, problem))
    real_record = pipeline.statedb.record
    calls: list[str] = []

    def full_disk_on_the_third(path: str, *args: Any, **kwargs: Any) -> None:
        calls.append(path)
        if len(calls) == 3:
            raise sqlite3.OperationalError("database or disk is full")
        real_record(path, *args, **kwargs)

    monkeypatch.setattr(pipeline.statedb, "record", full_disk_on_the_third)
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
