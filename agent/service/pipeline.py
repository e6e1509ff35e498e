"""One file through the agent: check it is ours to judge, inspect, decide, act, report.

`Pipeline.process(path)` is called by the service's worker thread for each complete
file. It never raises. It returns what happened, so the service can re-queue a file that
is still changing (`SETTLE`). The guards come first and are cheap: a path outside the
watched folders, inside our own home or vault, a symlink, a non-regular file, a name a
browser uses for unfinished downloads, or a version already judged is left alone.
"""

from __future__ import annotations

import enum
import fnmatch
import hashlib
import logging
import os
import sqlite3
import stat
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from agent import platform
from agent.inspect.limits import Limits
from agent.inspect.reasons import plain_reason, plain_summary
from agent.model import Finding, Report, Severity
from agent.policy.decide import Decision, decide
from agent.policy.schema import Policy
from agent.service import staffdb
from agent.service.busy import BusyFiles
from agent.service.events import EventLog, Notifier
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
from agent.vault.journal import crash_point
from agent.vault.store import Vault

log = logging.getLogger("photogate.pipeline")

HASH_CHUNK_BYTES = 1024 * 1024  # bytes read per step while hashing
MAX_NOTIFY_NAME_CHARS = 60  # characters of a file name shown in a notification
ERROR_ACTION = "error"  # recorded when the pipeline itself failed on a file
# Our own temporary files, never judged whatever the policy's ignore patterns say: a safe
# copy being written (agent.sanitize.parent) and a restore being placed (agent.vault.restore).
OWN_TEMP_PATTERNS = (".sanitizing-*", ".photogate-restore-*")
LINKED_ACTION = "left_linked"  # dangerous, but it has other names (hard links): not touched
NOTIFIED_ACTIONS = ("quarantine", "flag", QUARANTINE_FAILED_ACTION, LINKED_ACTION)
MAX_ERROR_CHARS = 300  # characters of an error kept in an event


def plain_error(error: BaseException) -> str:
    """One line for an event: the error's kind and text, bounded, never a traceback."""
    text = " ".join(str(error).split())[:MAX_ERROR_CHARS]
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def hard_linked_finding(links: int, intended: str) -> Finding:
    """Why a dangerous file with other names was left alone."""
    return Finding(
        "scan.hard_linked",
        Severity.INFO,
        "This file has other names on this computer, so Photogate did not move or mark it.",
        detail=(
            f"{links} hard links: {intended} withheld (it would act on the other names'"
            " content too, or leave it behind under them)"
        ),
    )


class Outcome(enum.Enum):
    """What `Pipeline.process` did with a path."""

    SKIPPED = "skipped"  # not ours to judge (ignored name, symlink, outside, vault...)
    UNCHANGED = "unchanged"  # this version already has a verdict
    GONE = "gone"  # the path no longer exists
    SETTLE = "settle"  # still changing (or an empty placeholder): look again later
    BUSY = "busy"  # another program holds it (Windows sharing): again after `busy.retry_delay`
    JUDGED = "judged"  # inspected, decided, acted, recorded
    RETRY = "retry"  # dangerous, but moving it failed: the service retries with backoff


class MarkerLike(Protocol):
    """The part of `agent.osmark.OriginMarker` the pipeline uses."""

    def mark(self, path: Path, *, reason: str, origin_url: str | None = None) -> bool: ...


@dataclass
class Toolkit:
    """The collaborators of the pipeline; `default_toolkit` builds the real ones."""

    inspect: Callable[[str, Limits], Report]
    decide: Callable[..., Decision]
    vault: Vault
    marker: MarkerLike


def _inspect(path: str, limits: Limits) -> Report:
    from agent.inspect.engine import inspect_path

    return inspect_path(path, limits)


def default_toolkit(vault_root: Path) -> Toolkit:
    """The real engine, policy, vault and OS marker."""
    from agent.osmark import default_marker

    return Toolkit(
        inspect=_inspect,
        decide=decide,
        vault=Vault(vault_root),
        marker=default_marker(),
    )


