"""Audit events and notifications.

Every decision becomes one JSON line in a rotating audit log (`<home>/logs/events.jsonl`
unless policy says otherwise), and optionally an RFC 5424 syslog message (UDP, TCP or a
unix socket) and, on Windows, an Event Log entry. When policy says file names are patient
data (`report.hash_file_names`), events carry a salted hash of the path instead of it.

Notifications for people go through the `Notifier` protocol; the tray implements it, and
headless agents use `LogNotifier`, which writes them to the agent log.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import hashlib
import json
import logging
import logging.handlers
import os
import secrets
import socket
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from agent.policy.schema import ReportSettings
from agent.textsafe import safe_name, safe_text

EVENTS_FILE_NAME = "events.jsonl"
SALT_FILE_NAME = "name_salt"
SALT_BYTES = 32  # bytes of per-install random salt for hashed names
PATH_HASH_HEX_CHARS = 32  # hex characters of the salted path hash kept in events
SYSLOG_TIMEOUT_SECONDS = 2.0  # seconds to connect/send to a syslog server
MAX_SYSLOG_MESSAGE_BYTES = 8_192  # bytes: longer syslog messages are cut
SYSLOG_APP_NAME = "photogate"
SYSLOG_PORT = 514

_FACILITIES = {
    "kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6,
    "news": 7, "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11,
    "local0": 16, "local1": 17, "local2": 18, "local3": 19,
    "local4": 20, "local5": 21, "local6": 22, "local7": 23,
}  # fmt: skip
# RFC 5424 severities by event: quarantines are warnings, failures errors, the rest notices.
_SYSLOG_SEVERITY = {"quarantine": 4, "flag": 4, "action_failed": 3, "policy_rejected": 3}
_SYSLOG_DEFAULT_SEVERITY = 5

log = logging.getLogger("photogate.events")


class Notifier(Protocol):
    """Shows people what happened; the tray's implementation shows a toast."""

    def notify(
        self, title: str, message: str, *, item_id: str | None = None, severity: str = "high"
    ) -> None:
        """Tell the person at the desk; must not raise and must return quickly."""
        ...


