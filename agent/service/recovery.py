"""After a crash: announce the verdicts the crash cut off.

The pipeline records a quarantine's event fields before it moves the file
(`staffdb.begin_verdict`) and clears them once the verdict event is written. A row left
at start means the agent died in between: if the vault holds the item, the file *was*
quarantined and the SIEM must hear it, so the event is emitted now with
`recovered: true`. If the vault does not hold it, the file was not moved and the startup
sweep judges it anew (the state database has no verdict for it).
"""

from __future__ import annotations

import logging
import os
from typing import Any, Protocol

from agent.service import staffdb
from agent.service.events import EventLog
from agent.service.statedb import FileVersion, StateDB
from agent.textsafe import safe_name

log = logging.getLogger("photogate.recovery")

CLOCK_SLACK_SECONDS = 2.0  # an item quarantined this long before the row was written still counts


class _Item(Protocol):
    id: str
    original_path: str
    sha256: str
    size: int
    mtime_ns: int
    quarantined_at: float


class _VaultLike(Protocol):
    def items(self) -> list[Any]: ...


def announce_cut_off_verdicts(statedb: StateDB, vault: _VaultLike, events: EventLog) -> int:
    """Emit the verdict events a crash cut off; returns how many were emitted."""
    pending = staffdb.pending_verdicts(statedb)
    if not pending:
        return 0
    items: list[_Item] = list(vault.items())
    emitted = 0
    for path, sha256, fields, started_at in pending:
        match = next(
            (
                item
                for item in items
                if item.original_path == path
                and (sha256 is None or item.sha256 == sha256)
                and item.quarantined_at >= started_at - CLOCK_SLACK_SECONDS
            ),
            None,
        )
        if match is not None:
            event_fields = {key: value for key, value in fields.items() if key != "policy_version"}
            events.emit(
                "verdict",
                path=path,
                policy_version=str(fields.get("policy_version", "")),
                **event_fields,
                action="quarantine",
                item_id=match.id,
                recovered=True,
            )
            version = FileVersion(match.size, match.mtime_ns, 0)
            statedb.record(
                path,
                version,
                verdict=str(fields.get("verdict", "quarantine")),
                action="quarantine",
                finding_codes=tuple(str(code) for code in fields.get("findings", ())),
                sha256=match.sha256,
                detected_type=None if fields.get("type") is None else str(fields["type"]),
                item_id=match.id,
                folder=None if fields.get("folder") is None else str(fields["folder"]),
            )
            log.warning("recovered the verdict on %s cut off by a crash", safe_name(path))
            emitted += 1
        elif os.path.lexists(path):
            log.info("%s was not quarantined before a crash: it is judged again", safe_name(path))
        staffdb.end_verdict(statedb, path)
    return emitted
