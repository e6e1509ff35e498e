"""Acting on a batch of judged files: moved, marked, recorded, reported, notified.

agent.service.pipeline judges each file (guards, hash, inspect, decide) into a `Judged`;
`act` then does, for the whole batch at once: every file to quarantine into the vault in
one `Vault.quarantine_many` (its verdict fields saved first, for crash recovery), the
flags marked, every verdict recorded in one state-database transaction, then one verdict
event per file, notifications, and the Outcome of each. A file whose move failed is left
marked and retried with backoff (its retries are recorded, not announced again); one held
open by another program is not complete yet (BUSY).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from agent import platform
from agent.model import Report
from agent.policy.decide import Decision
from agent.policy.schema import Policy
from agent.service import staffdb
from agent.service.busy import BusyFiles
from agent.service.events import EventLog, Notifier
from agent.service.pipeline_parts import (
    MAX_NOTIFY_NAME_CHARS,
    NOTIFIED_ACTIONS,
    Outcome,
    Toolkit,
    plain_error,
)
from agent.service.statedb import QUARANTINE_FAILED_ACTION, FileVersion, StateDB
from agent.textsafe import safe_name
from agent.vault.journal import crash_point
from agent.vault.store import QuarantineRequest, QuarantineResult

log = logging.getLogger("photogate.pipeline")


class ActingPipeline(Protocol):
    """What acting needs of agent.service.pipeline.Pipeline."""

    toolkit: Toolkit
    statedb: StateDB
    events: EventLog
    notifier: Notifier
    busy: BusyFiles


@dataclass
class Judged:
    """One file inspected and decided, waiting for its action with the rest of its batch."""

    path: str
    os_path: str
    version: FileVersion
    links: int
    root: Path
    report: Report
    decision: Decision
    sha256: str | None
    retrying: bool  # its move failed before: a retry, not a new verdict
    started: float  # perf_counter() when its judgement began (the event's duration_ms)
    action: str  # what is done: the decision's action, or deferred / left linked / failed
    reason: str  # the plain sentence of notifications
    item_id: str | None = None
    error: str | None = None
    in_use: bool = False  # the move found it held by another program: not complete yet

    @property
    def intended(self) -> str:
        """What the policy decided (`action` says what was done)."""
        return str(self.decision.action)

    @property
    def name(self) -> str:
        """The file's name (last path component)."""
        return os.path.split(self.path)[1]


def busy_outcome(busy: BusyFiles, path: str) -> Outcome:
    """Another program holds `path`: look again after the busy backoff."""
    attempts = busy.found_in_use(path)
    log.info("%s is in use by another program (look %d); trying again", safe_name(path), attempts)
    return Outcome.BUSY


def act(self: ActingPipeline, batch: list[Judged], policy: Policy) -> list[Outcome]:
    """Move (one vault batch), mark, record (one transaction), report and notify."""
    moving = [j for j in batch if j.action == "quarantine"]
    if moving:
        _move(self, moving, policy)
    for judged in batch:
        if judged.action == "flag":
            if not self.toolkit.marker.mark(Path(judged.os_path), reason=judged.reason):
                judged.error = "the file system does not accept the untrusted-origin marker"
            judged.version = version_after_marking(judged.os_path, judged.version)
    done = [j for j in batch if not j.in_use]
    for judged in done:
        self.busy.done(judged.path)
    with self.statedb.batch():
        for judged in done:
            _record(self, judged)
    for judged in done:
        if not (judged.retrying and judged.action == QUARANTINE_FAILED_ACTION):
            _emit(self, judged, policy.policy.version)
    # Every verdict begun before the move is over: announced, or (in use) not moved at all.
    if moving:
        with self.statedb.batch():
            for judged in moving:
                staffdb.end_verdict(self.statedb, judged.path)
    return [_report(self, judged, policy) for judged in batch]


def _move(self: ActingPipeline, moving: list[Judged], policy: Policy) -> None:
    """Every file to quarantine into the vault at once; each failure handled alone."""
    policy_version = policy.policy.version
    with self.statedb.batch():  # before the move: a crash must not cut off the verdict
        for judged in moving:
            staffdb.begin_verdict(
                self.statedb,
                judged.path,
                judged.sha256,
                {
                    "policy_version": policy_version,
                    "sha256": judged.sha256,
                    "size": judged.version.size,
                    "type": judged.report.type,
                    "verdict": judged.report.verdict.value,
                    "findings": [finding.code for finding in judged.report.findings],
                    "folder": str(judged.root),
                },
            )
    requests = [
        QuarantineRequest(
            Path(j.os_path), j.report.findings, j.report.type, policy_version, j.sha256
        )
        for j in moving
    ]
    results: list[QuarantineResult | Exception]
    try:
        results = list(self.toolkit.vault.quarantine_many(requests))
    except Exception as failure:  # the vault itself failed: every file stays, marked
        results = [failure] * len(moving)
    if any(not isinstance(result, Exception) for result in results):
        crash_point("quarantined-before-verdict")
    for judged, result in zip(moving, results, strict=True):
        if isinstance(result, Exception):
            _move_failed(self, judged, result)
        else:
            judged.item_id = str(result.id)


