"""Validation of one policy layer: untrusted TOML or registry values -> checked flat values.

Every problem is collected (never just the first) and reported as
`FILE:LINE: key: what is wrong`. tomllib gives no line numbers for values, so `LineIndex`
finds a key's line with a small scan of the file text (table headers and `key =` lines).
"""

from __future__ import annotations

import difflib
import math
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any
from urllib.parse import urlsplit

from agent.inspect import codes
from agent.policy import keys as ck
from agent.policy.schema import ACTIONS

MAX_POLICY_FILE_BYTES = 16 * 1024**2  # bytes: a policy file larger than this is refused
MAX_SYSLOG_PORT = 65_535
DID_YOU_MEAN_CUTOFF = 0.75  # difflib similarity (0..1) above which a near-miss is suggested
SYSLOG_FACILITIES = (
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
    "authpriv", "ftp", *(f"local{n}" for n in range(8)),
)  # fmt: skip
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_CODE_PATTERN = re.compile(r"[a-z0-9_]+(\.[a-z0-9_]+)*(\.\*)?")
_ENV_REFERENCE = re.compile(r"\$\{(\w+)\}|\$(\w+)|%(\w+)%")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

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


@dataclass
class Layer:
    """One validated source of policy values."""

    label: str  # "machine:/etc/photogate/config.toml", "user:...", "registry:..."
    location: str  # what problem messages start with (the file, or the registry key)
    values: dict[str, Any] = field(default_factory=dict)  # dotted key -> checked value
    lines: dict[str, int] = field(default_factory=dict)  # dotted key -> line (files only)
    problems: list[str] = field(default_factory=list)

    def where(self, key: str) -> str:
        """`FILE:LINE` for a key (just the location when there are no lines)."""
        line = self.lines.get(key)
        return f"{self.location}:{line}" if line is not None else self.location


class _Collector:
    """Gathers problems with the key path each is about."""

    def __init__(self) -> None:
        self.items: list[tuple[tuple[str, ...], str, str]] = []

    def add(self, path: tuple[str, ...], display: str, message: str) -> None:
        self.items.append((path, display, message))


def describe_type(value: object) -> str:
    """Plain words for a TOML value's type, for 'must be X, not Y' messages."""
    if isinstance(value, bool):
        return f"{str(value).lower()} (true/false)"
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {_short(value)}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"


def _short(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "…")


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """' (did you mean "x"?)' when a choice is close to `word`, else ''."""
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=DID_YOU_MEAN_CUTOFF)
    return f' (did you mean "{match[0]}"?)' if match else ""


def expand_path(untrusted_path: str, environ: Mapping[str, str] | None = None) -> str:
    """Expand a leading `~` and `$VAR`, `${VAR}`, `%VAR%` references that are set.

    Unset variables stay as written, so a folder that does not exist on this PC (e.g.
    `%OneDrive%` without OneDrive) is reported by the watcher instead of rejecting the policy.
    """
    env = os.environ if environ is None else environ

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        return env.get(name, match.group(0))

    expanded = _ENV_REFERENCE.sub(substitute, untrusted_path)
    return str(Path(expanded).expanduser()) if expanded.startswith("~") else expanded


def _path_problem(path_text: str) -> str | None:
    if _CONTROL.search(path_text):
        return "must not contain control characters"
    if len(path_text) > ck.MAX_STRING_CHARS:
        return f"is longer than {ck.MAX_STRING_CHARS} characters"
    anchored = (
        PurePosixPath(path_text).is_absolute()
        or PureWindowsPath(path_text).is_absolute()
        or path_text.startswith("~")
        or _ENV_REFERENCE.match(path_text) is not None
    )
    if not anchored:
        return (
            f"{_short(path_text)} is a relative path: use a full path, or start it with ~ or an "
            "environment variable such as %USERPROFILE%"
        )
    return None


