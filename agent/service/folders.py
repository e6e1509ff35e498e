"""Which folders the agent watches by default on each OS, and how folder patterns expand.

Defaults follow DESIGN.md section 4 and research/ecosystem.md section 7: the Downloads
folder (XDG user-dirs on Linux, the known folder on Windows), classic Outlook's secure
temp folder (read from the registry), new Outlook's attachment folder and Thunderbird's
per-run `pid-*` folders. A pattern may contain `~`, environment variables and a glob in
its last component (`/tmp/pid-*`); `expand_patterns` turns patterns into the folders
that exist right now, so a folder that appears later is found on the next call.
"""

from __future__ import annotations

import glob
import os
import re
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

# Office versions whose Outlook keeps OutlookSecureTempFolder (2016+/2013/2010).
OUTLOOK_VERSIONS = ("16.0", "15.0", "14.0")
OUTLOOK_SECURITY_KEY = r"HKCU\Software\Microsoft\Office\{version}\Outlook\Security"
OUTLOOK_SECURE_TEMP_VALUE = "OutlookSecureTempFolder"
# macOS mail clients (both sandboxed, so their folders live in their containers):
# Apple Mail saves opened/Quick Look attachments in "Mail Downloads/<message UUID>/"
# (the container since OS X 10.9; ~/Library/Mail Downloads before it), Outlook for Mac opens
# attachments from "Outlook Temp" in its container's tmp folder.
MAC_MAIL_DOWNLOADS = (
    "Library/Containers/com.apple.mail/Data/Library/Mail Downloads",
    "Library/Mail Downloads",
)
MAC_OUTLOOK_TEMP = "Library/Containers/com.microsoft.Outlook/Data/tmp/Outlook Temp"
THUNDERBIRD_TEMP_GLOB = "pid-*"  # Thunderbird >= 91.6.2 opens attachments in <TEMP>/pid-<PID>
MAX_USER_DIRS_BYTES = 64 * 1024  # bytes: user-dirs.dirs is a few lines; refuse anything huge
MAX_GLOB_MATCHES = 256  # folders: one pattern never expands to more than this
MAX_SUBKEYS = 4096  # registry keys listed under one key at most (ProfileList: one per account)


class Registry(Protocol):
    """Read-only access to string values of the Windows registry (or a test stand-in)."""

    def read_string(self, key: str, name: str) -> str | None:
        """The value `name` under `key` (e.g. `HKCU\\Software\\...`), or None if absent."""
        ...

    def subkeys(self, key: str) -> list[str]:
        """The names of the keys directly under `key` (at most MAX_SUBKEYS), [] if absent."""
        ...


class FileRegistry:
    """A registry stand-in backed by a text file of `KEY\\NAME=VALUE` lines (for tests).

    Used on Linux to exercise the Windows folder logic with real files, not mocks.
    """

    def __init__(self, path: Path) -> None:
        self._path = path

    def read_string(self, key: str, name: str) -> str | None:
        """The value for `key\\name` in the file, or None."""
        try:
            untrusted_text = self._path.read_text(encoding="utf-8")
        except OSError:
            return None
        wanted = f"{key}\\{name}".lower()
        for line in untrusted_text.splitlines():
            left, sep, value = line.partition("=")
            if sep and left.strip().lower() == wanted:
                return value.strip()
        return None

    def subkeys(self, key: str) -> list[str]:
        """Keys named by a line `KEY\\SUB\\...\\NAME=VALUE` under `key`, in file order."""
        try:
            untrusted_text = self._path.read_text(encoding="utf-8")
        except OSError:
            return []
        prefix = key.lower().rstrip("\\") + "\\"
        found: dict[str, None] = {}
        for line in untrusted_text.splitlines():
            left, sep, _ = line.partition("=")
            left = left.strip()
            if sep and left.lower().startswith(prefix):
                sub, more, _rest = left[len(prefix) :].partition("\\")
                if more and sub:  # a value directly under `key` is not a subkey
                    found.setdefault(sub)
        return list(found)[:MAX_SUBKEYS]


