"""Protected mode's backend: requests to the machine's `photogate service` over its socket.

The service identifies the caller by the OS (the socket's peer credentials; on Windows
the pipe client's token) and decides; this side only carries requests and turns error
responses into `Refused` / `BackendError`. One connection per backend, one request at a
time (a lock), reconnected once when the service restarted in between.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.service import protocol
from agent.service.api import (
    MODE_PROTECTED,
    SOCKET_ENV,
    BackendError,
    FlaggedFile,
    Refused,
    Rights,
    ServiceUnavailable,
)
from agent.service.local import state_from_status
from agent.service.staffdb import FalseAlarmReport
from agent.service.state import AgentState
from agent.textsafe import safe_text
from agent.vault.record import QuarantineItem

CONNECT_TIMEOUT_SECONDS = 5.0  # to connect and to say hello
REPLY_TIMEOUT_SECONDS = 120.0  # one reply (a restore or safe copy of a large file takes a while)
MAX_PAGES = 1000  # pages of items read for one `items()` call (200,000 items)
MAX_MESSAGE_CHARS = 1000  # characters of the service's restore message shown to a person
MAX_EXPORTED_IDS = 1500  # item ids sent with one export record (the request stays < 64 KiB)


@dataclass(frozen=True)
class ServiceRestore:
    """What the service said a restore did (as LocalBackend's RestoreOutcome tells it)."""

    path: str
    text: str

    def message(self) -> str:
        """The service's own sentence ("Put back as …; Photogate will not stop …")."""
        return self.text


class RemoteBackend:
    """QuarantineBackend over the local channel to the protected service."""

    def __init__(self, address: str) -> None:
        """Connect to the service at `address` (ServiceUnavailable when it does not answer)."""
        self.address = address
        self._lock = threading.Lock()
        self._next_id = 0
        self._sock: socket.socket | None = None
        self._stream: Any = None
        self._writer: Any = None
        self.hello: dict[str, Any] = {}
        self.last_restore: ServiceRestore | None = None
        with self._lock:
            self._connect()

    @property
    def mode(self) -> str:
        """Always MODE_PROTECTED."""
        return MODE_PROTECTED

    # --- the interface -------------------------------------------------------------------

    def rights(self) -> Rights:
        """What the service lets this caller do."""
        return Rights.from_wire(self._dict(self.call("rights")))

    def items(self) -> list[QuarantineItem]:
        """Every item the service shows this caller, page by page."""
        found: list[QuarantineItem] = []
        offset = 0
        for _page in range(MAX_PAGES):
            page = self._dict(self.call("items", offset=offset))
            for untrusted in page.get("items") or []:
                found.append(self._item(untrusted))
            following = page.get("next")
            if not isinstance(following, int) or following <= offset:
                break
            offset = following
        return found

    def damaged(self) -> list[tuple[str, str]]:
        """Damaged records the caller may see (IT only; staff get none)."""
        result = self.call("damaged")
        pairs = result if isinstance(result, list) else []
        return [(str(p[0]), str(p[1])) for p in pairs if isinstance(p, list) and len(p) == 2]

    def get(self, item_id: str) -> QuarantineItem:
        """One item's record."""
        return self._item(self.call("get", item=item_id))

    def restore(self, item_id: str, to: Path | None = None) -> str:
        """Ask the service to restore; returns where the file landed."""
        where = None if to is None else str(Path(to).absolute())
        result = self._dict(self.call("restore", item=item_id, to=where))
        path = str(result.get("path"))
        untrusted_message = result.get("message")
        text = (
            safe_text(untrusted_message, MAX_MESSAGE_CHARS)
            if isinstance(untrusted_message, str)
            else f"Put back as {safe_text(path, MAX_MESSAGE_CHARS)}."
        )
        self.last_restore = ServiceRestore(path=path, text=text)
        return path

    def delete(self, item_id: str) -> None:
        """Ask the service to delete the item."""
        self.call("delete", item=item_id)

    def purge(self, older_than_days: float | None = None) -> tuple[float, list[str]]:
        """Ask the service to purge (IT only)."""
        result = self._dict(self.call("purge", older_than_days=older_than_days))
        days = result.get("days")
        applied = float(days) if isinstance(days, (int, float)) else float("nan")
        return applied, [str(i) for i in result.get("purged") or []]

    def sanitized_copy(self, item_id: str, dest_dir: Path | None = None) -> str:
        """Ask the service for a pixels-only copy; returns its path."""
        where = None if dest_dir is None else str(Path(dest_dir).absolute())
        return str(self._dict(self.call("sanitized_copy", item=item_id, to=where)).get("path"))

    def report_false_alarm(self, item_id: str, note: str = "") -> None:
        """Report a false alarm (the service writes the audit event)."""
        self.call("report_false_alarm", item=item_id, note=note)

    def flagged(self) -> list[FlaggedFile]:
        """Flagged files of this caller."""
        result = self.call("flagged")
        rows = result if isinstance(result, list) else []
        return [f for f in (_flagged(row) for row in rows) if f is not None]

    # --- extras the review window uses when present (as LocalBackend's) -----------------

    def delete_flagged(self, path: str, sha256: str | None) -> None:
        """Ask the service to delete a flagged file (one of the caller's, policy permitting)."""
        del sha256  # the service reads it from its own records
        self.call("delete_flagged", path=path)

    def report_flagged(self, flagged: FlaggedFile, note: str = "") -> None:
        """Report a flagged file as a false alarm."""
        self.call("report_flagged", path=flagged.path, note=note)

    def reported(self) -> dict[str, FalseAlarmReport]:
        """The caller's false-alarm reports by review-row key ("q:<id>", "f:<path>")."""
        result = self.call("reported")
        rows = result if isinstance(result, list) else []
        reports = (_report(row) for row in rows)
        return {report.key: report for report in reports if report is not None}

    def review_opened(self, listed: int) -> None:
        """The review window opened on this caller's screen (the service records it)."""
        self.call("review_opened", listed=listed)

    def report_exported(self, dest: Path, item_ids: list[str]) -> None:
        """The window saved the list of caught files as `dest` (the service records it)."""
        self.call(
            "report_exported",
            export_path=str(Path(dest).absolute()),
            item_ids=item_ids[:MAX_EXPORTED_IDS],
        )

    def pause(self, seconds: float) -> None:
        """Request a pause; the service honours it if policy allows, and records it."""
        self.call("pause", seconds=seconds)

    def resume(self) -> None:
        """Request a resume."""
        self.call("resume")

    def mark_reviewed(self) -> None:
        """This caller reviewed their items."""
        self.call("mark_reviewed")

    def snapshot(self) -> AgentState:
        """The service's state, as this caller sees it."""
        return state_from_status(self.status())

    def status(self) -> dict[str, Any]:
        """The service's status document (with "mode": "protected")."""
        result = self._dict(self.call("status"))
        result["mode"] = MODE_PROTECTED
        return result

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._disconnect()

    # --- the channel ---------------------------------------------------------------------

    def call(self, op: str, **args: Any) -> Any:
        """Send one request and return its result; Refused/BackendError on an error reply."""
        with self._lock:
            for attempt in range(2):
                try:
                    if self._stream is None:
                        self._connect()
                    return self._exchange(op, args)
                except (OSError, protocol.ProtocolError) as problem:
                    self._disconnect()
                    if attempt == 1 or op not in _IDEMPOTENT:
                        raise ServiceUnavailable(
                            f"the Photogate service stopped answering ({problem})"
                        ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _exchange(self, op: str, args: dict[str, Any]) -> Any:
        assert self._writer is not None
        self._next_id += 1
        message = protocol.request(op, self._next_id, **args)
        self._writer.write(protocol.encode(message, protocol.MAX_REQUEST_BYTES))
        reply = protocol.read_message(self._stream, protocol.MAX_RESPONSE_BYTES)
        if reply is None:
            raise protocol.ProtocolError("the service closed the connection")
        if reply.get("ok") is True:
            return reply.get("result")
        problem = reply.get("error") if isinstance(reply.get("error"), dict) else {}
        assert isinstance(problem, dict)
        text = str(problem.get("message") or "the service refused the request")
        if problem.get("code") == protocol.ERROR_REFUSED:
            raise Refused(text)
        raise BackendError(text)

    def _connect(self) -> None:
        if sys.platform == "win32":  # pragma: no cover - Windows only
            from agent.service.winpipe import open_pipe

            try:
                self._stream = open_pipe(self.address)
            except OSError as problem:
                raise ServiceUnavailable(
                    f"the Photogate service does not answer at {self.address} ({problem})"
                ) from None
            self._writer = self._stream
            self.hello = self._hello()
            return
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(CONNECT_TIMEOUT_SECONDS)
        try:
            sock.connect(self.address)
        except OSError as problem:
            sock.close()
            raise ServiceUnavailable(
                f"protected mode is installed but the Photogate service does not answer at "
                f"{self.address} ({problem.strerror or problem}); ask IT to check it"
            ) from None
        if not os.environ.get(SOCKET_ENV):
            # Only root can listen in /run/photogate; checking the server is root all the same
            # means a look-alike socket elsewhere never receives the requests.
            from agent.service.authority import peer_credentials

            try:
                server_uid = peer_credentials(sock)[1]
            except OSError:
                server_uid = -1
            if server_uid != 0:
                sock.close()
                raise ServiceUnavailable(f"{self.address} is not served by root; not used")
        self._sock = sock
        self._stream = sock.makefile("rb")
        self._writer = sock.makefile("wb", buffering=0)
        self.hello = self._hello()
        sock.settimeout(REPLY_TIMEOUT_SECONDS)

    def _hello(self) -> dict[str, Any]:
        try:
            hello = self._exchange("hello", {"client": "photogate", "protocol": 1})
        except (OSError, protocol.ProtocolError) as problem:
            self._disconnect()
            raise ServiceUnavailable(
                f"the Photogate service did not say hello ({problem})"
            ) from None
        return hello if isinstance(hello, dict) else {}

    def _disconnect(self) -> None:
        for closable in (self._writer, self._stream, self._sock):
            if closable is not None:
                with contextlib.suppress(OSError):
                    closable.close()
        self._sock = self._stream = self._writer = None

    @staticmethod
    def _dict(result: Any) -> dict[str, Any]:
        if not isinstance(result, dict):
            raise BackendError("the service sent a reply of the wrong shape")
        return result

    @staticmethod
    def _item(untrusted: Any) -> QuarantineItem:
        try:
            return protocol.item_from_wire(untrusted)
        except protocol.ProtocolError as problem:
            raise BackendError(f"the service sent a malformed item: {problem}") from None


# Requests that may be sent again after a reconnect without doing anything twice.
_IDEMPOTENT = frozenset(
    {"hello", "rights", "items", "damaged", "get", "flagged", "status", "reported"}
)


def _report(untrusted: Any) -> FalseAlarmReport | None:
    """One report from the channel; None when it is not the shape `reported` sends."""
    if not isinstance(untrusted, dict) or not isinstance(untrusted.get("key"), str):
        return None

    def text(name: str) -> str | None:
        value = untrusted.get(name)
        return value if isinstance(value, str) else None

    when = untrusted.get("reported_at")
    return FalseAlarmReport(
        key=untrusted["key"],
        item_id=text("item_id"),
        sha256=text("sha256"),
        note=text("note") or "",
        reported_by=text("reported_by") or "",
        reported_at=float(when) if isinstance(when, (int, float)) else 0.0,
    )


def _flagged(untrusted: Any) -> FlaggedFile | None:
    if not isinstance(untrusted, dict) or not isinstance(untrusted.get("path"), str):
        return None
    codes = untrusted.get("finding_codes")
    when = untrusted.get("inspected_at")
    return FlaggedFile(
        path=untrusted["path"],
        sha256=untrusted.get("sha256") if isinstance(untrusted.get("sha256"), str) else None,
        detected_type=(
            untrusted["detected_type"] if isinstance(untrusted.get("detected_type"), str) else None
        ),
        finding_codes=tuple(str(c) for c in codes) if isinstance(codes, list) else (),
        folder=untrusted.get("folder") if isinstance(untrusted.get("folder"), str) else None,
        inspected_at=float(when) if isinstance(when, (int, float)) else 0.0,
    )
