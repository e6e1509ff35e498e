"""Reconciliation sweeps: walk watched folders for files that have no current verdict.

Events get lost (ReadDirectoryChangesW overflows, the agent not running), so the service
sweeps every watched folder at start, periodically and when a folder appears. A sweep is
a plain queue of folders still to list and files still to hand out: walking is iterative,
so no shape of folder tree (thousands of new folders at once, chains thousands deep) can
exhaust the stack, and queuing one more folder costs one queue entry.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Iterable
from pathlib import Path

from agent import platform
from agent.service.pipeline import Scope
from agent.service.statedb import FileVersion, StateDB

MAX_LISTED_REMEMBERED = 100_000  # folders remembered as listed between two full sweeps


class Sweep:
    """Folders to walk and files found without a current verdict, handed out in batches.

    `add` queues roots (with the scope in force when they were added); `take` lists
    folders as needed and returns up to `count` paths whose version the state DB has not
    judged. The sweep is `active` until every queued folder has been listed and handed out.
    """

    def __init__(self, statedb: StateDB, stop: threading.Event) -> None:
        self._statedb = statedb
        self._stop = stop
        self._folders: deque[tuple[str, str, Scope]] = deque()  # (path, real path, scope)
        self._pending: set[str] = set()  # folders queued and not yet listed
        # folders listed by this sweep -> their inode (forgotten when the sweep ends)
        self._listed: dict[str, int] = {}
        self._files: deque[str] = deque()

    @property
    def active(self) -> bool:
        """True while folders remain to be listed or found files to be handed out."""
        return bool(self._folders or self._files)

    def add(self, roots: Iterable[Path], scope: Scope, *, fresh: bool = False) -> None:
        """Queue `roots` to be walked under `scope` (its ignore rules and recursion).

        A root inside a folder still waiting to be listed is left out: that listing will
        reach it; so is a folder this sweep already listed (same inode: a replaced folder is
        listed again). So a tree moved in, which watchdog reports as one new folder per
        level, is walked once (linear in its size), not once per level (quadratic).
        `fresh` (a full sweep: periodic, requested, new watched roots) forgets what was listed.
        """
        if fresh or len(self._listed) > MAX_LISTED_REMEMBERED:
            self._listed.clear()
        for root in roots:
            text = str(root)
            if self._covered(text) or self._already_listed(text):
                continue
            self._folders.append((text, os.path.realpath(text), scope))
            self._pending.add(text)

    def _already_listed(self, folder: str) -> bool:
        inode = self._listed.get(folder)
        if inode is None:
            return False
        try:
            return os.stat(folder, follow_symlinks=False).st_ino == inode  # noqa: PTH116
        except OSError:
            return True  # gone: nothing to list

    def _covered(self, folder: str) -> bool:
        """True when `folder` or one of its parents is queued to be listed."""
        if not self._pending:
            return False
        current = folder
        while True:
            if current in self._pending:
                return True
            parent = os.path.dirname(current)  # noqa: PTH120 - strings, cheap per level
            if parent == current:
                return False
            current = parent

    def take(self, count: int) -> list[str]:
        """Up to `count` paths to judge; lists queued folders one at a time as needed."""
        found: list[str] = []
        while len(found) < count and not self._stop.is_set():
            if self._files:
                found.append(self._files.popleft())
                continue
            if not self._folders:
                break
            directory, real, scope = self._folders.popleft()
            self._pending.discard(directory)
            self._list(directory, real, scope)
        return found

    def _list(self, directory: str, real: str, scope: Scope) -> None:
        try:
            self._listed[directory] = os.stat(directory, follow_symlinks=False).st_ino  # noqa: PTH116
            with os.scandir(directory) as listing:
                entries = list(listing)
        except OSError:
            return
        for entry in entries:
            if scope.is_ignored_name((entry.name,)):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    # Not a link, so its real path is the parent's plus its name: no
                    # realpath() per folder, which costs one lstat per level of depth.
                    child_real = os.path.join(real, entry.name)  # noqa: PTH118
                    if scope.recursive and not scope.is_excluded_real(child_real):
                        self._folders.append((entry.path, child_real, scope))
                        self._pending.add(entry.path)
                    continue
                if not entry.is_file(follow_symlinks=False):
                    continue
                # DirEntry.stat() has st_ino 0 on Windows: the identity comes from entry_inode.
                info = entry.stat(follow_symlinks=False)
                version = FileVersion(info.st_size, info.st_mtime_ns, platform.entry_inode(entry))
            except OSError:
                continue
            if not self._statedb.is_current(entry.path, version):
                self._files.append(entry.path)
