"""Line numbers for policy problems: where a key sits in TOML text.

tomllib gives no line numbers for values, so `LineIndex` finds a key's line with a small scan of
the file text (table headers and `key =` lines); `toml_error_line` reads the line out of a
tomllib syntax error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# TOML key syntax, enough to find `key =` lines and `[table]` headers.
_KEY_PART = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')"""
_KEY = rf"{_KEY_PART}(?:\s*\.\s*{_KEY_PART})*"
_ARRAY_HEADER = re.compile(rf"\s*\[\[\s*({_KEY})\s*\]\]")
_TABLE_HEADER = re.compile(rf"\s*\[\s*({_KEY})\s*\]")
_KEY_LINE = re.compile(rf"\s*({_KEY})\s*=")


def _key_parts(text: str) -> tuple[str, ...]:
    parts = []
    for match in re.finditer(_KEY_PART, text):
        part = match.group(0)
        if part[0] in "\"'":
            part = part[1:-1]
        parts.append(part)
    return tuple(parts)


class LineIndex:
    """Line numbers of table headers and keys in TOML text, by key path.

    A path is a tuple of key parts, with array-of-tables elements numbered from 0:
    ("actions", "codes", "name.*") or ("folder_rules", "1", "high").
    """

    def __init__(self, text: str) -> None:
        self._lines: dict[tuple[str, ...], int] = {}
        arrays: dict[tuple[str, ...], int] = {}  # array-of-tables path -> last index
        table: tuple[str, ...] = ()
        for number, line in enumerate(text.splitlines(), start=1):
            if match := _ARRAY_HEADER.match(line):
                path = self._resolve(_key_parts(match.group(1)), arrays)
                arrays[path] = arrays.get(path, -1) + 1
                table = (*path, str(arrays[path]))
            elif match := _TABLE_HEADER.match(line):
                table = self._resolve(_key_parts(match.group(1)), arrays)
            elif match := _KEY_LINE.match(line):
                self._lines.setdefault((*table, *_key_parts(match.group(1))), number)
                continue
            else:
                continue
            self._lines.setdefault(table, number)

    @staticmethod
    def _resolve(parts: tuple[str, ...], arrays: Mapping[tuple[str, ...], int]) -> tuple[str, ...]:
        # `[folder_rules.codes]` after `[[folder_rules]]` belongs to the last element.
        resolved: tuple[str, ...] = ()
        for part in parts:
            resolved = (*resolved, part)
            if resolved in arrays and len(resolved) < len(parts):
                resolved = (*resolved, str(arrays[resolved]))
        return resolved

    def line(self, path: tuple[str, ...]) -> int:
        """The line of `path`, else of its nearest enclosing table, else 1."""
        for end in range(len(path), 0, -1):
            if path[:end] in self._lines:
                return self._lines[path[:end]]
        return 1


def toml_error_line(message: str) -> int:
    """The line number a tomllib error message names (1 when it names none)."""
    match = re.search(r"line (\d+)", message)
    return int(match.group(1)) if match else 1
