"""Per-user mode's backend: this user's own vault, used directly (today's behaviour).

The caller owns everything here (vault, key, state), so the checks are the policy's
`[ui]` switches only for the front ends that ask (`rights()`); the `quarantine` command
is the owner's tool and may do anything the vault allows. Protected mode is where the
service enforces the rights against the caller's OS identity (agent.service.authority).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from agent import __version__, paths
from agent.errors import VaultError
from agent.policy.schema import Policy
from agent.service import staffdb
from agent.service.api import (
    MODE_PER_USER,
    BackendError,
    FlaggedFile,
    Refused,
    Rights,
)
from agent.service.events import EventLog
from agent.service.local_status import (
    collect_local_status,
    process_usage,
    read_status_file,
    worker_problem,
)
from agent.service.staff import VIA_CLI, RestoreOutcome, StaffActions
from agent.service.state import AgentState, FolderStatus
from agent.service.statedb import StateDB
from agent.vault.record import QuarantineItem
from agent.vault.store import Vault

__all__ = [
    "LocalBackend",
    "collect_local_status",
    "process_usage",
    "read_status_file",
    "worker_problem",
]


@contextlib.contextmanager
def vault_errors() -> Iterator[None]:
    """VaultError as BackendError, so front ends catch one family in both modes."""
    try:
        yield
    except VaultError as error:
        raise BackendError(str(error)) from None


class InProcessAgent(Protocol):
    """The running per-user agent when the front end shares its process (the tray)."""

    def snapshot(self) -> AgentState: ...
    def pause(self, seconds: float) -> None: ...
    def resume(self) -> None: ...
    def mark_reviewed(self) -> None: ...


def rights_from_policy(policy: Policy, *, every_item: bool) -> Rights:
    """The rights the policy's [ui] section grants staff (IT gets every_item on top)."""
    ui = policy.ui
    return Rights(
        restore=ui.allow_restore or every_item,
        delete=ui.allow_delete or every_item,
        sanitized_copy=ui.allow_sanitized_copy or every_item,
        report_false_alarm=True,
        pause=ui.allow_pause or every_item,
        every_item=every_item,
        it_contact=ui.it_contact,
    )


def flagged_from_record(record: Any) -> FlaggedFile:
    """A FlaggedFile from a state database row (agent.service.statedb.InspectedRecord)."""
    return FlaggedFile(
        path=str(record.path),
        sha256=record.sha256,
        detected_type=record.detected_type,
        finding_codes=tuple(record.finding_codes),
        folder=record.folder,
        inspected_at=float(record.inspected_at),
    )


def state_from_status(untrusted: dict[str, Any]) -> AgentState:
    """An AgentState from a status document (the status file, or the channel's `status`)."""

    def number(value: Any, default: float = 0.0) -> float:
        is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
        return float(value) if is_number else default

    counts = untrusted.get("counts") if isinstance(untrusted.get("counts"), dict) else {}
    policy = untrusted.get("policy") if isinstance(untrusted.get("policy"), dict) else {}
    assert isinstance(counts, dict) and isinstance(policy, dict)
    folders = []
    for entry in untrusted.get("folders") or []:
        if isinstance(entry, dict) and isinstance(entry.get("path"), str):
            problem = entry.get("problem")
            folders.append(
                FolderStatus(
                    entry["path"],
                    entry.get("watching") is True,
                    problem if isinstance(problem, str) else None,
                )
            )
    paused = untrusted.get("paused_until")
    problem = policy.get("problem")
    return AgentState(
        version=str(untrusted.get("version") or __version__),
        running=untrusted.get("running", True) is True,
        paused_until=number(paused) if paused is not None else None,
        folders=tuple(folders),
        policy_version=str(policy.get("version") or "unknown"),
        policy_source=str(policy.get("source") or "unknown"),
        policy_problem=problem if isinstance(problem, str) else None,
        unreviewed=int(number(counts.get("unreviewed"))),
        quarantined_total=int(number(counts.get("quarantined"))),
        flagged_total=int(number(counts.get("flagged"))),
        inspected_total=int(number(counts.get("inspected"))),
        allow_pause=untrusted.get("allow_pause", True) is True,
        allow_quit=untrusted.get("allow_quit", False) is True,
        started_at=number(untrusted.get("started")),
    )


