"""The running agent's policy: watch the layers, keep the last good one, say what changed.

Two steps, so that reading and validating (slow: a 16 MB file takes seconds) never runs on the
worker that judges files:
  `poll()`    any thread: reads the layers whose files changed and validates them -> a
              `PendingPolicy` (or None when nothing changed);
  `commit()`  the worker: puts a pending policy in force, after an optional `apply` callback
              has taken it up as a whole (audit log opened, vault usable); when `apply`
              reports a problem the whole change is rejected and the last good policy stays.
Each commit returns the `PolicyChange`s the agent turns into events: `policy_loaded` (every
layer read anew, also at start), `policy_rejected` (with every problem), `policy_recovered`
(a good version of a layer that was rejected, even the same file as before), and
`preferences_rejected` / `preferences_recovered` for the user's own preferences file.

A copy of the last good machine policy is kept in `last_good_file` (when given), so that an
agent restarted on a broken push, and `photogate quarantine ...`, still run on IT's last good
policy rather than on the built-in defaults.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from agent.policy import keys as ck
from agent.policy.layers import (
    BUILT_IN,
    LoadedPolicy,
    fingerprint,
    machine_layer,
    merge_layers,
    registry_layer,
    user_layer,
)
from agent.policy.reading import PolicyFileError, read_policy_file
from agent.policy.registry import RegistryPolicySource
from agent.policy.schema import Policy
from agent.policy.validate import Layer, load_toml_layer

RACY_MTIME_SECONDS = 2.0  # a file modified this recently is hashed even if its stat looks same
MAX_PROBLEMS_IN_SUMMARY = 1  # problems spelled out in `PolicyKeeper.problem` before "and N more"
LAYER_NAMES = ("machine", "registry", "user")
PREFERENCES_PROBLEM = "Your personal settings file has a mistake; IT's policy is still in force."
POLICY_PROBLEM_WORDS = "IT's newest policy has a mistake; the previous policy is still in force."

Apply = Callable[[LoadedPolicy], list[str]]  # problems ([] when the policy was taken up)


@dataclass(frozen=True)
class PolicyChange:
    """One event-worthy change of one layer."""

    kind: str  # policy_loaded, policy_rejected, policy_recovered, preferences_*
    layer: str  # machine, registry, user, built-in
    source: str  # the file or registry key; "built-in defaults" when the layer is absent
    sha256: str = ""  # SHA-256 of the file's bytes (files only)
    problems: tuple[str, ...] = ()
    removed: bool = False  # the layer's file was deleted: back to the layer below


@dataclass
class PendingPolicy:
    """What `poll` found: the changed layers and the policy they would give."""

    changed: dict[str, Layer | None]
    candidate: LoadedPolicy
    cross_problems: list[str] = field(default_factory=list)


class _FileWatch:
    """Cheap change detection for one file: stat first, a bounded content hash when it moved."""

    def __init__(self, path: Path | None, *, allow_symlink: bool) -> None:
        self.path = path
        self._allow_symlink = allow_symlink
        self._stat: tuple[int, int, int, int] | None = None
        self._digest: str | None = None
        self._retry = False  # the content was rejected as a whole: a re-push is retried

    def changed(self) -> bool:
        """True when the file's content (or existence) differs from the last call."""
        if self.path is None:
            return False
        try:
            stat = self.path.stat() if self._allow_symlink else self.path.lstat()
        except OSError:
            stat_key, digest = None, None
        else:
            stat_key = (stat.st_mtime_ns, stat.st_size, stat.st_ino, stat.st_mode)
            recent = time.time() - stat.st_mtime < RACY_MTIME_SECONDS
            if stat_key == self._stat and not recent:
                return False
            try:
                data = read_policy_file(self.path, allow_symlink=self._allow_symlink)
                digest = hashlib.sha256(data).hexdigest()
            except (OSError, PolicyFileError) as error:
                digest = f"unreadable:{error}"  # a FIFO, a device...: changed, and rejected
        stat_moved = stat_key != self._stat
        self._stat = stat_key
        if self._retry and stat_moved:
            self._retry = False  # pushed again (same bytes or not): read it again
            self._digest = digest
            return True
        if digest == self._digest and (digest is not None or stat_key is None):
            return False
        self._digest = digest
        return True

    def forget_content(self) -> None:
        """Treat the next stat change as a change even if the bytes are the same."""
        self._retry = True