class _Checker:
    """Validates values of each kind; appends problems to a collector."""

    def __init__(self, out: _Collector) -> None:
        self.out = out

    def value(self, spec: ck.KeySpec, path: tuple[str, ...], display: str, raw: object) -> Any:
        """The checked, converted value, or None after recording why it is wrong."""
        checker = {
            ck.BOOL: self._bool,
            ck.INT: self._int,
            ck.FLOAT: self._float,
            ck.STRING: self._string,
            ck.STRING_LIST: self._string_list,
            ck.PATH: self._path,
            ck.PATH_LIST: self._path_list,
            ck.ACTION: self._action,
            ck.CODE_ACTIONS: self._code_actions,
            ck.FOLDER_RULES: self._folder_rules,
            ck.SHA256_LIST: self._sha256_list,
            ck.KEY_LIST: self._key_list,
            ck.SYSLOG_URL: self._syslog_url,
            ck.FACILITY: self._facility,
        }[spec.kind]
        return checker(spec, path, display, raw)

    def _fail(self, path: tuple[str, ...], display: str, message: str) -> None:
        self.out.add(path, display, message)

    def _bool(self, spec: ck.KeySpec, path: tuple[str, ...], display: str, raw: object) -> Any:
        if isinstance(raw, bool):
            return raw
        self._fail(path, display, f"must be true or false, not {describe_type(raw)}")
        return None

    def _int(self, spec: ck.KeySpec, path: tuple[str, ...], display: str, raw: object) -> Any:
        if isinstance(raw, bool) or not isinstance(raw, int):
            self._fail(path, display, f"must be a whole number, not {describe_type(raw)}")
            return None
        return raw if self._in_bounds(spec, path, display, raw) else None

    def _float(self, spec: ck.KeySpec, path: tuple[str, ...], display: str, raw: object) -> Any:
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
            self._fail(path, display, f"must be a number, not {describe_type(raw)}")
            return None
        return float(raw) if self._in_bounds(spec, path, display, raw) else None

    def _in_bounds(self, spec: ck.KeySpec, path: tuple[str, ...], display: str, n: float) -> bool:
        low, high = spec.minimum, spec.maximum
        if (low is not None and n < low) or (high is not None and n > high):
            if high is None:
                bound = f"at least {low:g}"
            elif low is None:
                bound = f"at most {high:g}"
            else:
                bound = f"between {low:g} and {high:g}"
            self._fail(path, display, f"must be {bound}, not {n:g}")
            return False
        return True

    def _text(self, path: tuple[str, ...], display: str, raw: object, what: str) -> str | None:
        if not isinstance(raw, str):
            self._fail(path, display, f"must be {what}, not {describe_type(raw)}")
            return None
        if len(raw) > ck.MAX_STRING_CHARS:
            self._fail(path, display, f"is longer than {ck.MAX_STRING_CHARS} characters")
            return None
        if _CONTROL.search(raw):
            self._fail(path, display, "must not contain control characters")
            return None
        return raw

    def _string(self, spec: ck.KeySpec, path: tuple[str, ...], display: str, raw: object) -> Any:
        text = self._text(path, display, raw, "a string")
        if text is not None and not text.strip() and spec.key == "policy.version":
            self._fail(path, display, "must not be empty")
            return None
        return text

    def _list(
        self, spec: ck.KeySpec, path: tuple[str, ...], display: str, raw: object
    ) -> list[Any] | None:
        if not isinstance(raw, list):
            self._fail(path, display, f"must be a list, not {describe_type(raw)}")
            return None
        if len(raw) > spec.max_items:
            self._fail(path, display, f"has {len(raw)} items; at most {spec.max_items}")
            return None
        return raw

    def _items(
        self, spec: ck.KeySpec, path: tuple[str, ...], display: str, raw: object, kind: str
    ) -> Any:
        items = self._list(spec, path, display, raw)
        if items is None:
            return None
        checked = []
        ok = True
        for index, item in enumerate(items, start=1):
            one = getattr(self, "_one_" + kind)(path, f"{display}[{index}]", item)
            ok = ok and one is not None
            checked.append(one)
        if not ok:
            return None
        return list(dict.fromkeys(checked)) if kind in ("sha256", "key") else checked

    def _string_list(self, spec: ck.KeySpec, path: tuple[str, ...], d: str, raw: object) -> Any:
        return self._items(spec, path, d, raw, "pattern")

    def _path_list(self, spec: ck.KeySpec, path: tuple[str, ...], d: str, raw: object) -> Any:
        return self._items(spec, path, d, raw, "path")

    def _sha256_list(self, spec: ck.KeySpec, path: tuple[str, ...], d: str, raw: object) -> Any:
        return self._items(spec, path, d, raw, "sha256")

    def _key_list(self, spec: ck.KeySpec, path: tuple[str, ...], d: str, raw: object) -> Any:
        return self._items(spec, path, d, raw, "key")

    def _one_pattern(self, path: tuple[str, ...], display: str, raw: object) -> str | None:
        text = self._text(path, display, raw, "a string")
        if text is not None and not text.strip():
            self._fail(path, display, "must not be empty")
            return None
        return text

    def _one_path(self, path: tuple[str, ...], display: str, raw: object) -> str | None:
        text = self._text(path, display, raw, "a folder path")
        if text is None:
            return None
        if not text.strip():
            self._fail(path, display, "must not be empty")
            return None
        expanded = expand_path(text)
        problem = _path_problem(expanded)
        if problem is not None:
            self._fail(path, display, problem)
            return None
        return expanded

    def _one_sha256(self, path: tuple[str, ...], display: str, raw: object) -> str | None:
        text = self._text(path, display, raw, "a SHA-256 (64 hex digits)")
        if text is not None and not _SHA256.fullmatch(text):
            self._fail(path, display, f"{_short(text)} is not a SHA-256 (64 hex digits)")
            return None
        return None if text is None else text.lower()

    def _one_key(self, path: tuple[str, ...], display: str, raw: object) -> str | None:
        text = self._text(path, display, raw, "a key name")
        if text is None:
            return None
        if text in ck.SPECS or (text.endswith(".*") and text[:-2] in ck.SECTIONS):
            return text
        hint = did_you_mean(text, [*ck.SPECS, *(f"{s}.*" for s in ck.SECTIONS)])
        self._fail(path, display, f"{_short(text)} is not a policy key{hint}")
        return None

    def _path(self, spec: ck.KeySpec, path: tuple[str, ...], display: str, raw: object) -> Any:
        if raw == "":
            return ""
        return self._one_path(path, display, raw)

    def _action(self, spec: ck.KeySpec, path: tuple[str, ...], display: str, raw: object) -> Any:
        return self._one_action(path, display, raw)

    def _one_action(self, path: tuple[str, ...], display: str, raw: object) -> str | None:
        text = self._text(path, display, raw, "an action")
        if text is None or text in ACTIONS:
            return text
        allowed = ", ".join(ACTIONS)
        hint = did_you_mean(text, ACTIONS)
        self._fail(path, display, f"{_short(text)} is not an action ({allowed}){hint}")
        return None

    def _code_actions(
        self, spec: ck.KeySpec, path: tuple[str, ...], display: str, raw: object
    ) -> Any:
        return self._codes(path, display, raw)

    def _codes(self, path: tuple[str, ...], display: str, raw: object) -> dict[str, str] | None:
        if not isinstance(raw, dict):
            self._fail(path, display, f"must be a table, not {describe_type(raw)}")
            return None
        if len(raw) > ck.MAX_LIST_ITEMS:
            self._fail(path, display, f"has {len(raw)} codes; at most {ck.MAX_LIST_ITEMS}")
            return None
        checked: dict[str, str] = {}
        ok = True
        for code, action in raw.items():
            where, shown = (*path, code), f'{display}."{code}"'
            if not _CODE_PATTERN.fullmatch(code):
                ok = False
                self._fail(
                    where, shown,
                    'is not a finding code or prefix wildcard (like "jpeg.trailing_data" '
                    'or "name.*")',
                )  # fmt: skip
                continue
            unknown = _unknown_code_message(code)
            if unknown is not None:
                ok = False
                self._fail(where, display, unknown)
                continue
            checked_action = self._one_action(where, shown, action)
            ok = ok and checked_action is not None
            checked[code] = checked_action or ""
        return checked if ok else None

    def _folder_rules(
        self, spec: ck.KeySpec, path: tuple[str, ...], display: str, raw: object
    ) -> Any:
        if isinstance(raw, dict):
            self._fail(path, display, "must be written as [[folder_rules]] (a list)")
            return None
        rules = self._list(spec, path, display, raw)
        if rules is None:
            return None
        checked, ok, seen = [], True, set()
        for index, rule in enumerate(rules):
            one = self._folder_rule((*path, str(index)), f"{display}[{index + 1}]", rule)
            if one is not None and one["path"] in seen:
                self._fail((*path, str(index), "path"), f"{display}[{index + 1}].path",
                           "the same folder already has a rule")  # fmt: skip
                one = None
            ok = ok and one is not None
            if one is not None:
                seen.add(one["path"])
                checked.append(one)
        return checked if ok else None

    def _folder_rule(self, path: tuple[str, ...], display: str, raw: object) -> Any:
        if not isinstance(raw, dict):
            self._fail(path, display, f"must be a table, not {describe_type(raw)}")
            return None
        ok = True
        rule: dict[str, Any] = {}
        for name, value in raw.items():
            where, shown = (*path, name), f"{display}.{name}"
            checked: object
            if name == "path":
                checked = self._one_path(where, shown, value)
            elif name == "codes":
                checked = self._codes(where, shown, value)
            elif name in ck.SEVERITY_KEYS:
                checked = self._one_action(where, shown, value)
            else:
                hint = did_you_mean(name, ck.FOLDER_RULE_KEYS)
                self._fail(where, shown, f"unknown key in a folder rule{hint}")
                checked = None
            ok = ok and checked is not None
            rule[name] = checked
        if "path" not in raw:
            ok = False
            self._fail(path, display, "a folder rule needs a path")
        return rule if ok else None

    def _syslog_url(
        self, spec: ck.KeySpec, path: tuple[str, ...], display: str, raw: object
    ) -> Any:
        text = self._text(path, display, raw, "a syslog URL")
        if not text:
            return text
        problem = syslog_url_problem(text)
        if problem is not None:
            self._fail(path, display, problem)
            return None
        return text

    def _facility(self, spec: ck.KeySpec, path: tuple[str, ...], display: str, raw: object) -> Any:
        text = self._text(path, display, raw, "a syslog facility")
        if text is None or text in SYSLOG_FACILITIES:
            return text
        hint = did_you_mean(text, SYSLOG_FACILITIES)
        self._fail(path, display, f"{_short(text)} is not a syslog facility{hint}")
        return None


