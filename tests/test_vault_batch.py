"""Group commit: `Vault.quarantine_many` moves a batch with one flush, each file on its own.

One file failing (changed after inspection, changed while moved, gone, a link) stays where
it is with its own error; the others are moved. The durability calls are counted: one
flush of every content, record and the journal, one fsync of items/, one per folder.
"""

from __future__ import annotations

import base64
import errno
import json
import os
import stat
import sys
import types
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import agent.vault.movein
from agent import platform
from agent.errors import VaultError
from agent.vault.crypto import CHUNK_BYTES, VaultKeys, load_or_create_key
from agent.vault.journal import Journal
from agent.vault.store import QuarantineItem, QuarantineRequest, Vault
from tests.vault_helpers import FINDINGS, sample_bytes, sha256_hex

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="fd paths are read from /proc (Linux)"
)
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX uids, modes, unlinkat")
# Windows opens the source without write sharing: nothing can change it while it is read.
changeable_while_open = pytest.mark.skipif(
    sys.platform == "win32", reason="Windows: the open source cannot be written to"
)


def _drop(folder: Path, count: int, *, seed: int = 0) -> dict[Path, bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for index in range(count):
        path = folder / f"scan-{index}.jpg"
        files[path] = sample_bytes(seed + index, 1000 + index)
        path.write_bytes(files[path])
    return files


def _requests(files: dict[Path, bytes]) -> list[QuarantineRequest]:
    return [
        QuarantineRequest(path, FINDINGS, "jpeg", "p1", expected_sha256=sha256_hex(data))
        for path, data in files.items()
    ]


def _journal_steps(root: Path) -> list[tuple[str, str]]:
    """(txn, step) of every journal line, in order."""
    lines = (root / "journal.jsonl").read_bytes().splitlines()
    return [(json.loads(line)["txn"], json.loads(line)["step"]) for line in lines]


def _steps_per_txn(root: Path) -> list[list[str]]:
    per_txn: dict[str, list[str]] = {}
    for txn, step in _journal_steps(root):
        per_txn.setdefault(txn, []).append(step)
    return list(per_txn.values())


def test_a_batch_moves_every_file_in_and_returns_one_record_each(tmp_path: Path) -> None:
    files = _drop(tmp_path / "Downloads", 5)
    vault = Vault(tmp_path / "vault", clock=lambda: 1234.5)

    results = vault.quarantine_many(_requests(files))

    assert len(results) == 5
    for (path, data), result in zip(files.items(), results, strict=True):
        assert isinstance(result, QuarantineItem)
        assert not path.exists()
        assert result.original_path == str(path) and result.name == path.name
        assert result.size == len(data) and result.sha256 == sha256_hex(data)
        assert result.quarantined_at == 1234.5 and result.policy_version == "p1"
        assert result.findings == FINDINGS and result.detected_type == "jpeg"
        assert vault.read_content(result.id) == data
    assert sorted(i.id for i in vault.items()) == sorted(r.id for r in results)  # type: ignore[union-attr]
    assert os.listdir(tmp_path / "vault" / "tmp") == []
    assert (
        _steps_per_txn(tmp_path / "vault") == [["intent", "stored", "original-removed", "done"]] * 5
    )


def test_a_file_changed_after_inspection_stays_and_the_rest_are_moved(tmp_path: Path) -> None:
    files = _drop(tmp_path / "Downloads", 4)
    requests = _requests(files)
    changed = list(files)[2]
    changed.write_bytes(b"rewritten after it was inspected")

    results = Vault(tmp_path / "vault").quarantine_many(requests)
    steps = _steps_per_txn(tmp_path / "vault")  # before a new open recovers and clears it

    assert isinstance(results[2], VaultError)
    assert "changed after it was inspected; left in place" in str(results[2])
    assert changed.read_bytes() == b"rewritten after it was inspected"
    for index in (0, 1, 3):
        assert isinstance(results[index], QuarantineItem)
        assert not list(files)[index].exists()
    vault = Vault(tmp_path / "vault")
    assert sorted(i.original_path for i in vault.items()) == sorted(
        str(p) for i, p in enumerate(files) if i != 2
    )
    assert len(os.listdir(tmp_path / "vault" / "items")) == 6  # three contents, three records
    assert steps.count(["intent", "aborted"]) == 1
    assert steps.count(["intent", "stored", "original-removed", "done"]) == 3


@changeable_while_open
def test_a_file_changed_while_the_batch_is_moved_stays_with_its_own_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Appended to once every copy is durable in items/: only that original stays."""
    files = _drop(tmp_path / "Downloads", 3)
    growing = list(files)[1]
    real_crash_point = agent.vault.movein.crash_point

    def append_when_placed(name: str) -> None:
        if name == "record-placed":
            with growing.open("ab") as handle:
                handle.write(b" and more")
        real_crash_point(name)

    monkeypatch.setattr(agent.vault.movein, "crash_point", append_when_placed)
    vault = Vault(tmp_path / "vault")
    results = vault.quarantine_many([QuarantineRequest(p, FINDINGS, "jpeg", "p1") for p in files])

    assert isinstance(results[1], VaultError)
    assert "changed while it was being moved" in str(results[1])
    assert growing.read_bytes() == files[growing] + b" and more"
    assert [isinstance(r, QuarantineItem) for r in results] == [True, False, True]
    assert not next(iter(files)).exists() and not list(files)[2].exists()
    assert sorted(i.original_path for i in vault.items()) == [
        str(next(iter(files))),
        str(list(files)[2]),
    ]
    assert len(os.listdir(tmp_path / "vault" / "items")) == 4  # its copy was removed
    assert sorted(map(tuple, _steps_per_txn(tmp_path / "vault"))) == sorted(
        [
            ("intent", "stored", "original-removed", "done"),
            ("intent", "stored", "aborted"),
            ("intent", "stored", "original-removed", "done"),
        ]
    )


def test_missing_files_and_links_fail_alone(tmp_path: Path) -> None:
    files = _drop(tmp_path / "Downloads", 2)
    missing = tmp_path / "Downloads" / "gone.jpg"
    link = tmp_path / "Downloads" / "link.jpg"
    link.symlink_to(next(iter(files)))
    first, second = list(files)
    requests = [
        QuarantineRequest(missing, FINDINGS, "jpeg", "p1"),
        QuarantineRequest(first, FINDINGS, "jpeg", "p1"),
        QuarantineRequest(link, FINDINGS, "jpeg", "p1"),
        QuarantineRequest(second, FINDINGS, "jpeg", "p1"),
    ]

    results = Vault(tmp_path / "vault").quarantine_many(requests)

    assert isinstance(results[0], VaultError) and "does not exist" in str(results[0])
    assert isinstance(results[2], VaultError) and "is a link" in str(results[2])
    assert isinstance(results[1], QuarantineItem) and results[1].original_path == str(first)
    assert isinstance(results[3], QuarantineItem) and results[3].original_path == str(second)
    assert link.is_symlink()
    # the two that never opened wrote nothing to the journal
    assert (
        _steps_per_txn(tmp_path / "vault") == [["intent", "stored", "original-removed", "done"]] * 2
    )


def test_a_batch_of_one_is_the_single_quarantine(tmp_path: Path) -> None:
    data = sample_bytes(3, 4000)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    single, batched = tmp_path / "a" / "x.jpg", tmp_path / "b" / "x.jpg"
    single.write_bytes(data)
    batched.write_bytes(data)
    os.utime(single, ns=(1_700_000_000_123_456_789, 1_700_000_000_123_456_789))
    os.utime(batched, ns=(1_700_000_000_123_456_789, 1_700_000_000_123_456_789))
    one = Vault(tmp_path / "v1", clock=lambda: 7.0).quarantine(
        single, FINDINGS, detected_type="jpeg", policy_version="p", expected_sha256=sha256_hex(data)
    )
    (other,) = Vault(tmp_path / "v2", clock=lambda: 7.0).quarantine_many(
        [QuarantineRequest(batched, FINDINGS, "jpeg", "p", sha256_hex(data))]
    )
    assert isinstance(other, QuarantineItem)
    differs = {"id", "original_path"}
    assert {k: v for k, v in vars(one).items() if k not in differs} == {
        k: v for k, v in vars(other).items() if k not in differs
    }
    assert (
        _steps_per_txn(tmp_path / "v1")
        == _steps_per_txn(tmp_path / "v2")
        == [["intent", "stored", "original-removed", "done"]]
    )
    # a failing batch of one returns the error the single call raises
    (tmp_path / "a" / "y.jpg").write_bytes(b"y")
    with pytest.raises(VaultError) as raised:
        Vault(tmp_path / "v1").quarantine(
            tmp_path / "a" / "y.jpg", FINDINGS, detected_type="jpeg", policy_version="p",
            expected_sha256=sha256_hex(b"z"),
        )  # fmt: skip
    (returned,) = Vault(tmp_path / "v1").quarantine_many(
        [QuarantineRequest(tmp_path / "a" / "y.jpg", FINDINGS, "jpeg", "p", sha256_hex(b"z"))]
    )
    assert isinstance(returned, VaultError) and str(returned) == str(raised.value)
    assert Vault(tmp_path / "v1").quarantine_many([]) == []


def test_the_oserror_behind_a_failure_stays_its_cause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pipeline tells "in use by another program" (retry) from a failure by __cause__."""
    files = _drop(tmp_path / "Downloads", 2)
    blocked = next(iter(files))
    real_open = platform.open_source

    def refuse_one(path: Path) -> platform.SourceFile:
        if path == blocked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path)

    monkeypatch.setattr(platform, "open_source", refuse_one)
    results = Vault(tmp_path / "vault").quarantine_many(_requests(files))
    assert isinstance(results[0], VaultError)
    assert isinstance(results[0].__cause__, PermissionError)
    assert isinstance(results[1], QuarantineItem)
    assert blocked.exists()


