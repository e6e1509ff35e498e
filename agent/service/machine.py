"""Protected mode's view of the machine: its accounts and each account's landing folders.

The service watches, for every account, the folders the per-user agent would watch for
that account (Downloads, mail attachment folders), plus the machine policy's folders. A `~`
(or `%USERPROFILE%`) in a policy folder means each account's home. An account's own folder
counts only while that account owns it and it is not a link: a user who points
`XDG_DOWNLOAD_DIR` (or the Downloads known folder) at `/etc` (`C:\\Windows`) gets it neither
watched nor restored into. Which accounts exist and what "owns" means is the
`accounts.AccountSource` of the OS: the password database and st_uid on POSIX, ProfileList
and owner SIDs on Windows (agent.service.windows_accounts).
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Sequence
from pathlib import Path

from agent import platform
from agent.platform.portable import is_link_or_reparse
from agent.policy.schema import Policy
from agent.service import folders
from agent.service.accounts import AccountSource, LocalUser, PosixAccounts
from agent.service.windows_accounts import WindowsAccounts

__all__ = [
    "LocalUser",
    "MachineFolders",
    "account_name",
    "default_accounts",
    "is_account_folder",
    "local_users",
    "owner_of",
    "user_by_uid",
]


def default_accounts() -> AccountSource:
    """This OS's accounts: ProfileList on Windows, the password database elsewhere."""
    if sys.platform == "win32":
        return WindowsAccounts(
            folders.WinRegistry(), os.environ, owner_sid=platform.owner_sid, name_of=account_name
        )
    return PosixAccounts()


def local_users(only_users: Sequence[str] | None = None) -> list[LocalUser]:
    """The machine's accounts (narrowed to `only_users` when given)."""
    return default_accounts().users(only_users)


def account_name(sid: str) -> str | None:
    """The account name of a SID (LookupAccountSid), None when unknown or not on Windows."""
    return platform.account_name(sid) or None


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


def is_account_folder(folder: Path, user: LocalUser) -> bool:
    """True when `folder` is a real folder (no link, no junction) that `user` owns."""
    return folder.exists() and _usable_by(default_accounts(), folder, user)


def _is_per_user(pattern: str) -> bool:
    return (
        pattern.startswith("~")
        or "$HOME" in pattern
        or "${HOME}" in pattern
        or "%userprofile%" in pattern.lower()
    )


def _usable_by(accounts: AccountSource, folder: Path, user: LocalUser) -> bool:
    """A folder of this user: missing (watched once it appears), or a real folder it owns."""
    try:
        info = os.lstat(folder)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    if not stat.S_ISDIR(info.st_mode) or is_link_or_reparse(info):
        return False
    return accounts.owns(folder, info, user)


class MachineFolders:
    """The landing folders of every local user; `patterns` is the service's pattern source."""

    def __init__(
        self, only_users: Sequence[str] | None = None, accounts: AccountSource | None = None
    ) -> None:
        self.only_users = list(only_users) if only_users else None
        self.accounts = accounts or default_accounts()

    def user_folders(self, user: LocalUser, policy: Policy) -> list[Path]:
        """`user`'s own landing folders (not yet filtered by ownership)."""
        env = {"HOME": str(user.home), "USERPROFILE": str(user.home)}
        patterns: list[str] = []
        if policy.watch.use_default_folders:
            patterns += self.accounts.landing_folders(user)
        patterns += [p for p in policy.watch.folders if _is_per_user(p)]
        found: list[Path] = []
        for pattern in patterns:
            if folders.is_glob_pattern(pattern):
                continue  # families: user_globs() and machine_patterns()
            found.append(Path(os.path.normpath(folders.expand(pattern, env))))
        return found

    def user_globs(self, user: LocalUser, policy: Policy) -> list[str]:
        """`user`'s own folder families (Windows: Thunderbird's `pid-*` in the user's TEMP)."""
        if not policy.watch.use_default_folders:
            return []
        return self.accounts.landing_globs(user)

    def machine_patterns(self, policy: Policy) -> list[str]:
        """Folder patterns not tied to one account: IT's absolute folders, shared globs."""
        patterns: list[str] = []
        if policy.watch.use_default_folders:
            patterns += self.accounts.shared_globs()
        patterns += [p for p in policy.watch.folders if not _is_per_user(p)]
        return list(dict.fromkeys(patterns))

    def patterns(self, policy: Policy) -> list[str]:
        """Every folder the service watches under `policy`."""
        result: list[str] = []
        for user in self.accounts.users(self.only_users):
            mine = self.user_folders(user, policy)
            result += [str(f) for f in mine if self._usable(f, user)]
            result += self.user_globs(user, policy)
        result += self.machine_patterns(policy)
        return list(dict.fromkeys(result))

    def is_landing_folder_of(self, folder: Path, owner: LocalUser, policy: Policy) -> bool:
        """True while `folder` is (inside, when watching recursively) a watched folder of `owner`.

        The account's own folders count while it owns them; shared and policy folders
        count for a subfolder the account owns (a Thunderbird `pid-*` folder is its own).
        """
        folder = Path(os.path.normpath(folder))
        users = self.accounts.users(self.only_users)
        user = next((u for u in users if u.key == owner.key), None)
        if user is None:
            return False
        roots = [f for f in self.user_folders(user, policy) if self._usable(f, user)]
        for pattern in self.machine_patterns(policy) + self.user_globs(user, policy):
            roots += [m for m in folders.expand_pattern(pattern) if self._usable(m, user)]
        for root in roots:
            if folder == root or (policy.watch.recursive and root in folder.parents):
                return True
        return False

    def _usable(self, folder: Path, user: LocalUser) -> bool:
        return _usable_by(self.accounts, folder, user)
