"""The vault's write-ahead journal and its lock.

The journal is append-only JSON lines, each fsynced before the step it announces is taken,
so after a crash (`kill -9`, power loss) the last durable line of every operation says how
far it got. One line: `{"txn": ..., "op": "quarantine"|"restore", "step": ..., ..., "mac": ...}`,
signed with the vault key; agent.vault.journal_schema says which fields each step has.

Whoever holds the vault lock is the only writer; so when a process acquires the lock, every
operation still open in the journal belongs to a process that died, and can be recovered.
The lock is an OS file lock, released by the kernel when its holder dies.

`crash_point(name)` is the test hook for crash-safety tests: when the environment variable
PHOTOGATE_TEST_HOOK_VAULT_CRASH_AT (agent.testhooks; inert in frozen builds) names the
point, the process kills itself with SIGKILL right there.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import hmac
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from agent import platform
from agent.testhooks import VAULT_CRASH_AT, hook_value
from agent.vault.crypto import fsync_dir, sync_data
from agent.vault.journal_schema import FIRST_STEP, validate_entry

JOURNAL_FILE_NAME = "journal.jsonl"
LOCK_FILE_NAME = "vault.lock"
CRASH_ENV = VAULT_CRASH_AT  # a test hook (agent.testhooks): inert in frozen builds
MAX_JOURNAL_LINE_BYTES = 64 * 1024  # one entry holds at most two paths; longer is damage
JOURNAL_COMPACT_BYTES = 1024 * 1024  # bytes of closed lines kept before the journal is emptied
MAX_JOURNAL_BYTES = 64 * 1024 * 1024  # bytes read at recovery: ~200,000 lines, far past any burst
FILE_MODE = 0o600
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # the journal is never reached through a link
_O_BINARY = getattr(os, "O_BINARY", 0)
_REDERIVABLE_STEPS = frozenset({"done", "aborted", "original-removed"})
# Steps whose line the next synced line of the same operation makes durable, written with
# nothing outside tmp/ changed in between (agent.vault.movein: `intent` before `stored`).
_SYNCED_BY_NEXT_STEP = frozenset({("quarantine", "intent")})


def crash_point(name: str) -> None:
    """Die at once (SIGKILL, no cleanup) when the vault crash test hook names `name`.

    A test hook (agent.testhooks): never set in production, inert in a frozen build.
    """
    if hook_value(CRASH_ENV) == name:
        sys.stdout.flush()
        if hasattr(signal, "SIGKILL"):
            os.kill(os.getpid(), signal.SIGKILL)
        os._exit(137)  # Windows: no SIGKILL; exiting without cleanup is the closest


@dataclass
class OpenOperation:
    """An operation the journal shows as unfinished: its steps in order, merged fields.

    Built only from lines whose signature and every field were valid (see `validate_entry`),
    so recovery can use the fields without checking them again.
    """

    txn: str
    op: str
    steps: list[str]
    fields: dict[str, Any]

    @property
    def last_step(self) -> str:
        """The furthest step that was made durable."""
        return self.steps[-1]


class Journal:
    """Append-only, fsynced, signed JSON lines in `<root>/journal.jsonl`.

    Every line carries `mac`: an HMAC-SHA256, with a key derived from the vault key, over
    the line's other fields in canonical JSON. A line that is unsigned, wrongly signed,
    malformed, or names an unknown op, step or field is skipped (and listed in
    `skipped`), never acted on: whoever can append to the file but cannot read the key
    (every user but the service, in protected mode) cannot make recovery do anything.
    """

    def __init__(self, root: Path, mac_key: bytes) -> None:
        self.path = root / JOURNAL_FILE_NAME
        self._mac_key = mac_key
        # What this process knows the journal to be: its size when every line in it was
        # written by us under the lock (None: unknown, read it), and our operations not
        # yet closed. A journal of that size with none open needs no recovery.
        self._known_size: int | None = None
        self._open_txns: set[str] = set()
        self.skipped: list[str] = []  # problems of the lines the last read skipped

    def append(self, txn: str, op: str, step: str, **fields: Any) -> None:
        """Write one signed step durably (write + fdatasync) before the caller acts on it.

        The closing steps (`done`, `aborted`, and `original-removed`, which recovery can
        tell from the disk) skip the sync: if one is lost, recovery re-derives it. A
        quarantine's `intent` skips it too: its `stored` line, made durable before anything
        outside tmp/ changes, makes both durable (a lost `intent` leaves only tmp/ files).
        """
        self.append_many(op, step, [(txn, fields)])

    def append_many(
        self,
        op: str,
        step: str,
        entries: Sequence[tuple[str, dict[str, Any]]],
        *,
        sync: bool | None = None,
    ) -> None:
        """Write one signed line per (txn, fields), all of `op` and `step`, in one write.

        A batch of quarantines writes its `stored`, `original-removed` and `done` lines
        this way: each line is the same as `append` writes (recovery reads them one by
        one, per txn). `sync` None: synced by the step's rule (see `append`); False: the
        caller makes the journal durable itself, together with the files it announces
        (agent.vault.movein flushes content, records and journal at once).
        """
        if not entries:
            return
        lines = []
        for txn, fields in entries:
            entry = {"txn": txn, "op": op, "step": step, **fields}
            entry["mac"] = self._mac(entry)
            lines.append(json.dumps(entry, sort_keys=True, separators=(",", ":")).encode("ascii"))
        data = b"\n".join(lines) + b"\n"
        if sync is None:
            sync = step not in _REDERIVABLE_STEPS and (op, step) not in _SYNCED_BY_NEXT_STEP
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | _O_NOFOLLOW | _O_BINARY
        fd = os.open(self.path, flags, FILE_MODE)
        try:
            size_before = os.fstat(fd).st_size
            written = os.write(fd, data)
            if written != len(data):  # a full disk: never leave half a batch unnoticed
                raise OSError(
                    errno.ENOSPC, "the vault journal could not be written", str(self.path)
                )
            if self._known_size is not None and size_before == self._known_size:
                self._known_size = size_before + len(data)
            else:
                self._known_size = None  # someone else wrote too: recovery reads it
            for txn, _ in entries:
                if step in ("done", "aborted"):
                    self._open_txns.discard(txn)
                else:
                    self._open_txns.add(txn)
            if sync:
                sync_data(fd)  # bytes + length; the journal's mtime is never read
        finally:
            os.close(fd)
        crash_point(step)

    def _mac(self, entry: dict[str, Any]) -> str:
        unsigned = {k: v for k, v in entry.items() if k != "mac"}
        canonical = json.dumps(unsigned, sort_keys=True, separators=(",", ":")).encode("ascii")
        return hmac.new(self._mac_key, canonical, hashlib.sha256).hexdigest()

    def open_operations(self) -> list[OpenOperation]:
        """Operations without a final `done`/`aborted` line, oldest first.

        A torn last line (the process died while writing it) is ignored: that step never
        became durable, so it never happened. Every other line that is not valid is
        skipped and its problem listed in `skipped` (read them once, after this call).
        """
        self.skipped = []
        try:
            raw = _read_bounded(self.path)
        except OSError:
            return []
        operations: dict[str, OpenOperation] = {}
        lines = raw.split(b"\n")
        for number, untrusted_line in enumerate(lines, start=1):
            if not untrusted_line.strip():
                continue
            if number == len(lines):  # no newline after it: torn by a crash, never durable
                continue
            entry, problem = self._parse(untrusted_line)
            if entry is None:
                self.skipped.append(f"journal line {number}: {problem}")
                continue
            txn, op, step = entry.pop("txn"), entry.pop("op"), entry.pop("step")
            operation = operations.setdefault(txn, OpenOperation(txn, op, [], {}))
            mismatch = _mismatch(operation, op, step, entry)
            if mismatch:
                self.skipped.append(f"journal line {number}: {mismatch}")
                continue
            operation.steps.append(step)
            operation.fields.update(entry)
        return [
            o for o in operations.values() if o.steps and o.last_step not in ("done", "aborted")
        ]

    def _parse(self, untrusted_line: bytes) -> tuple[dict[str, Any] | None, str]:
        if len(untrusted_line) > MAX_JOURNAL_LINE_BYTES:
            return None, f"longer than {MAX_JOURNAL_LINE_BYTES} bytes"
        try:
            untrusted = json.loads(untrusted_line)
        except (ValueError, RecursionError):  # a 64 KiB line can nest deeper than the stack
            return None, "not JSON"
        if not isinstance(untrusted, dict):
            return None, "not a JSON object"
        untrusted_mac = untrusted.get("mac")
        if not isinstance(untrusted_mac, str):
            return None, "not signed"
        try:
            expected = self._mac(untrusted)
        except (TypeError, ValueError, RecursionError):  # nested right at the stack's limit
            return None, "not canonical JSON"
        if not hmac.compare_digest(expected, untrusted_mac):
            return None, "signature does not match (not written by this vault)"
        del untrusted["mac"]
        problem = validate_entry(untrusted)
        return (None, problem) if problem else (untrusted, "")

    def needs_recovery(self) -> bool:
        """True unless the journal holds only operations this process wrote and closed.

        Checking costs one stat, not a read of the journal and a listing of the vault: a
        journal whose size is what our own appends made it, with all our operations
        closed, has nothing open. Any other size means another process wrote to it (and
        may have died mid-operation), so it is read and recovered.
        """
        try:
            size = os.stat(self.path, follow_symlinks=False).st_size  # noqa: PTH116
        except FileNotFoundError:
            return False
        if size == 0:
            return False
        return self._known_size is None or size != self._known_size or bool(self._open_txns)

    def settle(self) -> None:
        """An operation ended normally: empty the journal once it is worth it.

        Truncating after every operation would cost a metadata write each time; the
        closed lines are harmless (recovery skips closed operations), so the journal is
        emptied only past JOURNAL_COMPACT_BYTES.
        """
        if self._open_txns:  # operations recovery kept for another try (see `retain`)
            return
        if self._known_size is not None and self._known_size > JOURNAL_COMPACT_BYTES:
            self.clear(durable=False)

    def retain(self, txns: set[str]) -> None:
        """Keep only the valid lines of `txns`, durably (operations recovery could not finish).

        The next holder of the lock finds them open and tries again. Written to a temp file
        beside the journal, synced, then renamed over it: a crash leaves the old journal or
        the new one, never a mix.
        """
        try:
            raw = _read_bounded(self.path)
        except FileNotFoundError:
            return
        kept = []
        for untrusted_line in raw.split(b"\n")[:-1]:  # a torn last piece was never durable
            entry, _ = self._parse(untrusted_line)
            if entry is not None and entry["txn"] in txns:
                kept.append(untrusted_line + b"\n")
        temp = self.path.with_name(self.path.name + ".tmp")
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _O_NOFOLLOW | _O_BINARY
        fd = os.open(temp, flags, FILE_MODE)
        try:
            os.write(fd, b"".join(kept))
            os.fsync(fd)
        finally:
            os.close(fd)
        temp.replace(self.path)
        fsync_dir(self.path.parent)
        self._known_size = sum(len(line) for line in kept)
        self._open_txns = set(txns)

    def clear(self, *, durable: bool = True) -> None:
        """Empty the journal once every operation in it is resolved (holder of the lock only).

        `durable=False` after an operation that completed: if the truncation is lost in
        an OS crash, the next holder re-reads only closed operations (and clears them).
        """
        with contextlib.suppress(FileNotFoundError):
            fd = os.open(self.path, os.O_WRONLY | _O_NOFOLLOW | _O_BINARY)
            try:
                os.ftruncate(fd, 0)
                if durable:
                    os.fsync(fd)
            finally:
                os.close(fd)
        self._known_size = 0
        self._open_txns.clear()


def _read_bounded(path: Path) -> bytes:
    """The journal's bytes, at most MAX_JOURNAL_BYTES (the tail beyond is ignored)."""
    fd = os.open(path, os.O_RDONLY | _O_NOFOLLOW | _O_BINARY)
    with os.fdopen(fd, "rb") as handle:
        return handle.read(MAX_JOURNAL_BYTES)


def _mismatch(operation: OpenOperation, op: str, step: str, entry: dict[str, Any]) -> str:
    """Why a line cannot belong to the operation its txn names ("" when it can)."""
    if not operation.steps and step != FIRST_STEP[op]:
        return f"transaction {operation.txn} starts at {step}, not at {FIRST_STEP[op]}"
    if op != operation.op:
        return f"transaction {operation.txn} changes its op from {operation.op} to {op}"
    known_id = operation.fields.get("id")
    if known_id is not None and entry.get("id") != known_id:
        return f"transaction {operation.txn} names two item ids"
    return ""


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
