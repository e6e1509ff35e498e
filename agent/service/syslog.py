"""RFC 5424 syslog: UDP, TCP, TLS (RFC 5425) and unix sockets, with a disk spool for streams.

`tls://host:6514` verifies the server's certificate against `report.syslog_ca_file` (or the
system's CAs) and its host name, and may present a client certificate. TCP and TLS use
octet-counted framing (`MSG-LEN SP SYSLOG-MSG`, RFC 5425 section 4.3 / RFC 6587 section 3.4.1).

For TCP and TLS every message goes through a `Spool` on disk and one sender thread delivers
them in order: the worker that judges files never waits for the network, a receiver that is
down loses nothing until the spool is full (then the oldest go, and an `events_dropped` event
says how many), and what is spooled is resent after a restart. `health()` says how delivery
goes for `photogate status`. UDP and unix datagrams are sent at once (nothing to wait for, and
UDP cannot tell that nobody listens).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from agent.service.spool import Spool

SYSLOG_TIMEOUT_SECONDS = 2.0  # seconds to connect/send to a syslog server
MAX_SYSLOG_MESSAGE_BYTES = 8_192  # bytes: longer syslog messages are cut
SYSLOG_APP_NAME = "photogate"
SYSLOG_PORT = 514
SYSLOG_TLS_PORT = 6514  # RFC 5425
RETRY_FIRST_SECONDS = 1.0  # first wait after a failed delivery
RETRY_MAX_SECONDS = 30.0  # longest wait between delivery attempts
CLOSE_DRAIN_SECONDS = 2.0  # on close, how long the sender may still deliver what is spooled
# With TLS 1.3 a server that refuses our client certificate says so only after our handshake
# has finished: listen this long after connecting so a refusal is not taken for delivery.
TLS_REFUSAL_WAIT_SECONDS = 0.3
SCHEMES = ("udp", "tcp", "tls", "unix")

FACILITIES = {
    "kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6,
    "news": 7, "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11,
    "local0": 16, "local1": 17, "local2": 18, "local3": 19,
    "local4": 20, "local5": 21, "local6": 22, "local7": 23,
}  # fmt: skip
# RFC 5424 severities by event: quarantines are warnings, failures errors, the rest notices.
_SEVERITY = {
    "quarantine": 4, "flag": 4, "action_failed": 3, "policy_rejected": 3,
    "events_dropped": 4, "preferences_rejected": 4,
}  # fmt: skip
_DEFAULT_SEVERITY = 5

log = logging.getLogger("photogate.events")


def utc_now_iso() -> str:
    """Now as ISO-8601 UTC with milliseconds and a `Z` suffix."""
    import datetime as dt

    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def format_rfc5424(event: dict[str, Any], facility: int, hostname: str) -> bytes:
    """One RFC 5424 syslog message: header, a structured-data element, the JSON event."""
    kind = str(event.get("event", "event"))
    action = str(event.get("action", ""))
    severity = _SEVERITY.get(action, _SEVERITY.get(kind, _DEFAULT_SEVERITY))
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
    body = json.dumps(event, ensure_ascii=True, separators=(",", ":"), default=str)
    # BOM marks the MSG as UTF-8 (RFC 5424 section 6.4); ensure_ascii keeps it plain anyway.
    message = header.encode("ascii", "replace") + b"\xef\xbb\xbf" + body.encode("ascii")
    return message[:MAX_SYSLOG_MESSAGE_BYTES]


@dataclass(frozen=True)
class SinkHealth:
    """How delivery to one sink goes, for `photogate status`."""

    target: str
    ok: bool
    last_delivery: float | None  # epoch seconds of the last message the receiver took
    backlog: int  # messages waiting in the spool
    dropped_total: int  # messages dropped because the spool was full
    problem: str | None  # plain words when delivery fails

    def to_json(self) -> dict[str, Any]:
        """The status file's form."""
        return {
            "target": self.target,
            "ok": self.ok,
            "last_delivery": self.last_delivery,
            "backlog": self.backlog,
            "dropped_total": self.dropped_total,
            "problem": self.problem,
        }