def _unknown_code_message(code: str) -> str | None:
    """Why `code` (or wildcard) names no registered finding code, or None when it does."""
    if code.endswith(".*"):
        if codes.wildcard_matches(code):
            return None
        what = "wildcard matches no finding code"
    elif codes.is_known(code):
        return None
    else:
        what = "unknown finding code"
    suggestion = codes.suggest(code)
    hint = f" (did you mean '{suggestion}'?)" if suggestion else ""
    listing = "" if hint else "; `photogate codes` lists them"
    return f"{what} '{code}'{hint}{listing}"


def syslog_url_problem(url: str) -> str | None:
    """Why `url` is not a usable syslog target, or None when it is."""
    forms = '"udp://host:514", "tcp://host:514" or "unix:///dev/log"'
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return f"{_short(url)} is not a syslog URL ({forms}): bad port"
    if parts.scheme == "unix":
        if parts.netloc or not parts.path.startswith("/"):
            return f'{_short(url)}: a unix socket is written "unix:///path/to/socket"'
        return None
    if parts.scheme not in ("udp", "tcp"):
        return f"{_short(url)} is not a syslog URL ({forms})"
    if not parts.hostname:
        return f"{_short(url)} names no host"
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return f"{_short(url)}: only a host and port are allowed"
    if port is not None and not 1 <= port <= MAX_SYSLOG_PORT:
        return f"{_short(url)}: port must be between 1 and {MAX_SYSLOG_PORT}"
    return None


