"""Policy layers -> one validated Policy; locks; last-known-good for the running agent.

Layers, lowest first: built-in defaults < machine policy file < Windows registry policy <
user preferences. A higher layer replaces a key as a whole (lists and tables are not merged),
with two exceptions: `locks.keys` from the machine file and the registry are combined (both
are IT), and the user's `watch.folders` adds to IT's folders rather than replacing them.

User preferences may set only the keys marked user-settable (`ui.notifications`,
`watch.folders`); any other key in the user file is an error and the user file is rejected
as a whole. A key IT lists in `[locks] keys` ignores the user's value (reported as a note).
An invalid layer is rejected as a whole: `load_policy` raises, `PolicyKeeper` keeps the last
good version of that layer in force and says why in `problem`.
"""

from __future__ import annotations

import hashlib
import json
import time
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
    "PolicyKeeper",
    "check_file",
    "expand_path",
    "fingerprint",
    "load_policy",
    "shipped_config_text",
]

BUILT_IN = "built-in"
FINGERPRINT_HEX_CHARS = 12  # hex digits of the policy's SHA-256 shown as its fingerprint
RACY_MTIME_SECONDS = 2.0  # a file modified this recently is hashed even if its stat looks same
MAX_PROBLEMS_IN_SUMMARY = 1  # problems spelled out in `PolicyKeeper.problem` before "and N more"


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


def _machine_layer(path: Path) -> Layer | None:
    return load_toml_layer(path, f"machine:{path}") if path.exists() else None


def _user_layer(path: Path) -> Layer | None:
    return load_toml_layer(path, f"user:{path}", user=True) if path.exists() else None


def _registry_layer(source: RegistryPolicySource) -> Layer | None:
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


def _merge(
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
    machine = _machine_layer(machine_file) if machine_file else None
    registry_layer = _registry_layer(registry) if registry else None
    user = _user_layer(user_file) if user_file else None
    problems = [p for layer in (machine, registry_layer, user) if layer for p in layer.problems]
    loaded, cross_problems = _merge(machine, registry_layer, user)  # valid keys only
    if problems or cross_problems:
        raise ConfigError(problems + cross_problems)
    return loaded


def check_file(path: Path, *, user: bool = False) -> list[str]:
    """Every problem in one policy file as `FILE:LINE: key: what is wrong`; [] when valid.

    `user=True` checks it as a user preferences file (only user-settable keys allowed).
    """
    label = f"{'user' if user else 'machine'}:{path}"
    layer = load_toml_layer(path, label, user=user)
    _loaded, cross_problems = _merge(None if user else layer, None, layer if user else None)
    return layer.problems + cross_problems


class _FileWatch:
    """Cheap change detection for one file: stat first, content hash when stat changed."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._stat: tuple[int, int, int] | None = None
        self._digest: str | None = None

    def changed(self) -> bool:
        """True when the file's content (or existence) differs from the last call."""
        if self.path is None:
            return False
        try:
            stat = self.path.stat()
        except OSError:
            stat_key, digest = None, None
        else:
            stat_key = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
            recent = time.time() - stat.st_mtime < RACY_MTIME_SECONDS
            if stat_key == self._stat and not recent:
                return False
            try:
                digest = hashlib.sha256(self.path.read_bytes()).hexdigest()
            except OSError:
                digest = None
        self._stat = stat_key
        if digest == self._digest and (digest is not None or stat_key is None):
            return False
        self._digest = digest
        return True


class PolicyKeeper:
    """The running agent's policy: reloads changed layers, keeps the last good one of each.

    If a layer is invalid at start, the agent runs without it (built-in defaults for that
    layer) and `problem` says why. Cheap enough to call `reload_if_changed` every second.
    """

    def __init__(
        self,
        machine_file: Path | None,
        user_file: Path | None,
        registry: RegistryPolicySource | None = None,
    ) -> None:
        self._machine = _FileWatch(machine_file)
        self._user = _FileWatch(user_file)
        self._registry = registry
        self._registry_digest: str | None = None
        # The latest valid version of each layer (an invalid new version never replaces it).
        self._valid: dict[str, Layer | None] = {"machine": None, "registry": None, "user": None}
        self._layer_problems: dict[str, list[str]] = {}
        self.problems: tuple[str, ...] = ()  # every problem of the last reload, in full
        self.problem: str | None = None
        policy = Policy()
        self.current = LoadedPolicy(policy, dict.fromkeys(ck.SPECS, BUILT_IN), fingerprint(policy))
        self.reload_if_changed()

    def _changed_layers(self) -> dict[str, Layer | None]:
        changed: dict[str, Layer | None] = {}
        if self._machine.changed() and self._machine.path is not None:
            changed["machine"] = _machine_layer(self._machine.path)
        if self._user.changed() and self._user.path is not None:
            changed["user"] = _user_layer(self._user.path)
        if self._registry is not None:
            layer = _registry_layer(self._registry)
            digest = hashlib.sha256(
                repr((layer.values, layer.problems) if layer else None).encode()
            ).hexdigest()
            if digest != self._registry_digest:
                self._registry_digest = digest
                changed["registry"] = layer
        return changed

    def reload_if_changed(self) -> bool | None:
        """True: a new policy is in force; None: a change was rejected (the old policy
        stays); False: nothing changed. `problem` names the file, line and key when rejected.
        """
        changed = self._changed_layers()
        if not changed:
            return False
        rejected = False
        for name, layer in changed.items():
            if layer is not None and layer.problems:
                self._layer_problems[name] = layer.problems
                rejected = True
            else:
                self._layer_problems.pop(name, None)
                self._valid[name] = layer
        loaded, cross_problems = _merge(
            self._valid["machine"], self._valid["registry"], self._valid["user"]
        )
        self._layer_problems.pop("cross", None)
        if cross_problems:
            # Each layer is fine but together they are not: keep the policy in force.
            self._layer_problems["cross"] = cross_problems
            rejected = True
        self._set_problem()
        if cross_problems:
            return None
        previous, self.current = self.current, loaded
        if loaded.fingerprint != previous.fingerprint:
            return True
        return None if rejected else False  # same effective policy (sources may differ)

    def _set_problem(self) -> None:
        problems = [p for layer_problems in self._layer_problems.values() for p in layer_problems]
        self.problems = tuple(problems)
        if not problems:
            self.problem = None
            return
        shown = "; ".join(problems[:MAX_PROBLEMS_IN_SUMMARY])
        more = len(problems) - MAX_PROBLEMS_IN_SUMMARY
        extra = f" (and {more} more)" if more > 0 else ""
        self.problem = f"policy rejected, the last good one stays in force: {shown}{extra}"
