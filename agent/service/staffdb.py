"""What staff and IT decided, kept beside the agent's memory (the same sqlite file).

- **Releases.** Restoring an item in place releases *that version at that path*: its
  size, mtime and SHA-256 are recorded before the file goes back, and the pipeline
  never judges that version there again (next event, sweep, restart). A changed file, or
  the same bytes under another path, is judged as usual: IT's SHA-256 allowlist is the
  way to allow bytes everywhere.
- **False-alarm reports.** Staff tell IT an item was a false alarm; the row shows
  "reported" in the review window and in `photogate quarantine list`.
- **Pending verdicts.** The pipeline writes the verdict event's fields here before it
  moves a file into the vault and clears them after the event is written; a crash in
  between leaves the row, and the next start emits the event the crash cut off.

Readers opened read-only on a database from an older version may lack these tables:
every read then answers "nothing recorded" instead of failing.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from agent.service.statedb import FileVersion, StateDB

MAX_NOTE_CHARS = 200  # of a false-alarm note: one line for IT, never file content
MAX_REPORTS_LISTED = 10_000  # rows: reported() never returns more than this
MAX_PENDING_LISTED = 1_000  # rows: pending verdicts recovered at one start


@dataclass(frozen=True)
class Release:
    """One released version: this content, at this path, may stay."""

    path: str
    size: int
    mtime_ns: int
    sha256: str
    item_id: str | None
    released_by: str
    released_at: float
    policy_version: str

    def matches(self, version: FileVersion) -> bool:
        """True when `version` could be the released one (the SHA-256 decides)."""
        return version.size == self.size and version.mtime_ns == self.mtime_ns


@dataclass(frozen=True)
class FalseAlarmReport:
    """Staff said this item was a false alarm."""

    key: str  # the review row's key: "q:<item id>" or "f:<path>"
    item_id: str | None
    sha256: str | None
    note: str
    reported_by: str
    reported_at: float


def one_line_note(untrusted_note: str) -> str:
    """The note as one short line: control characters become spaces, length is capped."""
    flat = "".join(" " if ord(ch) < 32 or ord(ch) == 127 else ch for ch in untrusted_note)
    return " ".join(flat.split())[:MAX_NOTE_CHARS]


def record_release(db: StateDB, release: Release) -> None:
    """Remember `release` (replacing an older release of the same path)."""
    with db.transaction() as conn:
        conn.execute(
            "INSERT OR REPLACE INTO released (path, size, mtime_ns, sha256, item_id,"
            " released_by, released_at, policy_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                os.fsencode(release.path),
                release.size,
                release.mtime_ns,
                release.sha256,
                release.item_id,
                release.released_by,
                release.released_at,
                release.policy_version,
            ),
        )


def move_release(db: StateDB, old_path: str, new_path: str) -> None:
    """The restored file landed under another name than planned: the release follows it."""
    with db.transaction() as conn:
        conn.execute(
            "UPDATE OR REPLACE released SET path = ? WHERE path = ?",
            (os.fsencode(new_path), os.fsencode(old_path)),
        )


def drop_release(db: StateDB, path: str) -> None:
    """Forget the release of `path` (the restore failed)."""
    with db.transaction() as conn:
        conn.execute("DELETE FROM released WHERE path = ?", (os.fsencode(path),))


def release_for(db: StateDB, path: str) -> Release | None:
    """The release recorded for `path`, or None."""
    try:
        with db.transaction() as conn:
            row = conn.execute(
                "SELECT path, size, mtime_ns, sha256, item_id, released_by, released_at,"
                " policy_version FROM released WHERE path = ?",
                (os.fsencode(path),),
            ).fetchone()
    except sqlite3.OperationalError:  # an older database without the table
        return None
    if row is None:
        return None
    return Release(
        path=os.fsdecode(bytes(row[0])),
        size=int(row[1]),
        mtime_ns=int(row[2]),
        sha256=str(row[3]),
        item_id=None if row[4] is None else str(row[4]),
        released_by=str(row[5]),
        released_at=float(row[6]),
        policy_version=str(row[7]),
    )


def record_report(db: StateDB, report: FalseAlarmReport) -> None:
    """Remember that staff reported `report.key` as a false alarm."""
    with db.transaction() as conn:
        conn.execute(
            "INSERT OR REPLACE INTO reports (key, item_id, sha256, note, reported_by,"
            " reported_at) VALUES (?, ?, ?, ?, ?, ?)",
            (
                report.key,
                report.item_id,
                report.sha256,
                one_line_note(report.note),
                report.reported_by,
                report.reported_at,
            ),
        )


def reported(db: StateDB) -> dict[str, FalseAlarmReport]:
    """Every false-alarm report by row key (empty on an older database)."""
    try:
        with db.transaction() as conn:
            rows = conn.execute(
                "SELECT key, item_id, sha256, note, reported_by, reported_at FROM reports"
                " ORDER BY reported_at DESC LIMIT ?",
                (MAX_REPORTS_LISTED,),
            ).fetchall()
    except sqlite3.OperationalError:
        return {}
    return {
        str(row[0]): FalseAlarmReport(
            key=str(row[0]),
            item_id=None if row[1] is None else str(row[1]),
            sha256=None if row[2] is None else str(row[2]),
            note=str(row[3]),
            reported_by=str(row[4]),
            reported_at=float(row[5]),
        )
        for row in rows
    }


def begin_verdict(db: StateDB, path: str, sha256: str | None, fields: dict[str, Any]) -> None:
    """Before a file is moved: the verdict event's fields, in case a crash cuts it off."""
    with db.transaction() as conn:
        conn.execute(
            "INSERT OR REPLACE INTO pending_verdicts (path, sha256, fields, started_at)"
            " VALUES (?, ?, ?, ?)",
            (os.fsencode(path), sha256, json.dumps(fields, default=str), time.time()),
        )


def end_verdict(db: StateDB, path: str) -> None:
    """The verdict event was written: nothing to recover for `path`."""
    with db.transaction() as conn:
        conn.execute("DELETE FROM pending_verdicts WHERE path = ?", (os.fsencode(path),))


def pending_verdicts(db: StateDB) -> list[tuple[str, str | None, dict[str, Any], float]]:
    """(path, sha256, event fields, started_at) of verdicts a crash cut off."""
    with db.transaction() as conn:
        rows = conn.execute(
            "SELECT path, sha256, fields, started_at FROM pending_verdicts LIMIT ?",
            (MAX_PENDING_LISTED,),
        ).fetchall()
    result = []
    for row in rows:
        try:
            fields = json.loads(str(row[2]))
        except ValueError:
            fields = {}
        if not isinstance(fields, dict):
            fields = {}
        result.append(
            (os.fsdecode(bytes(row[0])), None if row[1] is None else str(row[1]), fields, row[3])
        )
    return result