def validate_entries(
    untrusted_entries: Iterable[tuple[tuple[str, ...], object]], *, user: bool
) -> tuple[dict[str, Any], list[tuple[tuple[str, ...], str, str]]]:
    """Check (key path, value) pairs of one layer; returns (flat values, problems).

    A key path is ("section", "field") or ("folder_rules",). `user` applies the user
    preferences rule: only keys marked user-settable may appear.
    """
    out = _Collector()
    checker = _Checker(out)
    values: dict[str, Any] = {}
    user_keys = ", ".join(ck.USER_SETTABLE_KEYS)
    for path, raw in untrusted_entries:
        key = ".".join(path)
        spec = ck.SPECS.get(key)
        if spec is None:
            out.add(path, key, _unknown_key_message(path))
            continue
        if user and not spec.user_settable:
            out.add(path, key, f"only IT policy may set this; user preferences may set {user_keys}")
            continue
        checked = checker.value(spec, path, key, raw)
        if checked is not None:
            values[key] = checked
    return values, out.items


def _unknown_key_message(path: tuple[str, ...]) -> str:
    if len(path) == 1:
        if path[0] in ck.SECTIONS:
            return f"must be a table [{path[0]}]"
        # A key written outside its table (`version = ...` at the top) is a common slip.
        fields = [s.key for s in ck.KEY_SPECS if s.name == path[0]]
        if fields:
            return f'unknown key (did you mean "{fields[0]}"?)'
        return f"unknown section [{path[0]}]{did_you_mean(path[0], ck.SECTIONS)}"
    section, name = path[0], ".".join(path[1:])
    if section not in ck.SECTIONS:
        return f"unknown section [{section}]{did_you_mean(section, ck.SECTIONS)}"
    elsewhere = [s.key for s in ck.KEY_SPECS if s.name == name and s.section != section]
    if elsewhere:
        return f'unknown key in [{section}] (did you mean "{elsewhere[0]}"?)'
    names = [s.name for s in ck.KEY_SPECS if s.section == section]
    return f"unknown key in [{section}]{did_you_mean(name, names)}"


