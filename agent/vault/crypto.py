"""The vault's cryptography: the per-install key, chunked AES-GCM content, signed records.

Stored content is neutralized by encryption, not hidden: nothing (a viewer, an indexer, a
double-click) can open or run a `.pgq` file by accident. Content is encrypted in chunks of
`CHUNK_BYTES` so a 2 GB file never needs 2 GB of memory. Each chunk's nonce is a random
per-file prefix plus the chunk index, and its associated data binds the item id, the index and
whether it is the last chunk, so chunks cannot be reordered, swapped between items, or cut off.

Records are JSON signed with an HMAC (a key derived from the same install key), so a record
edited on disk (e.g. its original path pointed elsewhere) is refused; journal lines are
signed with a third derived key (agent.vault.journal).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import json
import os
import secrets
import stat
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from agent.errors import VaultError
from agent.platform.portable import sync_folder_by_path

KEY_FILE_NAME = "vault.key"
KEY_BYTES = 32  # install master key: 256 bits of os randomness
KEY_FILE_MODE = 0o600
CHUNK_BYTES = 1024 * 1024  # plaintext bytes per AES-GCM chunk (1 MiB)
TAG_BYTES = 16  # AES-GCM authentication tag per chunk
MAGIC = b"PGQ\x00v001"  # 8 bytes: marks a Photogate vault content file, format 1
NONCE_PREFIX_BYTES = 8  # random per file; + 4-byte chunk index = 12-byte GCM nonce
HEADER_BYTES = len(MAGIC) + NONCE_PREFIX_BYTES
MAX_CHUNKS = 2**32 - 1  # the chunk index must fit its 4 nonce bytes (4 PiB at 1 MiB chunks)
RECORD_FORMAT = 1


class VaultKeys:
    """The two keys derived from the install key: content encryption and record signing."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != KEY_BYTES:
            raise VaultError(f"vault key has {len(master_key)} bytes, expected {KEY_BYTES}")
        self._content = AESGCM(_derive(master_key, b"photogate vault content v1"))
        self._record_key = _derive(master_key, b"photogate vault record hmac v1")
        self.journal_key = _derive(master_key, b"photogate vault journal hmac v1")

    # --- content -------------------------------------------------------------------------

    def encrypt_stream(
        self, item_id: str, source: BinaryIO, sink: BinaryIO, *, max_bytes: int | None = None
    ) -> tuple[int, str]:
        """Encrypt `source` into `sink`; returns (plaintext bytes, plaintext SHA-256 hex).

        Reads one chunk ahead so the last chunk is known and sealed as the last one.
        `max_bytes` stops a source that keeps growing (VaultError).
        """
        prefix = secrets.token_bytes(NONCE_PREFIX_BYTES)
        sink.write(MAGIC + prefix)
        digest = hashlib.sha256()
        total = 0
        index = 0
        chunk = source.read(CHUNK_BYTES)
        while True:
            following = source.read(CHUNK_BYTES) if len(chunk) == CHUNK_BYTES else b""
            is_last = not following
            digest.update(chunk)
            total += len(chunk)
            if max_bytes is not None and total > max_bytes:
                raise VaultError(f"file grew past {max_bytes} bytes while it was being stored")
            sink.write(self._seal(item_id, prefix, index, is_last, chunk))
            if is_last:
                return total, digest.hexdigest()
            chunk = following
            index += 1

    def decrypt_chunks(
        self, item_id: str, source: BinaryIO, *, max_bytes: int | None = None
    ) -> Iterator[bytes]:
        """Yield the plaintext of an encrypted content file, chunk by chunk, authenticated.

        Raises VaultError when the file is damaged, truncated, belongs to another item, or
        decrypts to more than `max_bytes`.
        """
        header = source.read(HEADER_BYTES)
        if len(header) != HEADER_BYTES or not header.startswith(MAGIC):
            raise VaultError(f"stored content of item {item_id} is not a vault file")
        prefix = header[len(MAGIC) :]
        sealed_size = CHUNK_BYTES + TAG_BYTES
        index = 0
        total = 0
        sealed = source.read(sealed_size)
        while True:
            following = source.read(sealed_size) if len(sealed) == sealed_size else b""
            is_last = not following
            chunk = self._open(item_id, prefix, index, is_last, sealed)
            total += len(chunk)
            if max_bytes is not None and total > max_bytes:
                raise VaultError(f"stored content of item {item_id} is larger than its record")
            yield chunk
            if is_last:
                return
            sealed = following
            index += 1

    def _seal(self, item_id: str, prefix: bytes, index: int, is_last: bool, chunk: bytes) -> bytes:
        if index > MAX_CHUNKS:
            raise VaultError("file too large for the vault format")
        nonce = prefix + struct.pack(">I", index)
        return self._content.encrypt(nonce, chunk, _chunk_aad(item_id, index, is_last))

    def _open(self, item_id: str, prefix: bytes, index: int, is_last: bool, sealed: bytes) -> bytes:
        if index > MAX_CHUNKS or len(sealed) < TAG_BYTES:
            raise VaultError(f"stored content of item {item_id} is truncated or damaged")
        nonce = prefix + struct.pack(">I", index)
        try:
            return self._content.decrypt(nonce, sealed, _chunk_aad(item_id, index, is_last))
        except InvalidTag:
            raise VaultError(
                f"stored content of item {item_id} is damaged or was altered (chunk {index})"
            ) from None

    # --- records -------------------------------------------------------------------------

    def sign_record(self, fields: dict[str, Any]) -> bytes:
        """The record file's bytes: the fields plus an HMAC over their canonical JSON."""
        mac = hmac.new(self._record_key, _canonical(fields), hashlib.sha256).hexdigest()
        document = {"format": RECORD_FORMAT, "fields": fields, "hmac": mac}
        return json.dumps(document, indent=1, sort_keys=True).encode("ascii") + b"\n"

    def open_record(self, item_id: str, untrusted_bytes: bytes) -> dict[str, Any]:
        """The fields of a record file, only if its HMAC is valid and it names `item_id`."""
        try:
            document = json.loads(untrusted_bytes)
            fields = document["fields"]
            untrusted_mac = str(document["hmac"])
            record_format = document["format"]
        except (ValueError, KeyError, TypeError):
            raise VaultError(f"quarantine record {item_id} is unreadable (damaged)") from None
        if record_format != RECORD_FORMAT or not isinstance(fields, dict):
            raise VaultError(f"quarantine record {item_id} has an unknown format")
        expected = hmac.new(self._record_key, _canonical(fields), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, untrusted_mac) or fields.get("id") != item_id:
            raise VaultError(
                f"quarantine record {item_id} has been altered since it was written "
                "(its signature does not match); refusing to use it"
            )
        return fields


