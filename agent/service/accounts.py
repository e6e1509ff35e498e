"""Whose folders protected mode watches: the machine's accounts, behind one interface.

`AccountSource` says which accounts a machine has, which landing folders each has by
default, and whether a folder is an account's own. `PosixAccounts` reads the password
database (Linux, macOS); `agent.service.windows_accounts.WindowsAccounts` reads the
registry's ProfileList and owner SIDs. Tests drive the Windows one with a file-backed
registry, so both are exercised on Linux.

POSIX accounts are the login accounts: uid at least UID_MIN (from /etc/login.defs, 1000
by default), a login shell, an existing home; `only_users` (the service's `--user`)
narrows them to a list.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from agent.service import folders

DEFAULT_UID_MIN = 1000  # login.defs' default first uid of a human account
NOBODY_UID = 65534
LOGIN_DEFS = Path("/etc/login.defs")
MAX_LOGIN_DEFS_BYTES = 256 * 1024  # bytes read from /etc/login.defs
NO_LOGIN_SHELLS = frozenset(
    {"/usr/sbin/nologin", "/sbin/nologin", "/bin/false", "/usr/bin/false", "/bin/sync"}
)
MAX_USERS = 10_000  # accounts considered at most (a clinic PC has a handful)


@dataclass(frozen=True)
class LocalUser:
    """A login account of this machine."""

    uid: int  # -1 on Windows
    gid: int
    name: str
    home: Path
    sid: str = ""  # Windows: the account's security identifier; "" on POSIX

    @property
    def key(self) -> str:
        """The owner identity records and callers are matched on: SID, else uid."""
        return self.sid or f"uid:{self.uid}"


class AccountSource(Protocol):
    """The accounts of a machine and what makes a folder one of theirs."""

    def users(self, only_users: Sequence[str] | None = None) -> list[LocalUser]:
        """The accounts protected mode watches for (narrowed to `only_users`)."""
        ...

    def landing_folders(self, user: LocalUser) -> list[str]:
        """`user`'s default landing folders (single folders; families are globs)."""
        ...

    def landing_globs(self, user: LocalUser) -> list[str]:
        """`user`'s own folder families (Windows: `pid-*` in the account's TEMP)."""
        ...

    def shared_globs(self) -> list[str]:
        """Folder families every account shares (POSIX: /tmp/pid-*)."""
        ...

    def owns(self, folder: Path, info: os.stat_result, user: LocalUser) -> bool:
        """True when the real folder `folder` (lstat `info`, no link) is `user`'s."""
        ...


def uid_min(login_defs: Path = LOGIN_DEFS) -> int:
    """UID_MIN from login.defs, or DEFAULT_UID_MIN."""
    try:
        with login_defs.open("rb") as handle:
            text = handle.read(MAX_LOGIN_DEFS_BYTES).decode("utf-8", "replace")
    except OSError:
        return DEFAULT_UID_MIN
    match = re.search(r"^\s*UID_MIN\s+(\d+)\s*$", text, flags=re.MULTILINE)
    return int(match.group(1)) if match else DEFAULT_UID_MIN


class PosixAccounts:
    """Login accounts from the password database; a folder is theirs by st_uid.

    `platform` picks the default folders' layout (`linux`, `darwin`; tests pass either).
    """

    def __init__(self, platform: str = sys.platform) -> None:
        self._platform = platform

    def users(self, only_users: Sequence[str] | None = None) -> list[LocalUser]:
        """The machine's login accounts (narrowed to `only_users` when given), by uid."""
        if sys.platform == "win32":  # pragma: no cover - no password database there
            return []
        import pwd

        lowest = uid_min()
        wanted = set(only_users) if only_users else None
        found = []
        for entry in pwd.getpwall()[:MAX_USERS]:
            if wanted is not None and entry.pw_name not in wanted:
                continue
            if wanted is None and (entry.pw_uid < lowest or entry.pw_uid == NOBODY_UID):
                continue
            if entry.pw_shell in NO_LOGIN_SHELLS or not entry.pw_dir.startswith("/"):
                continue
            home = Path(entry.pw_dir)
            if not home.is_dir():
                continue
            found.append(LocalUser(entry.pw_uid, entry.pw_gid, entry.pw_name, home))
        return sorted(found, key=lambda user: user.uid)

    def landing_folders(self, user: LocalUser) -> list[str]:
        """Downloads from the account's XDG user-dirs (macOS: ~/Downloads, Mail's folders)."""
        env = {"HOME": str(user.home)}
        every = folders.default_folders(self._platform, env=env, home=user.home)
        return [p for p in every if not folders.is_glob_pattern(p)]

    def landing_globs(self, user: LocalUser) -> list[str]:
        """Families inside the account's home (macOS Mail's per-message folders)."""
        env = {"HOME": str(user.home)}
        every = folders.default_folders(self._platform, env=env, home=user.home)
        home = str(user.home).rstrip("/") + "/"
        return [p for p in every if folders.is_glob_pattern(p) and p.startswith(home)]

    def shared_globs(self) -> list[str]:
        """Families outside any home: Thunderbird's /tmp/pid-* (and $TMPDIR/pid-*)."""
        nowhere = Path("/nonexistent")
        env = {"HOME": str(nowhere)}
        every = folders.default_folders(self._platform, env=env, home=nowhere)
        return [p for p in every if folders.is_glob_pattern(p) and not p.startswith(f"{nowhere}/")]

    def owns(self, folder: Path, info: os.stat_result, user: LocalUser) -> bool:
        """Its owner uid is the account's."""
        del folder
        return info.st_uid == user.uid