def toml_entries(document: Mapping[str, Any]) -> list[tuple[tuple[str, ...], object]]:
    """Flatten a parsed TOML document into (key path, value) pairs, one per policy key."""
    entries: list[tuple[tuple[str, ...], object]] = []
    for name, value in document.items():
        if name in ck.SECTIONS and name != "folder_rules" and isinstance(value, dict):
            entries.extend(((name, key), item) for key, item in value.items())
        else:
            entries.append(((name,), value))
    return entries


def load_toml_layer(path: Path, label: str, *, user: bool = False) -> Layer:
    """Read and validate one policy file; problems are `FILE:LINE: key: what is wrong`."""
    layer = Layer(label=label, location=str(path))
    try:
        with open(path, "rb") as handle:
            untrusted_bytes = handle.read(MAX_POLICY_FILE_BYTES + 1)
    except OSError as error:
        layer.problems.append(f"{path}:0: (file): cannot read: {error.strerror or error}")
        return layer
    if len(untrusted_bytes) > MAX_POLICY_FILE_BYTES:
        limit_mb = MAX_POLICY_FILE_BYTES // 1024**2
        layer.problems.append(f"{path}:0: (file): larger than {limit_mb} MB")
        return layer
    try:
        untrusted_text = untrusted_bytes.decode("utf-8")
        document = tomllib.loads(untrusted_text)
    except UnicodeDecodeError as error:
        layer.problems.append(f"{path}:1: (file): not UTF-8 text ({error.reason})")
        return layer
    except tomllib.TOMLDecodeError as error:
        layer.problems.append(f"{path}:{_toml_error_line(str(error))}: (syntax): {error}")
        return layer
    index = LineIndex(untrusted_text)
    values, problems = validate_entries(toml_entries(document), user=user)
    layer.values = values
    layer.lines = {key: index.line(tuple(key.split(".", 1))) for key in values}
    layer.problems = [f"{path}:{index.line(p)}: {shown}: {msg}" for p, shown, msg in problems]
    return layer


def _toml_error_line(message: str) -> int:
    match = re.search(r"line (\d+)", message)
    return int(match.group(1)) if match else 1