@dataclass(frozen=True)
class Scope:
    """Where the pipeline may act: the watched roots, minus our own folders."""

    roots: tuple[Path, ...]  # absolute, normalized watched folders
    excluded: tuple[Path, ...]  # our home, our vault (never judged, never acted on)
    ignore_patterns: tuple[str, ...]
    recursive: bool = True

    def root_of(self, path: str) -> Path | None:
        """The watched root containing `path` (the deepest one), or None."""
        best: Path | None = None
        for root in self.roots:
            prefix = str(root) + os.sep
            if path.startswith(prefix) and (best is None or len(str(root)) > len(str(best))):
                best = root
        return best

    def is_excluded(self, path: str) -> bool:
        """True inside our home or vault (compared by real path, so links do not hide it)."""
        return self.is_excluded_real(os.path.realpath(path))

    def is_excluded_real(self, real: str) -> bool:
        """`is_excluded` for a path already resolved."""
        return any(
            real == str(folder) or real.startswith(str(folder) + os.sep) for folder in self.excluded
        )

    def is_ignored_name(self, relative_parts: Sequence[str]) -> bool:
        """True when any component matches an ignore pattern (`*.crdownload`, `*.download/`)."""
        patterns = (*self.ignore_patterns, *OWN_TEMP_PATTERNS)
        for part in relative_parts:
            lowered = part.lower()
            if any(fnmatch.fnmatchcase(lowered, pattern.lower()) for pattern in patterns):
                return True
        return False


def sha256_of(path: str, version: FileVersion, max_bytes: int) -> str | None:
    """SHA-256 of the file without following links; None if it changed, vanished or is too big."""
    if version.size > max_bytes:
        return None
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    try:
        if os.fstat(fd).st_ino != version.inode:
            return None
        digest = hashlib.sha256()
        with os.fdopen(fd, "rb", closefd=False) as handle:
            while chunk := handle.read(HASH_CHUNK_BYTES):
                digest.update(chunk)
        return digest.hexdigest()
    except OSError:
        return None
    finally:
        os.close(fd)


def first_reason_text(decision: Decision, report: Report, name: str) -> str:
    """The plain sentence for a notification: the decision's first reason, else the worst."""
    reasons = list(decision.reasons)
    if reasons:
        first = reasons[0]
        if isinstance(first, Finding):
            return plain_reason(first, report.type, name)
        if isinstance(first, str) and first:
            return first
        message = getattr(first, "message", None)
        if isinstance(message, str) and message:
            return message
    return plain_summary(report.findings, report.type, name)


