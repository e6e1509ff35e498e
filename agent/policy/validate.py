"""Validation of one policy layer: untrusted TOML or registry values -> checked flat values.

Every problem is collected (never just the first) and reported as
`FILE:LINE: key: what is wrong`. The file is read with `agent.policy.reading` (bounded,
non-blocking, regular files only); the values are checked by `agent.policy.checks`; line
numbers come from `agent.policy.toml_lines`.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.policy import keys as ck
from agent.policy.checks import Checker
from agent.policy.reading import PolicyFileError, read_policy_file
from agent.policy.toml_lines import LineIndex, toml_error_line
from agent.policy.values import Collector, did_you_mean, expand_path

__all__ = ["Layer", "expand_path", "load_toml_layer", "toml_entries", "validate_entries"]


@dataclass
class Layer:
    """One validated source of policy values."""

    label: str  # "machine:/etc/photogate/config.toml", "user:...", "registry:..."
    location: str  # what problem messages start with (the file, or the registry key)
    values: dict[str, Any] = field(default_factory=dict)  # dotted key -> checked value
    lines: dict[str, int] = field(default_factory=dict)  # dotted key -> line (files only)
    problems: list[str] = field(default_factory=list)
    sha256: str = ""  # SHA-256 of the file's bytes (files only), named in policy events
    raw: bytes = b""  # the file's bytes (files only): kept as the last good copy

    def where(self, key: str) -> str:
        """`FILE:LINE` for a key (just the location when there are no lines)."""
        line = self.lines.get(key)
        return f"{self.location}:{line}" if line is not None else self.location


def validate_entries(
    untrusted_entries: Iterable[tuple[tuple[str, ...], object]], *, user: bool
) -> tuple[dict[str, Any], list[tuple[tuple[str, ...], str, str]]]:
    """Check (key path, value) pairs of one layer; returns (flat values, problems).

    A key path is ("section", "field") or ("folder_rules",). `user` applies the user
    preferences rule: only keys marked user-settable may appear.
    """
    out = Collector()
    checker = Checker(out)
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


def load_toml_layer(
    path: Path, label: str, *, user: bool = False, allow_symlink: bool | None = None
) -> Layer:
    """Read and validate one policy file; problems are `FILE:LINE: key: what is wrong`.

    A machine policy (`user=False`) may be a symbolic link (IT's tools publish by swapping a
    link); user preferences may not. A machine file with no settings at all (empty, or only
    comments: a half-copied push) is rejected: deleting the file is how IT returns to the
    built-in defaults.
    """
    layer = Layer(label=label, location=str(path))
    try:
        untrusted_bytes = read_policy_file(
            path, allow_symlink=not user if allow_symlink is None else allow_symlink
        )
    except FileNotFoundError:
        layer.problems.append(f"{path}:0: (file): does not exist")
        return layer
    except PolicyFileError as error:
        layer.problems.append(f"{path}:0: (file): {error}")
        return layer
    layer.sha256 = hashlib.sha256(untrusted_bytes).hexdigest()
    layer.raw = untrusted_bytes
    try:
        untrusted_text = untrusted_bytes.decode("utf-8")
        document = tomllib.loads(untrusted_text)
    except UnicodeDecodeError as error:
        layer.problems.append(f"{path}:1: (file): not UTF-8 text ({error.reason})")
        return layer
    except tomllib.TOMLDecodeError as error:
        layer.problems.append(f"{path}:{toml_error_line(str(error))}: (syntax): {error}")
        return layer
    if not document and not user:
        layer.problems.append(
            f"{path}:1: (file): the policy file has no settings (empty or cut short?); "
            "delete the file to return to the built-in defaults"
        )
        return layer
    index = LineIndex(untrusted_text)
    values, problems = validate_entries(toml_entries(document), user=user)
    layer.values = values
    layer.lines = {key: index.line(tuple(key.split(".", 1))) for key in values}
    layer.problems = [f"{path}:{index.line(p)}: {shown}: {msg}" for p, shown, msg in problems]
    return layer
