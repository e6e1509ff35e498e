"""Protected mode on Windows: the PC's user accounts and their landing folders, from the registry.

Windows has no password database to walk. The profiles a machine knows are the subkeys of
`ProfileList` (one per account SID that has a profile here, with `ProfileImagePath`,
REG_EXPAND_SZ), as Microsoft documents for user profiles. Only account SIDs count: local
and domain accounts (`S-1-5-21-…`) and Microsoft Entra ID accounts (`S-1-12-1-…`); not
SYSTEM, LocalService or NetworkService (`S-1-5-18/19/20`), nor the `.bak` copy Windows
keeps of a profile it could not load.

An account's Downloads is its known folder FOLDERID_Downloads
`{374DE290-123F-4565-9164-39C4925E467B}`: where the account's own hive (`HKU\\<SID>`, loaded
while it is logged on) names it under `User Shell Folders` (redirected, usually as
`%USERPROFILE%\\…`), else `<profile>\\Downloads`. Classic Outlook's secure temp folder comes
from the same hive; new Outlook and Thunderbird keep theirs under the profile's AppData.

Pure string work over a `folders.Registry` and an owner lookup, so Linux tests drive it
with a file-backed registry; on Windows the lookups are winreg and GetSecurityInfo.
"""

from __future__ import annotations

import ntpath
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from agent.platform.portable import is_link_or_reparse
from agent.service import folders
from agent.service.accounts import LocalUser

PROFILE_LIST_KEY = r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList"
PROFILE_PATH_VALUE = "ProfileImagePath"
USER_SHELL_FOLDERS_KEY = (
    r"HKU\{sid}\Software\Microsoft\Windows\CurrentVersion\Explorer\User Shell Folders"
)
DOWNLOADS_FOLDER_ID = "{374DE290-123F-4565-9164-39C4925E467B}"  # FOLDERID_Downloads
OUTLOOK_SECURITY_KEY = r"HKU\{sid}\Software\Microsoft\Office\{version}\Outlook\Security"
# Account SIDs: S-1-5-21-<three domain/machine sub-authorities>-<RID> (local and AD accounts),
# S-1-12-1-<four sub-authorities> (Microsoft Entra ID accounts on joined PCs).
ACCOUNT_SID = re.compile(r"S-1-5-21(?:-\d{1,10}){4}|S-1-12-1(?:-\d{1,10}){4}")
MAX_ACCOUNTS = 10_000  # profiles considered at most (a clinic PC has a handful)


@dataclass(frozen=True)
class Profile:
    """One account with a profile on this PC."""

    sid: str
    name: str
    home: str  # the profile folder, e.g. C:\Users\alice


def profiles(
    registry: folders.Registry,
    env: Mapping[str, str],
    name_of: Callable[[str], str | None] = lambda sid: None,
) -> list[Profile]:
    """The accounts of ProfileList, by SID; `env` expands `%SystemDrive%` and the like.

    `name_of(sid)` names the account (LookupAccountSid on Windows); without a name the
    profile folder's name stands in.
    """
    found = []
    for sid in registry.subkeys(PROFILE_LIST_KEY)[:MAX_ACCOUNTS]:
        if not ACCOUNT_SID.fullmatch(sid):
            continue
        untrusted_path = registry.read_string(f"{PROFILE_LIST_KEY}\\{sid}", PROFILE_PATH_VALUE)
        if not untrusted_path:
            continue
        home = _folder(untrusted_path, env)
        if home is None:
            continue
        found.append(Profile(sid, name_of(sid) or ntpath.basename(home), home))
    return sorted(found, key=lambda profile: profile.sid)


