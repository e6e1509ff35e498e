"""The state database: one verdict per version, byte-exact paths, bounded, shared (WAL)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from agent.service.statedb import DEFERRED_ACTION, FileVersion, StateDB


def version(size: int = 10, mtime_ns: int = 1_000, inode: int = 7) -> FileVersion:
    return FileVersion(size=size, mtime_ns=mtime_ns, inode=inode)


def test_a_recorded_version_is_current_and_a_changed_one_is_not(tmp_path: Path) -> None:
    with StateDB(tmp_path / "s.db") as db:
        db.record("/w/a.jpg", version(), verdict="clean", action="log", sha256="ab" * 32)
        assert db.is_current("/w/a.jpg", version())
        assert not db.is_current("/w/a.jpg", version(size=11))
        assert not db.is_current("/w/a.jpg", version(mtime_ns=2_000))
        assert not db.is_current("/w/a.jpg", version(inode=8))  # renamed over: new inode
        assert not db.is_current("/w/b.jpg", version())


def test_version_of_a_real_file_sees_an_in_place_rewrite_with_its_old_mtime(
    tmp_path: Path,
) -> None:
    """Issue 13: same size, old mtime put back with utime: still a new version (ctime)."""
    target = tmp_path / "a.jpg"
    target.write_bytes(b"12345")
    before = FileVersion.of(os.lstat(target))
    old = os.lstat(target)
    with target.open("r+b") as handle:
        handle.write(b"EVIL!")
    os.utime(target, ns=(old.st_atime_ns, old.st_mtime_ns))
    after = FileVersion.of(os.lstat(target))
    assert (after.size, after.mtime_ns, after.inode) == (before.size, before.mtime_ns, before.inode)
    assert after != before and after.ctime_ns != before.ctime_ns
    assert (after.dev, after.inode) == (os.lstat(target).st_dev, os.lstat(target).st_ino)
    with StateDB(tmp_path / "s.db") as db:
        db.record(target, before, verdict="clean", action="log")
        assert db.is_current(target, before)
        assert not db.is_current(target, after)
        assert db.lookup(target).version == before  # all five fields round-trip


def test_deferred_records_are_not_final(tmp_path: Path) -> None:
    with StateDB(tmp_path / "s.db") as db:
        db.record("/w/a.jpg", version(), verdict="quarantine", action=DEFERRED_ACTION)
        assert not db.is_current("/w/a.jpg", version())
        assert db.counts().inspected == 0


def test_invalid_utf8_and_hostile_paths_round_trip(tmp_path: Path) -> None:
    names = [
        os.fsdecode(b"/w/bad\xff\xfe.jpg"),
        "/w/line\nbreak.jpg",
        "/w/invoice_\u202egpj.exe",
        "/w/" + "a" * 251 + ".jpg",
    ]
    with StateDB(tmp_path / "s.db") as db:
        for index, name in enumerate(names):
            db.record(name, version(inode=index), verdict="flag", action="flag")
        for index, name in enumerate(names):
            record = db.lookup(name)
            assert record is not None and record.path == name
            assert os.fsencode(record.path) == os.fsencode(name)
            assert db.is_current(name, version(inode=index))
        assert {r.path for r in db.list_flagged()} == set(names)


def test_counts_and_review_reset(tmp_path: Path) -> None:
    with StateDB(tmp_path / "s.db") as db:
        db.record("/w/1", version(), verdict="clean", action="log")
        db.record("/w/2", version(), verdict="quarantine", action="quarantine", item_id="i1")
        db.record("/w/3", version(), verdict="flag", action="flag")
        counts = db.counts()
        assert (counts.inspected, counts.quarantined, counts.flagged) == (3, 1, 1)
        assert counts.unreviewed == 2
        db.reset_unreviewed()
        assert db.counts().unreviewed == 0
        assert db.counts().inspected == 3
        assert [r.path for r in db.list_flagged()] == ["/w/3"]
        assert db.lookup("/w/2").item_id == "i1"


def test_rows_are_bounded_but_flagged_rows_and_totals_stay(tmp_path: Path) -> None:
    with StateDB(tmp_path / "s.db", max_rows=50) as db:
        db.record("/w/flagged", version(), verdict="flag", action="flag", when=0.0)
        for index in range(1_100):  # crosses one prune check (every 1,000 writes)
            db.record(f"/w/{index}", version(), verdict="clean", action="log", when=1.0 + index)
        assert db.row_count() == 50 + 101  # pruned to 50 at write 1,000, then 101 more
        assert db.lookup("/w/flagged") is not None
        assert db.lookup("/w/1099") is not None
        assert db.lookup("/w/0") is None
        assert db.counts().inspected == 1_101


_READER_SCRIPT = """
import json, sys
from pathlib import Path
from agent.service.statedb import StateDB
with StateDB(Path(sys.argv[1]), readonly=True) as reader:
    print(json.dumps(sorted(r.path for r in reader.list_flagged())))
"""


def _read_in_another_process(path: Path) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", _READER_SCRIPT, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout))


def test_wal_mode_and_a_second_reader_process_view(tmp_path: Path) -> None:
    """The review window and `status` read the DB from their own process while the agent writes."""
    path = tmp_path / "s.db"
    with StateDB(path) as writer:
        writer.record("/w/a", version(), verdict="flag", action="flag")
        mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"
        assert _read_in_another_process(path) == ["/w/a"]
        writer.record("/w/b", version(), verdict="flag", action="flag")
        assert _read_in_another_process(path) == ["/w/a", "/w/b"]
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_forget(tmp_path: Path) -> None:
    with StateDB(tmp_path / "s.db") as db:
        db.record("/w/a", version(), verdict="flag", action="flag")
        db.forget("/w/a")
        assert db.lookup("/w/a") is None
        assert db.list_flagged() == []


def test_a_batch_is_one_transaction_seen_by_other_processes_only_when_it_ends(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.db"
    with StateDB(path) as db:
        with db.batch():
            db.record("/w/a", version(), verdict="flag", action="flag")
            with db.transaction() as conn:  # a nested transaction commits with the batch
                conn.execute("INSERT INTO counters (name, value) VALUES ('probe', 5)")
            db.record("/w/b", version(), verdict="flag", action="flag")
            assert _read_in_another_process(path) == []  # nothing committed yet
            assert db.lookup("/w/b") is not None  # our own connection sees it
        assert _read_in_another_process(path) == ["/w/a", "/w/b"]
        assert db.counts().flagged == 2


def test_a_failed_batch_is_rolled_back_as_a_whole(tmp_path: Path) -> None:
    with StateDB(tmp_path / "s.db") as db:
        db.record("/w/before", version(), verdict="flag", action="flag")
        try:
            with db.batch():
                db.record("/w/a", version(), verdict="flag", action="flag")
                db.record("/w/b", version(), verdict="flag", action="flag")
                raise sqlite3.OperationalError("database or disk is full")
        except sqlite3.OperationalError:
            pass
        assert [r.path for r in db.list_flagged()] == ["/w/before"]
        assert db.counts().flagged == 1
        db.record("/w/after", version(), verdict="flag", action="flag")  # usable again
        assert sorted(r.path for r in db.list_flagged()) == ["/w/after", "/w/before"]
