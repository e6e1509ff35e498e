"""The vault's write-ahead journal and its lock.

The journal is append-only JSON lines, each fsynced before the step it announces is taken,
so after a crash (`kill -9`, power loss) the last durable line of every operation says how
far it got. One line: `{"txn": ..., "op": "quarantine"|"restore", "step": ..., ...}`.

Whoever holds the vault lock is the only writer; so when a process acquires the lock, every
operation still open in the journal belongs to a process that died, and can be recovered.
The lock is an OS file lock, released by the kernel when its holder dies.

`crash_point(name)` is the test hook for crash-safety tests: when the environment variable
PHOTOGATE_VAULT_CRASH_AT names the point, the process kills itself with SIGKILL right there.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from agent import platform

JOURNAL_FILE_NAME = "journal.jsonl"
LOCK_FILE_NAME = "vault.lock"
CRASH_ENV = "PHOTOGATE_VAULT_CRASH_AT"
MAX_JOURNAL_LINE_BYTES = 64 * 1024  # one entry holds at most two paths; longer is damage
FILE_MODE = 0o600
_REDERIVABLE_STEPS = frozenset({"done", "aborted", "original-removed"})


def crash_point(name: str) -> None:
    """Die at once (SIGKILL, no cleanup) when PHOTOGATE_VAULT_CRASH_AT == name. Tests only."""
    if os.environ.get(CRASH_ENV) == name:
        sys.stdout.flush()
        if hasattr(signal, "SIGKILL"):
            os.kill(os.getpid(), signal.SIGKILL)
        os._exit(137)  # Windows: no SIGKILL; exiting without cleanup is the closest


@dataclass
class OpenOperation:
    """An operation the journal shows as unfinished: its steps in order, merged fields."""

    txn: str
    op: str
    steps: list[str]
    fields: dict[str, Any]

    @property
    def last_step(self) -> str:
        """The furthest step that was made durable."""
        return self.steps[-1]


class Journal:
    """Append-only, fsynced JSON lines in `<root>/journal.jsonl`."""

    def __init__(self, root: Path) -> None:
        self.path = root / JOURNAL_FILE_NAME

    def append(self, txn: str, op: str, step: str, **fields: Any) -> None:
        """Write one step durably (write + fsync) before the caller acts on it.

        The closing steps (`done`, `aborted`, and `original-removed`, which recovery can
        tell from the disk) skip the fsync: if one is lost, recovery re-derives it.
        """
        entry = {"txn": txn, "op": op, "step": step, **fields}
        line = json.dumps(entry, sort_keys=True, separators=(",", ":")).encode("ascii") + b"\n"
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0)
        fd = os.open(self.path, flags, FILE_MODE)
        try:
            os.write(fd, line)
            if step not in _REDERIVABLE_STEPS:
                os.fsync(fd)
        finally:
            os.close(fd)
        crash_point(step)

    def open_operations(self) -> list[OpenOperation]:
        """Operations without a final `done`/`aborted` line, oldest first.

        A torn last line (the process died while writing it) is ignored: that step never
        became durable, so it never happened.
        """
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        operations: dict[str, OpenOperation] = {}
        for untrusted_line in raw.split(b"\n"):
            entry = _parse_line(untrusted_line)
            if entry is None:
                continue
            txn, op, step = str(entry.pop("txn")), str(entry.pop("op")), str(entry.pop("step"))
            operation = operations.setdefault(txn, OpenOperation(txn, op, [], {}))
            operation.steps.append(step)
            operation.fields.update(entry)
        return [o for o in operations.values() if o.last_step not in ("done", "aborted")]

    def clear(self) -> None:
        """Empty the journal once every operation in it is resolved (holder of the lock only)."""
        with contextlib.suppress(FileNotFoundError):
            fd = os.open(self.path, os.O_WRONLY | getattr(os, "O_BINARY", 0))
            try:
                os.ftruncate(fd, 0)
                os.fsync(fd)
            finally:
                os.close(fd)


def _parse_line(untrusted_line: bytes) -> dict[str, Any] | None:
    if not untrusted_line.strip() or len(untrusted_line) > MAX_JOURNAL_LINE_BYTES:
        return None
    try:
        entry = json.loads(untrusted_line)
    except ValueError:
        return None
    if not isinstance(entry, dict) or not {"txn", "op", "step"} <= entry.keys():
        return None
    return entry


class VaultLock:
    """Exclusive lock on the vault: an OS file lock plus a thread lock for this process."""

    def __init__(self, root: Path) -> None:
        self._path = root / LOCK_FILE_NAME
        self._thread_lock = threading.Lock()  # not re-entrant: flock would deadlock

    @contextlib.contextmanager
    def hold(self, *, blocking: bool = True) -> Iterator[bool]:
        """Hold the lock for the `with` body; yields False when non-blocking and busy."""
        if not self._thread_lock.acquire(blocking=blocking):
            yield False
            return
        try:
            with open(self._path, "a+b") as handle:
                if not _lock_file(handle, blocking=blocking):
                    yield False
                    return
                try:
                    yield True
                finally:
                    _unlock_file(handle)
        finally:
            self._thread_lock.release()


def _lock_file(handle: BinaryIO, *, blocking: bool) -> bool:
    return platform.lock_fd(handle.fileno(), blocking=blocking)


def _unlock_file(handle: BinaryIO) -> None:
    platform.unlock_fd(handle.fileno())
