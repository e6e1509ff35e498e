"""A quarantined file's record: what `photogate quarantine show` prints and the vault signs.

Paths are kept losslessly: `original_path` is the OS's `str` (undecodable bytes as surrogate
escapes, os.fsdecode), and records store the exact bytes as base64 next to it.
"""

from __future__ import annotations

import base64
import getpass
import os
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent import platform
from agent.errors import VaultError
from agent.model import Finding

# A SID as ConvertSidToStringSid writes it: revision 1, an authority, up to 15 sub-authorities.
SID_TEXT = re.compile(r"S-1-\d{1,13}(?:-\d{1,10}){0,15}")


@dataclass(frozen=True)
class QuarantineItem:
    """One quarantined file's record (what `photogate quarantine show` prints)."""

    id: str
    original_path: str  # absolute; undecodable bytes kept as surrogate escapes (os.fsdecode)
    name: str
    size: int
    sha256: str
    quarantined_at: float  # epoch seconds
    mtime: float  # the original file's mtime, put back on restore
    findings: tuple[Finding, ...]
    policy_version: str
    user: str
    detected_type: str
    mtime_ns: int = 0  # the same mtime to the nanosecond (a float loses the last digits)
    owner_uid: int = -1  # POSIX uid that owned the file (-1: unknown, e.g. Windows, old records)
    owner_sid: str = ""  # Windows: the SID that owned the file ("": POSIX, unknown, old records)

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape (one line of `photogate quarantine list --json`).

        `original_path` may contain lone surrogates (undecodable bytes) which JSON escapes
        as `\\udcXX`; `original_path_b64` is the exact bytes for tools that need them.
        """
        return {
            "id": self.id,
            "original_path": self.original_path,
            "original_path_b64": b64_path(self.original_path),
            "name": self.name,
            "size": self.size,
            "sha256": self.sha256,
            "quarantined_at": _iso_utc(self.quarantined_at),
            "mtime": _iso_utc(self.mtime),
            "findings": [f.to_json() for f in self.findings],
            "policy_version": self.policy_version,
            "user": self.user,
            "detected_type": self.detected_type,
        }

    def record_fields(self) -> dict[str, Any]:
        """The fields the vault signs and stores (exact path bytes and mtime included)."""
        return {
            "id": self.id,
            "original_path_b64": b64_path(self.original_path),
            "original_path": self.original_path,
            "size": self.size,
            "sha256": self.sha256,
            "quarantined_at": self.quarantined_at,
            "mtime": self.mtime,
            "mtime_ns": self.mtime_ns,
            "findings": [f.to_json() for f in self.findings],
            "policy_version": self.policy_version,
            "user": self.user,
            "detected_type": self.detected_type,
            **({"owner_uid": self.owner_uid} if self.owner_uid >= 0 else {}),
            **({"owner_sid": self.owner_sid} if self.owner_sid else {}),
        }

    @classmethod
    def from_record_fields(cls, item_id: str, fields: dict[str, Any]) -> QuarantineItem:
        """The item from verified record fields; VaultError when a field is missing or bad."""
        try:
            original_path = path_from_b64(str(fields["original_path_b64"]))
            return cls(
                id=item_id,
                original_path=original_path,
                name=Path(original_path).name,
                size=int(fields["size"]),
                sha256=str(fields["sha256"]),
                quarantined_at=float(fields["quarantined_at"]),
                mtime=float(fields["mtime"]),
                findings=tuple(Finding.from_json(f) for f in fields["findings"]),
                policy_version=str(fields["policy_version"]),
                user=str(fields["user"]),
                detected_type=str(fields["detected_type"]),
                mtime_ns=int(fields.get("mtime_ns", 0)),
                owner_uid=_uid(fields.get("owner_uid", -1)),
                owner_sid=_sid(fields.get("owner_sid", "")),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise VaultError(f"quarantine record {item_id} is incomplete ({error})") from None


def b64_path(path: str | os.PathLike[str]) -> str:
    """The path's exact bytes (os.fsencode) as base64 text."""
    return base64.b64encode(os.fsencode(path)).decode("ascii")


def path_from_b64(text: str) -> str:
    """Inverse of `b64_path`."""
    return os.fsdecode(base64.b64decode(text.encode("ascii"), validate=True))


def _iso_utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def _uid(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not -1 <= value < 2**32:
        raise ValueError("owner_uid is not a uid")
    return value


def _sid(value: object) -> str:
    """A SID in string form (`S-1-5-21-…`), or "" for none."""
    if value == "":
        return ""
    if not isinstance(value, str) or not SID_TEXT.fullmatch(value):
        raise ValueError("owner_sid is not a SID")
    return value


def owner_name(uid: int, sid: str = "") -> str:
    """The recorded `user`: the owning account's name (by SID on Windows, else by uid)."""
    if sid:
        return platform.account_name(sid) or sid
    return user_name(uid)


def user_name(uid: int) -> str:
    """The login name of `uid` (the uid as text when it has no name; current user when -1)."""
    if uid < 0 or sys.platform == "win32":
        return current_user()
    import pwd

    try:
        return str(pwd.getpwuid(uid).pw_name)
    except KeyError:
        return str(uid)


def current_user() -> str:
    """The login name recorded with each item ("unknown" when the OS cannot say)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):
        return "unknown"