class WinRegistry:
    """The real Windows registry through `winreg` (Windows only)."""

    def read_string(self, key: str, name: str) -> str | None:
        """The string value, or None when the key, value or module is missing."""
        try:
            import winreg
        except ImportError:
            return None
        hive, sub_key = _hive(winreg, key)
        if hive is None:
            return None
        try:
            with winreg.OpenKey(hive, sub_key) as handle:  # type: ignore[attr-defined,unused-ignore]
                value, _kind = winreg.QueryValueEx(handle, name)  # type: ignore[attr-defined,unused-ignore]
        except OSError:
            return None
        # REG_EXPAND_SZ comes back unexpanded: the caller expands with the right account's
        # variables (a service's own %USERPROFILE% is the system profile, not the user's).
        return str(value) if isinstance(value, str) and value else None

    def subkeys(self, key: str) -> list[str]:
        """EnumKey over `key` (at most MAX_SUBKEYS), [] when it is missing."""
        try:
            import winreg
        except ImportError:
            return []
        hive, sub_key = _hive(winreg, key)
        if hive is None:
            return []
        names: list[str] = []
        try:
            with winreg.OpenKey(hive, sub_key) as handle:  # type: ignore[attr-defined,unused-ignore]
                while len(names) < MAX_SUBKEYS:
                    names.append(str(winreg.EnumKey(handle, len(names))))  # type: ignore[attr-defined,unused-ignore]
        except OSError:  # ERROR_NO_MORE_ITEMS ends the enumeration; a missing key gives []
            pass
        return names


def _hive(winreg: Any, key: str) -> tuple[Any, str]:
    """(predefined hive handle or None, the rest of the key) for `HKCU\\...` style keys."""
    hive_name, _, sub_key = key.partition("\\")
    hive = {
        "HKCU": winreg.HKEY_CURRENT_USER,
        "HKLM": winreg.HKEY_LOCAL_MACHINE,
        "HKU": winreg.HKEY_USERS,  # other accounts' hives (loaded while they are logged on)
    }.get(hive_name.upper())
    return hive, sub_key


def expand(pattern: str, env: Mapping[str, str] | None = None) -> str:
    """`pattern` with environment variables (`$X`, `${X}`, `%X%`) and `~` expanded."""
    environ = os.environ if env is None else env

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        return environ.get(name, match.group(0))

    expanded = re.sub(r"\$\{(\w+)\}|\$(\w+)|%(\w+)%", lookup, pattern)
    if expanded.startswith("~"):
        home = environ.get("HOME") or environ.get("USERPROFILE") or str(Path.home())
        rest = expanded[1:]
        if not rest or rest[0] in "/\\":
            expanded = home + rest
    return expanded


def xdg_download_dir(home: Path, env: Mapping[str, str]) -> Path:
    """The XDG download folder from `user-dirs.dirs`, or `~/Downloads`."""
    config_home = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
    user_dirs = config_home / "user-dirs.dirs"
    try:
        with user_dirs.open("rb") as handle:
            untrusted_text = handle.read(MAX_USER_DIRS_BYTES).decode("utf-8", "replace")
    except OSError:
        return home / "Downloads"
    for line in untrusted_text.splitlines():
        match = re.fullmatch(r'\s*XDG_DOWNLOAD_DIR\s*=\s*"([^"]*)"\s*', line)
        if not match:
            continue
        value = match.group(1).replace("$HOME", str(home))
        candidate = Path(value)
        # The spec allows only $HOME-relative or absolute paths; "$HOME/" alone means
        # "disabled", which user-dirs tools treat as the home folder itself.
        if candidate.is_absolute() and candidate != home:
            return candidate
    return home / "Downloads"


def _windows_downloads(env: Mapping[str, str]) -> str:
    """The Downloads known folder (may be redirected), else %USERPROFILE%\\Downloads."""
    if sys.platform == "win32":  # pragma: no cover - Windows only
        try:
            import ctypes
            import uuid

            folder_id = uuid.UUID("{374DE290-123F-4565-9164-39C4925E467B}")
            guid = (ctypes.c_byte * 16).from_buffer_copy(folder_id.bytes_le)
            out = ctypes.c_wchar_p()
            shell32 = ctypes.windll.shell32  # type: ignore[attr-defined,unused-ignore]
            result = shell32.SHGetKnownFolderPath(ctypes.byref(guid), 0, None, ctypes.byref(out))
            if result == 0 and out.value:
                path = str(out.value)
                ctypes.windll.ole32.CoTaskMemFree(out)  # type: ignore[attr-defined,unused-ignore]
                return path
        except (OSError, AttributeError, ValueError):
            pass
    profile = env.get("USERPROFILE") or str(Path.home())
    return str(Path(profile) / "Downloads")


