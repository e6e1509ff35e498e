"""The pieces of one file's way through the agent: outcomes, scope, collaborators, texts.

agent.service.pipeline uses them (and re-exports them): what `Pipeline.process` returns
(`Outcome`), where it may act (`Scope`), the engine/policy/vault/marker it calls
(`Toolkit`), the file's SHA-256 without following links, and the plain words of events
and notifications.
"""

from __future__ import annotations

import enum
import fnmatch
import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from agent.inspect.limits import Limits
from agent.inspect.reasons import plain_reason, plain_summary
from agent.model import Finding, Report, Severity
from agent.policy.decide import Decision, decide
from agent.service.statedb import QUARANTINE_FAILED_ACTION, FileVersion
from agent.vault.store import Vault

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
