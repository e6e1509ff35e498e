"""Moving files into the vault, one or a batch at a time (group commit).

Per file (journal steps intent -> stored -> original-removed -> done, as for one file):
  1. open it without following links (agent.vault.origin); the `intent` lines of the
     batch in one write (not synced);
  2. encrypt into tmp/ while hashing; it must not change while it is read and must match
     `expected_sha256` when given; the signed record into tmp/ (neither synced yet).
Then for the whole batch, each step once:
  3. the `stored` lines (one write), then ONE flush of every content, every record and the
     journal (`platform.sync_files`: per file for a single quarantine, one syncfs on Linux
     for a batch). Nothing outside tmp/ has changed yet;
  4. per file, content then record renamed into items/; ONE fsync of items/;
  5. per file, decrypt the stored copy again and compare it with the record; the original
     must still be the file we read (identity, size, mtime); only then is it unlinked;
  6. ONE fsync per folder the originals were in; the `original-removed` and `done` lines
     (not synced: recovery re-derives them).
A file failing at any step gets its own VaultError, its copy is removed (`aborted`) and
its original stays where it is; the rest of the batch goes on. So the syncs for a batch of
N files from one folder are: 3 flushes (N = 1) or one syncfs, one items/ fsync, one folder
fsync, where N single quarantines paid 5 N.

Why `stored` may share the flush with the files it announces: recovery never trusts it
alone. A `stored` txn is rolled forward only when its record and content are in items/
and decrypt to the bytes still at the original path (agent.vault.recovery), and nothing
reaches items/ before the flush has returned.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from agent import platform
from agent.errors import VaultError
from agent.model import Finding
from agent.textsafe import safe_path
from agent.vault.crypto import VaultKeys, fsync_dir
from agent.vault.journal import crash_point
from agent.vault.origin import OriginFile
from agent.vault.record import QuarantineItem, b64_path, owner_name
from agent.vault.recovery import CONTENT_SUFFIX, RecoverableVault, recover

MAX_BATCH = 64  # files moved under one flush (each holds its source and folder open)
FILE_MODE = 0o600
RECORD_SUFFIX = ".json"
ID_BYTES = 16  # item ids are 32 hex characters of os randomness
_O_BINARY = getattr(os, "O_BINARY", 0)
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY


@dataclass(frozen=True)
class QuarantineRequest:
    """One file to move in, and what the record says about it."""

    path: str | os.PathLike[str]
    findings: tuple[Finding, ...]
    detected_type: str
    policy_version: str
    expected_sha256: str | None = None  # the inspected bytes: anything else is left in place


QuarantineResult = QuarantineItem | VaultError  # per file: its record, or why it stayed


class MoveInVault(RecoverableVault, Protocol):
    """What moving in needs of agent.vault.store.Vault."""

    @property
    def keys(self) -> VaultKeys: ...

    @property
    def clock(self) -> Callable[[], float]: ...


@dataclass
class _Move:
    """One file's way through the batch."""

    request: QuarantineRequest
    item_id: str = field(default_factory=lambda: secrets.token_hex(ID_BYTES))
    txn: str = field(default_factory=lambda: secrets.token_hex(8))
    origin: OriginFile | None = None
    begun: bool = False  # its `intent` line is written: it must end `aborted` or `done`
    item: QuarantineItem | None = None
    error: VaultError | None = None
    unlinked: bool = False
    cleanup_failed: bool = False  # its copy or `aborted` line could not be written

    @property
    def live(self) -> bool:
        """Still on its way in (no error, original not yet removed)."""
        return self.error is None and self.item is not None and not self.unlinked


def move_in(vault: MoveInVault, requests: Sequence[QuarantineRequest]) -> list[QuarantineResult]:
    """Move every requested file in (the caller holds the vault lock); one result each."""
    results: list[QuarantineResult] = []
    for start in range(0, len(requests), MAX_BATCH):
        results.extend(_move_batch(vault, requests[start : start + MAX_BATCH]))
    return results