def test_a_failed_flush_leaves_every_original_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _drop(tmp_path / "Downloads", 3)

    def failing_sync(paths: Any) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(platform, "sync_files", failing_sync)
    results = Vault(tmp_path / "vault").quarantine_many(_requests(files))
    monkeypatch.undo()

    assert all(isinstance(r, VaultError) for r in results)
    assert all("Input/output error" in str(r) for r in results)
    assert all(isinstance(r.__cause__, OSError) for r in results)  # type: ignore[union-attr]
    assert all(path.read_bytes() == data for path, data in files.items())
    vault = Vault(tmp_path / "vault")
    assert vault.items() == []
    assert os.listdir(tmp_path / "vault" / "items") == []
    assert os.listdir(tmp_path / "vault" / "tmp") == []


def test_more_files_than_one_batch_holds_are_moved_in_several(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(agent.vault.movein, "MAX_BATCH", 2)
    flushes: list[int] = []
    real_sync = platform.sync_files
    monkeypatch.setattr(
        platform, "sync_files", lambda paths: (flushes.append(len(paths)), real_sync(paths))
    )
    files = _drop(tmp_path / "Downloads", 5)
    results = Vault(tmp_path / "vault").quarantine_many(_requests(files))
    assert [r.original_path for r in results] == [str(p) for p in files]  # type: ignore[union-attr]
    assert flushes == [5, 5, 3]  # 2 files + journal, 2 + journal, 1 + journal


@linux_only
def test_a_batch_flushes_once_and_syncs_each_folder_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "vault"
    vault = Vault(root)
    files = {**_drop(tmp_path / "Downloads", 3), **_drop(tmp_path / "Mail", 2, seed=9)}
    flushed: list[list[str]] = []
    fsynced: list[str] = []
    real_sync, real_fsync = platform.sync_files, os.fsync

    def sync_files(paths: Any) -> None:
        flushed.append([str(p) for p in paths])
        real_sync(paths)

    def fsync(fd: int) -> None:
        fsynced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(platform, "sync_files", sync_files)
    monkeypatch.setattr(os, "fsync", fsync)
    results = vault.quarantine_many(_requests(files))
    monkeypatch.undo()

    ids = [r.id for r in results]  # type: ignore[union-attr]
    expected_flush = [
        str(root / "tmp" / f"{i}{suffix}") for i in ids for suffix in (".pgq", ".json")
    ]
    assert flushed == [[*expected_flush, str(root / "journal.jsonl")]]
    assert Counter(fsynced) == Counter(
        {str(root / "items"): 1, str(tmp_path / "Downloads"): 1, str(tmp_path / "Mail"): 1}
    )
    assert fsynced[0] == str(root / "items")  # before any original is removed


def test_batch_lines_are_read_back_per_transaction(tmp_path: Path) -> None:
    root = tmp_path / "vault"
    root.mkdir()
    journal = Journal(root, load_or_create_key(root).journal_key)
    t1, t2, a, b = "1" * 16, "2" * 16, "a" * 32, "b" * 32
    path = base64.b64encode(os.fsencode(tmp_path / "x.jpg")).decode("ascii")
    for txn, item_id in ((t1, a), (t2, b)):
        journal.append(txn, "quarantine", "intent", id=item_id, path_b64=path, dev=1, ino=2,
                       size=3, mtime_ns=4)  # fmt: skip
    stored = [(t1, {"id": a, "sha256": "0" * 64}), (t2, {"id": b, "sha256": "1" * 64})]
    journal.append_many("quarantine", "stored", stored, sync=False)
    journal.append_many("quarantine", "done", [(t1, {"id": a})])
    (still_open,) = journal.open_operations()
    assert journal.skipped == []
    assert (still_open.txn, still_open.steps) == (t2, ["intent", "stored"])
    assert still_open.fields["sha256"] == "1" * 64
    journal.append_many("quarantine", "done", [(t2, {"id": b})])
    assert journal.open_operations() == []
    before = (root / "journal.jsonl").stat().st_size
    journal.append_many("quarantine", "done", [])
    assert (root / "journal.jsonl").stat().st_size == before


# --- what each file's record says, the crash hooks, failures at every step ------------------


def _journal(root: Path) -> Journal:
    """A fresh reader of the vault's journal (it knows nothing this process wrote)."""
    return Journal(root, load_or_create_key(root).journal_key)


def _closed_and_valid(root: Path) -> bool:
    """Every journal line is signed and valid, and every operation in it closed."""
    journal = _journal(root)
    return journal.open_operations() == [] and journal.skipped == []


@posix_only
def test_the_record_holds_the_owner_and_mtime_and_every_file_is_private(tmp_path: Path) -> None:
    import pwd

    files = _drop(tmp_path / "Downloads", 1)
    [path] = files
    os.utime(path, ns=(1_600_000_000_000_000_000, 1_700_000_000_250_000_000))
    owner = path.stat().st_uid
    root = tmp_path / "vault"
    [item] = Vault(root).quarantine_many(_requests(files))
    assert isinstance(item, QuarantineItem)
    assert (item.owner_uid, item.owner_sid) == (owner, "")
    assert item.user == pwd.getpwuid(owner).pw_name
    assert item.mtime_ns == 1_700_000_000_250_000_000
    assert item.mtime == pytest.approx(1_700_000_000.25, abs=1e-6)  # seconds, as a float
    assert Vault(root).get(item.id) == item  # the signed record says the same
    for name in (f"{item.id}.pgq", f"{item.id}.json"):
        assert stat.S_IMODE((root / "items" / name).stat().st_mode) == 0o600


def test_on_windows_the_owner_is_the_files_sid_never_a_uid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Windows cannot exist here: its platform name and SID lookups are stood in for.
    files = _drop(tmp_path / "Downloads", 1)
    [path] = files
    sid = "S-1-5-21-1004336348-1177238915-682003330-1001"
    monkeypatch.setattr(agent.vault.movein, "sys", types.SimpleNamespace(platform="win32"))
    monkeypatch.setattr(platform, "owner_sid", lambda p: {path: sid}.get(p, ""))
    monkeypatch.setattr(platform, "account_name", lambda s: {sid: "DESKTOP\\alice"}.get(s, ""))
    [item] = Vault(tmp_path / "vault").quarantine_many(_requests(files))
    assert isinstance(item, QuarantineItem)
    assert (item.owner_uid, item.owner_sid, item.user) == (-1, sid, "DESKTOP\\alice")


def test_the_crash_hooks_of_a_batch_fire_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # tests/test_vault_crash.py kills a child at these names (agent.testhooks); what is on
    # disk at each is what recovery is told to expect there (agent.vault.recovery).
    files = _drop(tmp_path / "Downloads", 2)
    root = tmp_path / "vault"
    vault = Vault(root)
    seen: list[tuple[str, int, int, int]] = []

    def record(name: str) -> None:
        in_tmp, in_items = (len(os.listdir(root / d)) for d in ("tmp", "items"))
        seen.append((name, in_tmp, in_items, sum(p.exists() for p in files)))

    monkeypatch.setattr(agent.vault.movein, "crash_point", record)
    results = vault.quarantine_many(_requests(files))
    assert all(isinstance(r, QuarantineItem) for r in results)
    assert seen == [  # (point, files in tmp/, files in items/, originals still there)
        ("encrypted", 1, 0, 2),
        ("encrypted", 3, 0, 2),  # the first file's record is written before the second
        ("batch-durable", 4, 0, 2),
        ("content-placed", 3, 1, 2),
        ("content-placed", 1, 3, 2),
        ("record-placed", 0, 4, 2),
        ("unlinking", 0, 4, 1),
        ("unlinking", 0, 4, 0),
        ("original-unlinked", 0, 4, 0),
    ]


def _grow_or_rewrite_while_read(
    monkeypatch: pytest.MonkeyPatch, path: Path, change: str
) -> list[int]:
    """Change `path` once it is open, just before it is read; returns the bytes read."""
    real = VaultKeys.encrypt_stream
    read: list[int] = []

    def changing(self: VaultKeys, item_id: str, source: Any, sink: Any, **kw: Any) -> Any:
        if change == "grow":
            with path.open("ab") as handle:
                handle.write(b"g" * (3 * CHUNK_BYTES))
        else:  # the same size, other bytes, another mtime
            path.write_bytes(b"r" * path.stat().st_size)
            os.utime(path, ns=(1_650_000_000_000_000_000, 1_650_000_000_000_000_000))
        counting: Any = _Counting(source, read)
        return real(self, item_id, counting, sink, **kw)

    monkeypatch.setattr(VaultKeys, "encrypt_stream", changing)
    return read


class _Counting:
    def __init__(self, source: Any, read: list[int]) -> None:
        self._source, self._read = source, read

    def read(self, size: int) -> bytes:
        data = self._source.read(size)
        self._read.append(len(data))
        return bytes(data)


@changeable_while_open
def test_a_file_rewritten_while_it_is_read_stays_before_anything_is_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _drop(tmp_path / "Downloads", 1)
    [path] = files
    os.utime(path, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    _grow_or_rewrite_while_read(monkeypatch, path, "rewrite")
    root = tmp_path / "vault"
    [error] = Vault(root).quarantine_many([QuarantineRequest(path, FINDINGS, "jpeg", "p1")])
    assert isinstance(error, VaultError)
    assert str(error) == f"{path} changed while it was being moved"
    assert path.read_bytes() == b"r" * 1000
    assert _steps_per_txn(root) == [["intent", "aborted"]]  # never `stored`: nothing placed
    assert os.listdir(root / "items") == [] and os.listdir(root / "tmp") == []


@changeable_while_open
def test_a_file_growing_while_it_is_read_is_read_no_further_than_its_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _drop(tmp_path / "Downloads", 1)
    [path] = files
    read = _grow_or_rewrite_while_read(monkeypatch, path, "grow")
    [error] = Vault(tmp_path / "vault").quarantine_many(
        [QuarantineRequest(path, FINDINGS, "jpeg", "p1")]
    )
    assert isinstance(error, VaultError)
    assert "grew past 1000 bytes while it was being stored" in str(error)
    assert sum(read) <= 2 * CHUNK_BYTES  # the chunk past the size and its read-ahead, not 3
    assert path.stat().st_size == 1000 + 3 * CHUNK_BYTES


@pytest.mark.parametrize(
    ("error", "text"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), "No space left on device"),
        (OSError("the disk went away"), "the disk went away"),
        (OSError(), "OSError"),
    ],
)
def test_a_disk_error_while_storing_names_the_file_and_keeps_its_cause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: OSError, text: str
) -> None:
    files = _drop(tmp_path / "Downloads", 2)
    failing, fine = files
    real = VaultKeys.encrypt_stream
    calls: list[str] = []

    def encrypt(self: VaultKeys, item_id: str, source: Any, sink: Any, **kw: Any) -> Any:
        calls.append(item_id)
        if len(calls) == 1:  # the batch's first file (copied in request order)
            raise error
        return real(self, item_id, source, sink, **kw)

    monkeypatch.setattr(VaultKeys, "encrypt_stream", encrypt)
    root = tmp_path / "vault"
    first, second = Vault(root).quarantine_many(_requests(files))
    assert isinstance(first, VaultError) and first.__cause__ is error
    assert str(first) == f"could not quarantine {failing}: {text}"
    assert failing.read_bytes() == files[failing]
    assert isinstance(second, QuarantineItem) and not fine.exists()
    assert sorted(map(tuple, _steps_per_txn(root))) == sorted(
        [("intent", "aborted"), ("intent", "stored", "original-removed", "done")]
    )
    assert _closed_and_valid(root)
    assert os.listdir(root / "tmp") == []