def landing_folders(
    profile: Profile, registry: folders.Registry, env: Mapping[str, str]
) -> list[str]:
    """`profile`'s own landing folders: Downloads, Outlook's (classic and new) attachments."""
    account_env = {**env, "USERPROFILE": profile.home, "HOME": profile.home}
    account_env["LOCALAPPDATA"] = ntpath.join(profile.home, "AppData", "Local")
    shell_folders = USER_SHELL_FOLDERS_KEY.format(sid=profile.sid)
    redirected = registry.read_string(shell_folders, DOWNLOADS_FOLDER_ID)
    result = [_folder(redirected, account_env) or ntpath.join(profile.home, "Downloads")]
    for version in folders.OUTLOOK_VERSIONS:
        key = OUTLOOK_SECURITY_KEY.format(sid=profile.sid, version=version)
        secure_temp = _folder(
            registry.read_string(key, folders.OUTLOOK_SECURE_TEMP_VALUE), account_env
        )
        if secure_temp:
            result.append(secure_temp)
            break
    result.append(ntpath.join(account_env["LOCALAPPDATA"], "Microsoft", "Olk", "Attachments"))
    return list(dict.fromkeys(result))


def landing_globs(profile: Profile) -> list[str]:
    """Folder families of `profile`: Thunderbird's per-run `pid-*` in the account's TEMP."""
    temp = ntpath.join(profile.home, "AppData", "Local", "Temp")
    return [ntpath.join(temp, folders.THUNDERBIRD_TEMP_GLOB)]


def _folder(untrusted_value: str | None, env: Mapping[str, str]) -> str | None:
    """A fully expanded folder with a drive (or UNC share) from a registry value, else None.

    `%NAME%` is looked up without regard to case, as Windows does.
    """
    if not untrusted_value:
        return None
    variables = {name.lower(): value for name, value in env.items()}
    expanded = _VARIABLE.sub(
        lambda match: variables.get(match.group(1).lower(), match.group(0)), untrusted_value
    )
    path = ntpath.normpath(expanded)
    has_drive = bool(ntpath.splitdrive(path)[0])
    return path if has_drive and ntpath.isabs(path) and "%" not in path else None


_VARIABLE = re.compile(r"%(\w+)%")


class WindowsAccounts:
    """ProfileList accounts (an `accounts.AccountSource`); a folder is theirs by owner SID."""

    def __init__(
        self,
        registry: folders.Registry,
        env: Mapping[str, str],
        *,
        owner_sid: Callable[[Path], str],
        name_of: Callable[[str], str | None] = lambda sid: None,
        is_folder: Callable[[str], bool] = os.path.isdir,
    ) -> None:
        self._registry = registry
        self._env = env
        self._owner_sid = owner_sid
        self._name_of = name_of
        self._is_folder = is_folder

    def users(self, only_users: Sequence[str] | None = None) -> list[LocalUser]:
        """Accounts whose profile folder exists (names compared without case, as Windows)."""
        wanted = {name.lower() for name in only_users} if only_users else None
        found = []
        for profile in profiles(self._registry, self._env, self._name_of):
            if wanted is not None and profile.name.lower() not in wanted:
                continue
            if self._is_folder(profile.home):
                found.append(LocalUser(-1, -1, profile.name, Path(profile.home), profile.sid))
        return found

    def landing_folders(self, user: LocalUser) -> list[str]:
        """Downloads (as the account's hive names it), Outlook's attachment folders."""
        return landing_folders(_profile(user), self._registry, self._env)

    def landing_globs(self, user: LocalUser) -> list[str]:
        """Thunderbird's `pid-*` in the account's own TEMP."""
        return landing_globs(_profile(user))

    def shared_globs(self) -> list[str]:
        """None: every Windows account has its own TEMP."""
        return []

    def owns(self, folder: Path, info: os.stat_result, user: LocalUser) -> bool:
        """Its owner SID is the account's (st_uid is always 0 on Windows); never a junction."""
        if is_link_or_reparse(info) or not user.sid:
            return False
        return self._owner_sid(folder) == user.sid


def _profile(user: LocalUser) -> Profile:
    return Profile(user.sid, user.name, str(user.home))
