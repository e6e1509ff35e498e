"""Per-user mode's backend: this user's own vault, used directly (today's behaviour).

The caller owns everything here (vault, key, state), so the checks are the policy's
`[ui]` switches only for the front ends that ask (`rights()`); the `quarantine` command
is the owner's tool and may do anything the vault allows. Protected mode is where the
service enforces the rights against the caller's OS identity (agent.service.authority).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from agent import __version__, paths
from agent.errors import VaultError
from agent.policy.schema import Policy
from agent.service.api import (
    MODE_PER_USER,
    BackendError,
    FlaggedFile,
    Refused,
    Rights,
)
from agent.service.events import EventLog
from agent.service.state import AgentState, FolderStatus
from agent.service.statedb import StateDB
from agent.vault.record import QuarantineItem
from agent.vault.store import Vault

MAX_STATUS_FILE_BYTES = 1024 * 1024  # bytes: the status file is small; refuse a huge one
CPU_SAMPLE_SECONDS = 0.5  # seconds over which the agent's CPU use is measured
MAX_NOTE_CHARS = 2000  # characters of a false-alarm note kept in the event


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
    ) -> None:
        """`agent`: the running AgentService when the front end shares its process."""
        self.policy = policy
        self.vault = vault
        self.home = home or paths.home()
        self._agent = agent
        self._lock = threading.Lock()
        self._events: EventLog | None = None

    @classmethod
    def from_installed(cls, machine_config: Path | None = None) -> LocalBackend:
        """The backend of this user's installed layout (machine policy + preferences)."""
        from agent.policy.layers import load_policy
        from agent.policy.registry import default_registry_source

        machine_file = machine_config or paths.machine_config_path()
        policy = load_policy(
            machine_file, paths.user_config_path(), default_registry_source()
        ).policy
        return cls(policy, Vault(paths.vault_dir(policy.vault.path)))

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
        """Restore through the vault (never overwrites)."""
        with vault_errors():
            return str(self.vault.restore(self.vault.resolve(item_id), to))

    def delete(self, item_id: str) -> None:
        """Delete for good."""
        with vault_errors():
            self.vault.delete(self.vault.resolve(item_id))

    def purge(self, older_than_days: float | None = None) -> tuple[float, list[str]]:
        """Purge by age (policy retention when None)."""
        days = self.policy.vault.retention_days if older_than_days is None else older_than_days
        with vault_errors():
            return float(days), self.vault.purge(days)

    def sanitized_copy(self, item_id: str, dest_dir: Path | None = None) -> str:
        """A pixels-only copy made by the limited decoder child."""
        from agent.sanitize.parent import SanitizeError, sanitize_vault_item

        item = self.get(item_id)
        folder = dest_dir or Path(item.original_path).parent
        try:
            with vault_errors():
                return str(sanitize_vault_item(self.vault, item.id, folder, item.name))
        except SanitizeError as error:
            raise BackendError(str(error)) from None

    def report_false_alarm(self, item_id: str, note: str = "") -> None:
        """An audit event `false_alarm_reported` in this user's event log."""
        item = self.get(item_id)
        self._event_log().emit(
            "false_alarm_reported",
            path=item.original_path,
            policy_version=self.policy.policy.version,
            item_id=item.id,
            sha256=item.sha256,
            note=note[:MAX_NOTE_CHARS],
        )

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
        """Close the event log, if one was opened."""
        with self._lock:
            if self._events is not None:
                self._events.close()
                self._events = None

    def _event_log(self) -> EventLog:
        with self._lock:
            if self._events is None:
                self._events = EventLog(self.policy.report, self.home)
            return self._events


def read_status_file(runtime_dir: Path) -> dict[str, Any] | None:
    """The agent's last status file, or None when missing or unreadable."""
    try:
        with (runtime_dir / "status.json").open("rb") as handle:
            untrusted_bytes = handle.read(MAX_STATUS_FILE_BYTES)
        untrusted_data = json.loads(untrusted_bytes)
    except (OSError, ValueError):
        return None
    return untrusted_data if isinstance(untrusted_data, dict) else None


def process_usage(pid: int) -> dict[str, float] | None:
    """CPU% (over a short sample) and resident memory (MB) of `pid`, or None."""
    import psutil

    try:
        process = psutil.Process(pid)
        cpu = process.cpu_percent(interval=CPU_SAMPLE_SECONDS)
        rss = process.memory_info().rss
    except (psutil.Error, OSError):
        return None
    return {"cpu_percent": round(cpu, 1), "rss_mb": round(rss / (1024 * 1024), 1)}


def collect_local_status(home: Path) -> dict[str, Any]:
    """The per-user agent of `home`: running?, its status file, its CPU and memory."""
    import psutil

    from agent.service.lock import is_locked, read_lock_pid

    runtime = home / "run"
    locked = is_locked(runtime)
    pid = read_lock_pid(runtime / "agent.lock") if locked else None
    running = locked and pid is not None and psutil.pid_exists(pid)
    result: dict[str, Any] = {"running": running, "home": str(home), "pid": pid}
    status = read_status_file(runtime) if running else None
    if status is not None:
        for key in ("version", "started", "updated", "paused_until", "folders", "policy"):
            result[key] = status.get(key)
        result["counts"] = status.get("counts")
    if running and pid is not None:
        result["process"] = process_usage(pid)
    return result