def test_a_copy_that_cannot_be_placed_stays_out_and_the_rest_go_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second file's record cannot be renamed into items/ (its folder cannot grow)."""
    files = _drop(tmp_path / "Downloads", 3)
    paths = list(files)
    real_crash_point = agent.vault.movein.crash_point
    placed: list[str] = []

    def full_at_second_record(name: str) -> None:
        if name == "content-placed":
            placed.append(name)
            if len(placed) == 2:
                raise OSError(errno.ENOSPC, "No space left on device")
        real_crash_point(name)

    monkeypatch.setattr(agent.vault.movein, "crash_point", full_at_second_record)
    root = tmp_path / "vault"
    results = Vault(root).quarantine_many(_requests(files))

    assert isinstance(results[1], VaultError)
    assert str(results[1]) == f"could not quarantine {paths[1]}: No space left on device"
    assert isinstance(results[1].__cause__, OSError)
    assert paths[1].read_bytes() == files[paths[1]]
    assert [isinstance(r, QuarantineItem) for r in results] == [True, False, True]
    assert not paths[0].exists() and not paths[2].exists()
    moved = [r.id for r in results if isinstance(r, QuarantineItem)]
    assert sorted(os.listdir(root / "items")) == sorted(
        f"{i}{suffix}" for i in moved for suffix in (".pgq", ".json")
    )
    assert os.listdir(root / "tmp") == []
    assert sorted(map(tuple, _steps_per_txn(root))) == sorted(
        [
            ("intent", "stored", "original-removed", "done"),
            ("intent", "stored", "aborted"),
            ("intent", "stored", "original-removed", "done"),
        ]
    )
    assert _closed_and_valid(root)


