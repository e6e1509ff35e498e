"""The protected service's local channel on Windows: a named pipe with an ACL (pywin32).

NOT RUNNABLE on the Linux machines this project is tested on: written against the Win32
documentation (CreateNamedPipe, ImpersonateNamedPipeClient, GetNamedPipeServerProcessId),
kept small and typed, and type-checked with `mypy --platform win32`.

Server (`PipeServer`, inside the LocalSystem service):
  - `\\\\.\\pipe\\photogate`, created with FILE_FLAG_FIRST_PIPE_INSTANCE (if another process
    squats the name first, the service fails loudly instead of sharing it) and
    PIPE_REJECT_REMOTE_CLIENTS; DACL: SYSTEM and Administrators full control, Authenticated
    Users read/write, network logons denied (PIPE_SDDL).
  - one thread per connected instance; the caller is the client's token, read while
    impersonating it (ImpersonateNamedPipeClient / OpenThreadToken / RevertToSelf): user SID
    and enabled group SIDs. IT = SYSTEM, or the enabled BUILTIN\\Administrators group (an
    elevated token; UAC-filtered admin tokens carry it deny-only, so they are staff).
  - the same JSON lines and caps as the Unix socket (agent.service.protocol).
Client side (`open_pipe`): the pipe is opened as a file; before the first request the client
checks that the server process runs as SYSTEM (GetNamedPipeServerProcessId), so a process
that squatted the name cannot collect the requests.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Callable
from typing import Any, BinaryIO

from agent.service import protocol
from agent.service.authority import Caller

log = logging.getLogger("photogate.service.winpipe")

PIPE_SDDL = "D:P(A;;GA;;;SY)(A;;GA;;;BA)(A;;GRGW;;;AU)(D;;GA;;;NU)"
SYSTEM_SID = "S-1-5-18"
ADMINISTRATORS_SID = "S-1-5-32-544"
MAX_INSTANCES = 64  # concurrent clients, as the Unix socket's MAX_CLIENTS
READ_CHUNK_BYTES = 4096
SE_GROUP_ENABLED = 0x4

Answer = Callable[[Caller, dict[str, Any]], dict[str, Any]]


class PipeServer:
    """Serve `answer(caller, request)` on the named pipe `name`."""

    def __init__(self, name: str, answer: Answer, it_groups: Callable[[], tuple[str, ...]]) -> None:
        self.name = name
        self._answer = answer
        self._it_groups = it_groups
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Accept connections on a thread."""
        self._thread = threading.Thread(target=self._accept, name="photogate-pipe", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting (the pending ConnectNamedPipe is released by a dummy connection)."""
        self._stop.set()
        with contextlib.suppress(OSError):
            open(self.name, "r+b", buffering=0).close()  # wakes the pending accept

    def _accept(self) -> None:  # pragma: no cover - Windows only
        if sys.platform != "win32":
            raise OSError("named pipes are Windows only")
        import pywintypes
        import win32pipe
        import win32security

        descriptor = win32security.ConvertStringSecurityDescriptorToSecurityDescriptor(
            PIPE_SDDL, win32security.SDDL_REVISION_1
        )
        attributes = pywintypes.SECURITY_ATTRIBUTES()
        attributes.SECURITY_DESCRIPTOR = descriptor
        first = True
        while not self._stop.is_set():
            open_mode = win32pipe.PIPE_ACCESS_DUPLEX
            if first:
                open_mode |= 0x00080000  # FILE_FLAG_FIRST_PIPE_INSTANCE
            pipe_mode = (
                win32pipe.PIPE_TYPE_BYTE
                | win32pipe.PIPE_READMODE_BYTE
                | win32pipe.PIPE_WAIT
                | 0x00000008  # PIPE_REJECT_REMOTE_CLIENTS
            )
            handle = win32pipe.CreateNamedPipe(
                self.name, open_mode, pipe_mode, MAX_INSTANCES,
                protocol.MAX_RESPONSE_BYTES, protocol.MAX_REQUEST_BYTES, 0, attributes,
            )  # fmt: skip
            first = False
            try:
                win32pipe.ConnectNamedPipe(handle, None)
            except pywintypes.error as error:
                if error.winerror != 535:  # ERROR_PIPE_CONNECTED: the client was quicker
                    handle.Close()
                    continue
            if self._stop.is_set():
                handle.Close()
                return
            threading.Thread(
                target=self._serve, args=(handle,), name="photogate-pipe-client", daemon=True
            ).start()

    def _serve(self, handle: Any) -> None:  # pragma: no cover - Windows only
        import win32file
        import win32pipe

        try:
            try:
                caller = client_caller(handle, self._it_groups())
            except OSError as error:
                _write(handle, protocol.error(None, protocol.ERROR_REFUSED, str(error)))
                return
            buffer = b""
            while not self._stop.is_set():
                while b"\n" not in buffer:
                    if len(buffer) > protocol.MAX_REQUEST_BYTES:
                        _write(handle, protocol.error(None, protocol.ERROR_BAD_REQUEST, "cap"))
                        return
                    _, chunk = win32file.ReadFile(handle, READ_CHUNK_BYTES)
                    if not chunk:
                        return
                    buffer += bytes(chunk)
                line, _, buffer = buffer.partition(b"\n")
                import io

                try:
                    message = protocol.read_message(
                        io.BytesIO(line + b"\n"), protocol.MAX_REQUEST_BYTES
                    )
                except protocol.ProtocolError as problem:
                    _write(handle, protocol.error(None, protocol.ERROR_BAD_REQUEST, str(problem)))
                    return
                if message is None:
                    return
                _write(handle, self._answer(caller, message))
        except Exception as error:  # a broken pipe ends this client only
            log.info("pipe client ended: %s", error)
        finally:
            with contextlib.suppress(Exception):
                win32pipe.DisconnectNamedPipe(handle)
            handle.Close()


def client_caller(handle: Any, it_groups: tuple[str, ...]) -> Caller:  # pragma: no cover
    """The pipe client's identity from its token, read while impersonating it."""
    import win32api
    import win32pipe
    import win32security

    pid = int(win32pipe.GetNamedPipeClientProcessId(handle))
    win32pipe.ImpersonateNamedPipeClient(handle)
    try:
        token = win32security.OpenThreadToken(
            win32api.GetCurrentThread(), win32security.TOKEN_QUERY, True
        )
        user_sid = win32security.GetTokenInformation(token, win32security.TokenUser)[0]
        groups = win32security.GetTokenInformation(token, win32security.TokenGroups)
    finally:
        win32security.RevertToSelf()
    sid_text = str(win32security.ConvertSidToStringSid(user_sid))
    enabled = {
        str(win32security.ConvertSidToStringSid(sid))
        for sid, attributes in groups
        if attributes & SE_GROUP_ENABLED
    }
    try:
        name, domain, _ = win32security.LookupAccountSid(None, user_sid)
        account = f"{domain}\\{name}"
    except Exception:
        account = sid_text
    names = set()
    for sid in enabled:
        with contextlib.suppress(Exception):
            names.add(str(win32security.LookupAccountSid(None,
                      win32security.ConvertStringSidToSid(sid))[0]))  # fmt: skip
    is_it = sid_text == SYSTEM_SID or ADMINISTRATORS_SID in enabled or bool(names & set(it_groups))
    # Windows has no uid: ownership is by SID (records carry `owner_sid`; authority.owns).
    return Caller(
        uid=-1, gid=-1, pid=pid, name=account, groups=frozenset(names), is_it=is_it, sid=sid_text
    )


def _write(handle: Any, message: dict[str, Any]) -> None:  # pragma: no cover - Windows only
    import win32file

    win32file.WriteFile(handle, protocol.encode(message, protocol.MAX_RESPONSE_BYTES))


def open_pipe(name: str) -> BinaryIO:  # pragma: no cover - Windows only
    """The client end of the pipe, after checking the server runs as SYSTEM."""
    if sys.platform != "win32":
        raise OSError("named pipes are Windows only")
    import win32api
    import win32con
    import win32file
    import win32pipe
    import win32security

    stream: BinaryIO = open(name, "r+b", buffering=0)  # noqa: SIM115 - returned to the caller
    try:
        handle = win32file._get_osfhandle(stream.fileno())  # pywin32's CRT fd -> HANDLE
        server_pid = win32pipe.GetNamedPipeServerProcessId(handle)
        process = win32api.OpenProcess(
            win32con.PROCESS_QUERY_LIMITED_INFORMATION, False, server_pid
        )
        token = win32security.OpenProcessToken(process, win32security.TOKEN_QUERY)
        sid = win32security.GetTokenInformation(token, win32security.TokenUser)[0]
        if str(win32security.ConvertSidToStringSid(sid)) != SYSTEM_SID:
            raise OSError(f"{name} is not served by the Photogate service (not SYSTEM)")
    except BaseException:
        stream.close()
        raise
    return stream
