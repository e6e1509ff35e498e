"""Safe copies made by the protected service and handed to their owner.

The picture is decoded by the limited child (agent.sanitize.parent) into the service's own
private folder; only the fresh image is then written into the user's folder, as that user,
through a folder opened with no link followed (agent.vault.fsdir), never over a file.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
import tempfile
from pathlib import Path

from agent.errors import VaultError
from agent.sanitize.parent import SanitizeError, sanitize_file, sanitized_name
from agent.textsafe import safe_path
from agent.vault.fsdir import Folder
from agent.vault.record import QuarantineItem
from agent.vault.restore import DOWNLOAD_FILE_MODE, MAX_RESTORE_CLASHES, Placement
from agent.vault.store import Vault

COPY_CHUNK_BYTES = 1024 * 1024  # bytes copied per write
PRIVATE_DIR_MODE = 0o700


def write_safe_copy(
    vault: Vault, item: QuarantineItem, folder: Path, placement: Placement
) -> tuple[Path, str]:
    """Decode `item` in the child, write the copy into `folder`; returns (path, format)."""
    with tempfile.TemporaryDirectory(prefix="photogate-copy-") as private:
        os.chmod(private, PRIVATE_DIR_MODE)  # noqa: PTH101 - mkdtemp is 0700 already; be sure
        name = sanitized_name(item.name)
        staged = Path(private) / f"{secrets.token_hex(8)}{Path(name).suffix}"
        try:
            result = sanitize_file(vault.read_content(item.id), staged)
        except SanitizeError as error:
            raise VaultError(str(error)) from None
        with Folder.open(folder) as target:
            if placement.folder_uid is not None and target.info.st_uid != placement.folder_uid:
                raise VaultError(f"folder {safe_path(folder)} does not belong to the file's owner")
            return _place_copy(target, name, staged, placement), result.format


def _place_copy(target: Folder, name: str, staged: Path, placement: Placement) -> Path:
    stem, dot, ext = name.rpartition(".")
    for attempt in range(1, MAX_RESTORE_CLASHES + 1):
        candidate = name if attempt == 1 else f"{stem} ({attempt}){dot}{ext}"
        try:
            fd = target.create(candidate, DOWNLOAD_FILE_MODE)
        except FileExistsError:
            continue
        try:
            with open(fd, "wb") as sink, staged.open("rb") as source:
                if placement.owner is not None and sys.platform != "win32":
                    os.fchown(sink.fileno(), *placement.owner)
                    os.fchmod(sink.fileno(), DOWNLOAD_FILE_MODE)  # the service's umask is 077
                while chunk := source.read(COPY_CHUNK_BYTES):
                    sink.write(chunk)
                sink.flush()
                os.fsync(sink.fileno())
        except BaseException:
            with contextlib.suppress(OSError):
                target.unlink(candidate)
            raise
        target.fsync()
        return target.path / candidate
    raise VaultError(f"too many files named like {safe_path(name)}")
