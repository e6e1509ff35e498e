"""Audit events and notifications.

Every decision becomes one JSON line in a rotating audit log (`<home>/logs/events.jsonl`
unless policy says otherwise), and optionally an RFC 5424 syslog message (agent.service.syslog:
UDP, TCP, TLS or a unix socket) and, on Windows, an Event Log entry. File names can be patient
data: with `report.hash_file_names` (on by default) events that leave the machine carry a
salted hash of the path instead of it; the local log keeps the name (and the hash, to join
them) unless `report.hash_local_file_names` is on too.

Notifications for people go through the `Notifier` protocol; the tray implements it, and
headless agents use `LogNotifier`, which writes them to the agent log.
"""

from __future__ import annotations

import contextlib
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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from agent.policy.schema import ReportSettings
from agent.service.logfiles import PrivateRotatingFileHandler, private_dir
from agent.service.syslog import SyslogSink, format_rfc5424, utc_now_iso
from agent.textsafe import safe_name, safe_text

EVENTS_FILE_NAME = "events.jsonl"
SALT_FILE_NAME = "name_salt"
SALT_BYTES = 32  # bytes of per-install random salt for hashed names
PATH_HASH_HEX_CHARS = 32  # hex characters of the salted path hash kept in events

__all__ = ["EventLog", "SyslogSink", "format_rfc5424", "make_sinks", "read_events"]

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


SPOOL_FOLDER_NAME = "spool"
# Fields that may carry a file name: left out of events that leave the machine when
# `report.hash_file_names` is on (the local log keeps them unless hash_local_file_names).
NAME_FIELDS = ("path", "name", "copy_path", "export_path")


def make_sinks(
    settings: ReportSettings, home: Path, on_dropped: Callable[[int], None] | None = None
) -> list[EventSink]:
    """The extra sinks the report settings ask for (unavailable ones are logged, skipped)."""
    sinks: list[EventSink] = []
    if settings.syslog:
        try:
            sinks.append(
                SyslogSink(
                    settings.syslog,
                    settings.syslog_facility,
                    ca_file=settings.syslog_ca_file,
                    client_cert=settings.syslog_client_cert,
                    client_key=settings.syslog_client_key,
                    spool_dir=home / SPOOL_FOLDER_NAME / "syslog",
                    on_dropped=on_dropped,
                )
            )
        except ValueError as error:
            log.warning("syslog disabled: %s", error)
    if settings.windows_event_log and sys.platform == "win32":
        try:
            sinks.append(WindowsEventLogSink())
        except Exception as error:
            log.warning("Windows Event Log disabled: %s", error)
    return sinks


def remote_form(event: dict[str, Any], local_names: tuple[str, ...]) -> dict[str, Any]:
    """The event as it leaves the machine: name fields dropped, names inside text replaced.

    `local_names` are the path and file name the local event carried; an error message such
    as "[Errno 28] ... '/home/ann/Smith_John.jpg'" must not carry them off the machine either.
    """
    remote = {key: value for key, value in event.items() if key not in NAME_FIELDS}
    names = sorted({name for name in local_names if name}, key=len, reverse=True)
    if names:
        for key, value in remote.items():
            if isinstance(value, str):
                for name in names:
                    value = value.replace(name, "<name hashed>")
                remote[key] = value
    return remote


