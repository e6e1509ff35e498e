"""The review window's data, without widgets: rows, what may be done to them, and the texts.

`agent.ui.review` only draws what this module decides. Rows come from the front ends' one
interface (`agent.service.api.QuarantineBackend`): quarantined items and flagged files,
in per-user mode from this user's vault and state, in protected mode from the service.
Names are shown the way the file manager shows them *and* with what they hide
(agent.ui.names); nothing shown can carry a control or bidi character.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.inspect.reasons import plain_reason, plain_summary
from agent.model import Finding, Severity
from agent.textsafe import safe_path, safe_text
from agent.ui.names import NameView, name_view

QUARANTINED = "quarantined"
FLAGGED = "flagged"
NAME_DISPLAY_CHARS = 80  # long names are cut in the middle, keeping the real extension
REPORT_SCHEMA = "photogate.review-report/1"
# Types a safe copy can be made of (agent.sanitize.child decodes these and nothing else).
PICTURE_TYPES = frozenset(
    {"jpeg", "png", "gif", "webp", "bmp", "tiff", "ico", "heic", "heif", "avif", "mpo"}
)
ACTIONS = ("sanitize", "restore", "delete", "report")
# What a detected type is, in words (for "not a picture (it is ...)").
TYPE_WORDS = {
    "pe": "a Windows program",
    "elf": "a Linux program",
    "macho": "a Mac program",
    "lnk": "a Windows shortcut",
    "zip": "an archive",
    "rar": "an archive",
    "7z": "an archive",
    "jar": "a Java program",
    "pdf": "a PDF document",
    "html": "a web page",
    "script": "a script",
    "php": "a script",
    "svg": "a drawing that can contain scripts",
    "dicom": "a medical scan (DICOM)",
}


@dataclass(frozen=True)
class ReviewRow:
    """One caught file as the review window lists it. `key` is unique across both kinds."""

    key: str
    kind: str  # QUARANTINED or FLAGGED
    untrusted_name: str  # never shown as is: use `name` / `view`
    view: NameView  # what the file manager shows, and what that hides
    when: float  # epoch seconds it was caught
    folder: str  # safe to show
    reason: str  # one plain sentence (the full text: the detail pane shows all of it)
    original_path: str
    item_id: str | None = None  # vault id of a quarantined file
    sha256: str | None = None
    size: int | None = None
    detected_type: str | None = None
    findings: tuple[Finding, ...] = field(default_factory=tuple)
    policy_version: str | None = None
    reported: bool = False  # staff told IT it is a false alarm

    @property
    def name(self) -> str:
        """The name as shown in the list (safe)."""
        return self.view.shown


@dataclass(frozen=True)
class Permissions:
    """What front-desk staff may do (from the backend's `rights()`)."""

    delete: bool = True
    restore: bool = False
    sanitize: bool = True
    report: bool = True
    it_contact: str = "your IT department"
    thumbnails: bool = False  # policy ui.thumbnails: a small sanitized picture of the row

    @classmethod
    def from_rights(cls, rights: Any) -> Permissions:
        """The permissions an `agent.service.api.Rights` grants."""
        return cls(
            delete=bool(rights.delete),
            restore=bool(rights.restore),
            sanitize=bool(rights.sanitized_copy),
            report=bool(rights.report_false_alarm),
            it_contact=str(rights.it_contact),
        )

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
        contact = safe_text(self.it_contact)
        return f"Your IT policy does not allow {listed} here. To ask, contact {contact}."


def why_not(action: str, row: ReviewRow | None, permissions: Permissions) -> str | None:
    """None when the window offers `action` for `row`; else why not, in one sentence."""
    if row is None:
        return "Select a file first."
    policy_says_no = "Your IT policy does not allow this here."
    if action == "restore":
        if row.kind != QUARANTINED:
            return "This file was never moved: it is still in its folder."
        return None if permissions.restore else policy_says_no
    if action == "delete":
        return None if permissions.delete else policy_says_no
    if action == "sanitize":
        if not permissions.sanitize:
            return policy_says_no
        if (row.detected_type or "").lower() not in PICTURE_TYPES:
            kind = (row.detected_type or "").lower()
            what = TYPE_WORDS.get(kind, f"{safe_text(kind)} data" if kind else "unknown data")
            return f"This is not a picture (it is {what}), so there is nothing to copy."
        return None
    if action == "report":
        if row.reported:
            return "Already reported to IT."
        return None if permissions.report else policy_says_no
    return None


def can(action: str, row: ReviewRow | None, permissions: Permissions) -> bool:
    """Whether the window offers `action` ("delete", "restore", "sanitize", "report")."""
    return why_not(action, row, permissions) is None


def row_from_item(item: Any, *, reported: bool = False) -> ReviewRow:
    """The row of a quarantined item (`agent.vault.record.QuarantineItem`)."""
    return ReviewRow(
        key=f"q:{item.id}",
        kind=QUARANTINED,
        untrusted_name=item.name,
        view=name_view(item.name, NAME_DISPLAY_CHARS),
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
        reported=reported,
    )


_HARMLESS_CODES = ("known_trailer", "other_image_type", "unusual_preamble")


def row_from_flagged(record: Any, *, reported: bool = False) -> ReviewRow:
    """The row of a flagged file (still in its folder); only finding codes are stored."""
    name = Path(record.path).name
    # Flagged records keep codes, not severities: explain the first code that matters.
    codes = [c for c in record.finding_codes if not c.endswith(_HARMLESS_CODES)]
    code = (codes or list(record.finding_codes) or ["scan.unknown"])[0]
    reason = plain_reason(Finding(code, Severity.MEDIUM, ""), record.detected_type, name)
    folder = record.folder or str(Path(record.path).parent)
    return ReviewRow(
        key=f"f:{record.path}",
        kind=FLAGGED,
        untrusted_name=name,
        view=name_view(name, NAME_DISPLAY_CHARS),
        when=record.inspected_at,
        folder=safe_path(folder),
        reason=reason or "Photogate found something unusual in this file.",
        original_path=record.path,
        sha256=record.sha256,
        detected_type=record.detected_type,
        findings=tuple(Finding(c, Severity.MEDIUM, "") for c in record.finding_codes),
        reported=reported,
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
    """The status column: where the file is now, and whether IT was told."""
    where = "In quarantine" if row.kind == QUARANTINED else "Marked, in its folder"
    return f"{where} · reported" if row.reported else where


SORT_KEYS = {
    "name": lambda row: row.view.shown.casefold(),
    "when": lambda row: row.when,
    "folder": lambda row: row.folder.casefold(),
    "reason": lambda row: row.reason.casefold(),
    "status": lambda row: status_text(row),
}


def sort_rows(
    rows: Iterable[ReviewRow], column: str = "when", descending: bool = True
) -> list[ReviewRow]:
    """Rows sorted by a column (newest first by default: what just happened is what staff want)."""
    key = SORT_KEYS.get(column, SORT_KEYS["when"])
    ordered = sorted(rows, key=lambda row: row.key)
    return sorted(ordered, key=key, reverse=descending)


def matches(row: ReviewRow, query: str) -> bool:
    """The search box: every word must appear in the name, folder, reason or status."""
    haystack = " ".join(
        (row.view.shown, row.view.note or "", row.folder, row.reason, status_text(row))
    ).casefold()
    return all(word in haystack for word in query.casefold().split())


def detail_text(row: ReviewRow, permissions: Permissions) -> str:
    """The detail pane: the name and what it hides, the whole reason, and what can be done."""
    lines = [row.view.shown]
    if row.view.note:
        lines.append(row.view.note)
    lines += ["", row.reason, "", f"Caught: {when_text(row.when, time.time())} from {row.folder}"]
    lines.append(f"Now: {status_text(row)}")
    labels = {
        "sanitize": "Save a safe copy",
        "restore": "Restore",
        "delete": "Delete",
        "report": "This is a false alarm",
    }
    unavailable = [
        f"{labels[action]}: {reason}"
        for action in ACTIONS
        if (reason := why_not(action, row, permissions)) is not None
    ]
    if unavailable:
        lines += ["", "Not available:", *(f"  {line}" for line in unavailable)]
    return "\n".join(lines)


def details_text(row: ReviewRow) -> str:
    """Everything IT may need about one row, as plain text (names shown escaped)."""
    lines = [
        f"Name: {safe_text(row.untrusted_name)}",
        f"Shown as: {row.view.shown}",
        f"Status: {status_text(row)}",
        f"Original path: {safe_path(row.original_path)}",
        f"Caught: {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(row.when))}",
        f"Why: {row.reason}",
    ]
    if row.view.note:
        lines.insert(2, row.view.note)
    if row.item_id:
        lines.append(f"Quarantine id: {row.item_id}")
    if row.size is not None:
        lines.append(f"Size: {row.size:,} bytes")
    lines.append(f"SHA-256: {row.sha256 or 'not recorded'}")
    if row.detected_type:
        lines.append(f"Detected type: {safe_text(row.detected_type)}")
    if row.policy_version:
        lines.append(f"Policy: {safe_text(row.policy_version)}")
    lines += ["", "Findings:"]
    for finding in row.findings:
        where = ""
        if finding.offset is not None:
            where = f" at offset {finding.offset:,}"
            if finding.length is not None:
                where += f" ({finding.length:,} bytes)"
        payload = f", payload {safe_text(finding.payload)}" if finding.payload else ""
        lines.append(f"  • {safe_text(finding.code)} [{finding.severity.label}]{where}{payload}")
        text = finding.message or plain_reason(finding, row.detected_type, row.untrusted_name)
        lines.append(f"    {safe_text(text)}")
        if finding.detail:
            lines.append(f"    {safe_text(finding.detail)}")
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
                "name": safe_text(row.untrusted_name),
                "shown_as": row.view.shown,
                "original_path": safe_path(row.original_path),
                "caught": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(row.when)),
                "reason": row.reason,
                "sha256": row.sha256,
                "size": row.size,
                "detected_type": row.detected_type,
                "policy_version": row.policy_version,
                "reported": row.reported,
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


class ReviewSource:
    """Keeps the rows current by polling the backend (quarantined, flagged, reported).

    A flagged file whose file is gone (deleted in the file manager) leaves the list.
    """

    def __init__(self, backend: Any) -> None:
        """Rows of `backend` (an `agent.service.api.QuarantineBackend`)."""
        self.backend = backend
        self.rows: dict[str, ReviewRow] = {}

    def _reported_keys(self) -> set[str]:
        reported = getattr(self.backend, "reported", None)  # Local and RemoteBackend have it
        if reported is None:
            return set()
        try:
            return set(reported())
        except Exception:  # a locked database must not close the window
            return {key for key, row in self.rows.items() if row.reported}

    def _current(self) -> dict[str, ReviewRow]:
        from agent.service.api import BackendError

        reported = self._reported_keys()
        current: dict[str, ReviewRow] = {}
        try:
            for item in self.backend.items():
                current[f"q:{item.id}"] = row_from_item(item, reported=f"q:{item.id}" in reported)
        except BackendError:
            current.update({k: r for k, r in self.rows.items() if r.kind == QUARANTINED})
        try:
            for flagged in self.backend.flagged():
                key = f"f:{flagged.path}"
                if os.path.lexists(flagged.path):
                    current[key] = row_from_flagged(flagged, reported=key in reported)
        except BackendError:
            current.update({k: r for k, r in self.rows.items() if r.kind == FLAGGED})
        return current

    def poll(self) -> tuple[list[ReviewRow], list[str]]:
        """(rows added or changed, keys removed) since the last poll."""
        current = self._current()
        removed = [key for key in self.rows if key not in current]
        added = [row for key, row in current.items() if self.rows.get(key) != row]
        removed += [row.key for row in added if row.key in self.rows]  # changed: replace
        self.rows = current
        return added, removed

    def forget(self, key: str) -> None:
        """Drop a row the window acted on (deleted, restored) before the next poll."""
        self.rows.pop(key, None)
