"""Restoring a vault item, and recovering a restore a crash interrupted.

Kept apart from agent.vault.store so each module has one job; these functions run only inside
`Vault` while it holds the vault lock. Steps (see agent.vault.store's docstring):
restore-intent -> [temp written, verified, marked] -> placing -> [link] -> restored -> done.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from agent.errors import VaultError
from agent.osmark import OriginMarker
from agent.textsafe import safe_path
from agent.vault.crypto import fsync_dir, sha256_file
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


# Errors meaning "this filesystem has no hard links" (FAT, exFAT, some network shares).
_NO_HARD_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.ENOSYS}
_O_BINARY = getattr(os, "O_BINARY", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
RESTORED_FILE_MODE = 0o666  # the umask applies; never executable
NAME_MAX_BYTES = 255  # longest file name on common filesystems (ext4; NTFS counts UTF-16)
MAX_RESTORE_CLASHES = 999  # "name (restored 999).jpg" is the last name tried
RESTORE_TEMP_PREFIX = ".photogate-restore-"
RESTORE_MARK_REASON = "restored from the Photogate quarantine"


def restore_item(vault: ItemStore, item: QuarantineItem, to: Path | None) -> Path:
    """Write the item back (see `Vault.restore`); returns where it landed."""
    directory, name = _destination(item, to)
    temp = directory / f"{RESTORE_TEMP_PREFIX}{item.id}-{secrets.token_hex(4)}.tmp"
    txn = secrets.token_hex(8)
    journal = vault.journal
    journal.append(
        txn, "restore", "restore-intent", id=item.id, temp_b64=_b64(temp), sha256=item.sha256
    )
    placed: Path | None = None
    try:
        _write_verified(vault, item, temp)
        mtime_ns = item.mtime_ns or round(item.mtime * 1e9)
        os.utime(temp, ns=(mtime_ns, mtime_ns))
        vault.marker.mark(temp, reason=RESTORE_MARK_REASON)  # survives the link: same inode
        crash_point("temp-written")
        placed = _place(vault, txn, item.id, temp, directory, name)
        crash_point("linked")
        journal.append(txn, "restore", "restored", id=item.id)
    except BaseException as error:
        if placed is None:
            temp.unlink(missing_ok=True)
            journal.append(txn, "restore", "aborted", id=item.id)
        # else: the file is in place; the next lock holder's recovery finishes the restore.
        if isinstance(error, OSError):
            raise VaultError(f"could not restore to {safe_path(directory)}: {error}") from error
        raise
    temp.unlink(missing_ok=True)  # after a hard link the temp name is a second name
    fsync_dir(directory)
    crash_point("temp-removed")
    vault.remove_item_files(item.id)
    journal.append(txn, "restore", "done", id=item.id)
    return placed


def recover_restore(vault: ItemStore, operation: OpenOperation) -> None:
    """Finish or undo a restore a dead process left open (the item stays until placed)."""
    fields = operation.fields
    item_id = str(fields["id"])
    temp = _from_b64(str(fields["temp_b64"]))
    journal = vault.journal
    if "restored" not in operation.steps:
        final_b64 = fields.get("final_b64")
        placed = operation.last_step == "placing" and _is_placed(
            temp, _from_b64(str(final_b64)), str(fields["sha256"])
        )
        if not placed:
            temp.unlink(missing_ok=True)
            journal.append(operation.txn, "restore", "aborted", id=item_id)
            return
        journal.append(operation.txn, "restore", "restored", id=item_id)
    temp.unlink(missing_ok=True)
    vault.remove_item_files(item_id)
    journal.append(operation.txn, "restore", "done", id=item_id)


def _destination(item: QuarantineItem, to: Path | None) -> tuple[Path, str]:
    """(folder, wanted name): the original place, a folder given by `to`, or `to` itself."""
    target = Path(item.original_path) if to is None else Path(to).absolute()
    if to is not None and target.is_dir():
        return target, item.name
    if not target.parent.is_dir():
        raise VaultError(f"cannot restore: folder {safe_path(target.parent)} does not exist")
    return target.parent, target.name


def _write_verified(vault: ItemStore, item: QuarantineItem, temp: Path) -> None:
    """Decrypt into a new `temp` (never an existing file), fsync, and check the SHA-256."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_BINARY
    digest = hashlib.sha256()
    size = 0
    with open(os.open(temp, flags, RESTORED_FILE_MODE), "wb") as sink:
        for chunk in vault.plaintext_chunks(item):
            sink.write(chunk)
            digest.update(chunk)
            size += len(chunk)
        sink.flush()
        os.fsync(sink.fileno())
    vault.check_digest(item, size, digest.hexdigest())


def _place(
    vault: ItemStore, txn: str, item_id: str, temp: Path, directory: Path, name: str
) -> Path:
    """Give `temp` the first free name; a hard link never replaces an existing file."""
    for attempt in range(MAX_RESTORE_CLASHES + 1):
        candidate = directory / clash_name(name, attempt)
        if os.path.lexists(candidate):
            continue
        vault.journal.append(txn, "restore", "placing", id=item_id, final_b64=_b64(candidate))
        try:
            os.link(temp, candidate)
        except FileExistsError:
            continue  # taken between the check and the link
        except OSError as error:
            if error.errno not in _NO_HARD_LINKS or os.path.lexists(candidate):
                raise
            temp.rename(candidate)  # no hard links here; Windows rename never replaces
        return candidate
    raise VaultError(f"cannot restore: too many files named like {safe_path(name)}")


def clash_name(name: str, attempt: int) -> str:
    """`name` for attempt 0, else "stem (restored N).ext", cut to NAME_MAX_BYTES bytes."""
    if attempt == 0:
        return name
    raw = os.fsencode(name)
    dot = raw.rfind(b".")
    stem, ext = (raw[:dot], raw[dot:]) if dot > 0 else (raw, b"")
    tag = f" (restored {attempt})".encode("ascii")
    ext = ext[: max(0, NAME_MAX_BYTES - len(tag) - 1)]
    stem = stem[: NAME_MAX_BYTES - len(tag) - len(ext)]
    return os.fsdecode(stem + tag + ext)


def _is_placed(temp: Path, final: Path, sha256: str) -> bool:
    """Did the link (or rename) land? `final` must be our file: same inode or our bytes."""
    if not os.path.lexists(final) or final.is_symlink():
        return False
    if os.path.lexists(temp) and not temp.samefile(final):
        return False
    return sha256_file(final) == sha256


def _b64(path: Path) -> str:
    return base64.b64encode(os.fsencode(path)).decode("ascii")


def _from_b64(text: str) -> Path:
    return Path(os.fsdecode(base64.b64decode(text.encode("ascii"), validate=True)))