class EventLog:
    """Writes audit events: one JSON object per line, rotated by size, plus extra sinks.

    The local audit log keeps plain names (unless `report.hash_local_file_names`) and adds
    `path_hash` when names are hashed for the sinks, so local and SIEM events can be joined.
    """

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
        self._handler: PrivateRotatingFileHandler | None = None
        self._sinks: list[EventSink] = []
        self._settings = settings
        self._salt = b""
        self._path = home / "logs" / EVENTS_FILE_NAME
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
        """True when even the local audit log carries only hashes of file names.

        Events that leave the machine drop every NAME_FIELDS field by themselves."""
        return bool(self._settings.hash_local_file_names)

    def _audit_path(self, settings: ReportSettings) -> Path:
        if settings.audit_log:
            return Path(os.path.expandvars(settings.audit_log)).expanduser()
        return self._home / "logs" / EVENTS_FILE_NAME

    @property
    def problem(self) -> str | None:
        """Why the last audit line could not be written (disk full...), or None."""
        handler = self._handler
        return None if handler is None else handler.problem

    def configure(
        self, settings: ReportSettings, *, sinks: Sequence[EventSink] | None = None
    ) -> None:
        """Apply new report settings as a whole (a policy reload).

        The new audit log is opened before the old one is closed: when it cannot be created
        this raises OSError and the old log and sinks stay in use (nothing is dropped).
        """
        path = self._audit_path(settings)
        private_dir(path.parent)  # 0700: it names patients' files
        handler = PrivateRotatingFileHandler(  # 0600; a failed write is one plain line
            path,
            max_bytes=settings.max_log_mb * 1024 * 1024,
            backups=max(settings.keep_logs, 0),
        )
        handler.setFormatter(logging.Formatter("%(message)s"))
        try:
            hashing = settings.hash_file_names or settings.hash_local_file_names
            salt = b""
            if hashing:
                salt = (
                    settings.name_salt.encode("utf-8")
                    if settings.name_salt
                    else load_or_create_salt(self._home)
                )
        except OSError:
            handler.close()
            raise
        # The old sinks stop before the new ones open: a syslog sink's spool folder is the same
        # across a reload, and two senders on one spool would deliver its messages twice.
        with self._lock:
            old_sinks, self._sinks = self._sinks, []
        for sink in old_sinks:
            with contextlib.suppress(Exception):  # closing is best effort
                sink.close()
        new_sinks = list(
            make_sinks(settings, self._home, self._report_dropped) if sinks is None else sinks
        )
        with self._lock:
            old_handler = self._handler
            self._handler, self._sinks = handler, new_sinks
            self._settings, self._path, self._salt = settings, path, salt
        if old_handler is not None:
            old_handler.close()

    def _report_dropped(self, count: int) -> None:
        """A sink's spool was full while its receiver was down: say how many were lost."""
        self.emit("events_dropped", count=count, sink="syslog")

    def build(
        self,
        kind: str,
        *,
        path: str | os.PathLike[str] | None = None,
        policy_version: str = "",
        **fields: Any,
    ) -> dict[str, Any]:
        """The local event dict (without writing it): common fields, then the path or hash."""
        event: dict[str, Any] = {
            "time": utc_now_iso(),
            "event": kind,
            "host": self._host,
            "user": self._user,
            "policy_version": policy_version,
        }
        settings = self._settings
        if path is not None:
            if settings.hash_file_names or settings.hash_local_file_names:
                event["path_hash"] = hash_path(path, self._salt)
            if not settings.hash_local_file_names:
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
        """Write one event to the audit log and the sinks; returns the local form."""
        event = self.build(kind, path=path, policy_version=policy_version, **fields)
        line = json.dumps(event, ensure_ascii=True, separators=(",", ":"), default=str)
        with self._lock:
            if self._handler is not None:
                record = logging.LogRecord("photogate.audit", logging.INFO, "", 0, line, None, None)
                self._handler.emit(record)
                self._handler.flush()
            sinks = list(self._sinks)
            hash_remote = self._settings.hash_file_names
        if not sinks:
            return event
        outgoing = event
        if hash_remote and path is not None:
            shown = display_path(path)
            outgoing = remote_form(event, (shown, Path(shown).name))
        for sink in sinks:
            try:
                sink.send(outgoing)
            except Exception as error:
                log.warning("event sink failed: %s", error)
        return event

    def sink_health(self) -> list[dict[str, Any]]:
        """Each sink's delivery state (sinks that track it), for the status file."""
        with self._lock:
            sinks = list(self._sinks)
        states = []
        for sink in sinks:
            health = getattr(sink, "health", None)
            if callable(health):
                states.append(health().to_json())
        return states

    def close(self) -> None:
        """Close the file and the sinks."""
        with self._lock:
            handler, sinks = self._handler, self._sinks
            self._handler, self._sinks = None, []
        if handler is not None:
            handler.close()
        for sink in sinks:
            with contextlib.suppress(Exception):  # closing is best effort
                sink.close()


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
