"""The review window's data, without widgets: rows, what may be done to them, and the texts.

`agent.ui.review` only draws what this module decides. Rows come from the vault (quarantined
files) and the state database (flagged files, left in place). Every name and path shown
is passed through `agent.textsafe`, so bidi or invisible characters appear escaped.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from agent.inspect.reasons import plain_reason, plain_summary
from agent.model import Finding, Severity
from agent.policy.schema import UiSettings
from agent.textsafe import safe_name, safe_path

QUARANTINED = "quarantined"
FLAGGED = "flagged"
NAME_DISPLAY_CHARS = 80  # long names are cut in the middle, keeping the real extension
REPORT_SCHEMA = "photogate.review-report/1"


@dataclass(frozen=True)
class ReviewRow:
    """One caught file as the review window lists it. `key` is unique across both kinds."""

    key: str
    kind: str  # QUARANTINED or FLAGGED
    untrusted_name: str  # never shown as is: use `name`
    name: str  # safe to show
    when: float  # epoch seconds it was caught
    folder: str  # safe to show
    reason: str  # one plain sentence
    original_path: str
    item_id: str | None = None  # vault id of a quarantined file
    sha256: str | None = None
    size: int | None = None
    detected_type: str | None = None
    findings: tuple[Finding, ...] = field(default_factory=tuple)
    policy_version: str | None = None


@dataclass(frozen=True)
class Permissions:
    """What front-desk staff may do, from the policy's [ui] section."""

    delete: bool = True
    restore: bool = False
    sanitize: bool = True
    it_contact: str = "your IT department"

    @classmethod
    def from_ui(cls, ui: UiSettings) -> Permissions:
        """The permissions the policy grants."""
        return cls(ui.allow_delete, ui.allow_restore, ui.allow_sanitized_copy, ui.it_contact)

    def unavailable_line(self) -> str | None:
        """One line naming the actions policy forbids and who to ask, or None."""
        forbidden = [
            label
            for allowed, label in (
                (self.restore, "restoring files"),
                (self.sanitize, "saving safe copies"),
                (self.delete, "deleting files"),
            )
            if not allowed
        ]
        if not forbidden:
            return None
        listed = " and ".join(
            [", ".join(forbidden[:-1]), forbidden[-1]] if len(forbidden) > 1 else forbidden
        )
        return f"Your IT policy does not allow {listed} here. To ask, contact {self.it_contact}."


def can(action: str, row: ReviewRow | None, permissions: Permissions) -> bool:
    """Whether the window offers `action` ("delete", "restore", "sanitize", "details")."""
    if row is None:
        return False
    if action == "details":
        return True
    if action == "restore":  # a flagged file never left its folder: nothing to restore
        return permissions.restore and row.kind == QUARANTINED
    if action == "delete":
        return permissions.delete
    if action == "sanitize":
        return permissions.sanitize
    return False


class _ItemLike(Protocol):
    id: str
    original_path: str
    name: str
    size: int
    sha256: str
    quarantined_at: float
    findings: tuple[Finding, ...]
    policy_version: str
    detected_type: str


class _FlaggedLike(Protocol):
    path: str
    sha256: str | None
    detected_type: str | None
    finding_codes: tuple[str, ...]
    folder: str | None
    inspected_at: float


def row_from_item(item: _ItemLike) -> ReviewRow:
    """The row of a quarantined vault item."""
    return ReviewRow(
        key=f"q:{item.id}",
        kind=QUARANTINED,
        untrusted_name=item.name,
        name=safe_name(item.name, NAME_DISPLAY_CHARS),
        when=item.quarantined_at,
        folder=safe_path(str(Path(item.original_path).parent)),
        reason=plain_summary(item.findings, item.detected_type, item.name),
        original_path=item.original_path,
        item_id=item.id,
        sha256=item.sha256,
        size=item.size,
        detected_type=item.detected_type,
        findings=tuple(item.findings),
        policy_version=item.policy_version,
    )


_HARMLESS_CODES = ("known_trailer", "other_image_type", "unusual_preamble")