def _derive(master_key: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(master_key)


def _chunk_aad(item_id: str, index: int, is_last: bool) -> bytes:
    return b"photogate-vault\x00" + item_id.encode("ascii") + struct.pack(">QB", index, is_last)


def _canonical(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode("ascii")


def load_or_create_key(root: Path) -> VaultKeys:
    """The install key from `<root>/vault.key`, created (0600, fsynced) on first use.

    Creation writes a temp file and hard-links it into place, so two processes starting at
    once end up with the same key and a crash never leaves a short key file.
    """
    key_path = root / KEY_FILE_NAME
    if not key_path.exists():
        temp_path = root / f".{KEY_FILE_NAME}.{secrets.token_hex(8)}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        fd = os.open(temp_path, flags, KEY_FILE_MODE)
        try:
            os.write(fd, secrets.token_bytes(KEY_BYTES))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temp_path, key_path)
        except FileExistsError:
            pass  # another process won the race: use its key
        except OSError:
            # No hard links on this filesystem: a plain rename that does not replace.
            if not key_path.exists():
                temp_path.replace(key_path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                temp_path.unlink()
        fsync_dir(root)
    with contextlib.suppress(OSError):
        key_path.chmod(KEY_FILE_MODE)
    return VaultKeys(key_path.read_bytes())


def sha256_file(path: Path, *, expected_size: int | None = None) -> str | None:
    """SHA-256 hex of the regular file at `path` (a link is not followed), or None when it
    is missing, not a regular file, unreadable, or not `expected_size` bytes long."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_BINARY", 0))
    except OSError:
        return None
    with open(fd, "rb") as source:
        info = os.fstat(source.fileno())
        if not stat.S_ISREG(info.st_mode):
            return None
        if expected_size is not None and info.st_size != expected_size:
            return None
        digest = hashlib.sha256()
        while chunk := source.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def sync_data(fd: int) -> None:
    """Make a file's bytes and size durable: fdatasync where the OS has it, else fsync.

    What recovery needs of a file the vault wrote (content, record, journal) is its bytes
    and its length; fdatasync flushes both (POSIX: all metadata needed to read the data
    back) and skips only timestamps, which nothing in the vault relies on. macOS and
    Windows have no os.fdatasync: fsync there.
    """
    fdatasync = getattr(os, "fdatasync", None)
    if fdatasync is not None:
        fdatasync(fd)
    else:
        os.fsync(fd)


def fsync_dir(directory: Path) -> None:
    """Make renames and unlinks in `directory` durable (no-op where unsupported: Windows)."""
    sync_folder_by_path(directory)


class ChunkReader(io.RawIOBase):
    """A binary reader over an iterator of byte chunks (for re-encrypting a vault item)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            try:
                self._buffer += next(self._chunks)
            except StopIteration:
                break
        if size < 0:
            size = len(self._buffer)
        taken, self._buffer = self._buffer[:size], self._buffer[size:]
        return taken