def plain_error(error: BaseException, *, ca_file: str) -> str:
    """Why a delivery failed, in words IT can act on (never a traceback)."""
    if isinstance(error, ssl.SSLCertVerificationError):
        hint = f"the CA in report.syslog_ca_file ({ca_file})" if ca_file else "the system's CAs"
        why = error.verify_message or str(error)
        return f"the server's certificate was refused ({why}); it must be signed by {hint}"
    if isinstance(error, ssl.SSLError):
        return f"the TLS handshake failed ({error.reason or error})"
    if isinstance(error, ConnectionRefusedError):
        return "the receiver refused the connection (is it running and listening?)"
    if isinstance(error, ConnectionResetError) and error.args and isinstance(error.args[0], str):
        return str(error.args[0])
    if isinstance(error, TimeoutError | socket.timeout):
        return f"the receiver did not answer within {SYSLOG_TIMEOUT_SECONDS:g} s"
    if isinstance(error, OSError):
        return f"cannot reach the receiver: {error.strerror or error}"
    return f"delivery failed: {type(error).__name__}"


def closed_by_peer(sock: socket.socket, wait: float) -> bool:
    """True when the peer closed the stream within `wait` seconds; a TLS alert raises.

    A syslog receiver never sends anything, so readable means "closed" or "alert". TLS 1.3
    session tickets are read and ignored (SSLWantReadError: nothing for the application).
    """
    deadline = time.monotonic() + wait
    sock.setblocking(False)
    try:
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            readable, _w, _x = select.select([sock], [], [], remaining)
            if readable:
                try:
                    if sock.recv(1) == b"":
                        return True
                except (ssl.SSLWantReadError, BlockingIOError):
                    pass
            if time.monotonic() >= deadline:
                return False
    finally:
        sock.settimeout(SYSLOG_TIMEOUT_SECONDS)


