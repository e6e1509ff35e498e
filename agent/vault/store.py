"""The quarantine vault: files moved in atomically, stored encrypted, restored byte-identical.

Layout of the vault folder (0700):
    vault.key          install key (0600), see agent.vault.crypto
    vault.lock         OS file lock: one writer at a time, across processes and threads
    journal.jsonl      write-ahead journal, see agent.vault.journal
    items/<id>.pgq     encrypted content (not executable, not an image extension)
    items/<id>.json    the item's record, signed with an HMAC of the vault key
    tmp/               content and records being written

Moving files in (always copy + encrypt; plaintext is never renamed in, so it is the same
on one volume or across volumes): agent.vault.movein, one file or a batch with one flush
for all. Journal steps: intent -> stored -> original-removed -> done. The copy is durable
in items/ and decrypted again against its record before the original is unlinked.

Recovery: agent.vault.recovery (it holds the rules, per step).

Restoring: decrypt into a temp file beside the destination, verify the SHA-256, set the
original mtime, mark it with the OS's untrusted-origin marker, then hard-link it to a free
name (a link never replaces an existing file) and only then remove the item.
Journal steps: restore-intent -> placing -> restored -> done.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO, cast

from agent.errors import VaultError
from agent.model import Finding
from agent.osmark import OriginMarker, default_marker
from agent.textsafe import safe_path, safe_text
from agent.vault.crypto import ChunkReader, VaultKeys, fsync_dir, load_or_create_key, sync_data
from agent.vault.journal import Journal, VaultLock
from agent.vault.movein import (
    ID_BYTES,
    RECORD_SUFFIX,
    QuarantineRequest,
    QuarantineResult,
    move_in,
    rename_in,
    write_record,
)
from agent.vault.record import QuarantineItem, owner_name
from agent.vault.recovery import CONTENT_SUFFIX, foreign_owner, recover
from agent.vault.restore import Placement, restore_item

__all__ = [
    "CONTENT_SUFFIX",
    "RECORD_SUFFIX",
    "QuarantineItem",
    "QuarantineRequest",
    "QuarantineResult",
    "Vault",
    "VaultError",
]

DIR_MODE = 0o700
FILE_MODE = 0o600
ITEMS_DIR = "items"
TMP_DIR = "tmp"
MIN_ID_PREFIX_CHARS = 6  # the CLI accepts a unique id prefix at least this long
SECONDS_PER_DAY = 86400.0

log = logging.getLogger("photogate.vault")

_ID_PATTERN = re.compile(f"[0-9a-f]{{{ID_BYTES * 2}}}")
_O_BINARY = getattr(os, "O_BINARY", 0)


class Vault:
    """The quarantine store at `root`. Safe to use from several threads and processes."""

    def __init__(
        self,
        root: Path,
        *,
        clock: Callable[[], float] = time.time,
        marker: OriginMarker | None = None,
    ) -> None:
        """Open (creating, 0700) the vault and recover what a crashed process left open."""
        self.root = Path(root)
        self._clock = clock
        self._marker = marker if marker is not None else default_marker()
        self._items = self.root / ITEMS_DIR
        self._tmp = self.root / TMP_DIR
        self._lock = VaultLock(self.root)
        self.journal_problems: list[str] = []  # journal lines the last recovery skipped
        try:
            self.foreign_owner = foreign_owner(self.root)
            if self.foreign_owner is None:
                for folder in (self.root, self._items, self._tmp):
                    folder.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
                    with contextlib.suppress(OSError):
                        folder.chmod(DIR_MODE)  # mkdir's mode is cut by the umask
            self._keys = load_or_create_key(self.root)
            self._journal = Journal(self.root, self._keys.journal_key)
            # A live process holding the lock is mid-operation: not ours to recover.
            with self._lock.hold(blocking=False) as acquired:
                if acquired:
                    self._recover()
        except OSError as error:
            where = safe_path(self.root)
            raise VaultError(f"cannot open the vault at {where}: {error.strerror}") from error

    # --- reading ---------------------------------------------------------------------------

    def items(self) -> list[QuarantineItem]:
        """Every item with a valid record, oldest first (damaged ones: see `damaged`)."""
        found = []
        for item_id in self._record_ids():
            with contextlib.suppress(VaultError):
                found.append(self.get(item_id))
        return sorted(found, key=lambda item: (item.quarantined_at, item.id))

    def damaged(self) -> list[tuple[str, str]]:
        """(id, problem) for every record that is unreadable or was altered."""
        problems = []
        for item_id in self._record_ids():
            try:
                self.get(item_id)
            except VaultError as error:
                problems.append((item_id, str(error)))
        return problems

    def get(self, item_id: str) -> QuarantineItem:
        """The item's record; VaultError when unknown, unreadable or tampered with."""
        record_path = self._record_path(item_id)
        try:
            untrusted_bytes = record_path.read_bytes()
        except FileNotFoundError:
            raise VaultError(f"no quarantined item with id {safe_text(item_id)}") from None
        fields = self._keys.open_record(item_id, untrusted_bytes)
        return QuarantineItem.from_record_fields(item_id, fields)

    def _get_or_none(self, item_id: str) -> QuarantineItem | None:
        try:
            return self.get(item_id)
        except VaultError:
            return None

    def resolve(self, id_or_prefix: str) -> str:
        """The full id for an id or a unique prefix of at least MIN_ID_PREFIX_CHARS."""
        wanted = id_or_prefix.strip().lower()
        if _ID_PATTERN.fullmatch(wanted):
            return wanted
        matches = [i for i in self._record_ids() if i.startswith(wanted)]
        if len(wanted) >= MIN_ID_PREFIX_CHARS and len(matches) == 1:
            return matches[0]
        if len(matches) > 1 and len(wanted) >= MIN_ID_PREFIX_CHARS:
            raise VaultError(f"id prefix {safe_text(id_or_prefix)} matches several items")
        raise VaultError(f"no quarantined item with id {safe_text(id_or_prefix)}")

    def read_content(self, item_id: str) -> bytes:
        """The original bytes, decrypted and SHA-256 verified against the record."""
        item = self.get(item_id)
        content = b"".join(self.plaintext_chunks(item))
        self.check_digest(item, len(content), hashlib.sha256(content).hexdigest())
        return content

    @property
    def journal(self) -> Journal:
        """The write-ahead journal of vault operations (restore appends to it)."""
        return self._journal

    @property
    def marker(self) -> OriginMarker:
        """How files this vault writes back are marked as from an untrusted origin."""
        return self._marker

    def plaintext_chunks(self, item: QuarantineItem) -> Iterator[bytes]:
        """The stored content of `item`, decrypted chunk by chunk (not yet digest-checked)."""
        try:
            with open(self._content_path(item.id), "rb") as source:
                yield from self._keys.decrypt_chunks(item.id, source, max_bytes=item.size)
        except FileNotFoundError:
            raise VaultError(f"stored content of item {item.id} is missing") from None

    def check_digest(self, item: QuarantineItem, size: int, sha256: str) -> None:
        """Raise VaultError unless `size` and `sha256` are those the record promises."""
        if size != item.size or sha256 != item.sha256:
            raise VaultError(f"stored content of item {item.id} does not match its record")

    # --- quarantine ------------------------------------------------------------------------

    def quarantine(
        self,
        path: str | os.PathLike[str],
        findings: Iterable[Finding],
        *,
        detected_type: str,
        policy_version: str,
        expected_sha256: str | None = None,
    ) -> QuarantineItem:
        """Move the file at `path` into the vault; returns its record.

        VaultError (and the file stays where it is) when it is a symlink or not a regular
        file, changed while being moved, does not match `expected_sha256`, or cannot be
        removed from its folder. The same as `quarantine_many` with one request.
        """
        request = QuarantineRequest(
            Path(path), tuple(findings), detected_type, policy_version, expected_sha256
        )
        (result,) = self.quarantine_many([request])
        if isinstance(result, VaultError):
            raise result
        return result

    def quarantine_many(self, requests: Sequence[QuarantineRequest]) -> list[QuarantineResult]:
        """Move a batch of files in with one flush for all (agent.vault.movein).

        One result per request, in order: the item's record, or the VaultError that kept
        that file where it is (the others are moved all the same). Every copy is durable
        and verified before its original is removed.
        """
        if not requests:
            return []
        with self._exclusive():
            return move_in(self, requests)

    def _place_item(self, item: QuarantineItem, temp_content: Path) -> None:
        """Record to tmp/ (durable), then content and record renamed into items/."""
        del temp_content  # always tmp/<id>.pgq
        write_record(self, item, durable=True)
        rename_in(self, item.id)
        fsync_dir(self._items)

    def _verify_stored(self, item: QuarantineItem) -> None:
        digest = hashlib.sha256()
        size = 0
        for chunk in self.plaintext_chunks(item):
            digest.update(chunk)
            size += len(chunk)
        self.check_digest(item, size, digest.hexdigest())

    def adopt(
        self, item: QuarantineItem, source: Vault, owner_uid: int, owner_sid: str = ""
    ) -> QuarantineItem | None:
        """Copy `item` from another vault (a migration); None when this vault has its id.

        The content is decrypted from `source`, re-encrypted with this vault's key and
        verified; the record is this vault's, with `owner_uid` (Windows: `owner_sid`) decided
        by the caller (the account owning the source vault, never what the source record
        claims).
        """
        with self._exclusive():
            if self._record_path(item.id).exists():
                return None
            adopted = replace(
                item, owner_uid=owner_uid, owner_sid=owner_sid,
                user=owner_name(owner_uid, owner_sid),
            )  # fmt: skip
            temp_content = self._tmp / f"{item.id}{CONTENT_SUFFIX}"
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY
            try:
                with open(os.open(temp_content, flags, FILE_MODE), "wb") as sink:
                    reader = cast(BinaryIO, ChunkReader(source.plaintext_chunks(item)))
                    size, sha256 = self._keys.encrypt_stream(
                        item.id, reader, sink, max_bytes=item.size
                    )
                    sink.flush()
                    sync_data(sink.fileno())
                source.check_digest(item, size, sha256)
                self._place_item(adopted, temp_content)
                self._verify_stored(adopted)
            except BaseException:
                self.remove_item_files(item.id)
                raise
            return adopted

    # --- restore, delete, purge ------------------------------------------------------------

    def restore(
        self, item_id: str, to: Path | None = None, placement: Placement | None = None
    ) -> Path:
        """Put the item back (its original path, or `to`: a folder or a file path).

        Never overwrites: a clash gets "name (restored N).ext". The file is byte-identical
        (SHA-256 checked), gets its original mtime and the OS's untrusted-origin marker; the
        item leaves the vault only after the restored file is in place.
        """
        self._refuse_foreign_restore(to)
        with self._exclusive():
            item = self.get(item_id)
            return restore_item(self, item, to, placement)

    def delete(self, item_id: str) -> None:
        """Remove the item for good (also a damaged one: its files are all that remain)."""
        with self._exclusive():
            if not self._record_path(item_id).exists():
                raise VaultError(f"no quarantined item with id {safe_text(item_id)}")
            self.remove_item_files(item_id)

    def purge(self, older_than_days: float) -> list[str]:
        """Delete items quarantined more than `older_than_days` ago; returns their ids."""
        if older_than_days < 0:
            raise VaultError("purge age must not be negative")
        cutoff = self._clock() - older_than_days * SECONDS_PER_DAY
        purged = []
        with self._exclusive():
            for item in self.items():
                if item.quarantined_at < cutoff:
                    self.remove_item_files(item.id)
                    purged.append(item.id)
        return purged

    # --- files, lock, recovery -------------------------------------------------------------

    def _record_ids(self) -> list[str]:
        names = (p.name for p in self._items.iterdir() if p.name.endswith(RECORD_SUFFIX))
        ids = (n[: -len(RECORD_SUFFIX)] for n in names)
        return sorted(i for i in ids if _ID_PATTERN.fullmatch(i))

    def _record_path(self, item_id: str) -> Path:
        if not _ID_PATTERN.fullmatch(item_id):  # also stops any path tricks in an id
            raise VaultError(f"no quarantined item with id {safe_text(item_id)}")
        return self._items / f"{item_id}{RECORD_SUFFIX}"

    def _content_path(self, item_id: str) -> Path:
        return self._record_path(item_id).with_suffix(CONTENT_SUFFIX)

    def remove_item_files(self, item_id: str) -> None:
        """Record first (the item disappears at once), then content; all idempotent."""
        for path in (
            self._record_path(item_id),
            self._content_path(item_id),
            self._tmp / f"{item_id}{RECORD_SUFFIX}",
            self._tmp / f"{item_id}{CONTENT_SUFFIX}",
        ):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        fsync_dir(self._items)

    def _refuse_foreign_restore(self, to: Path | None) -> None:
        if self.foreign_owner is not None and to is None:
            raise VaultError(
                f"this vault belongs to another account (uid {self.foreign_owner}), which can "
                "write its records and journal: restoring to the path a record names is "
                "refused. Use --to a folder of yours, or protected mode"
            )

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Hold the vault lock, first finishing whatever a dead process left open.

        Recovery runs when the journal holds lines this process did not write and close
        (another process wrote to it, maybe dying mid-operation) and right after an
        operation fails. So one quarantine costs the same with 0 or 50,000
        items in the vault: nothing here lists `items/` unless something went wrong.
        """
        with self._lock.hold():
            if self._journal.needs_recovery():
                self._recover()
            try:
                yield
            except BaseException:
                with contextlib.suppress(OSError, VaultError):  # best effort; at open again
                    self._recover()
                raise
            self._journal.settle()

    def _recover(self) -> None:
        """Resolve what a dead process left open (agent.vault.recovery)."""
        recover(self)

    # --- what agent.vault.recovery uses ---------------------------------------------------

    @property
    def tmp_dir(self) -> Path:
        """Content and records being written."""
        return self._tmp

    @property
    def items_dir(self) -> Path:
        """Stored content and records."""
        return self._items

    def record_ids(self) -> list[str]:
        """Ids of every record file (valid or not)."""
        return self._record_ids()

    def get_or_none(self, item_id: str) -> QuarantineItem | None:
        """The item's record, or None when missing or invalid."""
        return self._get_or_none(item_id)

    def verify_stored(self, item: QuarantineItem) -> None:
        """Decrypt the stored content and check it against the record (VaultError if not)."""
        self._verify_stored(item)

    # --- what agent.vault.movein uses ------------------------------------------------------

    @property
    def keys(self) -> VaultKeys:
        """Content encryption and record signing."""
        return self._keys

    @property
    def clock(self) -> Callable[[], float]:
        """The time source of `quarantined_at`."""
        return self._clock
