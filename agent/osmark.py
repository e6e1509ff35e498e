"""The OS's own untrusted-origin markers: how a flagged or restored file is labelled.

- Linux: freedesktop extended attributes (`user.xdg.origin.url`, `user.xdg.referrer.url`)
  plus our own `user.photogate.verdict` / `user.photogate.reason`.
- Windows: the Mark of the Web, an NTFS stream `file:Zone.Identifier` holding
  `[ZoneTransfer]\\r\\nZoneId=3\\r\\n...` (zone 3 = Internet).
- macOS: `com.apple.quarantine` = `0081;<hex unix time>;Photogate;`.

Markers label, they do not block: they tell other software (Office Protected View, Gatekeeper,
file managers) that the file came from outside. Marking never raises: a filesystem that cannot
hold the marker (FAT, tmpfs without user xattrs, a read-only share) gives `False`.

The Windows and macOS writers sit on tiny storage interfaces (`StreamStore`, `XattrStore`)
whose real implementations only work on their OS; the file-backed / Linux-xattr ones let the
exact bytes be tested here.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from agent import platform

VERDICT_XATTR = "user.photogate.verdict"
REASON_XATTR = "user.photogate.reason"
ORIGIN_URL_XATTR = "user.xdg.origin.url"
REFERRER_URL_XATTR = "user.xdg.referrer.url"
ZONE_STREAM = "Zone.Identifier"
ZONE_INTERNET = 3  # URLZONE_INTERNET: what browsers write for downloads
MAC_QUARANTINE_XATTR = "com.apple.quarantine"
MAC_QUARANTINE_FLAGS = "0081"  # what tools marking their own downloads write (no UUID)
MAC_AGENT_NAME = "Photogate"
MAC_XATTR_TOOL = "/usr/bin/xattr"
MAC_XATTR_TIMEOUT_SECONDS = 5.0
MAX_MARKER_VALUE_BYTES = 4096  # a reason or URL longer than this is cut (xattr size limits)
MAX_ZONE_STREAM_BYTES = 64 * 1024  # reading an existing Zone.Identifier stops here
DEFAULT_VERDICT = "untrusted"


class OriginMarker(Protocol):
    """Writes and reads the OS's untrusted-origin marker on a file."""

    def mark(self, path: Path, *, reason: str, origin_url: str | None = None) -> bool:
        """Label the file as untrusted; False when the filesystem cannot hold the marker."""
        ...

    def read(self, path: Path) -> dict[str, str]:
        """The marker's fields as found on the file ({} when unmarked or unreadable)."""
        ...


def _cut(text: str) -> str:
    """A marker value within MAX_MARKER_VALUE_BYTES, newlines removed (they split formats)."""
    flat = text.replace("\r", " ").replace("\n", " ")
    return flat.encode("utf-8", "replace")[:MAX_MARKER_VALUE_BYTES].decode("utf-8", "ignore")


# --- Linux ---------------------------------------------------------------------------------


class XattrMarker:
    """Linux: `user.xdg.*` and `user.photogate.*` extended attributes, written with os.setxattr."""

    def __init__(self, verdict: str = DEFAULT_VERDICT) -> None:
        self._verdict = verdict

    def mark(self, path: Path, *, reason: str, origin_url: str | None = None) -> bool:
        """Set the attributes without following a symlink; False if xattrs are unsupported."""
        values = {VERDICT_XATTR: self._verdict, REASON_XATTR: _cut(reason)}
        if origin_url:
            values[ORIGIN_URL_XATTR] = _cut(origin_url)
        try:
            for name, value in values.items():
                platform.set_xattr(path, name, value.encode("utf-8"))
        except OSError:
            return False  # ENOTSUP (no user xattrs), EPERM (symlink), EROFS, ENOENT...
        return True

    def read(self, path: Path) -> dict[str, str]:
        """Our and the freedesktop attributes present on the file."""
        found: dict[str, str] = {}
        for name in (VERDICT_XATTR, REASON_XATTR, ORIGIN_URL_XATTR, REFERRER_URL_XATTR):
            with contextlib.suppress(OSError):
                found[name] = platform.get_xattr(path, name).decode("utf-8", "replace")
        return found


# --- Windows -------------------------------------------------------------------------------


