"""Protected mode's view of the machine: its local users and each user's landing folders.

The service watches, for every local account, the folders the per-user agent would watch
for that account (Downloads from its XDG user-dirs, mail attachment folders), plus the
machine policy's folders. A `~` in a policy folder means each user's home. An account's
own folder counts only while that account owns it and it is not a link: a user who
points `XDG_DOWNLOAD_DIR` at `/etc` gets `/etc` neither watched nor restored into.

Accounts are the password database's login accounts: uid at least UID_MIN (from
/etc/login.defs, 1000 by default), a login shell, an existing home; `only_users` (the
service's `--user`) narrows them to a list. On Windows they are the profiles of the
registry's ProfileList (agent.service.windows_accounts), owners are SIDs instead of uids,
and a folder is an account's while its owner SID is the account's and it is no link.
"""

from __future__ import annotations

import os
import re
import stat
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from agent import platform
from agent.platform.portable import is_link_or_reparse
from agent.policy.schema import Policy
from agent.service import folders, windows_accounts

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


def uid_min(login_defs: Path = LOGIN_DEFS) -> int:
    """UID_MIN from login.defs, or DEFAULT_UID_MIN."""
    try:
        with login_defs.open("rb") as handle:
            text = handle.read(MAX_LOGIN_DEFS_BYTES).decode("utf-8", "replace")
    except OSError:
        return DEFAULT_UID_MIN
    match = re.search(r"^\s*UID_MIN\s+(\d+)\s*$", text, flags=re.MULTILINE)
    return int(match.group(1)) if match else DEFAULT_UID_MIN


def local_users(only_users: Sequence[str] | None = None) -> list[LocalUser]:
    """The machine's login accounts (narrowed to `only_users` when given), by uid."""
    if sys.platform == "win32":  # pragma: no cover - Windows only
        return _windows_users(only_users)
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


def _windows_users(only_users: Sequence[str] | None) -> list[LocalUser]:
    """The ProfileList accounts whose profile folder exists (narrowed to `only_users`)."""
    wanted = {name.lower() for name in only_users} if only_users else None
    found = []
    for profile in windows_accounts.profiles(folders.WinRegistry(), os.environ, account_name):
        if wanted is not None and profile.name.lower() not in wanted:
            continue
        home = Path(profile.home)
        if home.is_dir():
            found.append(LocalUser(-1, -1, profile.name, home, profile.sid))
    return found


def account_name(sid: str) -> str | None:
    """The account name of a SID (LookupAccountSid), None when unknown or not on Windows."""
    if sys.platform != "win32":
        return None
    try:  # pragma: no cover - Windows only
        import win32security

        name, _domain, _kind = win32security.LookupAccountSid(
            None, win32security.ConvertStringSidToSid(sid)
        )
        return str(name)
    except Exception:  # pywintypes.error: a deleted account, a domain out of reach
        return None


def owner_of(owner_uid: int, owner_sid: str) -> LocalUser | None:
    """The account a quarantined file belonged to (by SID on Windows, else by uid)."""
    if owner_sid:
        return next((u for u in local_users() if u.sid == owner_sid), None)
    return user_by_uid(owner_uid) if owner_uid >= 0 else None


def user_by_uid(uid: int) -> LocalUser | None:
    """The account of `uid` (any uid, login account or not), or None."""
    if sys.platform == "win32":  # pragma: no cover - Windows owners are SIDs
        return None
    import pwd

    try:
        entry = pwd.getpwuid(uid)
    except KeyError:
        return None
    return LocalUser(entry.pw_uid, entry.pw_gid, entry.pw_name, Path(entry.pw_dir))


def _is_per_user(pattern: str) -> bool:
    return (
        pattern.startswith("~")
        or "$HOME" in pattern
        or "${HOME}" in pattern
        or "%userprofile%" in pattern.lower()
    )