class Pipeline:
    """Inspect -> decide -> act -> record -> event -> notify, for one path at a time."""

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
        try:
            outcome = self._process(path, policy, scope, paused=paused)
        except (sqlite3.Error, OSError) as error:
            # Expected on a full or read-only disk: one plain line, a problem in status,
            # and the file is tried again soon (RETRY), not only by the next sweep.
            problem = f"cannot record verdicts ({plain_error(error)})"
            log.warning("%s; %s will be looked at again", problem, safe_name(path))
            self.on_problem("state", problem)
            return Outcome.RETRY
        except Exception as error:
            log.exception("pipeline failed on %s", safe_name(path))
            self.events.emit(
                "action_failed",
                path=path,
                policy_version=policy.policy.version,
                error=f"{type(error).__name__}: {error}",
            )
            return Outcome.SKIPPED
        self.on_problem("state", None)
        return outcome

    def _process(self, path: str, policy: Policy, scope: Scope, *, paused: bool) -> Outcome:
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
        attempts = self.busy.found_in_use(path)
        log.info(
            "%s is in use by another program (look %d); trying again", safe_name(path), attempts
        )
        return Outcome.BUSY

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
    ) -> Outcome:
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
        name = os.path.split(path)[1]
        reason = first_reason_text(decision, report, name)
        policy_version = policy.policy.version
        item_id: str | None = None
        error: str | None = None
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
        elif intended == "quarantine":
            staffdb.begin_verdict(
                self.statedb,
                path,
                sha256,
                {
                    "policy_version": policy_version,
                    "sha256": sha256,
                    "size": version.size,
                    "type": report.type,
                    "verdict": report.verdict.value,
                    "findings": [finding.code for finding in report.findings],
                    "folder": str(root),
                },
            )
            try:
                item = self.toolkit.vault.quarantine(
                    Path(os_path),
                    report.findings,
                    detected_type=report.type,
                    policy_version=policy_version,
                    expected_sha256=sha256,
                )
                item_id = str(item.id)
                crash_point("quarantined-before-verdict")
            except Exception as failure:
                # Leave the file marked at least, so it is not opened unawares.
                self.toolkit.marker.mark(Path(os_path), reason=reason)
                cause = failure.__cause__
                if isinstance(cause, OSError) and platform.is_in_use(cause):
                    return self._busy(path)  # not complete yet: never a final failure
                error = plain_error(failure)
                action = QUARANTINE_FAILED_ACTION
                version = self._version_after_marking(os_path, version)
        elif intended == "flag":
            if not self.toolkit.marker.mark(Path(os_path), reason=reason):
                error = "the file system does not accept the untrusted-origin marker"
            version = self._version_after_marking(os_path, version)
        self.busy.done(path)
        if retrying and action == QUARANTINE_FAILED_ACTION:
            # Still failing: keep the record (and the count of unmoved files), and do not
            # repeat the verdict and notification on every retry.
            self.statedb.record(
                path, version, verdict=report.verdict.value, action=action,
                finding_codes=tuple(f.code for f in report.findings), sha256=sha256,
                detected_type=report.type, folder=root, count=False,
            )  # fmt: skip
            if intended == "quarantine" and not paused:
                staffdb.end_verdict(self.statedb, path)
            log.info("still cannot move %s (%s)", safe_name(path), error)
            return Outcome.RETRY
        codes = tuple(finding.code for finding in report.findings)
        self.statedb.record(
            path,
            version,
            verdict=report.verdict.value,
            action=action,
            finding_codes=codes,
            sha256=sha256,
            detected_type=report.type,
            item_id=item_id,
            folder=root,
            retried=retrying,
        )
        self.events.emit(
            "verdict",
            path=path,
            policy_version=policy_version,
            sha256=sha256,
            size=version.size,
            type=report.type,
            verdict=report.verdict.value,
            findings=list(codes),
            severity=None if report.worst_severity is None else report.worst_severity.label,
            action=action,
            intended_action=intended if action != intended else None,
            rule=None if decision.rule is None else str(decision.rule),
            allowlisted=bool(decision.allowlisted) or None,
            item_id=item_id,
            folder=str(root),
            error=error,
            link_count=links if links > 1 else None,
            retried=True if retrying else None,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
        )
        if intended == "quarantine" and not paused:
            staffdb.end_verdict(self.statedb, path)
        if error is not None:
            log.warning("%s: %s (%s)", action, safe_name(path), error)
        if action in NOTIFIED_ACTIONS and policy.ui.notifications:
            self._notify(action, name, reason, item_id)
        if self._on_judged is not None:
            self._on_judged(action)
        return Outcome.RETRY if action == QUARANTINE_FAILED_ACTION else Outcome.JUDGED

    def _version_after_marking(self, os_path: str, version: FileVersion) -> FileVersion:
        """The version to record after our own marker changed the file's ctime."""
        try:
            marked = FileVersion.of(os.lstat(os_path))
        except OSError:
            return version
        return marked if replace(marked, ctime_ns=version.ctime_ns) == version else version

    def _notify(self, action: str, name: str, reason: str, item_id: str | None) -> None:
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
