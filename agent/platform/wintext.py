"""Windows' string rules, as pure functions (tested on every OS).

- Paths: Win32 file functions refuse paths of MAX_PATH (260) characters or more unless
  they use the `\\\\?\\` prefix ("Maximum Path Length Limitation", learn.microsoft.com,
  Naming Files, Paths, and Namespaces); the prefix turns off normalization, so the path
  must be absolute and already normalized. UNC paths become `\\\\?\\UNC\\server\\share`.
- Text: the shell's notification fields are fixed WCHAR arrays (NOTIFYICONDATAW: szTip
  128, szInfo 256, szInfoTitle 64, each with its NUL), so lengths count UTF-16 code units:
  an emoji outside the BMP takes two.
"""

from __future__ import annotations

import ntpath

MAX_PATH = 260  # characters, including the terminating NUL (minwindef.h)
# CreateDirectoryW's limit is MAX_PATH - 12 (room for an 8.3 name): use the prefix from there.
EXTENDED_PATH_FROM_CHARS = MAX_PATH - 12
EXTENDED_PREFIX = "\\\\?\\"
DEVICE_PREFIX = "\\\\.\\"
NOTIFY_TIP_UNITS = 128 - 1  # szTip: WCHAR[128] with its NUL
NOTIFY_INFO_UNITS = 256 - 1  # szInfo (balloon/toast text)
NOTIFY_TITLE_UNITS = 64 - 1  # szInfoTitle
ELLIPSIS = "\u2026"
# winerror.h codes, as CPython puts them on OSError.winerror
ERROR_INVALID_FUNCTION = 1  # CreateHardLinkW on FAT/exFAT
ERROR_SHARING_VIOLATION = 32
ERROR_LOCK_VIOLATION = 33
ERROR_NOT_SUPPORTED = 50  # CreateHardLinkW on a share without hard links
ERROR_TOO_MANY_LINKS = 1142
WINERRORS_IN_USE = frozenset({ERROR_SHARING_VIOLATION, ERROR_LOCK_VIOLATION})
WINERRORS_NO_HARD_LINKS = frozenset(
    {ERROR_INVALID_FUNCTION, ERROR_NOT_SUPPORTED, ERROR_TOO_MANY_LINKS}
)


def needs_extended(path: str) -> bool:
    """True when `path` is too long for Win32 calls without the `\\\\?\\` prefix."""
    return len(path) >= EXTENDED_PATH_FROM_CHARS and not path.startswith(
        (EXTENDED_PREFIX, DEVICE_PREFIX)
    )


def extended_path(path: str) -> str:
    """`path` in the `\\\\?\\` form when it is long and absolute; otherwise unchanged."""
    if not needs_extended(path):
        return path
    full = ntpath.normpath(path.replace("/", "\\"))
    if full.startswith("\\\\"):  # \\server\share\... (normpath keeps the UNC root)
        return EXTENDED_PREFIX + "UNC\\" + full[2:]
    drive, _rest = ntpath.splitdrive(full)
    if len(drive) == 2 and drive[1] == ":" and full[2:3] == "\\":
        return EXTENDED_PREFIX + full
    return path  # relative or drive-relative: the prefix would change its meaning


def utf16_units(text: str) -> int:
    """Length of `text` in UTF-16 code units (what WCHAR buffers count)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def cut_utf16(text: str, max_units: int) -> str:
    """`text` cut to at most `max_units` UTF-16 units, never inside a surrogate pair,
    with an ellipsis when something was cut."""
    if utf16_units(text) <= max_units:
        return text
    if max_units <= 0:
        return ""
    budget = max_units - 1  # room for the ellipsis (one unit)
    out: list[str] = []
    used = 0
    for char in text:
        width = 2 if ord(char) > 0xFFFF else 1
        if used + width > budget:
            break
        out.append(char)
        used += width
    return "".join(out) + ELLIPSIS


def winerror_in_use(error: OSError) -> bool:
    """A sharing or lock violation: another program has the file open (retry later)."""
    return getattr(error, "winerror", None) in WINERRORS_IN_USE


def winerror_no_hard_links(error: OSError) -> bool:
    """CreateHardLinkW failed because the volume has no hard links.

    CPython maps ERROR_INVALID_FUNCTION and ERROR_NOT_SUPPORTED to errno EINVAL, which
    POSIX code never reads as "no hard links": the Windows code decides.
    """
    return getattr(error, "winerror", None) in WINERRORS_NO_HARD_LINKS