class LogNotifier:
    """Headless notifications: one line in the agent log per notification."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._log = logger or logging.getLogger("photogate.notify")
        self.sent: list[tuple[str, str, str | None, str]] = []  # kept for the status page

    def notify(
        self, title: str, message: str, *, item_id: str | None = None, severity: str = "high"
    ) -> None:
        """Write the notification to the log."""
        self._log.warning(
            "notification [%s] %s: %s%s",
            severity,
            safe_text(title),
            safe_text(message),
            f" (item {item_id})" if item_id else "",
        )
        self.sent.append((title, message, item_id, severity))
        del self.sent[:-100]  # keep the last 100 only


class EventSink(Protocol):
    """Somewhere events go besides the audit file (syslog, Windows Event Log)."""

    def send(self, event: dict[str, Any]) -> None:
        """Deliver one event; must not raise."""
        ...

    def close(self) -> None:
        """Release sockets and handles."""
        ...


def display_path(path: str | os.PathLike[str]) -> str:
    """A path as exact, valid text: undecodable bytes become `\\xNN` (JSON-safe)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def load_or_create_salt(home: Path) -> bytes:
    """The per-install random salt for hashed names (created 0600 on first use)."""
    salt_path = home / SALT_FILE_NAME
    try:
        existing = salt_path.read_bytes()
        if len(existing) >= SALT_BYTES // 2:
            return existing
    except OSError:
        pass
    home.mkdir(parents=True, exist_ok=True)
    salt = secrets.token_bytes(SALT_BYTES)
    fd = os.open(salt_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(salt)
    return salt


def hash_path(path: str | os.PathLike[str], salt: bytes) -> str:
    """Salted SHA-256 of a path's bytes (hex, shortened): joinable, not reversible."""
    digest = hashlib.sha256(salt + b"\0" + os.fsencode(path)).hexdigest()
    return digest[:PATH_HASH_HEX_CHARS]


def utc_now_iso() -> str:
    """Now as ISO-8601 UTC with milliseconds and a `Z` suffix."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def format_rfc5424(event: dict[str, Any], facility: int, hostname: str) -> bytes:
    """One RFC 5424 syslog message: header, a structured-data element, the JSON event."""
    kind = str(event.get("event", "event"))
    action = str(event.get("action", ""))
    severity = _SYSLOG_SEVERITY.get(action, _SYSLOG_SEVERITY.get(kind, _SYSLOG_DEFAULT_SEVERITY))
    pri = facility * 8 + severity
    msgid = "".join(ch for ch in kind if 33 <= ord(ch) <= 126)[:32] or "-"
    host = "".join(ch for ch in hostname if 33 <= ord(ch) <= 126)[:255] or "-"

    def sd_value(value: object) -> str:
        return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")

    sd = (
        f'[photogate@32473 action="{sd_value(action)}"'
        f' policy="{sd_value(event.get("policy_version", ""))}"]'
    )
    header = (
        f"<{pri}>1 {event.get('time', utc_now_iso())} {host} {SYSLOG_APP_NAME}"
        f" {os.getpid()} {msgid} {sd} "
    )
    body = json.dumps(event, ensure_ascii=True, separators=(",", ":"))
    # BOM marks the MSG as UTF-8 (RFC 5424 section 6.4); ensure_ascii keeps it plain anyway.
    message = header.encode("ascii", "replace") + b"\xef\xbb\xbf" + body.encode("ascii")
    return message[:MAX_SYSLOG_MESSAGE_BYTES]


class SyslogSink:
    """RFC 5424 over `udp://host:port`, `tcp://host:port` (octet counting) or `unix:///path`."""

    def __init__(self, target: str, facility: str = "local0") -> None:
        parsed = urlsplit(target)
        if parsed.scheme not in ("udp", "tcp", "unix"):
            raise ValueError(f"syslog target {target!r}: use udp://, tcp:// or unix://")
        if facility not in _FACILITIES:
            raise ValueError(f"syslog facility {facility!r} is not one of {sorted(_FACILITIES)}")
        self._scheme = parsed.scheme
        self._address: tuple[str, int] | str = (
            parsed.path
            if parsed.scheme == "unix"
            else (parsed.hostname or "localhost", parsed.port or SYSLOG_PORT)
        )
        self._facility = _FACILITIES[facility]
        self._hostname = socket.gethostname()
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()

    def _connect(self) -> socket.socket:
        if self._scheme == "udp":
            assert isinstance(self._address, tuple)
            family = socket.AF_INET6 if ":" in self._address[0] else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_DGRAM)
        elif self._scheme == "tcp":
            sock = socket.create_connection(self._address, timeout=SYSLOG_TIMEOUT_SECONDS)  # type: ignore[arg-type]
        else:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)  # type: ignore[attr-defined,unused-ignore]
            try:
                sock.connect(self._address)
            except OSError:
                sock.close()  # /dev/log may be a stream socket (e.g. some containers)
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # type: ignore[attr-defined,unused-ignore]
                sock.connect(self._address)
        sock.settimeout(SYSLOG_TIMEOUT_SECONDS)
        return sock

    def send(self, event: dict[str, Any]) -> None:
        """Send one event; a failure is logged once per attempt and never raised."""
        message = format_rfc5424(event, self._facility, self._hostname)
        with self._lock:
            for _attempt in range(2):  # one reconnect after a dropped TCP/unix connection
                try:
                    if self._sock is None:
                        self._sock = self._connect()
                    if self._scheme == "udp":
                        self._sock.sendto(message, self._address)
                    elif self._scheme == "tcp":
                        self._sock.sendall(str(len(message)).encode() + b" " + message)
                    elif self._sock.type == socket.SOCK_STREAM:
                        self._sock.sendall(message + b"\0")
                    else:
                        self._sock.send(message)
                    return
                except OSError as error:
                    self._drop()
                    last_error = error
            log.warning("syslog %s: %s", self._scheme, last_error)

    def _drop(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None

    def close(self) -> None:
        """Close the socket."""
        with self._lock:
            self._drop()


EVENTLOG_MESSAGE_DLL = r"%SystemRoot%\Microsoft.NET\Framework64\v4.0.30319\EventLogMessages.dll"


class WindowsEventLogSink:
    """Windows Event Log through `NTEventLogHandler` (needs pywin32; Windows only)."""

    def __init__(self) -> None:
        if sys.platform != "win32":
            raise OSError("the Windows Event Log exists only on Windows")
        # The installer registers the "Photogate" source with .NET's generic message file;
        # passing the same file here keeps an agent run as admin from re-registering the
        # source with pywin32's default path, which does not exist in the frozen build.
        self._handler: logging.Handler = logging.handlers.NTEventLogHandler(
            "Photogate", dllname=EVENTLOG_MESSAGE_DLL
        )

    def send(self, event: dict[str, Any]) -> None:
        """Write the event as one Event Log entry."""
        level = logging.WARNING if event.get("action") in ("quarantine", "flag") else logging.INFO
        record = logging.LogRecord(
            "photogate.audit", level, __file__, 0, json.dumps(event, ensure_ascii=True), None, None
        )
        self._handler.emit(record)

    def close(self) -> None:
        """Close the handler."""
        self._handler.close()


def make_sinks(settings: ReportSettings) -> list[EventSink]:
    """The extra sinks the report settings ask for (unavailable ones are logged, skipped)."""
    sinks: list[EventSink] = []
    if settings.syslog:
        try:
            sinks.append(SyslogSink(settings.syslog, settings.syslog_facility))
        except ValueError as error:
            log.warning("syslog disabled: %s", error)
    if settings.windows_event_log and sys.platform == "win32":
        try:
            sinks.append(WindowsEventLogSink())
        except Exception as error:
            log.warning("Windows Event Log disabled: %s", error)
    return sinks


class EventLog:
    """Writes audit events: one JSON object per line, rotated by size, plus extra sinks."""

    def __init__(
        self,
        settings: ReportSettings,
        home: Path,
        *,
        sinks: Sequence[EventSink] | None = None,
    ) -> None:
        self._home = home
        self._lock = threading.Lock()
        self._host = socket.gethostname()
        try:
            self._user = getpass.getuser()
        except (OSError, KeyError):
            self._user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
        self._handler: logging.handlers.RotatingFileHandler | None = None
        self._sinks: list[EventSink] = []
        self._settings = settings
        self._salt = b""
        self.configure(settings, sinks=sinks)

    @property
    def path(self) -> Path:
        """The audit log file."""
        return self._path

    @property
    def user(self) -> str:
        """The OS account events are recorded under (the `user` field)."""
        return self._user

    @property
    def hashes_names(self) -> bool:
        """True when policy says file names are patient data (only hashes in events)."""
        return bool(self._settings.hash_file_names)

    def configure(
        self, settings: ReportSettings, *, sinks: Sequence[EventSink] | None = None
    ) -> None:
        """Apply new report settings (a policy reload); reopens files and sockets."""
        with self._lock:
            self._close_locked()
            self._settings = settings
            self._path = (
                Path(os.path.expandvars(settings.audit_log)).expanduser()
                if settings.audit_log
                else self._home / "logs" / EVENTS_FILE_NAME
            )
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._handler = logging.handlers.RotatingFileHandler(
                self._path,
                maxBytes=settings.max_log_mb * 1024 * 1024,
                backupCount=max(settings.keep_logs, 0),
                encoding="utf-8",
            )
            self._handler.setFormatter(logging.Formatter("%(message)s"))
            self._sinks = list(make_sinks(settings) if sinks is None else sinks)
            if settings.hash_file_names:
                self._salt = (
                    settings.name_salt.encode("utf-8")
                    if settings.name_salt
                    else load_or_create_salt(self._home)
                )

    def build(
        self,
        kind: str,
        *,
        path: str | os.PathLike[str] | None = None,
        policy_version: str = "",
        **fields: Any,
    ) -> dict[str, Any]:
        """The event dict (without writing it): common fields, then the path or its hash."""
        event: dict[str, Any] = {
            "time": utc_now_iso(),
            "event": kind,
            "host": self._host,
            "user": self._user,
            "policy_version": policy_version,
        }
        if path is not None:
            if self._settings.hash_file_names:
                event["path_hash"] = hash_path(path, self._salt)
            else:
                event["path"] = display_path(path)
                event["name"] = safe_name(display_path(path))
        event.update({key: value for key, value in fields.items() if value is not None})
        return event

    def emit(
        self,
        kind: str,
        *,
        path: str | os.PathLike[str] | None = None,
        policy_version: str = "",
        **fields: Any,
    ) -> dict[str, Any]:
        """Write one event to the audit log and the sinks; returns it. Never raises."""
        event = self.build(kind, path=path, policy_version=policy_version, **fields)
        line = json.dumps(event, ensure_ascii=True, separators=(",", ":"), default=str)
        with self._lock:
            if self._handler is not None:
                record = logging.LogRecord("photogate.audit", logging.INFO, "", 0, line, None, None)
                self._handler.emit(record)
                self._handler.flush()
            sinks = list(self._sinks)
        for sink in sinks:
            try:
                sink.send(event)
            except Exception as error:
                log.warning("event sink failed: %s", error)
        return event

    def _close_locked(self) -> None:
        if self._handler is not None:
            self._handler.close()
            self._handler = None
        for sink in self._sinks:
            with contextlib.suppress(Exception):  # closing is best effort
                sink.close()
        self._sinks = []

    def close(self) -> None:
        """Close the file and the sinks."""
        with self._lock:
            self._close_locked()


def read_events(path: Path) -> list[dict[str, Any]]:
    """Every event in one audit file (tests and `photogate status` use it)."""
    events: list[dict[str, Any]] = []
    try:
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                line = line.strip()
                if line:
                    events.append(json.loads(line))
    except FileNotFoundError:
        pass
    return events
