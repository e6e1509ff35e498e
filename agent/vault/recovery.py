"""Recovery: finishing or undoing what a process killed mid-operation left in the journal.

Runs inside `Vault` while it holds the vault lock (at open, and before every change). Acts
only on signed, fully valid journal lines (agent.vault.journal, journal_schema); the rest
are skipped, reported once and cleared. A vault owned by another account is never
recovered by us. Outside the vault, recovery removes at most: the original of a quarantine
whose stored copy is verified and whose record names that very path and content (rolling
forward an unlink), through a folder opened with no link followed; and a restore's temp
file of our own temp-name pattern for that item (agent.vault.restore).

Recovery (on open, when a holder of the lock finds journal lines it did not write and close
itself, and right after a failed operation) decides per step:
  - no `stored`: roll back. The original was never touched; the half-stored copy is deleted.
  - `stored` without `original-removed`: the complete copy was written to tmp/ (flushed
    with the `stored` line itself, so after a power cut it may be torn: it is verified
    before anything relies on it) and may have reached items/ (agent.vault.movein renames
    it there once that flush returned). If the path still
    holds the same bytes (same size and SHA-256), the item is verified (record and content
    in items/) and the original unlinked (roll forward); an item that never reached items/
    or fails verification is removed and the original kept (roll back). If the path is empty, the
    unlink had happened. If it holds other bytes, that is a different file (a new download
    reusing the name, or an edit made after the crash): it is left alone, for the agent to
    inspect as the new version it is. Inode numbers cannot decide this: ext4 hands a freed
    inode number to the next file at once.
  - `original-removed`: only `done` is missing.
So every file is either where it was or in the vault with a valid record, never both, and
a stored item is never thrown away while the only other copy may be gone.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from pathlib import Path
from typing import Protocol

from agent.errors import VaultError
from agent.textsafe import safe_path
from agent.vault.crypto import sha256_file
from agent.vault.fsdir import unlink_if_same_content
from agent.vault.journal import Journal, OpenOperation
from agent.vault.record import QuarantineItem, path_from_b64
from agent.vault.restore import ItemStore, recover_restore

log = logging.getLogger("photogate.vault")

CONTENT_SUFFIX = ".pgq"  # content files in items/ (agent.vault.movein and store use this one)


class RecoverableVault(ItemStore, Protocol):
    """What recovery needs of agent.vault.store.Vault."""

    root: Path
    foreign_owner: int | None
    journal_problems: list[str]

    @property
    def journal(self) -> Journal: ...

    @property
    def tmp_dir(self) -> Path: ...

    @property
    def items_dir(self) -> Path: ...

    def record_ids(self) -> list[str]: ...

    def get_or_none(self, item_id: str) -> QuarantineItem | None: ...

    def verify_stored(self, item: QuarantineItem) -> None: ...


def recover(self: RecoverableVault) -> None:
    """Resolve every open journal operation, then clear the journal and stray files.

    Only signed, fully valid journal lines are acted on (agent.vault.journal); the
    rest are skipped and reported once, here, then cleared with the journal. An operation
    whose recovery fails (a disk error) keeps its lines, to be tried again. A vault
    owned by another account is never recovered by us: its owner can write its
    journal, so acting on it as (say) root would lend them our rights.
    """
    if self.foreign_owner is not None:
        return
    operations = self.journal.open_operations()
    skipped = list(self.journal.skipped)
    if skipped:
        self.journal_problems = skipped
        log.warning(
            "vault %s: %d journal line(s) skipped, not acted on (first: %s)",
            safe_path(self.root), len(skipped), skipped[0],
        )  # fmt: skip
    unresolved: set[str] = set()
    for operation in operations:
        try:
            if operation.op == "quarantine":
                _recover_quarantine(self, operation)
            else:
                recover_restore(self, operation)
        except (OSError, VaultError) as error:  # one bad operation must not stop the rest
            log.warning("vault recovery of %s failed: %s", operation.txn, error)
            unresolved.add(operation.txn)
    if unresolved:
        # Cleared, an unfinished operation would be forgotten (a placed restore would leave
        # the file both in place and in the vault): its lines stay for the next holder.
        with contextlib.suppress(OSError):  # then the whole journal stays, read again
            self.journal.retain(unresolved)
    else:
        self.journal.clear()
    for stray in self.tmp_dir.iterdir():
        with contextlib.suppress(OSError):
            stray.unlink()
    records = set(self.record_ids())
    for content in self.items_dir.glob(f"*{CONTENT_SUFFIX}"):
        if content.stem not in records:  # content whose record never landed
            with contextlib.suppress(OSError):
                content.unlink()


def _recover_quarantine(self: RecoverableVault, operation: OpenOperation) -> None:
    fields = operation.fields
    item_id = str(fields["id"])
    if "stored" not in operation.steps:
        self.remove_item_files(item_id)  # the original was never touched
        self.journal.append(operation.txn, "quarantine", "aborted", id=item_id)
        return
    if "original-removed" not in operation.steps:
        path = Path(path_from_b64(str(fields["path_b64"])))
        # Roll forward only when the path still holds exactly the bytes we stored. Inode
        # numbers are reused at once after an unlink, so they cannot tell our file from
        # a new one; content can. A different file there is left alone (it is another
        # version, and gets its own inspection) and the stored item is kept.
        stored_sha256 = str(fields["sha256"])
        size = int(fields["size"])
        if sha256_file(path, expected_size=size) == stored_sha256:
            item = self.get_or_none(item_id)
            if item is not None and (item.original_path, item.sha256) != (
                os.fspath(path),
                stored_sha256,
            ):  # the record is of another file: neither it nor the path is ours to touch
                self.journal.append(operation.txn, "quarantine", "aborted", id=item_id)
                return
            try:
                if item is None:
                    raise VaultError("no record")
                self.verify_stored(item)
            except VaultError:
                self.remove_item_files(item_id)  # the original is intact: keep that
                self.journal.append(operation.txn, "quarantine", "aborted", id=item_id)
                return
            unlink_if_same_content(path, size, stored_sha256)  # no link followed
        self.journal.append(operation.txn, "quarantine", "original-removed", id=item_id)
    self.journal.append(operation.txn, "quarantine", "done", id=item_id)


def foreign_owner(root: Path) -> int | None:
    """The uid owning an existing vault folder when it is not us (POSIX), else None.

    root opening a user's per-user vault (IT running `photogate quarantine list` as root)
    is the case that matters: that user can write the vault's files.
    """
    if sys.platform == "win32":
        return None
    try:
        owner = root.lstat().st_uid
    except FileNotFoundError:
        return None
    return owner if owner != os.geteuid() else None