class StreamStore(Protocol):
    """Where a file's named side stream lives (an NTFS alternate data stream on Windows)."""

    def write(self, path: Path, stream: str, data: bytes) -> None:
        """Replace the stream's content; raises OSError when it cannot be written."""
        ...

    def read(self, path: Path, stream: str, max_bytes: int) -> bytes:
        """The stream's content (at most `max_bytes`); raises OSError when absent."""
        ...


class NtfsStreamStore:
    """Windows: the real alternate data stream `path:stream` (works only on NTFS/ReFS)."""

    def write(self, path: Path, stream: str, data: bytes) -> None:
        """Write `path:stream`."""
        with open(f"{os.fspath(path)}:{stream}", "wb") as handle:
            handle.write(data)

    def read(self, path: Path, stream: str, max_bytes: int) -> bytes:
        """Read `path:stream`."""
        with open(f"{os.fspath(path)}:{stream}", "rb") as handle:
            return handle.read(max_bytes)


class SidecarStreamStore:
    """A file-backed stand-in: the stream is the sidecar file `<path>:<stream>` on POSIX.

    POSIX allows ':' in names, so the sidecar has the exact name Windows tools would use.
    """

    def write(self, path: Path, stream: str, data: bytes) -> None:
        """Write the sidecar file."""
        Path(f"{os.fspath(path)}:{stream}").write_bytes(data)

    def read(self, path: Path, stream: str, max_bytes: int) -> bytes:
        """Read the sidecar file."""
        with open(f"{os.fspath(path)}:{stream}", "rb") as handle:
            return handle.read(max_bytes)


def zone_identifier_text(origin_url: str | None, referrer_url: str | None = None) -> str:
    """The Mark of the Web content, in the order Chromium and Attachment Services write it."""
    lines = ["[ZoneTransfer]", f"ZoneId={ZONE_INTERNET}"]
    if referrer_url:
        lines.append(f"ReferrerUrl={_cut(referrer_url)}")
    lines.append(f"HostUrl={_cut(origin_url) if origin_url else 'about:internet'}")
    return "\r\n".join(lines) + "\r\n"


def merged_zone_identifier(untrusted_existing: bytes, origin_url: str | None) -> str | None:
    """The stream to write over an existing one, or None when it already says enough.

    What the browser or mail client wrote stays (HostUrl, ReferrerUrl, any other line, in
    its order); ZoneId is only raised to Internet, never lowered (4 = Restricted stays 4);
    only the placeholder HostUrl=about:internet gives way to a real origin URL.
    A stream that is no [ZoneTransfer] section at all is replaced by ours.
    """
    lines = untrusted_existing.decode("utf-8", "replace").splitlines()
    if not lines or lines[0].strip().lower() != "[zonetransfer]":
        return zone_identifier_text(origin_url)
    out: list[str] = []
    zone_seen = host_seen = False
    changed = False
    for line in lines:
        key, sep, value = line.partition("=")
        name = key.strip().lower()
        if sep and name == "zoneid":
            zone_seen = True
            current = int(value.strip()) if value.strip().isdigit() else -1
            if current < ZONE_INTERNET:
                line, changed = f"ZoneId={ZONE_INTERNET}", True
        elif sep and name == "hosturl":
            host_seen = True
            if origin_url and value.strip().lower() == "about:internet":  # a placeholder only
                line, changed = f"HostUrl={_cut(origin_url)}", True
        out.append(line)
    if not zone_seen:
        out.insert(1, f"ZoneId={ZONE_INTERNET}")
        changed = True
    if not host_seen and origin_url:
        out.append(f"HostUrl={_cut(origin_url)}")
        changed = True
    return "\r\n".join(out) + "\r\n" if changed else None


