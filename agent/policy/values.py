"""Plain checks and words shared by the policy validators: types, paths, codes, syslog URLs.

Every function here is pure and returns a message (or None); `agent.policy.checks` calls them
per key and records the message against the key's path.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath, PureWindowsPath
from urllib.parse import urlsplit

from agent.inspect import codes
from agent.policy import keys as ck

MAX_SYSLOG_PORT = 65_535
DID_YOU_MEAN_CUTOFF = 0.75  # difflib similarity (0..1) above which a near-miss is suggested
SYSLOG_FACILITIES = (
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
    "authpriv", "ftp", *(f"local{n}" for n in range(8)),
)  # fmt: skip
SHA256_PATTERN = re.compile(r"[0-9a-fA-F]{64}")
CODE_PATTERN = re.compile(r"[a-z0-9_]+(\.[a-z0-9_]+)*(\.\*)?")
ENV_REFERENCE = re.compile(r"\$\{(\w+)\}|\$(\w+)|%(\w+)%")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Collector:
    """Gathers problems with the key path each is about."""

    def __init__(self) -> None:
        self.items: list[tuple[tuple[str, ...], str, str]] = []

    def add(self, path: tuple[str, ...], display: str, message: str) -> None:
        """Record one problem about the key at `path` (shown as `display`)."""
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
        return f"the string {short(value)}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"


def short(text: str) -> str:
    """`text` quoted for a message, cut at 40 characters."""
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

    expanded = ENV_REFERENCE.sub(substitute, untrusted_path)
    return str(Path(expanded).expanduser()) if expanded.startswith("~") else expanded


def path_problem(path_text: str) -> str | None:
    """Why an expanded folder path is not usable in policy, or None."""
    if CONTROL.search(path_text):
        return "must not contain control characters"
    if len(path_text) > ck.MAX_STRING_CHARS:
        return f"is longer than {ck.MAX_STRING_CHARS} characters"
    anchored = (
        PurePosixPath(path_text).is_absolute()
        or PureWindowsPath(path_text).is_absolute()
        or path_text.startswith("~")
        or ENV_REFERENCE.match(path_text) is not None
    )
    if not anchored:
        return (
            f"{short(path_text)} is a relative path: use a full path, or start it with ~ or an "
            "environment variable such as %USERPROFILE%"
        )
    return None


def unknown_code_message(code: str) -> str | None:
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
    forms = '"udp://host:514", "tcp://host:514", "tls://host:6514" or "unix:///dev/log"'
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return f"{short(url)} is not a syslog URL ({forms}): bad port"
    if parts.scheme == "unix":
        if parts.netloc or not parts.path.startswith("/"):
            return f'{short(url)}: a unix socket is written "unix:///path/to/socket"'
        return None
    if parts.scheme not in ("udp", "tcp", "tls"):
        return f"{short(url)} is not a syslog URL ({forms})"
    if not parts.hostname:
        return f"{short(url)} names no host"
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return f"{short(url)}: only a host and port are allowed"
    if port is not None and not 1 <= port <= MAX_SYSLOG_PORT:
        return f"{short(url)}: port must be between 1 and {MAX_SYSLOG_PORT}"
    return None