@posix_only
def test_an_original_that_cannot_be_removed_stays_and_its_copy_goes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """unlinkat refused (EPERM: a sticky folder of another user; stood in for, as no folder
    refuses root)."""
    files = _drop(tmp_path / "Downloads", 2)
    kept, moved = files
    real_unlink = os.unlink

    def refuse(path: Any, *, dir_fd: int | None = None) -> None:
        if dir_fd is not None and path == kept.name:
            raise PermissionError(errno.EPERM, "Operation not permitted")
        real_unlink(path, dir_fd=dir_fd)

    monkeypatch.setattr(os, "unlink", refuse)
    root = tmp_path / "vault"
    first, second = Vault(root).quarantine_many(_requests(files))
    monkeypatch.undo()

    assert isinstance(first, VaultError) and isinstance(first.__cause__, PermissionError)
    assert str(first) == f"could not quarantine {kept}: Operation not permitted"
    assert kept.read_bytes() == files[kept]
    assert isinstance(second, QuarantineItem) and not moved.exists()
    assert sorted(map(tuple, _steps_per_txn(root))) == sorted(
        [("intent", "stored", "aborted"), ("intent", "stored", "original-removed", "done")]
    )
    assert _closed_and_valid(root)
    assert [i.id for i in Vault(root).items()] == [second.id]