def row_from_flagged(record: _FlaggedLike) -> ReviewRow:
    """The row of a flagged file (still in its folder); only finding codes are stored."""
    name = Path(record.path).name
    # The state database keeps codes, not severities: explain the first code that matters.
    codes = [c for c in record.finding_codes if not c.endswith(_HARMLESS_CODES)]
    code = (codes or list(record.finding_codes) or ["scan.unknown"])[0]
    reason = plain_reason(Finding(code, Severity.MEDIUM, ""), record.detected_type, name)
    if not reason:
        reason = "Photogate found something unusual in this file."
    folder = record.folder or str(Path(record.path).parent)
    return ReviewRow(
        key=f"f:{record.path}",
        kind=FLAGGED,
        untrusted_name=name,
        name=safe_name(name, NAME_DISPLAY_CHARS),
        when=record.inspected_at,
        folder=safe_path(folder),
        reason=reason,
        original_path=record.path,
        sha256=record.sha256,
        detected_type=record.detected_type,
        findings=tuple(Finding(c, Severity.MEDIUM, "") for c in record.finding_codes),
    )


def when_text(epoch: float, now: float) -> str:
    """ "Today 14:35", "Yesterday 09:10" or "3 Mar 2025 16:02" in local time."""
    moment, today = time.localtime(epoch), time.localtime(now)
    clock = time.strftime("%H:%M", moment)
    day_index = (moment.tm_year, moment.tm_yday)
    if day_index == (today.tm_year, today.tm_yday):
        return f"Today {clock}"
    yesterday = time.localtime(now - 86400)
    if day_index == (yesterday.tm_year, yesterday.tm_yday):
        return f"Yesterday {clock}"
    return time.strftime("%d %b %Y %H:%M", moment).lstrip("0")


def status_text(row: ReviewRow) -> str:
    """The status column: where the file is now."""
    return "In quarantine" if row.kind == QUARANTINED else "Flagged (in folder)"


def sort_rows(rows: Iterable[ReviewRow]) -> list[ReviewRow]:
    """Newest first: what just happened is what staff look for."""
    return sorted(rows, key=lambda row: (-row.when, row.key))


def details_text(row: ReviewRow) -> str:
    """Everything IT may need about one row, as plain text (names shown escaped)."""
    lines = [
        f"Name: {row.name}",
        f"Status: {status_text(row)}",
        f"Original path: {safe_path(row.original_path)}",
        f"Caught: {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(row.when))}",
        f"Why: {row.reason}",
    ]
    if row.item_id:
        lines.append(f"Quarantine id: {row.item_id}")
    if row.size is not None:
        lines.append(f"Size: {row.size:,} bytes")
    lines.append(f"SHA-256: {row.sha256 or 'not recorded'}")
    if row.detected_type:
        lines.append(f"Detected type: {row.detected_type}")
    if row.policy_version:
        lines.append(f"Policy: {row.policy_version}")
    lines.append("")
    lines.append("Findings:")
    for finding in row.findings:
        where = ""
        if finding.offset is not None:
            where = f" at offset {finding.offset:,}"
            if finding.length is not None:
                where += f" ({finding.length:,} bytes)"
        payload = f", payload {finding.payload}" if finding.payload else ""
        lines.append(f"  • {finding.code} [{finding.severity.label}]{where}{payload}")
        text = finding.message or plain_reason(finding, row.detected_type, row.untrusted_name)
        lines.append(f"    {text}")
        if finding.detail:
            lines.append(f"    {finding.detail}")
    return "\n".join(lines)


def restore_question(row: ReviewRow) -> str:
    """The restore confirmation: repeats the reason before the file goes back."""
    return (
        f"Put {row.name} back in {row.folder}?\n\n"
        f"It was stopped because: {row.reason}\n\n"
        "Only do this if you are sure the file is safe, for example if IT told you so."
    )


