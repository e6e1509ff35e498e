"""Policy layers -> one validated Policy; locks; last-known-good for the running agent.

Layers, lowest first: built-in defaults < machine policy file < Windows registry policy <
user preferences. A higher layer replaces a key as a whole (lists and tables are not merged),
with two exceptions: `locks.keys` from the machine file and the registry are combined (both
are IT), and the user's `watch.folders` adds to IT's folders rather than replacing them.

User preferences may set only the keys marked user-settable (`ui.notifications`,
`watch.folders`); any other key in the user file is an error and the user file is rejected
as a whole. A key IT lists in `[locks] keys` ignores the user's value (reported as a note).
An invalid layer is rejected as a whole: `load_policy` raises; `agent.policy.keeper` (the
running agent's `PolicyKeeper`) keeps the last good version of that layer in force.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from agent.errors import ConfigError
from agent.policy import keys as ck
from agent.policy.registry import RegistryPolicySource
from agent.policy.schema import Policy
from agent.policy.validate import Layer, expand_path, load_toml_layer, validate_entries

__all__ = [
    "BUILT_IN",
    "LoadedPolicy",
    "check_file",
    "expand_path",
    "fingerprint",
    "load_policy",
    "shipped_config_text",
]

BUILT_IN = "built-in"
FINGERPRINT_HEX_CHARS = 12  # hex digits of the policy's SHA-256 shown as its fingerprint


@dataclass(frozen=True)
class LoadedPolicy:
    """The effective policy, where each key came from, and a short fingerprint."""

    policy: Policy
    sources: Mapping[str, str]  # dotted key -> "built-in", "machine:<file>", "registry:...", ...
    fingerprint: str
    notes: tuple[str, ...] = field(default=())  # e.g. user values ignored because IT locked them


def fingerprint(policy: Policy) -> str:
    """Short SHA-256 of the effective policy's canonical JSON form."""
    canonical = json.dumps(ck.to_flat(policy), sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:FINGERPRINT_HEX_CHARS]


def shipped_config_text() -> str:
    """The shipped, commented default policy (package data; installers copy it for IT)."""
    return resources.files("agent").joinpath("default_config.toml").read_text(encoding="utf-8")


def machine_layer(path: Path) -> Layer | None:
    """The machine policy file as a layer; None when the file does not exist (IT deleted it
    to return to the defaults). A link, a FIFO or an empty file is a rejected layer."""
    return load_toml_layer(path, f"machine:{path}") if os.path.lexists(path) else None


def user_layer(path: Path) -> Layer | None:
    """The user's preferences file as a layer; None when it does not exist."""
    return load_toml_layer(path, f"user:{path}", user=True) if os.path.lexists(path) else None


def registry_layer(source: RegistryPolicySource) -> Layer | None:
    """The registry policy (or its JSON stand-in) as a layer; None when there is none."""
    layer = Layer(label=f"registry:{source.location}", location=source.location)
    try:
        untrusted_values = source.values()
    except (OSError, ValueError) as error:
        layer.problems.append(f"{source.location}: (registry): cannot read: {error}")
        return layer
    if not untrusted_values:
        return None
    entries = [(tuple(key.split(".", 1)), value) for key, value in untrusted_values.items()]
    layer.values, problems = validate_entries(entries, user=False)
    layer.problems = [f"{source.location}: {shown}: {msg}" for _path, shown, msg in problems]
    return layer


def merge_layers(
    machine: Layer | None, registry: Layer | None, user: Layer | None
) -> tuple[LoadedPolicy, list[str]]:
    """Combine valid layers; returns the result and cross-key problems (empty when valid)."""
    flat: dict[str, Any] = ck.to_flat(Policy())
    sources: dict[str, str] = dict.fromkeys(flat, BUILT_IN)
    by_label: dict[str, Layer] = {}
    locks: list[str] = []
    lock_sources: list[str] = []
    for layer in (machine, registry):
        if layer is None:
            continue
        by_label[layer.label] = layer
        for key, value in layer.values.items():
            if key == "locks.keys":
                locks.extend(lock for lock in value if lock not in locks)
                lock_sources.append(layer.label)
            else:
                flat[key], sources[key] = value, layer.label
    flat["locks.keys"] = locks
    if lock_sources:
        sources["locks.keys"] = "+".join(lock_sources)
    notes: list[str] = []
    if user is not None:
        by_label[user.label] = user
        for key, value in user.values.items():
            if ck.is_locked(key, set(locks)):
                notes.append(f"{user.where(key)}: {key}: locked by IT policy; user value ignored")
            elif key in ck.ADDITIVE_USER_KEYS:
                flat[key] = [*flat[key], *(item for item in value if item not in flat[key])]
                before = sources[key]
                sources[key] = user.label if before == BUILT_IN else f"{before}+{user.label}"
            else:
                flat[key], sources[key] = value, user.label
    problems = _cross_key_problems(flat, sources, by_label)
    policy = ck.from_flat(flat)
    loaded = LoadedPolicy(policy, sources, fingerprint(policy), tuple(notes))
    return loaded, problems


def _cross_key_problems(
    flat: Mapping[str, Any], sources: Mapping[str, str], layers: Mapping[str, Layer]
) -> list[str]:
    """Rules between keys that may come from different layers."""
    problems = []
    if flat["inspect.pixels_reject"] < flat["inspect.pixels_warn"]:
        key = "inspect.pixels_reject"
        if sources[key] == BUILT_IN:
            key = "inspect.pixels_warn"
        layer = layers.get(sources[key])
        where = layer.where(key) if layer else BUILT_IN
        problems.append(
            f"{where}: {key}: inspect.pixels_reject ({flat['inspect.pixels_reject']}) must be "
            f"at least inspect.pixels_warn ({flat['inspect.pixels_warn']})"
        )
    if flat["report.syslog_client_key"] and not flat["report.syslog_client_cert"]:
        key = "report.syslog_client_key"
        layer = layers.get(sources[key])
        where = layer.where(key) if layer else BUILT_IN
        problems.append(f"{where}: {key}: a client key needs report.syslog_client_cert")
    return problems


def load_policy(
    machine_file: Path | None = None,
    user_file: Path | None = None,
    registry: RegistryPolicySource | None = None,
) -> LoadedPolicy:
    """Load and combine the layers; raises ConfigError listing every problem.

    None (or a file that does not exist) means that layer is absent. The agent passes
    `paths.machine_config_path()` and `paths.user_config_path()`.
    """
    machine = machine_layer(machine_file) if machine_file else None
    from_registry = registry_layer(registry) if registry else None
    user = user_layer(user_file) if user_file else None
    problems = [p for layer in (machine, from_registry, user) if layer for p in layer.problems]
    loaded, cross_problems = merge_layers(machine, from_registry, user)  # valid keys only
    if problems or cross_problems:
        raise ConfigError(problems + cross_problems)
    return loaded


def check_file(path: Path, *, user: bool = False) -> list[str]:
    """Every problem in one policy file as `FILE:LINE: key: what is wrong`; [] when valid.

    `user=True` checks it as a user preferences file (only user-settable keys allowed).
    """
    label = f"{'user' if user else 'machine'}:{path}"
    layer = load_toml_layer(path, label, user=user)
    _loaded, cross_problems = merge_layers(None if user else layer, None, layer if user else None)
    return layer.problems + cross_problems