def test_a_refused_file_leaves_its_closed_lines_and_no_recovery_runs(tmp_path: Path) -> None:
    # nothing failed on disk: the journal keeps its lines until it is worth compacting
    files = _drop(tmp_path / "Downloads", 2)
    requests = [
        QuarantineRequest(p, FINDINGS, "jpeg", "p1", expected_sha256=sha256_hex(b"other"))
        for p in files
    ]
    root = tmp_path / "vault"
    results = Vault(root).quarantine_many(requests)
    assert all("changed after it was inspected" in str(r) for r in results)
    assert _steps_per_txn(root) == [["intent", "aborted"]] * 2
    assert _closed_and_valid(root)


def _fail_once(monkeypatch: pytest.MonkeyPatch, failing_step: str) -> None:
    """The journal's next write of `failing_step` fails (a full disk), later ones work."""
    real = Journal.append_many
    failed: list[str] = []

    def append_many(self: Journal, op: str, step: str, entries: Any, **kw: Any) -> None:
        if step == failing_step and not failed:
            failed.append(step)
            raise OSError(errno.ENOSPC, "No space left on device")
        real(self, op, step, entries, **kw)

    monkeypatch.setattr(Journal, "append_many", append_many)


def test_closing_lines_that_cannot_be_written_are_closed_by_recovery_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _drop(tmp_path / "Downloads", 2)
    _fail_once(monkeypatch, "original-removed")
    root = tmp_path / "vault"
    results = Vault(root).quarantine_many(_requests(files))
    assert all(isinstance(r, QuarantineItem) for r in results)
    assert not any(p.exists() for p in files)
    assert _closed_and_valid(root)  # before any other holder of the lock looks
    assert sorted(i.id for i in Vault(root).items()) == sorted(r.id for r in results)  # type: ignore[union-attr]