def delete_question(row: ReviewRow) -> str:
    """The delete confirmation."""
    where = "from quarantine" if row.kind == QUARANTINED else f"from {row.folder}"
    return f"Delete {row.name} {where} for good?\n\nThis cannot be undone."


def report(rows: Iterable[ReviewRow], now: float, host: str) -> dict[str, Any]:
    """A JSON-ready report of the listed items for IT."""
    return {
        "schema": REPORT_SCHEMA,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        "host": host,
        "items": [
            {
                "status": row.kind,
                "id": row.item_id,
                "name": row.name,
                "original_path": safe_path(row.original_path),
                "caught": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(row.when)),
                "reason": row.reason,
                "sha256": row.sha256,
                "size": row.size,
                "detected_type": row.detected_type,
                "policy_version": row.policy_version,
                "findings": [finding.to_json() for finding in row.findings],
            }
            for row in sort_rows(rows)
        ],
    }


def write_report(rows: Iterable[ReviewRow], dest: Path, now: float, host: str) -> Path:
    """Write `report()` as indented JSON to `dest`; returns `dest`."""
    text = json.dumps(report(rows, now, host), indent=2, ensure_ascii=False)
    dest.write_text(text + "\n", encoding="utf-8")
    return dest


class _VaultLike(Protocol):
    root: Path

    def get(self, item_id: str) -> Any: ...


class _StateDBLike(Protocol):
    def list_flagged(self) -> list[Any]: ...


class ReviewSource:
    """Keeps the rows current by cheap polling: only new vault records are read.

    Listing the vault's record file names costs one directory scan; decrypting a record
    happens once per item, so polling every few seconds stays cheap with 10,000 items.
    """

    def __init__(self, vault: _VaultLike | None, statedb: _StateDBLike | None = None) -> None:
        """Rows of `vault` (quarantined) and `statedb` (flagged); either may be None."""
        self._vault = vault
        self._statedb = statedb
        self.rows: dict[str, ReviewRow] = {}

    def _vault_ids(self) -> set[str]:
        from agent.vault.store import ITEMS_DIR, RECORD_SUFFIX

        if self._vault is None:
            return set()
        try:
            with os.scandir(self._vault.root / ITEMS_DIR) as entries:
                names = [entry.name for entry in entries]
        except OSError:
            return set()
        return {n[: -len(RECORD_SUFFIX)] for n in names if n.endswith(RECORD_SUFFIX)}

    def _flagged_rows(self) -> dict[str, ReviewRow]:
        if self._statedb is None:
            return {}
        try:
            records = self._statedb.list_flagged()
        except Exception:  # a locked or missing database must not close the window
            return {key: row for key, row in self.rows.items() if row.kind == FLAGGED}
        rows = (row_from_flagged(record) for record in records)
        return {row.key: row for row in rows}

    def poll(self) -> tuple[list[ReviewRow], list[str]]:
        """(rows added, keys removed) since the last poll; the first poll adds everything."""
        from agent.errors import VaultError

        current_ids = self._vault_ids()
        known_ids = {r.item_id for r in self.rows.values() if r.kind == QUARANTINED}
        added: list[ReviewRow] = []
        removed = [f"q:{item_id}" for item_id in known_ids - current_ids]
        for item_id in sorted(current_ids - known_ids):
            assert self._vault is not None  # ids only come from a vault
            try:
                added.append(row_from_item(self._vault.get(item_id)))
            except VaultError:
                continue  # damaged or half-written: `photogate quarantine` reports it
        flagged = self._flagged_rows()
        old_flagged = {k: r for k, r in self.rows.items() if r.kind == FLAGGED}
        removed += [key for key in old_flagged if key not in flagged]
        added += [row for key, row in flagged.items() if old_flagged.get(key) != row]
        removed += [row.key for row in added if row.key in old_flagged]  # changed: replace
        for key in removed:
            self.rows.pop(key, None)
        for row in added:
            self.rows[row.key] = row
        return added, removed

    def forget(self, key: str) -> None:
        """Drop a row the window acted on (deleted, restored) before the next poll."""
        self.rows.pop(key, None)
