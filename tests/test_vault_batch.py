"""Group commit: `Vault.quarantine_many` moves a batch with one flush, each file on its own.

One file failing (changed after inspection, changed while moved, gone, a link) stays where
it is with its own error; the others are moved. The durability calls are counted: one
flush of every content, record and the journal, one fsync of items/, one per folder.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import agent.vault.movein
from agent import platform
from agent.errors import VaultError
from agent.vault.crypto import load_or_create_key
from agent.vault.journal import Journal
from agent.vault.store import QuarantineItem, QuarantineRequest, Vault
from tests.vault_helpers import FINDINGS, sample_bytes, sha256_hex

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="fd paths are read from /proc (Linux)"
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