def is_account_folder(folder: Path, user: LocalUser) -> bool:
    """True when `folder` is a real folder (no link, no junction) that `user` owns."""
    return folder.exists() and _usable_by(folder, user)


def _usable_by(folder: Path, user: LocalUser) -> bool:
    """A folder of this user: missing (watched once it appears), or a real folder it owns."""
    try:
        info = os.lstat(folder)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    if not stat.S_ISDIR(info.st_mode) or is_link_or_reparse(info):
        return False
    if user.sid:  # Windows: st_uid is always 0 there; the owner is a SID
        return platform.owner_sid(folder) == user.sid
    return info.st_uid == user.uid


def _profile(user: LocalUser) -> windows_accounts.Profile:
    return windows_accounts.Profile(user.sid, user.name, str(user.home))


class MachineFolders:
    """The landing folders of every local user; `patterns` is the service's pattern source."""

    def __init__(self, only_users: Sequence[str] | None = None) -> None:
        self.only_users = list(only_users) if only_users else None

    def user_folders(self, user: LocalUser, policy: Policy) -> list[Path]:
        """`user`'s own landing folders (not yet filtered by ownership)."""
        env = {"HOME": str(user.home), "USERPROFILE": str(user.home)}
        patterns: list[str] = []
        if policy.watch.use_default_folders and user.sid:
            patterns += windows_accounts.landing_folders(
                _profile(user), folders.WinRegistry(), os.environ
            )
        elif policy.watch.use_default_folders:
            patterns += folders.default_folders(env=env, home=user.home)
        patterns += [p for p in policy.watch.folders if _is_per_user(p)]
        found: list[Path] = []
        for pattern in patterns:
            if folders.is_glob_pattern(pattern):
                continue  # shared families (/tmp/pid-*) are machine folders: see patterns()
            found.append(Path(os.path.normpath(folders.expand(pattern, env))))
        return found

    def user_globs(self, user: LocalUser, policy: Policy) -> list[str]:
        """`user`'s own folder families (Windows: Thunderbird's `pid-*` in the user's TEMP)."""
        if not (policy.watch.use_default_folders and user.sid):
            return []  # POSIX: the shared /tmp/pid-* family is a machine pattern
        return windows_accounts.landing_globs(_profile(user))

    def machine_patterns(self, policy: Policy) -> list[str]:
        """Folder patterns not tied to one account: IT's absolute folders, shared globs."""
        patterns: list[str] = []
        if policy.watch.use_default_folders:
            default = folders.default_folders(env={"HOME": "/nonexistent"})
            patterns += [p for p in default if folders.is_glob_pattern(p)]
        patterns += [p for p in policy.watch.folders if not _is_per_user(p)]
        return list(dict.fromkeys(patterns))

    def patterns(self, policy: Policy) -> list[str]:
        """Every folder the service watches under `policy`."""
        result: list[str] = []
        for user in local_users(self.only_users):
            result += [str(f) for f in self.user_folders(user, policy) if _usable_by(f, user)]
            result += self.user_globs(user, policy)
        result += self.machine_patterns(policy)
        return list(dict.fromkeys(result))

    def is_landing_folder_of(self, folder: Path, owner: LocalUser, policy: Policy) -> bool:
        """True while `folder` is (inside, when watching recursively) a watched folder of `owner`.

        The account's own folders count while it owns them; shared and policy folders
        count for a subfolder the account owns (a Thunderbird `pid-*` folder is its own).
        """
        folder = Path(os.path.normpath(folder))
        users = local_users(self.only_users)
        user = next((u for u in users if u.key == owner.key), None)
        if user is None:
            return False
        roots = [f for f in self.user_folders(user, policy) if _usable_by(f, user)]
        for pattern in self.machine_patterns(policy) + self.user_globs(user, policy):
            roots += [m for m in folders.expand_pattern(pattern) if _usable_by(m, user)]
        for root in roots:
            if folder == root or (policy.watch.recursive and root in folder.parents):
                return True
        return False