class PolicyKeeper:
    """The last good version of each layer, and what the agent enforces (`current`)."""

    def __init__(
        self,
        machine_file: Path | None,
        user_file: Path | None,
        registry: RegistryPolicySource | None = None,
        *,
        last_good_file: Path | None = None,
    ) -> None:
        self._paths = {"machine": machine_file, "user": user_file}
        self._machine = _FileWatch(machine_file, allow_symlink=True)
        self._user = _FileWatch(user_file, allow_symlink=False)
        self._registry = registry
        self._registry_digest: str | None = None
        self._last_good_file = last_good_file
        # The latest valid version of each layer (an invalid new version never replaces it).
        self._valid: dict[str, Layer | None] = dict.fromkeys(LAYER_NAMES)
        self._rejected: dict[str, list[str]] = {}  # layer (or "cross") -> its problems
        self.problems: tuple[str, ...] = ()  # every problem in force, in full (IT's and user's)
        self.problem: str | None = None  # IT policy rejected: summary with FILE:LINE
        self.preferences_problem: str | None = None  # plain words for the tray
        self.changes: tuple[PolicyChange, ...] = ()  # what the last commit changed
        policy = Policy()
        self.current = LoadedPolicy(policy, dict.fromkeys(ck.SPECS, BUILT_IN), fingerprint(policy))
        self._started = False
        self.reload_if_changed()
        self._use_last_good_copy()
        self.startup_changes = self.changes  # the agent reports these when it starts
        self._started = True

    # --- reading (any thread) ------------------------------------------------------------

    def poll(self) -> PendingPolicy | None:
        """Read and validate the layers that changed; None when none did. Never raises."""
        changed: dict[str, Layer | None] = {}
        machine_file, user_file = self._paths["machine"], self._paths["user"]
        if self._machine.changed() and machine_file is not None:
            changed["machine"] = machine_layer(machine_file)
        if self._user.changed() and user_file is not None:
            changed["user"] = user_layer(user_file)
        if self._registry is not None:
            layer = registry_layer(self._registry)
            digest = hashlib.sha256(
                repr((layer.values, layer.problems) if layer else None).encode()
            ).hexdigest()
            if digest != self._registry_digest:
                self._registry_digest = digest
                changed["registry"] = layer
        if not changed and self._started:
            return None
        valid = dict(self._valid)
        for name, layer in changed.items():
            if layer is None or not layer.problems:
                valid[name] = layer
        candidate, cross = merge_layers(valid["machine"], valid["registry"], valid["user"])
        return PendingPolicy(changed, candidate, cross)

    # --- putting in force (the worker) ---------------------------------------------------

    def commit(self, pending: PendingPolicy | None, apply: Apply | None = None) -> bool | None:
        """Put `pending` in force. True: a new policy is in force; None: something was
        rejected (the last good policy stays); False: nothing changed. `changes` says what.
        """
        if pending is None:
            self.changes = ()
            return False
        changes: list[PolicyChange] = []
        good = {n: layer for n, layer in pending.changed.items() if not _bad(layer)}
        bad = {n: layer for n, layer in pending.changed.items() if _bad(layer)}
        whole_problems = list(pending.cross_problems)
        fresh = pending.candidate.fingerprint != self.current.fingerprint
        if not whole_problems and apply is not None and fresh:
            whole_problems = apply(pending.candidate)
        self._rejected.pop("cross", None)
        if whole_problems:
            # Each layer may be fine alone, but the whole cannot be used: reject the change.
            for name, layer in good.items():
                self._rejected[name] = whole_problems
                self._watch_for(name).forget_content()  # the same file pushed again is retried
                changes.append(self._change(_rejected_kind(name), name, layer, whole_problems))
            if not good:
                self._rejected["cross"] = whole_problems
            good = {}
        for name, layer in bad.items():
            assert layer is not None
            self._rejected[name] = list(layer.problems)
            changes.append(self._change(_rejected_kind(name), name, layer, layer.problems))
        for name, layer in good.items():
            self._valid[name] = layer
            changes.append(self._change("policy_loaded", name, layer))
            if self._rejected.pop(name, None) is not None:
                recovered = "preferences_recovered" if name == "user" else "policy_recovered"
                changes.append(self._change(recovered, name, layer))
            if name == "machine":
                self._save_last_good(layer)
        if not self._started and not any(c.kind == "policy_loaded" for c in changes):
            changes.insert(0, PolicyChange("policy_loaded", BUILT_IN, "built-in defaults"))
        previous = self.current
        if not whole_problems:
            self.current = pending.candidate
        self._set_problems()
        self.changes = tuple(changes)
        if self.current.fingerprint != previous.fingerprint:
            return True
        return None if (bad or whole_problems) else False

    def reload_if_changed(self, apply: Apply | None = None) -> bool | None:
        """`poll` then `commit` in one call (tests, the CLI, the agent at start)."""
        return self.commit(self.poll(), apply)

    # --- helpers -------------------------------------------------------------------------

    def _watch_for(self, name: str) -> _FileWatch:
        return self._user if name == "user" else self._machine

    def _change(
        self, kind: str, name: str, layer: Layer | None, problems: list[str] | tuple[str, ...] = ()
    ) -> PolicyChange:
        if layer is None:
            return PolicyChange(kind, name, "built-in defaults", removed=True)
        return PolicyChange(kind, name, layer.location, layer.sha256, tuple(problems))

    def _use_last_good_copy(self) -> None:
        """At start with a broken machine file: IT's last good copy, not the defaults."""
        copy = self._last_good_file
        if copy is None or "machine" not in self._rejected or self._valid["machine"] is not None:
            return
        machine_file = self._paths["machine"]
        if copy.exists() and machine_file is not None:
            layer = load_toml_layer(copy, f"machine:{machine_file} (last good copy)")
            if not layer.problems:
                layer.location = f"{machine_file} (last good copy)"
                self._valid["machine"] = layer
                loaded, cross = merge_layers(layer, self._valid["registry"], self._valid["user"])
                if not cross:
                    self.current = loaded
                    kept = PolicyChange("policy_loaded", "machine", layer.location, layer.sha256)
                    self.changes = (*self.changes, kept)

    def _save_last_good(self, layer: Layer | None) -> None:
        copy = self._last_good_file
        if copy is None:
            return
        # named before anything can fail: the cleanup below must not meet an unbound name
        # (a folder that cannot be made, a copy that cannot be removed)
        temp = copy.with_name(f".{copy.name}.{os.getpid()}.tmp")
        try:
            if layer is None:
                copy.unlink(missing_ok=True)  # IT deleted the file: defaults are the good one
                return
            copy.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(layer.raw)
            temp.replace(copy)
        except OSError:
            with contextlib.suppress(OSError):
                temp.unlink()

    def _set_problems(self) -> None:
        it_problems = list(
            dict.fromkeys(p for n, ps in self._rejected.items() if n != "user" for p in ps)
        )
        user_problems = [p for p in self._rejected.get("user", []) if p not in it_problems]
        self.problems = tuple(it_problems + user_problems)
        self.preferences_problem = PREFERENCES_PROBLEM if user_problems else None
        if not it_problems:
            self.problem = None
            return
        shown = "; ".join(it_problems[:MAX_PROBLEMS_IN_SUMMARY])
        more = len(it_problems) - MAX_PROBLEMS_IN_SUMMARY
        extra = f" (and {more} more)" if more > 0 else ""
        self.problem = f"policy rejected, the last good one stays in force: {shown}{extra}"


def _bad(layer: Layer | None) -> bool:
    return layer is not None and bool(layer.problems)


def _rejected_kind(name: str) -> str:
    return "preferences_rejected" if name == "user" else "policy_rejected"