def test_an_abort_line_that_cannot_be_written_is_closed_by_recovery_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _drop(tmp_path / "Downloads", 1)
    [path] = files
    _fail_once(monkeypatch, "aborted")
    root = tmp_path / "vault"
    [error] = Vault(root).quarantine_many(
        [QuarantineRequest(path, FINDINGS, "jpeg", "p1", expected_sha256=sha256_hex(b"other"))]
    )
    assert "changed after it was inspected" in str(error)
    assert path.read_bytes() == files[path]
    assert _closed_and_valid(root)
    assert os.listdir(root / "items") == [] and os.listdir(root / "tmp") == []


def test_a_recovery_failing_after_the_batch_still_returns_the_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _drop(tmp_path / "Downloads", 2)
    _fail_once(monkeypatch, "original-removed")

    def clear(self: Journal, *, durable: bool = True) -> None:
        raise OSError(errno.EIO, "Input/output error")

    root = tmp_path / "vault"
    vault = Vault(root)
    monkeypatch.setattr(Journal, "clear", clear)
    results = vault.quarantine_many(_requests(files))
    monkeypatch.undo()
    assert all(isinstance(r, QuarantineItem) for r in results)
    assert not any(p.exists() for p in files)
    assert sorted(i.id for i in Vault(root).items()) == sorted(r.id for r in results)  # type: ignore[union-attr]


def test_a_failed_flush_keeps_the_error_of_a_file_that_had_failed_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _drop(tmp_path / "Downloads", 1)
    missing = tmp_path / "Downloads" / "gone.jpg"

    def failing_sync(paths: Any) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(platform, "sync_files", failing_sync)
    gone, stayed = Vault(tmp_path / "vault").quarantine_many(
        [QuarantineRequest(missing, FINDINGS, "jpeg", "p1"), *_requests(files)]
    )
    assert isinstance(gone, VaultError) and str(gone) == f"{missing} does not exist"
    assert isinstance(stayed, VaultError) and "Input/output error" in str(stayed)
