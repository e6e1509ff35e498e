"""The protected service's record-only ops: what the review window did on the caller's side.

The window writes an exported list itself (it is the caller's file) and opens on the
caller's screen, so the service cannot see those happen; the client tells it, and the
service records them through the same StaffActions as per-user mode, stamped with the
caller the OS named (SO_PEERCRED), never a name the client sent. `reported` gives the
caller's false-alarm reports back so the window and `quarantine list` show "reported".
"""

from __future__ import annotations

from typing import Any

from agent.service import protocol, staffdb
from agent.service.authority import Caller
from agent.service.handler_support import owned_by
from agent.service.staff import StaffActions
from agent.vault.record import QuarantineItem
from agent.vault.restore import Placement

MAX_LISTED_ROWS = 2**31  # rows a `review_opened` request may say the window listed
MAX_EXPORTED_IDS = 1500  # item ids in one `report_exported` request (35 bytes each: < 64 KiB)
ITEM_KEY_PREFIX = "q:"  # a report's key for a quarantined item ("q:<id>")
FLAGGED_KEY_PREFIX = "f:"  # a report's key for a flagged file ("f:<path>")


class RecordOps:
    """`reported`, `review_opened` and `report_exported`; mixed into Handlers."""

    service: Any  # agent.service.handlers.ProtectedService

    def staff(self, caller: Caller, placement: Placement | None = None) -> StaffActions:
        """StaffActions recording `caller` (Handlers provides it)."""
        raise NotImplementedError

    def visible(self, caller: Caller) -> list[QuarantineItem]:
        """Items the caller may see (Handlers provides it)."""
        raise NotImplementedError

    def op_reported(self, caller: Caller, args: dict[str, Any]) -> Any:
        del args
        reports = staffdb.reported(self.service.core.statedb)
        mine = {i.id for i in self.visible(caller)}

        def may_see(key: str) -> bool:
            if caller.is_it:
                return True
            if key.startswith(ITEM_KEY_PREFIX):
                return key[len(ITEM_KEY_PREFIX) :] in mine
            return key.startswith(FLAGGED_KEY_PREFIX) and owned_by(
                key[len(FLAGGED_KEY_PREFIX) :], caller
            )

        return [dict(r.__dict__) for key, r in reports.items() if may_see(key)]

    def op_review_opened(self, caller: Caller, args: dict[str, Any]) -> Any:
        listed = protocol.number_arg(args, "listed", 0, MAX_LISTED_ROWS)
        self.staff(caller).review_opened(int(listed or 0))
        return {}

    def op_report_exported(self, caller: Caller, args: dict[str, Any]) -> Any:
        from pathlib import Path

        export_path = protocol.text_arg(args, "export_path", protocol.MAX_PATH_CHARS)
        untrusted_ids = args.get("item_ids")
        if not isinstance(untrusted_ids, list) or len(untrusted_ids) > MAX_EXPORTED_IDS:
            raise protocol.ProtocolError(
                f"argument 'item_ids' must be a list of at most {MAX_EXPORTED_IDS} ids"
            )
        mine = {i.id for i in self.visible(caller)}
        ids = [i for i in untrusted_ids if isinstance(i, str) and i in mine]  # never others'
        self.staff(caller).report_exported(Path(export_path), ids)
        return {"recorded": len(ids)}
