"""Restoring a vault item, and recovering a restore a crash interrupted.

Kept apart from agent.vault.store so each module has one job; these functions run only inside
`Vault` while it holds the vault lock. Steps (see agent.vault.store's docstring):
restore-intent -> [temp written, verified, marked] -> placing -> [link] -> restored -> done.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import secrets
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from agent import platform
from agent.errors import VaultError
from agent.osmark import OriginMarker
from agent.textsafe import safe_path
from agent.vault.crypto import sha256_file
from agent.vault.fsdir import Folder
from agent.vault.journal import Journal, OpenOperation, crash_point
from agent.vault.record import QuarantineItem


class ItemStore(Protocol):
    """What restore needs from the vault's store (`agent.vault.store.Vault` provides it)."""

    @property
    def journal(self) -> Journal: ...

    @property
    def marker(self) -> OriginMarker: ...

    def plaintext_chunks(self, item: QuarantineItem) -> Iterator[bytes]: ...

    def check_digest(self, item: QuarantineItem, size: int, sha256: str) -> None: ...

    def remove_item_files(self, item_id: str) -> None: ...


RESTORED_FILE_MODE = 0o666  # the umask applies; never executable
DOWNLOAD_FILE_MODE = 0o644  # what a browser leaves under the usual umask 022: a download's mode
NAME_MAX_BYTES = 255  # longest file name on common filesystems (ext4; NTFS counts UTF-16)
MAX_RESTORE_CLASHES = 999  # "name (restored 999).jpg" is the last name tried
RESTORE_TEMP_PREFIX = ".photogate-restore-"
RESTORE_MARK_REASON = "restored from the Photogate quarantine"
# The only names recovery ever deletes outside the vault: our own temp names for the item.
_TEMP_NAME = re.compile(r"\.photogate-restore-([0-9a-f]{32})-[0-9a-f]{8}\.tmp")


@dataclass(frozen=True)
class Placement:
    """Who the restored file belongs to and which folder owner is acceptable (protected mode).

    `owner` (uid, gid) makes the new file that account's, with DOWNLOAD_FILE_MODE;
    `folder_uid` refuses a destination folder not owned by that uid, `folder_sid` (Windows)
    one whose owner is not that SID.
    """

    owner: tuple[int, int] | None = None
    folder_uid: int | None = None
    folder_sid: str | None = None


def restore_item(
    vault: ItemStore, item: QuarantineItem, to: Path | None, placement: Placement | None = None
) -> Path:
    """Write the item back (see `Vault.restore`); returns where it landed.

    The destination folder is opened with no link followed at any component, and every
    step happens relative to that open folder (agent.vault.fsdir).
    """
    directory, name = _destination(item, to)
    placement = placement or Placement()
    with Folder.open(directory) as folder:
        if not _folder_owner_ok(directory, folder.info, placement):
            raise VaultError(
                f"cannot restore: folder {safe_path(directory)} does not belong to the file's owner"
            )
        return _restore_into(vault, item, folder, name, placement)


def _restore_into(
    vault: ItemStore, item: QuarantineItem, folder: Folder, name: str, placement: Placement
) -> Path:
    temp_name = f"{RESTORE_TEMP_PREFIX}{item.id}-{secrets.token_hex(4)}.tmp"
    temp = folder.path / temp_name
    txn = secrets.token_hex(8)
    journal = vault.journal
    journal.append(
        txn, "restore", "restore-intent", id=item.id, temp_b64=_b64(temp), sha256=item.sha256
    )
    placed: Path | None = None
    try:
        _write_verified(vault, item, folder, temp_name, placement)
        vault.marker.mark(temp, reason=RESTORE_MARK_REASON)  # survives the link: same inode
        crash_point("temp-written")
        placed = _place(vault, txn, item.id, folder, temp_name, name)
        crash_point("linked")
        journal.append(txn, "restore", "restored", id=item.id)
    except BaseException as error:
        if placed is None:
            with contextlib.suppress(FileNotFoundError):
                folder.unlink(temp_name)
            journal.append(txn, "restore", "aborted", id=item.id)
        # else: the file is in place; the next lock holder's recovery finishes the restore.
        if isinstance(error, OSError):
            raise VaultError(f"could not restore to {safe_path(folder.path)}: {error}") from error
        raise
    with contextlib.suppress(FileNotFoundError):
        folder.unlink(temp_name)  # after a hard link the temp name is a second name
    folder.fsync()
    crash_point("temp-removed")
    vault.remove_item_files(item.id)
    journal.append(txn, "restore", "done", id=item.id)
    return placed


def recover_restore(vault: ItemStore, operation: OpenOperation) -> None:
    """Finish or undo a restore a dead process left open (the item stays until placed).

    The only file recovery removes outside the vault is the temp file, and only when its
    name is our temp-name pattern for this very item, in a folder reached with no link.
    """
    fields = operation.fields
    item_id = str(fields["id"])
    temp = _from_b64(str(fields["temp_b64"]))
    journal = vault.journal
    if "restored" not in operation.steps:
        final_b64 = fields.get("final_b64")
        placed = (
            operation.last_step == "placing"
            and final_b64 is not None
            and _is_placed(temp, _from_b64(str(final_b64)), str(fields["sha256"]))
        )
        if not placed:
            _remove_temp(temp, item_id)
            journal.append(operation.txn, "restore", "aborted", id=item_id)
            return
        journal.append(operation.txn, "restore", "restored", id=item_id)
    _remove_temp(temp, item_id)
    vault.remove_item_files(item_id)
    journal.append(operation.txn, "restore", "done", id=item_id)


