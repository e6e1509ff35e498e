"""Windows registry policy (HKLM\\SOFTWARE\\Policies\\Photogate) behind a small interface.

Layout, as the ADMX template writes it: one subkey per table, one value per key
(`...\\Photogate\\actions` value `high` = REG_SZ "quarantine"); finding-code overrides in the
subkey `actions\\codes` (value name = code); lists as REG_MULTI_SZ; booleans as REG_DWORD 0/1;
numbers as REG_DWORD or REG_SZ; `folder_rules` (and any list or table) may also be a REG_SZ
holding JSON, as Firefox's policy engine accepts.

`WinRegPolicySource` reads the real registry (Windows only, imported lazily);
`FileRegistryPolicySource` reads the same tree from a JSON file and stands in for it on Linux.
Both turn the tree into flat dotted keys with `flatten_registry_tree`, and `coerce_value`
maps registry types onto the TOML types the validator expects.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from agent.policy import keys as ck
from agent.policy.reading import PolicyFileError, read_policy_file

REGISTRY_KEY = r"SOFTWARE\Policies\Photogate"
REGISTRY_LABEL = r"HKLM\SOFTWARE\Policies\Photogate"
MAX_REGISTRY_DEPTH = 2  # subkey levels read: table, then `codes` inside it
MAX_REGISTRY_FILE_BYTES = 16 * 1024**2  # bytes: a stand-in JSON file larger than this is refused


class RegistryPolicySource(Protocol):
    """Where registry-style policy comes from. `values()` maps dotted keys to raw values."""

    @property
    def location(self) -> str:
        """How problems name this source (e.g. `HKLM\\SOFTWARE\\Policies\\Photogate`)."""
        ...

    def values(self) -> dict[str, object]:
        """Dotted key -> raw value; {} when no policy is present. Raises OSError if unreadable."""
        ...


def flatten_registry_tree(tree: Mapping[str, Any]) -> dict[str, object]:
    """A registry-shaped tree ({table: {name: value, codes: {...}}}) -> {dotted key: value}.

    A value at the top (e.g. `folder_rules`) keeps its name; a subkey inside a table
    (e.g. `actions\\codes`) becomes one table-valued key.
    """
    flat: dict[str, object] = {}
    for name, value in tree.items():
        if isinstance(value, Mapping):
            for field_name, item in value.items():
                flat[f"{name}.{field_name}"] = dict(item) if isinstance(item, Mapping) else item
        else:
            flat[name] = value
    return flat


def coerce_value(key: str, raw: object) -> object:
    """Map a registry value onto the TOML type its key expects; unknown shapes pass through.

    The validator then checks the result exactly as it checks a TOML value, so a wrong
    registry value gets the same message as a wrong TOML value.
    """
    spec = ck.SPECS.get(key)
    if spec is None:
        return raw
    if spec.kind == ck.BOOL and isinstance(raw, int) and not isinstance(raw, bool):
        return {0: False, 1: True}.get(raw, raw)
    if spec.kind == ck.BOOL and isinstance(raw, str) and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    if spec.kind in (ck.INT, ck.FLOAT) and isinstance(raw, str):
        return _number(raw, integer=spec.kind == ck.INT)
    structured = (ck.STRING_LIST, ck.PATH_LIST, ck.SHA256_LIST, ck.KEY_LIST)
    if spec.kind in (*structured, ck.CODE_ACTIONS, ck.FOLDER_RULES) and isinstance(raw, str):
        stripped = raw.strip()
        if stripped.startswith(("[", "{")):
            try:
                return json.loads(stripped)
            except ValueError:
                return raw
        if spec.kind in structured:
            return [raw] if stripped else []  # one REG_SZ standing for a one-item list
    return raw


def _number(text: str, *, integer: bool) -> object:
    try:
        return int(text.strip()) if integer else float(text.strip())
    except ValueError:
        return text


class FileRegistryPolicySource:
    """The registry tree as a JSON file: {"actions": {"high": "flag", "codes": {...}}, ...}.

    A missing file means no registry policy, as a missing key does on Windows.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def location(self) -> str:
        """The JSON file standing in for the registry key."""
        return f"{self.path}"

    def values(self) -> dict[str, object]:
        """Dotted key -> coerced value; raises OSError or ValueError when unreadable."""
        try:
            untrusted_bytes = read_policy_file(self.path, max_bytes=MAX_REGISTRY_FILE_BYTES)
        except FileNotFoundError:
            return {}
        except PolicyFileError as error:
            raise ValueError(str(error)) from None
        untrusted_tree = json.loads(untrusted_bytes.decode("utf-8"))
        if not isinstance(untrusted_tree, dict):
            raise ValueError("the top level must be a JSON object")
        flat = flatten_registry_tree(untrusted_tree)
        return {key: coerce_value(key, value) for key, value in flat.items()}


class WinRegPolicySource:
    """HKLM\\SOFTWARE\\Policies\\Photogate, read with winreg (Windows only)."""

    @property
    def location(self) -> str:
        """The registry key policies live under."""
        return REGISTRY_LABEL

    def values(self) -> dict[str, object]:
        """Dotted key -> coerced value; {} off Windows or when the key is absent."""
        if sys.platform != "win32":
            return {}
        import winreg

        try:
            root = winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, REGISTRY_KEY)
        except FileNotFoundError:
            return {}
        with root:
            tree = _read_key(root, depth=0)
        flat = flatten_registry_tree(tree)
        return {key: coerce_value(key, value) for key, value in flat.items()}


def _read_key(key: Any, depth: int) -> dict[str, Any]:
    """Values and subkeys of an open registry key, as a nested dict (Windows only)."""
    if sys.platform != "win32":
        return {}
    import winreg

    tree: dict[str, Any] = {}
    index = 0
    while True:
        try:
            name, data, _kind = winreg.EnumValue(key, index)
        except OSError:  # no more values
            break
        tree[name] = list(data) if isinstance(data, list) else data
        index += 1
    if depth < MAX_REGISTRY_DEPTH:
        index = 0
        while True:
            try:
                sub_name = winreg.EnumKey(key, index)
            except OSError:  # no more subkeys
                break
            with winreg.OpenKey(key, sub_name) as sub:
                tree[sub_name] = _read_key(sub, depth + 1)
            index += 1
    return tree


def default_registry_source() -> RegistryPolicySource | None:
    """The real registry on Windows; None elsewhere (no registry layer)."""
    return WinRegPolicySource() if sys.platform == "win32" else None