class SyslogSink:
    """RFC 5424 to `udp://`, `tcp://`, `tls://host:port` or `unix:///path`."""

    def __init__(
        self,
        target: str,
        facility: str = "local0",
        *,
        ca_file: str = "",
        client_cert: str = "",
        client_key: str = "",
        spool_dir: Path | None = None,
        on_dropped: Callable[[int], None] | None = None,
    ) -> None:
        parsed = urlsplit(target)
        if parsed.scheme not in SCHEMES:
            raise ValueError(f"syslog target {target!r}: use udp://, tcp://, tls:// or unix://")
        if facility not in FACILITIES:
            raise ValueError(f"syslog facility {facility!r} is not one of {sorted(FACILITIES)}")
        self.target = target
        self._scheme = parsed.scheme
        default_port = SYSLOG_TLS_PORT if parsed.scheme == "tls" else SYSLOG_PORT
        self._host = parsed.hostname or "localhost"
        self._address: tuple[str, int] | str = (
            parsed.path if parsed.scheme == "unix" else (self._host, parsed.port or default_port)
        )
        self._facility = FACILITIES[facility]
        self._hostname = socket.gethostname()
        self._ca_file, self._client_cert, self._client_key = ca_file, client_cert, client_key
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._on_dropped = on_dropped
        self._last_delivery: float | None = None
        self._problem: str | None = None
        self._dropped_total = 0
        self._stream = parsed.scheme in ("tcp", "tls")
        self._temp: tempfile.TemporaryDirectory[str] | None = None
        self._spool: Spool | None = None
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        if self._stream:
            if spool_dir is None:
                self._temp = tempfile.TemporaryDirectory(prefix="photogate-spool-")
                spool_dir = Path(self._temp.name)
            self._spool = Spool(spool_dir)
            self._thread = threading.Thread(
                target=self._deliver_forever, name="photogate-syslog", daemon=True
            )
            self._thread.start()

    # --- sending -------------------------------------------------------------------------

    def send(self, event: dict[str, Any]) -> None:
        """Queue (streams) or send (datagrams) one event; never raises, never waits long."""
        message = format_rfc5424(event, self._facility, self._hostname)
        if self._spool is not None:
            self._spool.put(message)
            self._wake.set()
            return
        with self._lock:
            for _attempt in range(2):  # one reconnect after a dropped unix connection
                try:
                    self._write(message)
                    self._delivered()
                    return
                except OSError as error:
                    self._drop()
                    last_error = error
            self._problem = plain_error(last_error, ca_file=self._ca_file)
            log.warning("syslog %s: %s", self._scheme, self._problem)

    def _deliver_forever(self) -> None:
        assert self._spool is not None
        wait = RETRY_FIRST_SECONDS
        while not self._closing.is_set():  # closing: what is left stays spooled
            message = self._spool.peek()
            if message is None:
                self._wake.wait(RETRY_MAX_SECONDS)
                self._wake.clear()
                continue
            try:
                with self._lock:
                    self._write(message)
            except (OSError, ValueError) as error:
                with self._lock:
                    self._drop()
                problem = plain_error(error, ca_file=self._ca_file)
                if problem != self._problem:
                    log.warning("syslog %s: %s", self.target, problem)
                self._problem = problem
                if self._closing.wait(wait):
                    return  # closing: what is left stays spooled for the next start
                wait = min(wait * 2, RETRY_MAX_SECONDS)
                continue
            wait = RETRY_FIRST_SECONDS
            self._spool.pop()
            self._delivered()
            dropped = self._spool.take_dropped()
            if dropped:
                self._dropped_total += dropped
                if self._on_dropped is not None:
                    try:
                        self._on_dropped(dropped)
                    except Exception:  # the callback writes an event; never kill the sender
                        log.exception("reporting dropped syslog events failed")

    def _delivered(self) -> None:
        if self._problem is not None:
            log.info("syslog %s: delivering again", self.target)
        self._problem = None
        self._last_delivery = time.time()

    def _write(self, message: bytes) -> None:
        if self._sock is not None and self._stream and closed_by_peer(self._sock, 0.0):
            self._drop()  # the receiver hung up since the last message: reconnect first
        if self._sock is None:
            self._sock = self._connect()
        if self._scheme == "udp":
            self._sock.sendto(message, self._address)
        elif self._stream:
            self._sock.sendall(str(len(message)).encode() + b" " + message)
        elif self._sock.type == socket.SOCK_STREAM:
            self._sock.sendall(message + b"\0")
        else:
            self._sock.send(message)

    def _connect(self) -> socket.socket:
        if self._scheme == "udp":
            assert isinstance(self._address, tuple)
            family = socket.AF_INET6 if ":" in self._address[0] else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_DGRAM)
        elif self._stream:
            assert isinstance(self._address, tuple)
            sock = socket.create_connection(self._address, timeout=SYSLOG_TIMEOUT_SECONDS)
            if self._scheme == "tls":
                try:
                    sock = self._tls_context().wrap_socket(sock, server_hostname=self._host)
                    if closed_by_peer(sock, TLS_REFUSAL_WAIT_SECONDS):
                        raise ConnectionResetError(
                            "the receiver closed the connection right after the TLS handshake "
                            "(does it require a client certificate?)"
                        )
                except BaseException:
                    sock.close()
                    raise
        else:
            assert isinstance(self._address, str)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)  # type: ignore[attr-defined,unused-ignore]
            try:
                sock.connect(self._address)
            except OSError:
                sock.close()  # /dev/log may be a stream socket (e.g. some containers)
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # type: ignore[attr-defined,unused-ignore]
                sock.connect(self._address)
        sock.settimeout(SYSLOG_TIMEOUT_SECONDS)
        return sock

    def _tls_context(self) -> ssl.SSLContext:
        """Server certificate and host name verified; TLS 1.2 or newer; optional client cert."""
        try:
            context = ssl.create_default_context(cafile=self._ca_file or None)
        except (OSError, ssl.SSLError) as error:
            raise OSError(f"cannot read report.syslog_ca_file {self._ca_file!r}: {error}") from None
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if self._client_cert:
            try:
                context.load_cert_chain(self._client_cert, self._client_key or None)
            except (OSError, ssl.SSLError) as error:
                raise OSError(f"cannot read the client certificate or key: {error}") from None
        return context

    def _drop(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None

    # --- state -----------------------------------------------------------------------------

    def health(self) -> SinkHealth:
        """Delivery state now: last delivery, backlog, dropped count, the problem if any."""
        backlog = len(self._spool) if self._spool is not None else 0
        problem = self._problem
        if problem is None and self._spool is not None and self._spool.disk_error:
            problem = self._spool.disk_error
        return SinkHealth(
            target=self.target,
            ok=problem is None,
            last_delivery=self._last_delivery,
            backlog=backlog,
            dropped_total=self._dropped_total + (self._spool.dropped if self._spool else 0),
            problem=problem,
        )

    def close(self) -> None:
        """Let the sender deliver for a moment, then stop; the rest stays spooled."""
        if self._thread is not None:
            deadline = time.monotonic() + CLOSE_DRAIN_SECONDS
            while (
                self._spool is not None
                and len(self._spool)
                and self._problem is None
                and time.monotonic() < deadline
            ):
                self._wake.set()
                time.sleep(0.02)
            self._closing.set()
            self._wake.set()
            self._thread.join(timeout=SYSLOG_TIMEOUT_SECONDS * 2)
        with self._lock:
            self._drop()
        if self._temp is not None:
            self._temp.cleanup()