def _remove_temp(temp: Path, item_id: str) -> None:
    match = _TEMP_NAME.fullmatch(temp.name)
    if match is None or match.group(1) != item_id:
        return  # not a name we would have made: never touched
    try:
        with Folder.open(temp.parent) as folder:
            info = folder.lstat(temp.name)
            if info is not None and stat.S_ISREG(info.st_mode):
                folder.unlink(temp.name)
    except (OSError, VaultError):
        return


def _destination(item: QuarantineItem, to: Path | None) -> tuple[Path, str]:
    """(folder, wanted name): the original place, a folder given by `to`, or `to` itself."""
    target = Path(item.original_path) if to is None else Path(to).absolute()
    if to is not None and target.is_dir() and not target.is_symlink():
        return target, item.name
    return target.parent, target.name


def _write_verified(
    vault: ItemStore, item: QuarantineItem, folder: Folder, temp_name: str, placement: Placement
) -> None:
    """Decrypt into a new temp file (never an existing file), fsync, check the SHA-256."""
    mode = DOWNLOAD_FILE_MODE if placement.owner is not None else RESTORED_FILE_MODE
    digest = hashlib.sha256()
    size = 0
    with open(folder.create(temp_name, mode), "wb") as sink:
        if placement.owner is not None and sys.platform != "win32":
            os.fchown(sink.fileno(), *placement.owner)  # before any content is in it
            os.fchmod(sink.fileno(), DOWNLOAD_FILE_MODE)
        for chunk in vault.plaintext_chunks(item):
            sink.write(chunk)
            digest.update(chunk)
            size += len(chunk)
        sink.flush()
        os.fsync(sink.fileno())
        mtime_ns = item.mtime_ns or round(item.mtime * 1e9)
        if os.utime in os.supports_fd:
            os.utime(sink.fileno(), ns=(mtime_ns, mtime_ns))
        else:  # pragma: no cover - Windows
            os.utime(folder.path / temp_name, ns=(mtime_ns, mtime_ns))
    vault.check_digest(item, size, digest.hexdigest())


def _place(
    vault: ItemStore, txn: str, item_id: str, folder: Folder, temp_name: str, name: str
) -> Path:
    """Give the temp file the first free name; a hard link never replaces an existing file."""
    for attempt in range(MAX_RESTORE_CLASHES + 1):
        candidate = clash_name(name, attempt)
        if folder.lstat(candidate) is not None:
            continue
        final = folder.path / candidate
        vault.journal.append(txn, "restore", "placing", id=item_id, final_b64=_b64(final))
        try:
            folder.link(temp_name, candidate)
        except FileExistsError:
            continue  # taken between the check and the link
        except OSError as error:
            if not platform.is_no_hard_links(error) or folder.lstat(candidate) is not None:
                raise
            folder.rename_no_replace(temp_name, candidate)  # no hard links on this volume
        return final
    raise VaultError(f"cannot restore: too many files named like {safe_path(name)}")


def clash_name(name: str, attempt: int) -> str:
    """`name` for attempt 0, else "stem (restored N).ext" within NAME_MAX_BYTES bytes.

    Cut by characters, never inside one: a UTF-8 name cut by bytes is invalid UTF-8
    (issue 13). An undecodable byte (a surrogate escape) counts as the one byte it is.
    """
    if attempt == 0:
        return name
    dot = name.rfind(".")
    stem, ext = (name[:dot], name[dot:]) if dot > 0 else (name, "")
    tag = f" (restored {attempt})"
    while ext and _name_bytes(tag + ext) > NAME_MAX_BYTES - 1:
        ext = ext[:-1]
    room = NAME_MAX_BYTES - _name_bytes(tag + ext)
    while stem and _name_bytes(stem) > room:
        stem = stem[: max(0, len(stem) - max(1, (_name_bytes(stem) - room) // 4))]
    return stem + tag + ext


def _name_bytes(text: str) -> int:
    return len(os.fsencode(text))


def _is_placed(temp: Path, final: Path, sha256: str) -> bool:
    """Did the link (or rename) land? `final` must be our file: same inode or our bytes."""
    if final.parent != temp.parent:
        return False  # we only ever link within one folder
    try:
        with Folder.open(final.parent) as folder:
            final_info = folder.lstat(final.name)
            temp_info = folder.lstat(temp.name)
            if final_info is None or not stat.S_ISREG(final_info.st_mode):
                return False
            if temp_info is not None and (temp_info.st_dev, temp_info.st_ino) != (
                final_info.st_dev,
                final_info.st_ino,
            ):
                return False
    except (OSError, VaultError):
        return False
    return sha256_file(final) == sha256


def _b64(path: Path) -> str:
    return base64.b64encode(os.fsencode(path)).decode("ascii")


def _from_b64(text: str) -> Path:
    return Path(os.fsdecode(base64.b64decode(text.encode("ascii"), validate=True)))


def _folder_owner_ok(directory: Path, info: os.stat_result, placement: Placement) -> bool:
    """The destination folder belongs to the account the placement names (if it names one)."""
    if placement.folder_uid is not None and info.st_uid != placement.folder_uid:
        return False
    return placement.folder_sid is None or platform.owner_sid(directory) == placement.folder_sid
