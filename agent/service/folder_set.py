"""The set of watched folders: which configured folders exist, are watched, or why not.

Policy names folders as patterns (defaults per OS, IT's list, `--watch`); this module
expands them, leaves out excluded folders and the agent's own, watches those that exist
(not through a symbolic link), stops watching those that disappeared, and says which
folders are new so the service can sweep them.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from agent.policy.schema import Policy
from agent.service import folders
from agent.service.events import EventLog
from agent.service.state import FolderStatus
from agent.service.watch import FolderWatcher
from agent.textsafe import safe_path

log = logging.getLogger("photogate.service")


# Protected mode: the folder patterns to watch under a policy (every user's landing folders).
PatternSource = Callable[[Policy], list[str]]


@dataclass
class FolderView:
    """What the service knows about each configured pattern."""

    statuses: tuple[FolderStatus, ...] = ()
    roots: tuple[Path, ...] = ()
    ever_seen: set[Path] = field(default_factory=set)


class FolderSet:
    """Keeps the watcher's folders in line with policy; `check` returns the new roots."""

    def __init__(
        self,
        watcher: FolderWatcher,
        events: EventLog,
        own_folders: tuple[Path, ...],
        *,
        watch_override: list[str] | None = None,
        registry: folders.Registry | None = None,
        pattern_source: PatternSource | None = None,
    ) -> None:
        self.watcher = watcher
        self._events = events
        self._own = tuple(Path(os.path.realpath(folder)) for folder in own_folders)
        self._watch_override = list(watch_override) if watch_override else None
        self._registry = registry
        self._pattern_source = pattern_source
        self._lock = threading.Lock()
        self._view = FolderView()
        self._identity: dict[Path, tuple[int, int]] = {}  # watched folder -> (device, inode)

    @property
    def view(self) -> FolderView:
        """The latest statuses and watched roots (replaced whole, so safe to read)."""
        with self._lock:
            return self._view

    def check(self, policy: Policy) -> tuple[bool, list[Path]]:
        """Watch folders that exist, report those that do not: (anything changed, new roots)."""
        wanted, problems, statuses = self._wanted(policy)
        watched_before = self.watcher.watched()
        new_roots: list[Path] = []
        for folder in wanted:
            if folder in problems:
                statuses.append(FolderStatus(str(folder), False, problems[folder]))
                continue
            covered = policy.watch.recursive and any(
                other != folder and other in folder.parents and other not in problems
                for other in wanted
            )
            if covered:
                statuses.append(FolderStatus(str(folder), True, None))
                continue
            problem = self._ensure_watched(folder, watched_before, policy)
            statuses.append(FolderStatus(str(folder), problem is None, problem))
            if problem is None and folder not in watched_before:
                new_roots.append(folder)
        for folder in watched_before - set(wanted):
            self.watcher.remove(folder)
        roots = tuple(sorted(self.watcher.watched()))
        with self._lock:
            changed = self._view.statuses != tuple(statuses) or self._view.roots != roots
            self._view = replace(
                self._view,
                statuses=tuple(statuses),
                roots=roots,
                ever_seen=self._view.ever_seen | set(roots),
            )
        for folder in new_roots:
            log.info("watching %s", safe_path(folder))
        return changed, new_roots

    def _wanted(self, policy: Policy) -> tuple[list[Path], dict[Path, str], list[FolderStatus]]:
        if self._pattern_source is not None and not self._watch_override:
            patterns = self._pattern_source(policy)
        else:
            patterns = folders.configured_patterns(
                policy.watch.use_default_folders,
                policy.watch.folders,
                self._watch_override,
                registry=self._registry,
            )
        statuses: list[FolderStatus] = []
        wanted: list[Path] = []
        problems: dict[Path, str] = {}
        for pattern in patterns:
            matches = folders.expand_pattern(pattern)
            if folders.is_glob_pattern(pattern) and not matches:
                statuses.append(FolderStatus(folders.expand(pattern), watching=False))
            for folder in matches:
                if folders.is_excluded(folder, policy.watch.exclude) or folder in wanted:
                    continue
                real = Path(os.path.realpath(folder))
                if any(real == mine or mine in real.parents for mine in self._own):
                    problems[folder] = "this is Photogate's own folder"
                wanted.append(folder)
        return wanted, problems, statuses

    def _ensure_watched(
        self, folder: Path, watched_before: set[Path], policy: Policy
    ) -> str | None:
        exists = folder.is_dir() and not folder.is_symlink()
        if folder in watched_before:
            if exists and self._identity.get(folder) == _identity(folder):
                return None
            self.watcher.remove(folder)
            self._identity.pop(folder, None)
            if exists:
                # Replaced in place (`rm -rf W; mkdir W`, `mv OTHER W`): the old watch is on
                # the old folder. Watch the new one; the caller sweeps it as a new root.
                watched_before.discard(folder)
                log.warning("folder replaced: %s (watched again)", safe_path(folder))
                self._events.emit(
                    "folder_replaced", path=folder, policy_version=policy.policy.version
                )
                return self._watch(folder, policy)
            self._events.emit("folder_missing", path=folder, policy_version=policy.policy.version)
            log.warning("folder disappeared: %s", safe_path(folder))
            return "folder disappeared"
        if not exists:
            if folder.is_symlink():
                return "folder is a symbolic link (not followed)"
            with self._lock:
                seen = folder in self._view.ever_seen
            return "folder disappeared" if seen else "folder does not exist yet"
        return self._watch(folder, policy)

    def _watch(self, folder: Path, policy: Policy) -> str | None:
        identity = _identity(folder)
        problem = self.watcher.add(folder, recursive=policy.watch.recursive)
        if problem is None and identity is not None:
            self._identity[folder] = identity
        return problem


def _identity(folder: Path) -> tuple[int, int] | None:
    """(device, inode) of a folder, or None when it cannot be looked at."""
    try:
        info = os.stat(folder, follow_symlinks=False)  # noqa: PTH116 - no link following
    except OSError:
        return None
    return info.st_dev, info.st_ino
