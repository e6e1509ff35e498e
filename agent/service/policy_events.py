"""The policy side of the running agent: take a new policy up as a whole, report each change.

`apply_policy` is the keeper's `apply` callback (agent.policy.keeper): a policy whose vault
folder cannot be used, whose TLS syslog certificate files cannot be read, or whose audit log
cannot be created is rejected as a whole, and the old audit log stays open (it used to be
closed first, and every later event was dropped).
`emit_policy_changes` turns the keeper's `PolicyChange`s into the events docs/events.md lists.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from agent.policy.keeper import PolicyChange
from agent.policy.layers import BUILT_IN, LoadedPolicy
from agent.policy.reading import PolicyFileError, read_policy_file
from agent.service import folders
from agent.service.events import EventLog

MAX_PEM_FILE_BYTES = 1024**2  # bytes: a CA bundle, certificate or key file larger is refused

log = logging.getLogger("photogate.service")


def _where(loaded: LoadedPolicy, key: str) -> str:
    """Where a key's value came from, for a problem message (`machine:/etc/...` -> the file)."""
    source = str(dict(loaded.sources).get(key, BUILT_IN))
    return source.split(":", 1)[1] if ":" in source else source


def _vault_problem(configured: str) -> str | None:
    """Why the vault folder of a new policy cannot be used, or None when it can."""
    if not configured:
        return None
    root = Path(folders.expand(configured))
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        return f"cannot create {str(root)!r}: {error.strerror or error}"
    if not root.is_dir() or not os.access(root, os.W_OK | os.X_OK):
        return f"{str(root)!r} is not a folder this account can write to"
    return None


def _unreadable(configured: str) -> str | None:
    """Why a certificate/key file named by policy cannot be read, or None (also when unset)."""
    if not configured:
        return None
    path = Path(folders.expand(configured))
    try:  # bounded and non-blocking like a policy file: a FIFO here must not hang the worker
        read_policy_file(path, allow_symlink=True, max_bytes=MAX_PEM_FILE_BYTES)
    except FileNotFoundError:
        return f"cannot read {str(path)!r}: no such file"
    except (OSError, PolicyFileError) as error:
        return f"cannot read {str(path)!r}: {error}"
    return None


def apply_policy(events: EventLog, candidate: LoadedPolicy) -> list[str]:
    """Take up a new policy as a whole, or say why it cannot be (nothing changed then)."""
    policy = candidate.policy
    problems: list[str] = []
    vault_problem = _vault_problem(policy.vault.path)
    if vault_problem is not None:
        problems.append(f"{_where(candidate, 'vault.path')}: vault.path: {vault_problem}")
        return problems
    report = policy.report
    for key, value in (
        ("report.syslog_ca_file", report.syslog_ca_file),
        ("report.syslog_client_cert", report.syslog_client_cert),
        ("report.syslog_client_key", report.syslog_client_key),
    ):
        unreadable = _unreadable(value) if report.syslog.startswith("tls://") else None
        if unreadable is not None:
            problems.append(f"{_where(candidate, key)}: {key}: {unreadable}")
    if problems:
        return problems
    try:
        events.configure(policy.report)  # opens the new log before closing the old
    except OSError as error:
        target = policy.report.audit_log or "the audit log"
        problems.append(
            f"{_where(candidate, 'report.audit_log')}: report.audit_log: cannot create "
            f"{target!r}: {error.strerror or error}"
        )
    return problems


def emit_policy_changes(
    events: EventLog, current: LoadedPolicy, changes: tuple[PolicyChange, ...]
) -> None:
    """One event per layer change (docs/events.md), in the order the keeper saw them."""
    version, fingerprint = current.policy.policy.version, current.fingerprint
    for change in changes:
        sha256 = change.sha256 or None
        where = {"layer": change.layer, "source": change.source, "sha256": sha256}
        problems = list(change.problems) or None
        first = change.problems[0] if change.problems else None
        if change.kind == "policy_loaded":
            if change.removed:
                log.info("%s policy removed: the layer below is in force", change.layer)
            events.emit(
                "policy_loaded", policy_version=version, **where,
                fingerprint=fingerprint, removed=change.removed or None,
            )  # fmt: skip
        elif change.kind == "policy_rejected":
            log.warning("policy rejected, the last good one stays in force: %s", first)
            events.emit(
                "policy_rejected", policy_version=version, **where,
                problem=first, problems=problems,
            )  # fmt: skip
        elif change.kind == "policy_recovered":
            events.emit("policy_recovered", policy_version=version, **where)
        elif change.kind == "preferences_rejected":
            log.warning("preferences rejected (IT's policy is still in force): %s", first)
            events.emit(
                "preferences_rejected", policy_version=version, **where,
                problem=first, problems=problems,
            )  # fmt: skip
        elif change.kind == "preferences_recovered":
            events.emit("preferences_recovered", policy_version=version, **where)
