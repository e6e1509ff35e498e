"""Shared helpers for the vault tests: deterministic sample bytes, findings, a user-xattr folder."""

from __future__ import annotations

import hashlib
import os
import random
import tempfile
from pathlib import Path

import pytest

from agent.model import Finding, Severity

REPO_ROOT = Path(__file__).resolve().parent.parent

FINDINGS = (
    Finding(
        code="jpeg.trailer.zip",
        severity=Severity.HIGH,
        message="A ZIP archive is hidden after the end of this picture.",
        offset=1234,
        length=99,
        payload="zip",
    ),
)


def sample_bytes(seed: int, size: int) -> bytes:
    """`size` deterministic pseudo-random bytes (a JPEG-like start, so they look like photos)."""
    rng = random.Random(seed)
    head = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"
    body = rng.randbytes(max(0, size - len(head)))
    return (head + body)[:size]


def sha256_hex(data: bytes) -> str:
    """SHA-256 of bytes as lower-case hex."""
    return hashlib.sha256(data).hexdigest()


def _supports_user_xattrs(directory: Path) -> bool:
    probe = Path(tempfile.mkdtemp(dir=directory, prefix="xattr-probe-"))
    target = probe / "probe"
    target.write_bytes(b"")
    try:
        os.setxattr(target, "user.photogate.probe", b"1")
        return True
    except OSError:
        return False
    finally:
        target.unlink()
        probe.rmdir()


def xattr_capable_dir(tmp_path: Path) -> Path:
    """A fresh folder on a filesystem with user xattrs: tmp_path, /var/tmp or the repo.

    Fails (never skips) when none of them supports user extended attributes.
    """
    for base in (tmp_path, Path("/var/tmp"), REPO_ROOT):
        if base.is_dir() and _supports_user_xattrs(base):
            if base == tmp_path:
                return tmp_path
            return Path(tempfile.mkdtemp(dir=base, prefix="photogate-xattr-test-"))
    pytest.fail(
        "no filesystem here supports user extended attributes (tried the test tmp folder, "
        "/var/tmp and the repository); the Linux origin marker cannot be tested"
    )