class ZoneIdentifierMarker:
    """Windows: the `Zone.Identifier` stream, at least ZoneId=3 (Internet).

    An existing stream is kept and only raised (`merged_zone_identifier`): the browser's
    HostUrl/ReferrerUrl are what tells IT where a caught file came from.
    """

    def __init__(self, store: StreamStore | None = None) -> None:
        self._store: StreamStore = store if store is not None else NtfsStreamStore()

    def mark(self, path: Path, *, reason: str, origin_url: str | None = None) -> bool:
        """Write the stream; False where it cannot exist (FAT, exFAT, network shares)."""
        del reason  # the Mark of the Web has no field for it; the audit log keeps it
        try:
            untrusted_existing = self._store.read(path, ZONE_STREAM, MAX_ZONE_STREAM_BYTES)
        except OSError:
            text: str | None = zone_identifier_text(origin_url)  # none yet (or unreadable)
        else:
            text = merged_zone_identifier(untrusted_existing, origin_url)
        if text is None:
            return True  # already marked at least as strongly
        try:
            self._store.write(path, ZONE_STREAM, text.encode("utf-8"))
        except OSError:
            return False
        return True

    def read(self, path: Path) -> dict[str, str]:
        """The `key=value` lines of the stream ({} when there is none)."""
        try:
            raw = self._store.read(path, ZONE_STREAM, MAX_ZONE_STREAM_BYTES)
        except OSError:
            return {}
        found: dict[str, str] = {}
        for line in raw.decode("utf-8", "replace").splitlines():
            key, sep, value = line.partition("=")
            if sep:
                found[key.strip()] = value.strip()
        return found


# --- macOS ---------------------------------------------------------------------------------


class XattrStore(Protocol):
    """Sets and gets one named extended attribute (macOS has no os.setxattr)."""

    def write(self, path: Path, name: str, value: str) -> None:
        """Set the attribute; raises OSError on failure."""
        ...

    def read(self, path: Path, name: str) -> str:
        """The attribute's value; raises OSError when absent."""
        ...


class MacXattrTool:
    """macOS: runs /usr/bin/xattr (`-w` to write, `-p` to print); `tool` is for tests."""

    def __init__(self, tool: str = MAC_XATTR_TOOL) -> None:
        self._tool = tool

    def write(self, path: Path, name: str, value: str) -> None:
        """`xattr -w NAME VALUE PATH`."""
        self._run("-w", name, value, os.fspath(path))

    def read(self, path: Path, name: str) -> str:
        """`xattr -p NAME PATH`."""
        return self._run("-p", name, os.fspath(path)).strip()

    def _run(self, *args: str) -> str:
        try:
            done = subprocess.run(
                [self._tool, *args],
                capture_output=True,
                timeout=MAC_XATTR_TIMEOUT_SECONDS,
                check=False,
            )
        except (subprocess.SubprocessError, OSError) as error:
            raise OSError(f"xattr failed: {error}") from error
        if done.returncode != 0:
            raise OSError(f"xattr failed: {done.stderr.decode('utf-8', 'replace').strip()}")
        return done.stdout.decode("utf-8", "replace")


class LinuxUserXattrStore:
    """Linux stand-in for macOS xattrs: `user.<name>` via os.setxattr (for tests)."""

    def write(self, path: Path, name: str, value: str) -> None:
        """Set `user.<name>`."""
        platform.set_xattr(path, f"user.{name}", value.encode("utf-8"))

    def read(self, path: Path, name: str) -> str:
        """Get `user.<name>`."""
        return platform.get_xattr(path, f"user.{name}").decode("utf-8")


def mac_quarantine_value(now: float) -> str:
    """`0081;<hex unix time>;Photogate;` — flags, time, agent, no event UUID."""
    return f"{MAC_QUARANTINE_FLAGS};{int(now):08x};{MAC_AGENT_NAME};"


class QuarantineXattrMarker:
    """macOS: the `com.apple.quarantine` attribute."""

    def __init__(
        self, store: XattrStore | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self._store: XattrStore = store if store is not None else MacXattrTool()
        self._clock = clock

    def mark(self, path: Path, *, reason: str, origin_url: str | None = None) -> bool:
        """Write the attribute; False when it cannot be written."""
        del reason, origin_url  # the URL would go to LaunchServices' database, which we skip
        try:
            self._store.write(path, MAC_QUARANTINE_XATTR, mac_quarantine_value(self._clock()))
        except OSError:
            return False
        return True

    def read(self, path: Path) -> dict[str, str]:
        """{"com.apple.quarantine": value} when present."""
        try:
            return {MAC_QUARANTINE_XATTR: self._store.read(path, MAC_QUARANTINE_XATTR)}
        except OSError:
            return {}


def default_marker() -> OriginMarker:
    """The marker for this OS."""
    if sys.platform == "win32":
        return ZoneIdentifierMarker()
    if sys.platform == "darwin":
        return QuarantineXattrMarker()
    return XattrMarker()