def outlook_secure_temp(registry: Registry) -> str | None:
    """Classic Outlook's secure temp folder from the registry, newest Office first."""
    for version in OUTLOOK_VERSIONS:
        value = registry.read_string(
            OUTLOOK_SECURITY_KEY.format(version=version), OUTLOOK_SECURE_TEMP_VALUE
        )
        if value:
            return value
    return None


def default_folders(
    platform: str | None = None,
    env: Mapping[str, str] | None = None,
    home: Path | None = None,
    registry: Registry | None = None,
) -> list[str]:
    """The default watch-folder patterns for `platform` (defaults: this machine)."""
    platform = sys.platform if platform is None else platform
    environ = os.environ if env is None else env
    home = Path(environ.get("HOME") or Path.home()) if home is None else home
    if platform == "win32":
        folders = [_windows_downloads(environ)]
        secure_temp = outlook_secure_temp(registry if registry is not None else WinRegistry())
        if secure_temp:
            folders.append(secure_temp)
        local_appdata = environ.get("LOCALAPPDATA") or str(home / "AppData" / "Local")
        folders.append(str(Path(local_appdata) / "Microsoft" / "Olk" / "Attachments"))
        temp = environ.get("TEMP") or environ.get("TMP") or tempfile.gettempdir()
        folders.append(str(Path(temp) / THUNDERBIRD_TEMP_GLOB))
        return folders
    if platform == "darwin":
        temp = environ.get("TMPDIR") or "/tmp"  # noqa: S108 - Thunderbird's own location
        folders = [str(home / "Downloads")]
        for mail in MAC_MAIL_DOWNLOADS:  # the folder and its per-message subfolders
            folders += [str(home / mail), str(home / mail / "*")]
        folders.append(str(home / MAC_OUTLOOK_TEMP))
        folders.append(str(Path(temp) / THUNDERBIRD_TEMP_GLOB))
        return folders
    folders = [str(xdg_download_dir(home, environ)), f"/tmp/{THUNDERBIRD_TEMP_GLOB}"]  # noqa: S108
    tmpdir = environ.get("TMPDIR")
    if tmpdir and Path(tmpdir) != Path("/tmp"):  # noqa: S108
        folders.append(str(Path(tmpdir) / THUNDERBIRD_TEMP_GLOB))
    return folders


def configured_patterns(
    use_default_folders: bool,
    folders: Sequence[str],
    override: Sequence[str] | None = None,
    registry: Registry | None = None,
) -> list[str]:
    """Patterns to watch: `override` (from `--watch`) replaces defaults and policy folders."""
    if override:
        return list(dict.fromkeys(override))
    patterns = default_folders(registry=registry) if use_default_folders else []
    patterns.extend(folders)
    return list(dict.fromkeys(patterns))


def _has_glob(text: str) -> bool:
    return any(ch in text for ch in "*?[")


def _absolute(text: str) -> Path:
    return Path(os.path.normpath(Path(text).absolute()))


def expand_pattern(pattern: str, env: Mapping[str, str] | None = None) -> list[Path]:
    """The absolute folders `pattern` names right now (possibly none)."""
    expanded = expand(pattern, env)
    if not _has_glob(expanded):
        return [_absolute(expanded)]
    # Path.glob takes only relative patterns; the pattern here is an absolute one.
    matches = sorted(glob.glob(expanded))[:MAX_GLOB_MATCHES]  # noqa: PTH207
    found = [_absolute(match) for match in matches]
    return [path for path in found if path.is_dir() and not path.is_symlink()]


def is_glob_pattern(pattern: str) -> bool:
    """True when the pattern names a family of folders (`pid-*`) rather than one folder."""
    return _has_glob(expand(pattern))


def is_excluded(folder: Path, excludes: Sequence[str]) -> bool:
    """True when `folder` is one of the excluded folders or inside one."""
    for pattern in excludes:
        for excluded in expand_pattern(pattern):
            if folder == excluded or excluded in folder.parents:
                return True
    return False
