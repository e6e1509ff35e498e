"""The pipeline on one file at a time: real engine, policy, vault, state DB, xattr marker.

Issue 15: a failed quarantine that left the file unmarked, and a file changed during
inspection that was judged anyway, both went unnoticed by the suite.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from agent.inspect.limits import Limits
from agent.model import Report
from agent.policy.schema import Policy
from agent.service.pipeline import Outcome, Pipeline, Scope
from tests.agent_harness import has_flag_marker, make_jpeg, make_pe_bytes
from tests.pipeline_helpers import build, events_of


@pytest.fixture
def parts(tmp_path: Path) -> tuple[Pipeline, Scope, Path, Path]:
    built = build(tmp_path)
    return built.pipeline, built.scope, built.downloads, built.home


def _verdicts(home: Path) -> list[dict[str, object]]:
    return events_of(home, "verdict")


def test_a_failed_quarantine_leaves_the_file_marked_and_is_retried(
    parts: tuple[Pipeline, Scope, Path, Path],
) -> None:
    pipeline, scope, downloads, home = parts
    stuck = downloads / "stuck"
    stuck.mkdir()
    bad = stuck / "invoice.jpg"
    bad.write_bytes(make_pe_bytes(1))
    if subprocess.run(["chattr", "+i", str(stuck)], check=False).returncode != 0:
        pytest.skip("needs chattr +i (ext4, CAP_LINUX_IMMUTABLE) to make the move fail")
    try:
        outcome = pipeline.process(str(bad), Policy(), scope)
    finally:
        subprocess.run(["chattr", "-i", str(stuck)], check=True)
    assert outcome is Outcome.RETRY
    assert bad.exists() and has_flag_marker(bad)  # left where it was, but marked
    record = pipeline.statedb.lookup(bad)
    assert record is not None and record.action == "quarantine_failed"
    assert pipeline.statedb.failed_count() == 1
    (event,) = _verdicts(home)
    assert event["action"] == "quarantine_failed" and event["intended_action"] == "quarantine"
    assert "VaultError" in str(event["error"])
    # The folder accepts changes again: the retry moves it and the count drops.
    assert pipeline.process(str(bad), Policy(), scope) is Outcome.JUDGED
    assert not bad.exists() and pipeline.statedb.failed_count() == 0
    assert [e["action"] for e in _verdicts(home)] == ["quarantine_failed", "quarantine"]


def test_a_file_changed_during_inspection_is_not_judged_until_it_is_final(
    parts: tuple[Pipeline, Scope, Path, Path],
) -> None:
    pipeline, scope, downloads, home = parts
    target = downloads / "photo.jpg"
    target.write_bytes(make_jpeg(2))
    real_inspect = pipeline.toolkit.inspect
    writes = []

    def inspect_while_a_writer_appends(path: str, limits: Limits) -> Report:
        report = real_inspect(path, limits)
        if not writes:  # the first inspection saw the benign start only
            with open(path, "ab") as handle:
                handle.write(make_pe_bytes(3))
            writes.append(path)
        return report

    pipeline.toolkit.inspect = inspect_while_a_writer_appends
    assert pipeline.process(str(target), Policy(), scope) is Outcome.SETTLE
    assert _verdicts(home) == [] and pipeline.statedb.lookup(target) is None
    assert pipeline.process(str(target), Policy(), scope) is Outcome.JUDGED
    (event,) = _verdicts(home)
    assert event["size"] == len(make_jpeg(2)) + len(make_pe_bytes(3))
    assert event["action"] == "quarantine"  # the PE now stuck to the JPEG was judged