def _move_batch(
    vault: MoveInVault, requests: Sequence[QuarantineRequest]
) -> list[QuarantineResult]:
    moves = [_Move(request) for request in requests]
    with contextlib.ExitStack() as open_files:
        try:
            for move in moves:
                _open(move, open_files)
            _begin(vault, [m for m in moves if m.origin is not None])
            for move in moves:
                if move.begun:
                    _copy(vault, move)
            _make_durable(vault, [m for m in moves if m.live])
            _place(vault, [m for m in moves if m.live])
            for move in moves:
                if move.live:
                    _check_and_unlink(vault, move)
        except BaseException as error:
            for move in moves:
                if move.error is None and not move.unlinked:
                    move.error = _vault_error(move, error)
                    _abort(vault, move)
            if not isinstance(error, (OSError, VaultError)):
                raise
        closed = _finish(vault, [m for m in moves if m.unlinked])
    if not closed or any(m.cleanup_failed for m in moves):
        # A full disk: recovery (holding the same lock) closes what could not be closed.
        with contextlib.suppress(OSError, VaultError):
            recover(vault)
    return [_result(m) for m in moves]


def _result(move: _Move) -> QuarantineResult:
    if move.unlinked:
        return _item(move)
    assert move.error is not None  # every move ends removed from its folder or with an error
    return move.error


def _open(move: _Move, open_files: contextlib.ExitStack) -> None:
    """Step 1 for one file: opened without following links (kept open until the end)."""
    try:
        move.origin = open_files.enter_context(OriginFile(Path(move.request.path).absolute()))
    except VaultError as error:
        move.error = error


def _begin(vault: MoveInVault, moves: list[_Move]) -> None:
    """Step 1: the `intent` lines of every opened file, in one write (not synced)."""
    intents = []
    for move in moves:
        assert move.origin is not None
        before = move.origin.stat_open
        intents.append(
            (move.txn, {
                "id": move.item_id, "path_b64": b64_path(move.origin.path),
                "dev": before.st_dev, "ino": before.st_ino, "size": before.st_size,
                "mtime_ns": before.st_mtime_ns,
            })
        )  # fmt: skip
    vault.journal.append_many("quarantine", "intent", intents)
    for move in moves:
        move.begun = True


def _copy(vault: MoveInVault, move: _Move) -> None:
    """Step 2 for one file: encrypted and recorded in tmp/ (unsynced)."""
    request, origin = move.request, move.origin
    assert origin is not None
    before = origin.stat_open
    owner_uid = -1 if sys.platform == "win32" else before.st_uid  # Windows: owner is a SID
    try:
        owner_sid = platform.owner_sid(origin.path)  # "" on POSIX
        size, sha256 = _encrypt(vault, origin, move.item_id)
        if request.expected_sha256 is not None and sha256 != request.expected_sha256.lower():
            raise VaultError(
                f"{safe_path(origin.path)} changed after it was inspected; left in place"
            )
        item = QuarantineItem(
            id=move.item_id, original_path=os.fspath(origin.path), name=origin.path.name,
            size=size, sha256=sha256, quarantined_at=vault.clock(),
            mtime=before.st_mtime_ns / 1e9, findings=request.findings,
            policy_version=request.policy_version, user=owner_name(owner_uid, owner_sid),
            detected_type=request.detected_type, mtime_ns=before.st_mtime_ns,
            owner_uid=owner_uid, owner_sid=owner_sid,
        )  # fmt: skip
        write_record(vault, item, durable=False)
        move.item = item
    except (OSError, VaultError) as error:
        move.error = _vault_error(move, error)
        _abort(vault, move)


def _encrypt(vault: MoveInVault, origin: OriginFile, item_id: str) -> tuple[int, str]:
    """Encrypt the open source into tmp/; the file must not change while it is read."""
    before = origin.stat_open
    temp = vault.tmp_dir / f"{item_id}{CONTENT_SUFFIX}"
    with open(os.open(temp, _CREATE_FLAGS, FILE_MODE), "wb") as sink:
        source = origin.reader()
        size, sha256 = vault.keys.encrypt_stream(item_id, source, sink, max_bytes=before.st_size)
    after = os.fstat(source.fileno())
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns) or (
        size != before.st_size
    ):
        raise VaultError(f"{safe_path(origin.path)} changed while it was being moved")
    crash_point("encrypted")
    return size, sha256


