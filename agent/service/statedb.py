"""The agent's memory of what it inspected (sqlite, WAL mode, bounded).

One row per path holds the version last judged (device, inode, size, mtime_ns, ctime_ns:
rewriting a file in place and restoring its old mtime still changes its ctime), its SHA-256,
verdict and action, so a sweep re-reads only files that changed and a second event for
unchanged content (a Zone.Identifier or xattr write) gets no second verdict. Paths are
stored as bytes (`os.fsencode`), so names that are not valid UTF-8 round-trip exactly.
Totals live in a separate counter table, so pruning old rows never lowers them.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_ROWS = 200_000  # rows: the oldest are pruned beyond this (a sweep re-inspects them)
PRUNE_EVERY_WRITES = 1_000  # writes between checks of the row bound
BUSY_TIMEOUT_SECONDS = 5.0  # seconds a reader/writer waits for the other process's lock
MAX_FLAGGED_LISTED = 1_000  # rows: list_flagged() never returns more than this

ACTIONS_FLAGGED = ("flag",)
DEFERRED_ACTION = "deferred"  # inspected while paused: not final, the next sweep re-judges
RELEASED_ACTION = "released"  # a version staff or IT restored: final, never counted again
QUARANTINE_FAILED_ACTION = "quarantine_failed"  # dangerous, still in place: retried
RETRY_ACTIONS = (DEFERRED_ACTION, QUARANTINE_FAILED_ACTION)  # never final for a version

_SCHEMA = """
CREATE TABLE IF NOT EXISTS inspected (
    path BLOB PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    dev INTEGER NOT NULL DEFAULT 0,
    ctime_ns INTEGER NOT NULL DEFAULT 0,
    sha256 TEXT,
    detected_type TEXT,
    verdict TEXT NOT NULL,
    action TEXT NOT NULL,
    findings TEXT NOT NULL,
    item_id TEXT,
    folder BLOB,
    inspected_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS inspected_action ON inspected(action, inspected_at);
CREATE INDEX IF NOT EXISTS inspected_at ON inspected(inspected_at);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
# Staff and IT records (agent.service.staffdb): releases, false-alarm reports, and verdicts
# begun but not yet announced (crash recovery re-emits them).
_STAFF_SCHEMA = """
CREATE TABLE IF NOT EXISTS released (
    path BLOB PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    item_id TEXT,
    released_by TEXT NOT NULL,
    released_at REAL NOT NULL,
    policy_version TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS reports (
    key TEXT PRIMARY KEY,
    item_id TEXT,
    sha256 TEXT,
    note TEXT NOT NULL,
    reported_by TEXT NOT NULL,
    reported_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS pending_verdicts (
    path BLOB PRIMARY KEY,
    sha256 TEXT,
    fields TEXT NOT NULL,
    started_at REAL NOT NULL
);
"""


# Columns added after the first release: (name, declaration) added to older databases.
_ADDED_COLUMNS = (
    ("dev", "INTEGER NOT NULL DEFAULT 0"),
    ("ctime_ns", "INTEGER NOT NULL DEFAULT 0"),
)
_VERSION_COLUMNS = "size, mtime_ns, inode, dev, ctime_ns"


@dataclass(frozen=True)
class FileVersion:
    """What identifies one version of a file without reading it.

    Any change of device, inode, size, mtime or ctime is a new version. ctime matters:
    a program can rewrite a judged file in place with the same size and set its old mtime
    back (`os.utime`), but it cannot set the ctime back.
    """

    size: int
    mtime_ns: int
    inode: int
    dev: int = 0
    ctime_ns: int = 0

    @classmethod
    def of(cls, stat: os.stat_result) -> FileVersion:
        """The version described by an `os.lstat` result."""
        return cls(
            size=stat.st_size,
            mtime_ns=stat.st_mtime_ns,
            inode=stat.st_ino,
            dev=stat.st_dev,
            ctime_ns=stat.st_ctime_ns,
        )


@dataclass(frozen=True)
class InspectedRecord:
    """One row: the last judged version of a path and what was done about it."""

    path: str  # os.fsdecode of the stored bytes (surrogate-escaped when not UTF-8)
    version: FileVersion
    sha256: str | None
    detected_type: str | None
    verdict: str
    action: str
    finding_codes: tuple[str, ...]
    item_id: str | None
    folder: str | None
    inspected_at: float


@dataclass(frozen=True)
class Counts:
    """Totals since the database was created."""

    inspected: int = 0
    quarantined: int = 0
    flagged: int = 0
    unreviewed: int = 0


def _fs_bytes(path: str | os.PathLike[str]) -> bytes:
    return os.fsencode(path)


class StateDB:
    """Thread-safe access to the state database; several processes may open it (WAL)."""

    def __init__(self, path: Path, *, readonly: bool = False, max_rows: int = MAX_ROWS) -> None:
        self.path = path
        self._max_rows = max_rows
        # Re-entrant: a batch (`batch()`) holds it while record() and transaction() run.
        self._lock = threading.RLock()
        self._batch_depth = 0  # > 0 inside batch(): writes are committed when it ends
        self._writes = 0
        self._readonly = readonly
        if readonly:
            uri = f"{path.absolute().as_uri()}?mode=ro"
            self._conn = sqlite3.connect(
                uri, uri=True, timeout=BUSY_TIMEOUT_SECONDS, check_same_thread=False
            )
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                str(path), timeout=BUSY_TIMEOUT_SECONDS, check_same_thread=False
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode survives a process crash; only an OS crash may lose the
            # last commits, and then the sweep simply inspects those files again.
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(_SCHEMA + _STAFF_SCHEMA)
            self._add_missing_columns()
            self._conn.commit()
            path.chmod(0o600)

    def _add_missing_columns(self) -> None:
        # A database written by an older agent lacks the newer version columns: its rows
        # then never match a current version, so each file is judged once more.
        present = {row[1] for row in self._conn.execute("PRAGMA table_info(inspected)")}
        for name, declaration in _ADDED_COLUMNS:
            if name not in present:
                self._conn.execute(f"ALTER TABLE inspected ADD COLUMN {name} {declaration}")

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> StateDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def lookup(self, path: str | os.PathLike[str]) -> InspectedRecord | None:
        """The record for `path`, or None if it was never inspected."""
        with self._lock:
            row = self._conn.execute(
                f"SELECT path, {_VERSION_COLUMNS}, sha256, detected_type, verdict, action,"  # noqa: S608 - constant column list
                " findings, item_id, folder, inspected_at FROM inspected WHERE path = ?",
                (_fs_bytes(path),),
            ).fetchone()
        return None if row is None else _record(row)

    def is_current(self, path: str | os.PathLike[str], version: FileVersion) -> bool:
        """True when this exact version of `path` already has a final verdict."""
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_VERSION_COLUMNS}, action FROM inspected WHERE path = ?",  # noqa: S608 - constant column list
                (_fs_bytes(path),),
            ).fetchone()
        if row is None or row[5] in RETRY_ACTIONS:
            return False
        return FileVersion(*(int(value) for value in row[:5])) == version

    def record(
        self,
        path: str | os.PathLike[str],
        version: FileVersion,
        *,
        verdict: str,
        action: str,
        finding_codes: tuple[str, ...] = (),
        sha256: str | None = None,
        detected_type: str | None = None,
        item_id: str | None = None,
        folder: str | os.PathLike[str] | None = None,
        when: float | None = None,
        count: bool = True,
        retried: bool = False,
    ) -> None:
        """Remember the verdict for this version of `path` and (with `count`) bump the totals.

        `retried`: a file whose move failed before was judged again; it was counted as
        inspected then, so only the outcome is counted now.
        """
        now = time.time() if when is None else when
        with self._lock:
            self._conn.execute(
                f"INSERT OR REPLACE INTO inspected (path, {_VERSION_COLUMNS}, sha256,"  # noqa: S608 - constant column list
                " detected_type, verdict, action, findings, item_id, folder, inspected_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    _fs_bytes(path),
                    version.size,
                    version.mtime_ns,
                    version.inode,
                    version.dev,
                    version.ctime_ns,
                    sha256,
                    detected_type,
                    verdict,
                    action,
                    json.dumps(list(finding_codes)),
                    item_id,
                    None if folder is None else _fs_bytes(folder),
                    now,
                ),
            )
            if count and action not in (DEFERRED_ACTION, RELEASED_ACTION):
                if not retried:
                    self._bump("inspected")
                if action == "quarantine":
                    self._bump("quarantined")
                    self._bump("unreviewed")
                elif action in ACTIONS_FLAGGED:
                    self._bump("flagged")
                    self._bump("unreviewed")
            self._commit()
            self._writes += 1
            if self._writes % PRUNE_EVERY_WRITES == 0:
                self._prune()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """The connection, under the lock, committed on success (agent.service.staffdb uses it).

        Inside `batch()` it is part of the batch's one transaction."""
        with self._lock:
            try:
                yield self._conn
            except BaseException:
                if self._batch_depth == 0:
                    self._conn.rollback()
                raise
            self._commit()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Every write inside is one transaction, committed once at the end (a burst of
        verdicts: one commit instead of one per file); rolled back as a whole on error.

        The lock is held throughout, so other threads wait for the batch (milliseconds)."""
        with self._lock:
            self._batch_depth += 1
            try:
                yield
            except BaseException:
                self._batch_depth -= 1
                if self._batch_depth == 0:
                    self._conn.rollback()
                raise
            self._batch_depth -= 1
            self._commit()

    def _commit(self) -> None:
        """Commit now, unless a batch commits later (the caller holds the lock)."""
        if self._batch_depth == 0:
            self._conn.commit()

    @property
    def readonly(self) -> bool:
        """True when opened read-only (the tables of newer versions may be missing)."""
        return self._readonly

    def refresh_version(self, path: str | os.PathLike[str], version: FileVersion) -> None:
        """Same content, new ctime (an xattr was written): remember the new version."""
        with self._lock:
            self._conn.execute(
                "UPDATE inspected SET size = ?, mtime_ns = ?, inode = ?, dev = ?, ctime_ns = ?"
                " WHERE path = ?",
                (version.size, version.mtime_ns, version.inode, version.dev, version.ctime_ns,
                 _fs_bytes(path)),
            )  # fmt: skip
            self._commit()

    def forget_failed(self, path: str | os.PathLike[str]) -> None:
        """The path of a file we could not move is gone: stop counting it as unmoved."""
        with self._lock:
            self._conn.execute(
                "DELETE FROM inspected WHERE path = ? AND action = ?",
                (_fs_bytes(path), QUARANTINE_FAILED_ACTION),
            )
            self._commit()

    def failed_count(self) -> int:
        """Dangerous files we could not move that were still there when last looked at."""
        with self._lock:
            row = self._conn.execute(
                "SELECT COUNT(*) FROM inspected WHERE action = ?", (QUARANTINE_FAILED_ACTION,)
            ).fetchone()
        return int(row[0])

    def forget(self, path: str | os.PathLike[str]) -> None:
        """Drop the record of `path` (e.g. a flagged file was restored or deleted)."""
        with self._lock:
            self._conn.execute("DELETE FROM inspected WHERE path = ?", (_fs_bytes(path),))
            self._commit()

    def list_flagged(self, limit: int = MAX_FLAGGED_LISTED) -> list[InspectedRecord]:
        """Flagged files (left in place with a marker), newest first, for the review window."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT path, {_VERSION_COLUMNS}, sha256, detected_type, verdict, action,"  # noqa: S608 - constant column list
                " findings, item_id, folder, inspected_at FROM inspected"
                " WHERE action IN ('flag') ORDER BY inspected_at DESC LIMIT ?",
                (min(limit, MAX_FLAGGED_LISTED),),
            ).fetchall()
        return [_record(row) for row in rows]

    def counts(self) -> Counts:
        """Totals: inspected, quarantined, flagged, and unreviewed since the last review."""
        with self._lock:
            rows = dict(self._conn.execute("SELECT name, value FROM counters").fetchall())
        return Counts(
            inspected=int(rows.get("inspected", 0)),
            quarantined=int(rows.get("quarantined", 0)),
            flagged=int(rows.get("flagged", 0)),
            unreviewed=int(rows.get("unreviewed", 0)),
        )

    def reset_unreviewed(self) -> None:
        """The review window was opened: nothing is unreviewed any more."""
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO counters (name, value) VALUES ('unreviewed', 0)"
            )
            self._commit()

    def row_count(self) -> int:
        """How many paths are remembered."""
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM inspected").fetchone()[0])

    def _bump(self, name: str) -> None:
        self._conn.execute(
            "INSERT INTO counters (name, value) VALUES (?, 1)"
            " ON CONFLICT(name) DO UPDATE SET value = value + 1",
            (name,),
        )

    def _prune(self) -> None:
        # Keep flagged rows (the review window lists them); drop the oldest of the rest.
        excess = int(self._conn.execute("SELECT COUNT(*) FROM inspected").fetchone()[0])
        excess -= self._max_rows
        if excess > 0:
            self._conn.execute(
                "DELETE FROM inspected WHERE path IN (SELECT path FROM inspected"
                " WHERE action != 'flag' ORDER BY inspected_at ASC LIMIT ?)",
                (excess,),
            )
            self._commit()


def _record(row: tuple[Any, ...]) -> InspectedRecord:
    path, size, mtime_ns, inode, dev, ctime_ns = row[:6]
    sha256, detected_type, verdict, action, findings, item_id, folder, inspected_at = row[6:]
    try:
        codes = tuple(str(code) for code in json.loads(str(findings)))
    except ValueError:
        codes = ()
    return InspectedRecord(
        path=os.fsdecode(bytes(path)),
        version=FileVersion(int(size), int(mtime_ns), int(inode), int(dev), int(ctime_ns)),
        sha256=None if sha256 is None else str(sha256),
        detected_type=None if detected_type is None else str(detected_type),
        verdict=str(verdict),
        action=str(action),
        finding_codes=codes,
        item_id=None if item_id is None else str(item_id),
        folder=None if folder is None else os.fsdecode(bytes(folder)),
        inspected_at=float(inspected_at),
    )
