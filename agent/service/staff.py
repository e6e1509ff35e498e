"""What staff and IT do to caught files, each action done once and put on record.

The review window, the tray and `photogate quarantine` all act through `StaffActions`,
so every restore, delete, purge, safe copy, export, false-alarm report and "review
opened" becomes one audit event with the OS user, the item (id and SHA-256) and the
policy version in force, whichever front end did it. `via` says which one.

This is the seam for protected mode: there the same calls go to the privileged service
over its local channel, which decides what each caller may do; in per-user mode they
act on the user's own vault and state database directly.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from agent.service import staffdb
from agent.service.events import EventLog
from agent.service.statedb import StateDB
from agent.textsafe import safe_path
from agent.vault.restore import MAX_RESTORE_CLASHES, clash_name

VIA_REVIEW = "review_window"
VIA_CLI = "cli"
VIA_TRAY = "tray"


class _VaultLike(Protocol):
    def get(self, item_id: str) -> Any: ...
    def restore(self, item_id: str, to: Path | None = None) -> Path: ...
    def delete(self, item_id: str) -> None: ...
    def purge(self, older_than_days: float) -> list[str]: ...


@dataclass(frozen=True)
class RestoreOutcome:
    """Where a restored file landed and what the agent will do about it."""

    path: Path
    item_id: str
    renamed: bool  # a file of the original name was there, so it got another name
    released: bool  # recorded as released: the agent will not catch this version there again

    def message(self) -> str:
        """What happened, in words that are true ("Put back as …; it stays there")."""
        where = safe_path(str(self.path))
        text = f"Put back as {where}."
        if self.renamed:
            text += " A file with the original name was already there, so it got a new name."
        if self.released:
            text += (
                " Photogate will not stop this file again there; if it changes, or the same"
                " file arrives somewhere else, it is checked as usual."
            )
        return text


def planned_target(item: Any, to: Path | None) -> Path:
    """The path a restore will use: the original path (or `to`), with the first free name."""
    target = Path(item.original_path) if to is None else Path(to).absolute()
    if to is not None and target.is_dir():
        target = target / str(item.name)
    for attempt in range(MAX_RESTORE_CLASHES + 1):
        candidate = target.parent / clash_name(target.name, attempt)
        if not os.path.lexists(candidate):
            return candidate
    return target  # every name taken: the vault's own error says so


class StaffActions:
    """Restore, delete, purge, report, and the audit events of everything staff do."""

    def __init__(
        self,
        vault: _VaultLike | None,
        statedb: StateDB | None,
        events: EventLog,
        policy_version: str,
        *,
        via: str,
        clock: Any = time.time,
    ) -> None:
        """Act on `vault` and `statedb` (either may be missing), recording to `events`."""
        self.vault = vault
        self.statedb = statedb
        self.events = events
        self.policy_version = policy_version
        self.via = via
        self._clock = clock

    @property
    def user(self) -> str:
        """The OS account the actions are recorded under."""
        return self.events.user

    def _vault(self) -> _VaultLike:
        if self.vault is None:
            from agent.errors import VaultError

            raise VaultError("the quarantine could not be opened")
        return self.vault

    # --- quarantined items ---------------------------------------------------------------

    def restore(self, item_id: str, to: Path | None = None) -> RestoreOutcome:
        """Put the item back and release that version at that path (see agent.service.staffdb).

        The release is recorded *before* the file appears, so the agent's next event,
        sweep or restart finds it; a failed restore takes the release back.
        """
        vault = self._vault()
        item = vault.get(item_id)
        target = planned_target(item, to)
        mtime_ns = int(item.mtime_ns or round(item.mtime * 1e9))
        release = None
        if self.statedb is not None:
            release = staffdb.Release(
                path=str(target),
                size=int(item.size),
                mtime_ns=mtime_ns,
                sha256=str(item.sha256),
                item_id=item_id,
                released_by=self.user,
                released_at=self._clock(),
                policy_version=self.policy_version,
            )
            staffdb.record_release(self.statedb, release)
        try:
            placed = vault.restore(item_id, target)
        except BaseException:
            if release is not None and self.statedb is not None:
                staffdb.drop_release(self.statedb, release.path)
            raise
        if release is not None and self.statedb is not None:
            if str(placed) != release.path:
                staffdb.move_release(self.statedb, release.path, str(placed))
            try:  # a filesystem with coarse times keeps what it could: release that
                status = os.lstat(placed)
                staffdb.record_release(
                    self.statedb,
                    staffdb.Release(
                        **{
                            **release.__dict__,
                            "path": str(placed),
                            "size": status.st_size,
                            "mtime_ns": status.st_mtime_ns,
                        }
                    ),
                )
            except OSError:
                pass
        outcome = RestoreOutcome(
            path=placed,
            item_id=item_id,
            renamed=Path(placed).name != Path(item.original_path).name,
            released=release is not None,
        )
        self.events.emit(
            "restored",
            path=placed,
            policy_version=self.policy_version,
            item_id=item_id,
            sha256=item.sha256,
            size=item.size,
            mtime_ns=mtime_ns,
            released=outcome.released,
            via=self.via,
        )
        return outcome

    def delete_item(self, item_id: str) -> None:
        """Delete a quarantined item for good."""
        vault = self._vault()
        item = vault.get(item_id)
        vault.delete(item_id)
        self.events.emit(
            "deleted",
            path=item.original_path,
            policy_version=self.policy_version,
            item_id=item_id,
            sha256=item.sha256,
            status="quarantined",
            via=self.via,
        )

    def delete_flagged(self, path: str, sha256: str | None) -> None:
        """Delete a flagged file from its folder (it was never moved)."""
        Path(path).unlink(missing_ok=True)
        if self.statedb is not None:
            self.statedb.forget(path)
        self.events.emit(
            "deleted",
            path=path,
            policy_version=self.policy_version,
            sha256=sha256,
            status="flagged",
            via=self.via,
        )

    def purge(self, older_than_days: float) -> list[str]:
        """Delete items older than `older_than_days`; one event lists what went."""
        purged = self._vault().purge(older_than_days)
        self.events.emit(
            "purged",
            policy_version=self.policy_version,
            item_ids=purged,
            older_than_days=older_than_days,
            via=self.via,
        )
        return purged

    # --- reports, copies, the window itself ----------------------------------------------

    def report_false_alarm(
        self,
        key: str,
        *,
        item_id: str | None,
        sha256: str | None,
        codes: tuple[str, ...],
        detected_type: str | None,
        path: str,
        untrusted_note: str = "",
    ) -> staffdb.FalseAlarmReport:
        """Tell IT this item was a false alarm: an event for the SIEM, never file content."""
        note = staffdb.one_line_note(untrusted_note)
        report = staffdb.FalseAlarmReport(
            key=key,
            item_id=item_id,
            sha256=sha256,
            note=note,
            reported_by=self.user,
            reported_at=self._clock(),
        )
        if self.statedb is not None:
            staffdb.record_report(self.statedb, report)
        self.events.emit(
            "false_alarm_reported",
            path=path,
            policy_version=self.policy_version,
            item_id=item_id,
            sha256=sha256,
            findings=list(codes),
            type=detected_type,
            note=note or None,
            via=self.via,
        )
        return report

    def safe_copy_saved(
        self, *, item_id: str | None, sha256: str | None, source: str, copy: Path, fmt: str
    ) -> None:
        """Record that a sanitized copy of a caught file was written to `copy`."""
        self.events.emit(
            "safe_copy_saved",
            path=source,
            policy_version=self.policy_version,
            item_id=item_id,
            sha256=sha256,
            copy_path=None if self.events.hashes_names else safe_path(str(copy)),
            format=fmt,
            via=self.via,
        )

    def report_exported(self, dest: Path, item_ids: list[str]) -> None:
        """Record that the list of caught files was exported for IT."""
        self.events.emit(
            "report_exported",
            policy_version=self.policy_version,
            export_path=None if self.events.hashes_names else safe_path(str(dest)),
            item_ids=item_ids,
            via=self.via,
        )

    def review_opened(self, listed: int) -> None:
        """Record that the review window was opened (and how many files it listed)."""
        self.events.emit(
            "review_opened", policy_version=self.policy_version, listed=listed, via=self.via
        )