class LocalBackend:
    """QuarantineBackend over this user's own vault and state (per-user mode)."""

    def __init__(
        self,
        policy: Policy,
        vault: Vault,
        *,
        home: Path | None = None,
        agent: InProcessAgent | None = None,
        via: str = VIA_CLI,
    ) -> None:
        """`agent`: the running AgentService when the front end shares its process.

        `via` names the front end in the audit events (agent.service.staff).
        """
        self.policy = policy
        self.vault = vault
        self.home = home or paths.home()
        self._agent = agent
        self._lock = threading.Lock()
        self._events: EventLog | None = None
        self._statedb: StateDB | None = None
        self.via = via
        self.last_restore: RestoreOutcome | None = None  # what the last restore did
        self.policy_notice: str | None = None  # one line: the policy in use is not the file's

    @classmethod
    def from_installed(
        cls, machine_config: Path | None = None, *, via: str = VIA_CLI
    ) -> LocalBackend:
        """The backend of this user's installed layout (machine policy + preferences)."""
        from agent.policy.keeper import PolicyKeeper
        from agent.policy.registry import default_registry_source

        machine_file = machine_config or paths.machine_config_path()
        # As the agent does: a broken push leaves IT's last good policy in force, so the
        # vault stays reachable (issue 13) and `policy_notice` says so in one line.
        keeper = PolicyKeeper(
            machine_file,
            paths.user_config_path(),
            default_registry_source(),
            last_good_file=paths.last_good_policy_path(),
        )
        policy = keeper.current.policy
        paths.prepare_vault_parent(policy.vault.path)
        backend = cls(policy, Vault(paths.vault_dir(policy.vault.path)), via=via)
        if keeper.problem:
            first = keeper.problem.split(": ", 1)[-1].split("; ")[0]
            backend.policy_notice = (
                f"the machine policy is broken ({first}); using the last good policy "
                f"{policy.policy.version!r}"
            )
        return backend

    @property
    def mode(self) -> str:
        """Always MODE_PER_USER."""
        return MODE_PER_USER

    def rights(self) -> Rights:
        """The policy's [ui] switches (the vault's owner could bypass them: see module doc)."""
        return rights_from_policy(self.policy, every_item=False)

    def items(self) -> list[QuarantineItem]:
        """Every item with a valid record."""
        with vault_errors():
            return self.vault.items()

    def damaged(self) -> list[tuple[str, str]]:
        """Every damaged record."""
        with vault_errors():
            return self.vault.damaged()

    def get(self, item_id: str) -> QuarantineItem:
        """One item by id or unique prefix."""
        with vault_errors():
            return self.vault.get(self.vault.resolve(item_id))

    def restore(self, item_id: str, to: Path | None = None) -> str:
        """Restore and release (never overwrites); `last_restore` says what happened."""
        with vault_errors():
            outcome = self._staff().restore(self.vault.resolve(item_id), to)
        self.last_restore = outcome
        return str(outcome.path)

    def delete(self, item_id: str) -> None:
        """Delete for good (an audit event `deleted`)."""
        with vault_errors():
            self._staff().delete_item(self.vault.resolve(item_id))

    def purge(self, older_than_days: float | None = None) -> tuple[float, list[str]]:
        """Purge by age (policy retention when None; an audit event `purged`)."""
        days = self.policy.vault.retention_days if older_than_days is None else older_than_days
        with vault_errors():
            return float(days), self._staff().purge(days)

    def sanitized_copy(self, item_id: str, dest_dir: Path | None = None) -> str:
        """A pixels-only copy made by the limited decoder child."""
        from agent.sanitize.parent import SanitizeError, sanitize_vault_item

        item = self.get(item_id)
        folder = dest_dir or Path(item.original_path).parent
        try:
            with vault_errors():
                copy = sanitize_vault_item(
                    self.vault,
                    item.id,
                    folder,
                    item.name,
                    max_pixels=self.policy.inspect.pixels_reject,
                )
        except SanitizeError as error:
            raise BackendError(str(error)) from None
        self.safe_copy_saved(
            item_id=item.id, sha256=item.sha256, source=item.original_path, copy=copy
        )
        return str(copy)

    def report_false_alarm(self, item_id: str, note: str = "") -> None:
        """An audit event `false_alarm_reported`; the item shows "reported" from now on."""
        item = self.get(item_id)
        self._staff().report_false_alarm(
            f"q:{item.id}",
            item_id=item.id,
            sha256=item.sha256,
            codes=tuple(finding.code for finding in item.findings),
            detected_type=item.detected_type,
            path=item.original_path,
            untrusted_note=note,
        )

    # --- per-user extras (the review window uses them when the backend has them) --------

    def report_flagged(self, flagged: FlaggedFile, note: str = "") -> None:
        """Report a flagged file (still in its folder) as a false alarm."""
        self._staff().report_false_alarm(
            f"f:{flagged.path}",
            item_id=None,
            sha256=flagged.sha256,
            codes=flagged.finding_codes,
            detected_type=flagged.detected_type,
            path=flagged.path,
            untrusted_note=note,
        )

    def reported(self) -> dict[str, staffdb.FalseAlarmReport]:
        """False-alarm reports by review-row key ("q:<id>", "f:<path>")."""
        return staffdb.reported(self._state())

    def delete_flagged(self, path: str, sha256: str | None) -> None:
        """Delete a flagged file from its folder (an audit event `deleted`)."""
        try:
            self._staff().delete_flagged(path, sha256)
        except OSError as error:
            raise BackendError(f"the file could not be deleted: {error.strerror}") from None

    def safe_copy_saved(
        self, *, item_id: str | None, sha256: str | None, source: str, copy: Path
    ) -> None:
        """Record a sanitized copy written by the review window (an audit event)."""
        fmt = "JPEG" if copy.suffix.lower() in (".jpg", ".jpeg") else "PNG"
        self._staff().safe_copy_saved(
            item_id=item_id, sha256=sha256, source=source, copy=copy, fmt=fmt
        )

    def report_exported(self, dest: Path, item_ids: list[str]) -> None:
        """Record that the list was exported for IT (an audit event)."""
        self._staff().report_exported(dest, item_ids)

    def review_opened(self, listed: int) -> None:
        """Record that the review window opened (an audit event)."""
        self._staff().review_opened(listed)

    def flagged(self) -> list[FlaggedFile]:
        """Flagged files from this user's state database (none when it does not exist)."""
        db_path = self.home / "state.sqlite3"
        if not db_path.exists():
            return []
        try:
            with StateDB(db_path, readonly=True) as statedb:
                return [flagged_from_record(r) for r in statedb.list_flagged()]
        except Exception as error:  # a locked or damaged database is not the caller's fault
            raise BackendError(f"the list of flagged files cannot be read: {error}") from None

    def pause(self, seconds: float) -> None:
        """Pause the in-process agent (policy permitting)."""
        if not self.policy.ui.allow_pause:
            contact = self.policy.ui.it_contact
            raise Refused(f"Your IT policy does not allow pausing. Ask {contact}.")
        if self._agent is None:
            raise BackendError("pausing is done from the tray icon in per-user mode")
        self._agent.pause(seconds)

    def resume(self) -> None:
        """Resume the in-process agent."""
        if self._agent is None:
            raise BackendError("resuming is done from the tray icon in per-user mode")
        self._agent.resume()

    def mark_reviewed(self) -> None:
        """Reset the unreviewed count (directly, or through the agent's trigger file)."""
        if self._agent is not None:
            self._agent.mark_reviewed()
            return
        runtime = self.home / "run"
        runtime.mkdir(parents=True, exist_ok=True)
        (runtime / "reviewed").touch()

    def snapshot(self) -> AgentState:
        """The in-process agent's state, or the one its status file describes."""
        if self._agent is not None:
            return self._agent.snapshot()
        return state_from_status(self.status())

    def status(self) -> dict[str, Any]:
        """`photogate status --json` of the per-user agent, with "mode"."""
        info = collect_local_status(self.home)
        info["mode"] = MODE_PER_USER
        return info

    def close(self) -> None:
        """Close the event log and the state database, if they were opened."""
        with self._lock:
            if self._events is not None:
                self._events.close()
                self._events = None
            if self._statedb is not None:
                self._statedb.close()
                self._statedb = None

    def _event_log(self) -> EventLog:
        with self._lock:
            if self._events is None:
                self._events = EventLog(self.policy.report, self.home)
            return self._events

    def _state(self) -> StateDB:
        with self._lock:
            if self._statedb is None:
                self._statedb = StateDB(self.home / "state.sqlite3")
            return self._statedb

    def _staff(self) -> StaffActions:
        return StaffActions(
            self.vault,
            self._state(),
            self._event_log(),
            self.policy.policy.version,
            via=self.via,
        )