def write_record(vault: MoveInVault, item: QuarantineItem, *, durable: bool) -> None:
    """The signed record into tmp/ (`durable`: flushed on its own right away)."""
    temp_record = vault.tmp_dir / f"{item.id}{RECORD_SUFFIX}"
    with open(os.open(temp_record, _CREATE_FLAGS, FILE_MODE), "wb") as sink:
        sink.write(vault.keys.sign_record(item.record_fields()))
    if durable:
        platform.sync_files([temp_record])


def rename_in(vault: MoveInVault, item_id: str) -> None:
    """Content then record renamed from tmp/ into items/ (not yet durable: fsync items/)."""
    (vault.tmp_dir / f"{item_id}{CONTENT_SUFFIX}").rename(
        vault.items_dir / f"{item_id}{CONTENT_SUFFIX}"
    )
    crash_point("content-placed")
    (vault.tmp_dir / f"{item_id}{RECORD_SUFFIX}").rename(
        vault.items_dir / f"{item_id}{RECORD_SUFFIX}"
    )


def _make_durable(vault: MoveInVault, moves: list[_Move]) -> None:
    """Step 3: the `stored` lines, then contents, records and journal flushed at once."""
    if not moves:
        return
    stored = [(m.txn, {"id": m.item_id, "sha256": _item(m).sha256}) for m in moves]
    vault.journal.append_many("quarantine", "stored", stored, sync=False)
    files = []
    for move in moves:
        files.append(vault.tmp_dir / f"{move.item_id}{CONTENT_SUFFIX}")
        files.append(vault.tmp_dir / f"{move.item_id}{RECORD_SUFFIX}")
    platform.sync_files([*files, vault.journal.path])
    crash_point("batch-durable")


def _place(vault: MoveInVault, moves: list[_Move]) -> None:
    """Step 4: every copy renamed into items/, then items/ fsynced once."""
    if not moves:
        return
    for move in moves:
        try:
            rename_in(vault, move.item_id)
        except OSError as error:
            move.error = _vault_error(move, error)
            _abort(vault, move)
    fsync_dir(vault.items_dir)
    crash_point("record-placed")


def _check_and_unlink(vault: MoveInVault, move: _Move) -> None:
    """Step 5 for one file: the stored copy verified, the original unchanged, then removed."""
    origin = move.origin
    assert origin is not None
    try:
        vault.verify_stored(_item(move))
        if not origin.still_same():
            raise VaultError(f"{safe_path(origin.path)} changed while it was being moved")
        origin.unlink()
    except (OSError, VaultError) as error:
        move.error = _vault_error(move, error)
        _abort(vault, move)
        return
    move.unlinked = True
    crash_point("unlinking")


def _finish(vault: MoveInVault, moves: list[_Move]) -> bool:
    """Step 6: each originals' folder fsynced once, then the closing journal lines.

    False when the lines could not be written (the files are in the vault all the same)."""
    if not moves:
        return True
    synced: set[Path] = set()
    for move in moves:
        assert move.origin is not None
        folder = move.origin.path.parent
        if folder not in synced:
            synced.add(folder)
            move.origin.sync_folder()
    crash_point("original-unlinked")
    closing = [(m.txn, {"id": m.item_id}) for m in moves]
    try:
        vault.journal.append_many("quarantine", "original-removed", closing)
        vault.journal.append_many("quarantine", "done", closing)
    except OSError:
        return False
    return True


def _abort(vault: MoveInVault, move: _Move) -> None:
    """Remove the file's copy (its original is untouched) and close its txn."""
    if not move.begun:
        return
    move.begun = False
    try:
        vault.remove_item_files(move.item_id)
        vault.journal.append(move.txn, "quarantine", "aborted", id=move.item_id)
    except OSError:
        move.cleanup_failed = True  # recovery rolls it back once the batch is over


def _item(move: _Move) -> QuarantineItem:
    assert move.item is not None
    return move.item


def _vault_error(move: _Move, error: BaseException) -> VaultError:
    """The file's own error; an OSError stays its `__cause__` (e.g. "in use": retry later)."""
    if isinstance(error, VaultError):
        return error
    where = safe_path(Path(move.request.path))
    text = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
    wrapped = VaultError(f"could not quarantine {where}: {text or type(error).__name__}")
    wrapped.__cause__ = error
    return wrapped
