"""Reading a policy or preferences file without ever blocking or reading without bound.

A FIFO at the policy path used to hang the worker for good, and `preferences.toml` linked to
`/dev/zero` grew the agent to gigabytes (issue 13). So: open with O_NONBLOCK (a FIFO opens at
once instead of waiting for a writer), check on the open descriptor that it is a regular file
and not over the size cap, then read at most cap + 1 bytes. Symbolic links are refused
(O_NOFOLLOW) except where IT's documented layout uses one: the machine policy file may be a
link (configuration tools publish a push by swapping a link), but its target must still be a
regular file.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MAX_POLICY_FILE_BYTES = 16 * 1024**2  # bytes: a policy or preferences file over this is refused
READ_CHUNK_BYTES = 1024**2  # bytes read per call


class PolicyFileError(Exception):
    """The file cannot be used as policy; the message is plain words for IT."""


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


def read_policy_file(
    path: os.PathLike[str] | str,
    *,
    allow_symlink: bool = False,
    max_bytes: int = MAX_POLICY_FILE_BYTES,
) -> bytes:
    """The bytes of one policy file; raises PolicyFileError (never blocks, never over cap).

    Raises FileNotFoundError when the file does not exist (the caller decides what an absent
    layer means).
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_BINARY", 0)
    if not allow_symlink:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise
    except OSError as error:
        if not allow_symlink and Path(path).is_symlink():
            raise PolicyFileError("is a symbolic link; use a regular file") from None
        raise PolicyFileError(f"cannot read: {error.strerror or error}") from None
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise PolicyFileError(f"is {_kind(status.st_mode)}, not a regular file")
        if status.st_size > max_bytes:
            raise PolicyFileError(f"larger than {max_bytes // 1024**2} MB")
        chunks: list[bytes] = []
        total = 0
        while total <= max_bytes:  # a file growing while read is still cut at the cap
            try:
                chunk = os.read(fd, min(READ_CHUNK_BYTES, max_bytes + 1 - total))
            except OSError as error:
                raise PolicyFileError(f"cannot read: {error.strerror or error}") from None
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > max_bytes:
            raise PolicyFileError(f"larger than {max_bytes // 1024**2} MB")
        return b"".join(chunks)
    finally:
        os.close(fd)
