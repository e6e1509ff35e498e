"""Files through the agent: check each is ours to judge, inspect, decide, act, report.

`Pipeline.process_many(paths)` is called by the service's worker thread with the complete
files it has at hand (one, or a burst of them); `process(path)` is the same for one file.
It never raises. It returns what happened to each path, so the service can re-queue a file
that is still changing (`SETTLE`). The guards come first and are cheap: a path outside the
watched folders, inside our own home or vault, a symlink, a non-regular file, a name a
browser uses for unfinished downloads, or a version already judged is left alone.

A burst is judged file by file and acted on together (group commit): every dangerous file
of the batch goes to the vault in one `Vault.quarantine_many` (one flush for all, each file
verified before its original goes, each failing on its own), and the verdicts are recorded
in one state-database transaction. Each file still gets exactly one verdict event, its own
retry with backoff when its move failed, and SETTLE when it changed while being inspected.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from agent import platform
from agent.policy.schema import Policy
from agent.service import staffdb
from agent.service.acting import Judged, act, busy_outcome
from agent.service.busy import BusyFiles
from agent.service.events import EventLog, Notifier
from agent.service.pipeline_parts import (
    ERROR_ACTION,
    HASH_CHUNK_BYTES,
    LINKED_ACTION,
    MAX_ERROR_CHARS,
    MAX_NOTIFY_NAME_CHARS,
    NOTIFIED_ACTIONS,
    OWN_TEMP_PATTERNS,
    MarkerLike,
    Outcome,
    Scope,
    Toolkit,
    default_toolkit,
    first_reason_text,
    hard_linked_finding,
    plain_error,
    sha256_of,
)
from agent.service.statedb import (
    DEFERRED_ACTION,
    QUARANTINE_FAILED_ACTION,
    RELEASED_ACTION,
    RETRY_ACTIONS,
    FileVersion,
    InspectedRecord,
    StateDB,
)
from agent.textsafe import safe_name

__all__ = [
    "ERROR_ACTION",
    "HASH_CHUNK_BYTES",
    "LINKED_ACTION",
    "MAX_ERROR_CHARS",
    "MAX_NOTIFY_NAME_CHARS",
    "NOTIFIED_ACTIONS",
    "OWN_TEMP_PATTERNS",
    "Judged",
    "MarkerLike",
    "Outcome",
    "Pipeline",
    "Scope",
    "Toolkit",
    "default_toolkit",
    "first_reason_text",
    "hard_linked_finding",
    "plain_error",
    "sha256_of",
]

log = logging.getLogger("photogate.pipeline")

BATCH_MAX_SECONDS = 0.2  # judged files wait at most about this long for their batch's action


class Pipeline:
    """Inspect -> decide -> act -> record -> event -> notify, for one path or a batch."""

    def __init__(
        self,
        toolkit: Toolkit,
        statedb: StateDB,
        events: EventLog,
        notifier: Notifier,
        *,
        on_judged: Callable[[str], None] | None = None,
    ) -> None:
        self.toolkit = toolkit
        self.statedb = statedb
        self.events = events
        self.notifier = notifier
        self._on_judged = on_judged
        self.busy = BusyFiles()
        # (source, problem or None): an expected condition such as a full state folder.
        self.on_problem: Callable[[str, str | None], None] = lambda source, problem: None

    def process(self, path: str, policy: Policy, scope: Scope, *, paused: bool = False) -> Outcome:
        """Judge `path` once per version; never raises."""
        (outcome,) = self.process_many([path], policy, scope, paused=paused)
        return outcome

    def process_many(
        self,
        paths: Sequence[str],
        policy: Policy,
        scope: Scope,
        *,
        paused: bool = False,
        on_step: Callable[[], None] | None = None,
    ) -> list[Outcome]:
        """Judge each path once per version and act on them together; never raises.

        One Outcome per path, in order. The files judged are acted on as one batch
        (agent.service.acting) as soon as judging them took BATCH_MAX_SECONDS, so the first
        file of a burst waits at most that long for its action. A failure of one file's
        guards or inspection touches only that file; a failure while acting on or recording
        a batch (a full state folder) makes every file of that batch RETRY. `on_step` is
        called after each file is judged (the worker's heartbeat).
        """
        outcomes: list[Outcome] = [Outcome.SKIPPED] * len(paths)
        pending: list[tuple[int, Judged]] = []
        healthy = True
        batch_started = time.perf_counter()
        for index, path in enumerate(paths):
            try:
                prepared = self._prepare(path, policy, scope, paused=paused)
            except Exception as error:
                healthy = False
                prepared = self._failed([path], policy, error)
            if isinstance(prepared, Judged):
                pending.append((index, prepared))
            else:
                outcomes[index] = prepared
            if on_step is not None:
                on_step()
            if pending and time.perf_counter() - batch_started >= BATCH_MAX_SECONDS:
                healthy = self._act_on(pending, outcomes, policy) and healthy
                pending, batch_started = [], time.perf_counter()
        if pending:
            healthy = self._act_on(pending, outcomes, policy) and healthy
        if healthy:
            self.on_problem("state", None)
        return outcomes

    def _act_on(
        self,
        pending: list[tuple[int, Judged]],
        outcomes: list[Outcome],
        policy: Policy,
    ) -> bool:
        """Act on one batch, filling in its outcomes; False when acting itself failed."""
        batch = [judged for _, judged in pending]
        try:
            acted = act(self, batch, policy)
        except Exception as error:
            outcome = self._failed([judged.path for judged in batch], policy, error)
            acted = [outcome] * len(batch)
            healthy = False
        else:
            healthy = True
            if self._on_judged is not None:
                self._on_judged(batch[-1].action)  # once per batch: the counts are read again
        for (index, _), outcome in zip(pending, acted, strict=True):
            outcomes[index] = outcome
        return healthy

    def _failed(self, paths: list[str], policy: Policy, error: Exception) -> Outcome:
        """The outcome when the pipeline itself failed on `paths` (one plain line each)."""
        if isinstance(error, (sqlite3.Error, OSError)):
            # Expected on a full or read-only disk: one plain line, a problem in status,
            # and the file is tried again soon (RETRY), not only by the next sweep.
            problem = f"cannot record verdicts ({plain_error(error)})"
            for path in paths:
                log.warning("%s; %s will be looked at again", problem, safe_name(path))
            self.on_problem("state", problem)
            return Outcome.RETRY
        for path in paths:
            log.error("pipeline failed on %s", safe_name(path), exc_info=error)
            self.events.emit(
                "action_failed",
                path=path,
                policy_version=policy.policy.version,
                error=f"{type(error).__name__}: {error}",
            )
        return Outcome.SKIPPED

    def _prepare(
        self, path: str, policy: Policy, scope: Scope, *, paused: bool
    ) -> Outcome | Judged:
        """The guards, then inspect and decide: an Outcome when done, else what to act on."""
        root = scope.root_of(path)
        if root is None:
            return Outcome.SKIPPED
        relative_parts = Path(os.path.relpath(path, root)).parts
        if not scope.recursive and len(relative_parts) > 1:
            return Outcome.SKIPPED
        if scope.is_ignored_name(relative_parts) or scope.is_excluded(path):
            return Outcome.SKIPPED
        # Windows: from MAX_PATH on, file calls need the \\?\ form (identity elsewhere).
        os_path = platform.os_path(path)
        try:
            status = os.lstat(os_path)
        except FileNotFoundError:
            self.busy.done(path)
            self.statedb.forget_failed(path)  # a file we could not move was deleted
            return Outcome.GONE
        except OSError as error:
            if platform.is_in_use(error):
                return self._busy(path)
            self.events.emit(
                "action_failed", path=path, policy_version=policy.policy.version,
                error=f"cannot read the file: {error.strerror or error}",
            )  # fmt: skip
            return Outcome.SKIPPED
        if not stat.S_ISREG(status.st_mode):
            return Outcome.SKIPPED  # symlinks, folders, devices, sockets: never followed
        # The parent chain must really be inside the root (no symlinked folder in between).
        real_parent = os.path.realpath(os.path.split(path)[0])
        real_root = os.path.realpath(root)
        if real_parent != real_root and not real_parent.startswith(real_root + os.sep):
            return Outcome.SKIPPED
        version = FileVersion.of(status)
        previous = self.statedb.lookup(path)
        if previous is not None and previous.action == LINKED_ACTION and status.st_nlink == 1:
            previous = None  # its other names are gone: now it is a file of its own to act on
        # A release first: a restored file may reuse the quarantined file's inode and look like
        # that version with only its ctime changed; it must be remembered as released.
        if (previous is None or previous.action != RELEASED_ACTION) and self._is_released(
            path, version, policy, root
        ):
            return Outcome.UNCHANGED
        if previous is not None and self._same_content(path, previous, version, policy):
            return Outcome.UNCHANGED
        age = time.time() - status.st_mtime_ns / 1e9
        if version.size == 0 and age < policy.watch.settle_seconds:
            # Firefox's zero-byte placeholder: the real content is renamed over it soon.
            return Outcome.SETTLE
        if not platform.writer_done(os_path):  # a writer still holds it open (lease, probe)
            return self._busy(path)
        retrying = previous is not None and previous.action == QUARANTINE_FAILED_ACTION
        return self._judge(
            path, os_path, version, status.st_nlink, policy, root, paused=paused, retrying=retrying
        )

    def _same_content(
        self, path: str, previous: InspectedRecord, version: FileVersion, policy: Policy
    ) -> bool:
        """True when this version already has a final verdict (nothing to do).

        A version that differs from the judged one only in its ctime (an xattr or a
        Zone.Identifier written after the download, our own marker) is the same file when
        its SHA-256 is unchanged: the record is refreshed instead of judging it again.
        """
        if previous.action in RETRY_ACTIONS:
            return False
        if previous.version == version:
            return True
        if replace(previous.version, ctime_ns=version.ctime_ns) != version:
            return False
        if previous.sha256 is None:
            return False
        sha256 = sha256_of(path, version, policy.inspect.limits().max_file_bytes)
        if sha256 != previous.sha256:
            return False  # rewritten in place with its old size and mtime put back
        self.statedb.refresh_version(path, version)
        return True

    def _busy(self, path: str) -> Outcome:
        return busy_outcome(self.busy, path)

    def _is_released(self, path: str, version: FileVersion, policy: Policy, root: Path) -> bool:
        """True (and remembered) when staff or IT released exactly this version here."""
        release = staffdb.release_for(self.statedb, path)
        if release is None or not release.matches(version):
            return False
        sha256 = sha256_of(path, version, policy.inspect.limits().max_file_bytes)
        if sha256 != release.sha256:
            return False  # same size and time, other bytes: judged as usual
        self.statedb.record(
            path,
            version,
            verdict=RELEASED_ACTION,
            action=RELEASED_ACTION,
            sha256=sha256,
            item_id=release.item_id,
            folder=root,
        )
        log.info("%s was released by %s: left alone", safe_name(path), release.released_by)
        return True

    def _judge(
        self,
        path: str,
        os_path: str,
        version: FileVersion,
        links: int,
        policy: Policy,
        root: Path,
        *,
        paused: bool,
        retrying: bool,
    ) -> Outcome | Judged:
        """Hash, inspect and decide; SETTLE or GONE when the file moved on meanwhile."""
        started = time.perf_counter()
        limits = policy.inspect.limits()
        sha256 = sha256_of(os_path, version, limits.max_file_bytes)
        report = self.toolkit.inspect(os_path, limits)
        try:
            after = FileVersion.of(os.lstat(os_path))
        except OSError:
            return Outcome.GONE
        if after != version:
            return Outcome.SETTLE  # it changed while we read it: judge the final version
        # The file's own folder, so that a folder rule for a subfolder of a watched root
        # (e.g. ~/Downloads/scanner) applies; decide() matches rules by path prefix.
        decision = self.toolkit.decide(report, policy, folder=str(Path(path).parent), sha256=sha256)
        intended = str(decision.action)
        reason = first_reason_text(decision, report, os.path.split(path)[1])
        action = intended
        if paused and intended in ("quarantine", "flag"):
            action = DEFERRED_ACTION  # documented: acted on by the sweep after resume
        elif links > 1 and intended in ("quarantine", "flag"):
            # Another name holds the same content (a hard link, maybe outside the watched
            # folders): marking would mark that file too, moving would remove one name and
            # leave the content under the other. Judged and reported, never touched.
            action = LINKED_ACTION
            report = replace(
                report, findings=(*report.findings, hard_linked_finding(links, intended))
            )
        return Judged(
            path=path, os_path=os_path, version=version, links=links, root=root, report=report,
            decision=decision, sha256=sha256, retrying=retrying, started=started,
            action=action, reason=reason,
        )  # fmt: skip