def _move_failed(self: ActingPipeline, judged: Judged, failure: Exception) -> None:
    # Leave the file marked at least, so it is not opened unawares.
    self.toolkit.marker.mark(Path(judged.os_path), reason=judged.reason)
    cause = failure.__cause__
    if isinstance(cause, OSError) and platform.is_in_use(cause):
        judged.in_use = True  # not complete yet: never a final failure
        return
    judged.error = plain_error(failure)
    judged.action = QUARANTINE_FAILED_ACTION
    judged.version = version_after_marking(judged.os_path, judged.version)


def _record(self: ActingPipeline, judged: Judged) -> None:
    """The verdict in the state database (inside the batch's transaction).

    A retry (its move failed before) was counted as inspected the first time: moved now,
    it counts as quarantined only; still failing, it counts nothing (a failed move bumps
    no total) and its record stays, so the count of unmoved files stays right.
    """
    self.statedb.record(
        judged.path,
        judged.version,
        verdict=judged.report.verdict.value,
        action=judged.action,
        finding_codes=tuple(f.code for f in judged.report.findings),
        sha256=judged.sha256,
        detected_type=judged.report.type,
        item_id=judged.item_id,  # None unless this move succeeded
        folder=judged.root,
        retried=judged.retrying,
    )


def _emit(self: ActingPipeline, judged: Judged, policy_version: str) -> None:
    """The file's one verdict event."""
    report, decision, action = judged.report, judged.decision, judged.action
    self.events.emit(
        "verdict",
        path=judged.path,
        policy_version=policy_version,
        sha256=judged.sha256,
        size=judged.version.size,
        type=report.type,
        verdict=report.verdict.value,
        findings=[finding.code for finding in report.findings],
        severity=None if report.worst_severity is None else report.worst_severity.label,
        action=action,
        intended_action=judged.intended if action != judged.intended else None,
        rule=decision.rule,
        allowlisted=bool(decision.allowlisted) or None,
        item_id=judged.item_id,
        folder=str(judged.root),
        error=judged.error,
        link_count=judged.links if judged.links > 1 else None,
        retried=True if judged.retrying else None,
        duration_ms=round((time.perf_counter() - judged.started) * 1000, 2),
    )


def _report(self: ActingPipeline, judged: Judged, policy: Policy) -> Outcome:
    """Log and notify for one acted-on file; its Outcome."""
    if judged.in_use:
        return busy_outcome(self.busy, judged.path)
    action = judged.action
    if judged.retrying and action == QUARANTINE_FAILED_ACTION:
        log.info("still cannot move %s (%s)", safe_name(judged.path), judged.error)
        return Outcome.RETRY
    if judged.error is not None:
        log.warning("%s: %s (%s)", action, safe_name(judged.path), judged.error)
    if action in NOTIFIED_ACTIONS and policy.ui.notifications:
        _notify(self, action, judged.name, judged.reason, judged.item_id)
    return Outcome.RETRY if action == QUARANTINE_FAILED_ACTION else Outcome.JUDGED


def version_after_marking(os_path: str, version: FileVersion) -> FileVersion:
    """The version to record after our own marker changed the file's ctime."""
    try:
        marked = FileVersion.of(os.lstat(os_path))
    except OSError:
        return version
    return marked if replace(marked, ctime_ns=version.ctime_ns) == version else version


def _notify(self: ActingPipeline, action: str, name: str, reason: str, item_id: str | None) -> None:
    shown = safe_name(name, MAX_NOTIFY_NAME_CHARS)
    if action == "quarantine":
        title = "Photogate moved a dangerous file to safety"
    elif action == "flag":
        title = "Photogate marked a suspicious file"
    else:
        title = "Photogate found a dangerous file but could not move it"
    try:
        self.notifier.notify(
            title,
            f"{shown}: {reason}",
            item_id=item_id,
            severity="high" if action != "flag" else "medium",
        )
    except Exception:
        log.exception("notifier failed")
