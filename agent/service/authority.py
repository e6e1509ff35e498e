"""Who is asking, told by the OS, and what policy lets them do (protected mode).

The caller is never who a message says it is: on a Unix socket the kernel reports the
peer's uid, gid and pid (`SO_PEERCRED` on Linux, `getpeereid` on macOS and the BSDs),
captured when it connected. On Windows the named pipe server impersonates the client and
reads its token (agent.service.winpipe). IT is root (uid 0) or a member of one of the
policy's `ui.it_groups` (default: sudo and wheel on Linux, admin on macOS).

`decide(caller, action, item)` returns None when allowed, else the plain reason shown to
the person; the handler records every refusal as a `request_refused` audit event.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import socket
import struct
import sys
from dataclasses import dataclass
from typing import Any

from agent.policy.schema import Policy

LINUX_IT_GROUPS = ("sudo", "wheel")
MACOS_IT_GROUPS = ("admin",)
WINDOWS_IT_GROUPS = ("Administrators",)
MAX_GROUPS = 1024  # supplementary groups read per caller (NGROUPS_MAX is 65536 on Linux)

# Actions staff may be granted by [ui]; IT may always do them, on every item.
RESTORE = "restore"
DELETE = "delete"
SANITIZED_COPY = "sanitized_copy"
REPORT_FALSE_ALARM = "report_false_alarm"
PAUSE = "pause"
PURGE = "purge"  # IT only
RESTORE_TO = "restore_to"  # choosing the destination: IT only
SEE_DAMAGED = "damaged"  # IT only


@dataclass(frozen=True)
class Caller:
    """A client of the service, as the OS identified it."""

    uid: int
    gid: int
    pid: int
    name: str
    groups: frozenset[str]
    is_it: bool
    sid: str = ""  # Windows: the token's user SID (uid and gid are -1 there)

    @property
    def key(self) -> str:
        """Who this is, for ownership and per-caller state: the SID, else the uid."""
        return self.sid or f"uid:{self.uid}"

    def describe(self) -> str:
        """`name (uid N)` (Windows: `name (SID)`) for events and logs."""
        return f"{self.name} ({self.sid})" if self.sid else f"{self.name} (uid {self.uid})"


def default_it_groups() -> tuple[str, ...]:
    """The OS's administrators' groups."""
    if sys.platform == "win32":
        return WINDOWS_IT_GROUPS
    if sys.platform == "darwin":
        return MACOS_IT_GROUPS
    return LINUX_IT_GROUPS


def it_groups(policy: Policy) -> tuple[str, ...]:
    """The groups policy names for IT, or the OS default."""
    return policy.ui.it_groups or default_it_groups()


def peer_credentials(sock: socket.socket) -> tuple[int, int, int]:
    """(pid, uid, gid) of the process at the other end of a connected Unix socket.

    Linux: SO_PEERCRED (the credentials at connect time). macOS/BSD: getpeereid (no pid:
    -1). Raises OSError when the OS cannot say; the service then refuses the connection.
    """
    if sys.platform.startswith("linux"):
        size = struct.calcsize("3i")
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, size)
        pid, uid, gid = struct.unpack("3i", raw)
        return pid, uid, gid
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:  # pragma: no cover - every macOS has libc
        raise OSError("libc not found: cannot identify the caller")
    libc = ctypes.CDLL(libc_name, use_errno=True)
    uid, gid = ctypes.c_uint32(), ctypes.c_uint32()
    if libc.getpeereid(sock.fileno(), ctypes.byref(uid), ctypes.byref(gid)) != 0:
        raise OSError(ctypes.get_errno(), "getpeereid failed")
    return -1, int(uid.value), int(gid.value)


def caller_from_ids(uid: int, gid: int, pid: int, policy: Policy) -> Caller:
    """The Caller for OS ids: account name, group names, and whether it is IT."""
    if sys.platform == "win32":  # pragma: no cover - the pipe server builds Windows callers
        raise OSError("Windows callers come from the pipe client's token")
    import grp
    import pwd

    try:
        entry = pwd.getpwuid(uid)
        name = entry.pw_name
        gids = os_group_list(name, entry.pw_gid)
    except KeyError:  # an id without an account: no groups, never IT unless root
        name, gids = str(uid), [gid]
    names = set()
    for group_id in gids[:MAX_GROUPS]:
        try:
            names.add(grp.getgrgid(group_id).gr_name)
        except KeyError:
            continue
    is_it = uid == 0 or bool(names & set(it_groups(policy)))
    return Caller(uid, gid, pid, name, frozenset(names), is_it)


def os_group_list(name: str, primary_gid: int) -> list[int]:
    """The account's groups from the group database (now, not at its login)."""
    import os

    if sys.platform == "win32":  # pragma: no cover - Windows groups come from the token
        return [primary_gid]
    return list(os.getgrouplist(name, primary_gid))


def decide(caller: Caller, action: str, policy: Policy, item: Any | None = None) -> str | None:
    """None when `caller` may do `action` (to `item`, a QuarantineItem), else the reason."""
    contact = policy.ui.it_contact
    if item is not None and not caller.is_it and not owns(caller, item):
        return "This file is not one of yours."
    if caller.is_it:
        return None
    ui = policy.ui
    allowed = {
        RESTORE: ui.allow_restore,
        DELETE: ui.allow_delete,
        SANITIZED_COPY: ui.allow_sanitized_copy,
        REPORT_FALSE_ALARM: True,
        PAUSE: ui.allow_pause,
    }.get(action, False)
    if allowed:
        return None
    words = {
        RESTORE: "restoring files",
        DELETE: "deleting files",
        SANITIZED_COPY: "saving safe copies",
        PAUSE: "pausing protection",
        PURGE: "purging the quarantine",
        RESTORE_TO: "restoring to another folder",
        SEE_DAMAGED: "listing damaged records",
    }.get(action, action)
    return f"Your IT policy does not allow {words} here. To ask, contact {contact}."


def owns(caller: Caller, item: Any) -> bool:
    """True when the item was quarantined from a file the caller owned.

    Windows records carry the owner's SID and Windows callers theirs; POSIX both a uid. An
    unknown owner (-1, "") is nobody's: only IT sees such an item.
    """
    owner_sid = getattr(item, "owner_sid", "")
    if owner_sid or caller.sid:
        return isinstance(owner_sid, str) and bool(owner_sid) and owner_sid == caller.sid
    owner_uid = getattr(item, "owner_uid", -1)
    return isinstance(owner_uid, int) and owner_uid >= 0 and owner_uid == caller.uid
