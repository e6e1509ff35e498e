"""The protected service's local channel on POSIX: a Unix stream socket, one thread a client.

The socket file is world-connectable (0666) in a root-owned folder (0755): anyone may ask,
the service decides. Each connection is identified once, by the kernel, when it connects
(agent.service.authority.peer_credentials); requests are JSON lines capped in size
(agent.service.protocol); a connection that breaks the protocol is answered once and
closed. MAX_CLIENTS connections at most; an idle one is closed after IDLE_SECONDS.

Windows' counterpart is agent.service.winpipe (a named pipe with an ACL).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.service import protocol

log = logging.getLogger("photogate.service.channel")

SOCKET_DIR_MODE = 0o755  # root-owned: nobody else can replace the socket
SOCKET_MODE = 0o666  # every local account may connect; the service decides per request
MAX_CLIENTS = 64  # concurrent connections (trays, windows, commands of every user)
IDLE_SECONDS = 600.0  # a connection silent this long is closed
ACCEPT_POLL_SECONDS = 0.5  # how often the accept loop looks at the stop flag
LISTEN_BACKLOG = 16

# (peer pid, uid, gid, request) -> response message
Dispatch = Callable[[tuple[int, int, int], dict[str, Any]], dict[str, Any]]


class ChannelServer:
    """Serve `dispatch` on a Unix socket at `path`."""

    def __init__(self, path: Path, dispatch: Dispatch) -> None:
        self.path = Path(path)
        self._dispatch = dispatch
        self._sock: socket.socket | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._slots = threading.BoundedSemaphore(MAX_CLIENTS)

    def start(self) -> None:
        """Bind (replacing a stale socket file of ours) and accept on a thread."""
        if sys.platform == "win32":  # pragma: no cover
            raise OSError("Windows uses agent.service.winpipe")
        folder = self.path.parent
        folder.mkdir(mode=SOCKET_DIR_MODE, parents=True, exist_ok=True)
        folder.chmod(SOCKET_DIR_MODE)
        temp = folder / f".{self.path.name}.{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(temp))
        temp.chmod(SOCKET_MODE)
        sock.listen(LISTEN_BACKLOG)
        temp.replace(self.path)  # atomic: a client never sees a half-made socket
        sock.settimeout(ACCEPT_POLL_SECONDS)
        self._sock = sock
        self._thread = threading.Thread(target=self._accept, name="photogate-channel", daemon=True)
        self._thread.start()
        log.info("listening on %s", self.path)

    def stop(self) -> None:
        """Stop accepting; the socket file stays (clients then say the service is down)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._sock is not None:
            self._sock.close()

    def _accept(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError as error:
                if self._stop.is_set():
                    return
                log.warning("accept failed: %s", error)
                continue
            if not self._slots.acquire(blocking=False):
                _refuse(client, "too many clients; try again")
                continue
            threading.Thread(
                target=self._serve, args=(client,), name="photogate-client", daemon=True
            ).start()

    def _serve(self, client: socket.socket) -> None:
        from agent.service.authority import peer_credentials

        try:
            try:
                peer = peer_credentials(client)
            except OSError as error:
                _refuse(client, f"the caller could not be identified ({error})")
                return
            client.settimeout(IDLE_SECONDS)
            stream = client.makefile("rb")
            while not self._stop.is_set():
                try:
                    message = protocol.read_message(stream, protocol.MAX_REQUEST_BYTES)
                except protocol.ProtocolError as problem:
                    _send(client, protocol.error(None, protocol.ERROR_BAD_REQUEST, str(problem)))
                    return
                except OSError:  # idle timeout, reset
                    return
                if message is None:
                    return
                _send(client, self._dispatch(peer, message))
        finally:
            with contextlib.suppress(OSError):
                client.close()
            self._slots.release()


def _send(client: socket.socket, message: dict[str, Any]) -> None:
    try:
        line = protocol.encode(message, protocol.MAX_RESPONSE_BYTES)
    except protocol.ProtocolError as problem:
        line = protocol.encode(
            protocol.error(message.get("id"), protocol.ERROR_FAILED, str(problem)),
            protocol.MAX_RESPONSE_BYTES,
        )
    with contextlib.suppress(OSError):
        client.sendall(line)


def _refuse(client: socket.socket, reason: str) -> None:
    _send(client, protocol.error(None, protocol.ERROR_REFUSED, reason))
    with contextlib.suppress(OSError):
        client.close()
