"""The protected service's answers: one function per protocol op, the caller already known.

Every op first asks `authority.decide`; a refusal is a plain sentence back to the client
and a `request_refused` audit event with the caller, the op and the item. Staff see only
items quarantined from files they owned (`owner_uid`); an item that is not theirs is
"unknown" to them (its existence is not confirmed). Every action that changes something
goes through StaffActions, so its audit event is the same as in per-user mode, plus the
caller (`caller`, `caller_uid`).
"""

from __future__ import annotations

import logging
import os
import stat
import time
from pathlib import Path
from typing import Any, Protocol, cast

from agent import __version__
from agent.errors import VaultError
from agent.policy.schema import Policy
from agent.service import authority, protocol
from agent.service.api import MODE_PROTECTED, Rights
from agent.service.authority import Caller
from agent.service.events import EventLog
from agent.service.handler_records import RecordOps
from agent.service.handler_support import CallerEvents, PlacedVault, Refusal, owned_by
from agent.service.local import flagged_from_record, rights_from_policy
from agent.service.loop import AgentService
from agent.service.machine import MachineFolders
from agent.service.staff import StaffActions
from agent.vault.fsdir import Folder
from agent.vault.record import QuarantineItem
from agent.vault.restore import Placement
from agent.vault.store import Vault


class ProtectedService(Protocol):
    """What the handlers use of agent.service.protected.ProtectedService."""

    core: AgentService
    machine: MachineFolders
    state_dir: Path

    @property
    def policy(self) -> Policy: ...

    @property
    def vault(self) -> Vault: ...


log = logging.getLogger("photogate.service.handlers")

VIA_CHANNEL = "protected_channel"
MAX_PAUSE_SECONDS = 24 * 3600.0  # one pause request lasts at most a day
MAX_NOTE_CHARS = 2000  # characters of a false-alarm note accepted
MAX_PURGE_DAYS = 36500.0


class Handlers(RecordOps):
    """Answers requests for one ProtectedService."""

    service: ProtectedService

    def __init__(self, service: ProtectedService) -> None:
        self.service = service
        self._reviewed_at: dict[str, float] = {}  # by Caller.key

    # --- helpers ---------------------------------------------------------------------------

    def refuse(self, caller: Caller, op: str, reason: str, item: QuarantineItem | None) -> None:
        """Record the refusal and raise it."""
        self.service.core.events.emit(
            "request_refused",
            path=item.original_path if item is not None else None,
            policy_version=self.service.policy.policy.version,
            request=op,
            item_id=item.id if item is not None else None,
            reason=reason,
            caller=caller.name,
            caller_uid=caller.uid,
        )
        raise Refusal(reason)

    def check(self, caller: Caller, op: str, action: str, item: QuarantineItem | None) -> None:
        """Refuse (and record) unless policy lets `caller` do `action`."""
        reason = authority.decide(caller, action, self.service.policy, item)
        if reason is not None:
            self.refuse(caller, op, reason, item)

    def visible(self, caller: Caller) -> list[QuarantineItem]:
        """Items the caller may see."""
        items = self.service.vault.items()
        return items if caller.is_it else [i for i in items if authority.owns(caller, i)]

    def item(self, caller: Caller, args: dict[str, Any], op: str) -> QuarantineItem:
        """The item an `item` argument names, among those the caller may see."""
        wanted = protocol.text_arg(args, "item", protocol.MAX_ID_CHARS).strip().lower()
        vault = self.service.vault
        if caller.is_it:
            return vault.get(vault.resolve(wanted))
        matches = [i for i in self.visible(caller) if i.id.startswith(wanted)]
        if len(wanted) >= 6 and len(matches) == 1:  # MIN_ID_PREFIX_CHARS of the vault
            return matches[0]
        others = [i for i in vault.items() if len(wanted) >= 6 and i.id.startswith(wanted)]
        if others:  # someone else's: on record, but told apart from "unknown" to nobody
            self.service.core.events.emit(
                "request_refused",
                policy_version=self.service.policy.policy.version,
                request=op,
                item_id=others[0].id,
                reason="not the caller's item",
                caller=caller.name,
                caller_uid=caller.uid,
            )
        raise VaultError(f"no quarantined item with id {wanted[:64]}")

    def staff(self, caller: Caller, placement: Placement | None = None) -> StaffActions:
        """StaffActions on the machine vault and state, recording `caller`."""
        service = self.service
        vault: Any = PlacedVault(service, placement or Placement())
        events = cast(EventLog, CallerEvents(service.core.events, caller))
        return StaffActions(
            vault, service.core.statedb, events, service.policy.policy.version, via=VIA_CHANNEL
        )

    def rights(self, caller: Caller) -> Rights:
        """What `caller` may do: the policy's [ui] grants, everything for IT."""
        return rights_from_policy(self.service.policy, every_item=caller.is_it)

    # --- ops -------------------------------------------------------------------------------

    def op_hello(self, caller: Caller, args: dict[str, Any]) -> Any:
        del args
        return {
            "protocol": protocol.PROTOCOL_VERSION,
            "server": f"photogate {__version__}",
            "mode": MODE_PROTECTED,
            "caller": {"name": caller.name, "uid": caller.uid, "it": caller.is_it},
        }

    def op_rights(self, caller: Caller, args: dict[str, Any]) -> Any:
        del args
        return self.rights(caller).to_wire()

    def op_items(self, caller: Caller, args: dict[str, Any]) -> Any:
        offset = int(protocol.number_arg(args, "offset", 0, 2**31) or 0)
        items = self.visible(caller)
        page = items[offset : offset + protocol.PAGE_ITEMS]
        following = offset + len(page) if offset + len(page) < len(items) else None
        return {"items": [protocol.item_to_wire(i) for i in page], "next": following}

    def op_damaged(self, caller: Caller, args: dict[str, Any]) -> Any:
        del args
        return [list(pair) for pair in self.service.vault.damaged()] if caller.is_it else []

    def op_get(self, caller: Caller, args: dict[str, Any]) -> Any:
        return protocol.item_to_wire(self.item(caller, args, "get"))

    def op_restore(self, caller: Caller, args: dict[str, Any]) -> Any:
        item = self.item(caller, args, "restore")
        to_text = protocol.text_arg(args, "to", protocol.MAX_PATH_CHARS, optional=True)
        self.check(caller, "restore", authority.RESTORE, item)
        if to_text is not None:
            if not caller.is_it:
                self.check(caller, "restore", authority.RESTORE_TO, item)
            to = Path(to_text)
            if not to.is_absolute():
                raise VaultError("--to must be an absolute path")
            placement = placement_for(caller.uid, caller.gid, caller.sid)
            outcome = self.staff(caller, placement).restore(item.id, to)
            return {"path": str(outcome.path), "message": outcome.message()}
        placement = self.original_placement(caller, item, "restore")
        outcome = self.staff(caller, placement).restore(item.id, None)
        return {"path": str(outcome.path), "message": outcome.message()}

    def original_placement(self, caller: Caller, item: QuarantineItem, op: str) -> Placement:
        """Back to the original folder: only as its owner, only while it is still watched."""
        from agent.service.machine import owner_of

        owner = owner_of(item.owner_uid, item.owner_sid)
        if owner is None:
            self.refuse(
                caller, op, "Photogate does not know whose file this was; IT can restore "
                "it to a folder of theirs with --to.", item,
            )  # fmt: skip
            raise AssertionError("unreachable")  # refuse() raised
        folder = Path(item.original_path).parent
        if not self.service.machine.is_landing_folder_of(folder, owner, self.service.policy):
            self.refuse(
                caller, op, f"The folder {folder} is no longer one of {owner.name}'s watched "
                "folders, so the file is not put back there; IT can restore it with --to.",
                item,
            )  # fmt: skip
        return placement_for(owner.uid, owner.gid, owner.sid)

    def op_delete(self, caller: Caller, args: dict[str, Any]) -> Any:
        item = self.item(caller, args, "delete")
        self.check(caller, "delete", authority.DELETE, item)
        self.staff(caller).delete_item(item.id)
        return {"deleted": item.id}

    def op_purge(self, caller: Caller, args: dict[str, Any]) -> Any:
        if not caller.is_it:
            self.refuse(
                caller, "purge", authority.decide(caller, authority.PURGE, self.service.policy)
                or "", None,
            )  # fmt: skip
        days = protocol.number_arg(args, "older_than_days", 0, MAX_PURGE_DAYS)
        if days is None:
            days = float(self.service.policy.vault.retention_days)
        return {"days": days, "purged": self.staff(caller).purge(days)}

    def op_sanitized_copy(self, caller: Caller, args: dict[str, Any]) -> Any:
        from agent.service.copies import write_safe_copy

        item = self.item(caller, args, "sanitized_copy")
        self.check(caller, "sanitized_copy", authority.SANITIZED_COPY, item)
        to_text = protocol.text_arg(args, "to", protocol.MAX_PATH_CHARS, optional=True)
        if to_text is not None:
            placement = placement_for(caller.uid, caller.gid, caller.sid)
            folder = Path(to_text)
        else:
            placement = self.original_placement(caller, item, "sanitized_copy")
            folder = Path(item.original_path).parent
        copy, fmt = write_safe_copy(self.service.vault, item, folder, placement)
        self.staff(caller).safe_copy_saved(
            item_id=item.id, sha256=item.sha256, source=item.original_path, copy=copy, fmt=fmt
        )
        return {"path": str(copy)}

    def op_report_false_alarm(self, caller: Caller, args: dict[str, Any]) -> Any:
        item = self.item(caller, args, "report_false_alarm")
        self.check(caller, "report_false_alarm", authority.REPORT_FALSE_ALARM, item)
        note = protocol.text_arg(args, "note", MAX_NOTE_CHARS, optional=True) or ""
        self.staff(caller).report_false_alarm(
            f"q:{item.id}",
            item_id=item.id,
            sha256=item.sha256,
            codes=tuple(f.code for f in item.findings),
            detected_type=item.detected_type,
            path=item.original_path,
            untrusted_note=note,
        )
        return {"reported": item.id}

    def op_flagged(self, caller: Caller, args: dict[str, Any]) -> Any:
        del args
        rows = []
        for record in self.service.core.statedb.list_flagged():
            if not caller.is_it and not owned_by(record.path, caller):
                continue
            flagged = flagged_from_record(record)
            rows.append(dict(flagged.__dict__, finding_codes=list(flagged.finding_codes)))
        return rows

    def flagged_record(self, caller: Caller, args: dict[str, Any], op: str) -> Any:
        """The state database's flagged record the `path` argument names, if the caller's."""
        path = protocol.text_arg(args, "path", protocol.MAX_PATH_CHARS)
        for record in self.service.core.statedb.list_flagged():
            if record.path == path:
                if caller.is_it or owned_by(path, caller):
                    return record
                self.refuse(caller, op, "This file is not one of yours.", None)
        raise VaultError("that file is not on the list of flagged files")

    def op_delete_flagged(self, caller: Caller, args: dict[str, Any]) -> Any:
        record = self.flagged_record(caller, args, "delete_flagged")
        self.check(caller, "delete_flagged", authority.DELETE, None)
        path = Path(record.path)
        with Folder.open(path.parent) as folder:  # no link followed on the way
            info = folder.lstat(path.name)
            if info is not None:
                if not stat.S_ISREG(info.st_mode) or (
                    not caller.is_it and info.st_uid != caller.uid
                ):
                    self.refuse(caller, "delete_flagged", "This file is not one of yours.", None)
                folder.unlink(path.name)
        self.service.core.statedb.forget(record.path)
        CallerEvents(self.service.core.events, caller).emit(
            "deleted",
            path=record.path,
            policy_version=self.service.policy.policy.version,
            sha256=record.sha256,
            status="flagged",
            via=VIA_CHANNEL,
        )
        return {"deleted": record.path}

    def op_report_flagged(self, caller: Caller, args: dict[str, Any]) -> Any:
        record = self.flagged_record(caller, args, "report_flagged")
        note = protocol.text_arg(args, "note", MAX_NOTE_CHARS, optional=True) or ""
        self.staff(caller).report_false_alarm(
            f"f:{record.path}",
            item_id=None,
            sha256=record.sha256,
            codes=tuple(record.finding_codes),
            detected_type=record.detected_type,
            path=record.path,
            untrusted_note=note,
        )
        return {"reported": record.path}

    def op_pause(self, caller: Caller, args: dict[str, Any]) -> Any:
        seconds = protocol.number_arg(args, "seconds", 1, MAX_PAUSE_SECONDS)
        if seconds is None:
            raise protocol.ProtocolError("pause needs seconds")
        self.check(caller, "pause", authority.PAUSE, None)
        self.service.core.pause(seconds, via=VIA_CHANNEL, by=caller.describe(), force=caller.is_it)
        return {"paused_until": self.service.core.snapshot().paused_until}

    def op_resume(self, caller: Caller, args: dict[str, Any]) -> Any:
        del args  # resuming protection is never refused
        self.service.core.resume(via=VIA_CHANNEL, by=caller.describe())
        return {}

    def op_mark_reviewed(self, caller: Caller, args: dict[str, Any]) -> Any:
        del args
        self._reviewed_at[caller.key] = time.time()
        if caller.is_it:
            self.service.core.mark_reviewed()
        return {}

    def op_status(self, caller: Caller, args: dict[str, Any]) -> Any:
        del args
        core = self.service.core
        state = core.snapshot()
        folders = [
            {"path": f.path, "watching": f.watching, "problem": f.problem}
            for f in state.folders
            if caller.is_it or owned_by(f.path, caller)
        ]
        since = self._reviewed_at.get(caller.key, 0.0)
        mine = [i for i in self.visible(caller) if i.quarantined_at > since]
        return {
            "running": state.running,
            "mode": MODE_PROTECTED,
            "home": str(self.service.state_dir),
            "pid": os.getpid(),
            "version": state.version,
            "started": state.started_at,
            "updated": time.time(),
            "paused_until": state.paused_until,
            "folders": folders,
            "policy": {
                "version": state.policy_version,
                "source": state.policy_source,
                "problem": state.policy_problem,
            },
            "counts": {
                "inspected": state.inspected_total,
                "quarantined": state.quarantined_total,
                "flagged": state.flagged_total,
                "unreviewed": state.unreviewed if caller.is_it else len(mine),
            },
            "allow_pause": self.rights(caller).pause,
            "allow_quit": True,  # Quit closes the tray only: protection never stops from it
            "caller": {"name": caller.name, "uid": caller.uid, "it": caller.is_it},
        }


OPS = {name[len("op_") :] for name in dir(Handlers) if name.startswith("op_")}
assert OPS == protocol.OPS, OPS ^ protocol.OPS  # the protocol's list is this one


def placement_for(uid: int, gid: int, sid: str) -> Placement:
    """Where a restore or safe copy for this account may land, and whose the file becomes.

    POSIX: the file is chowned to the account and its folder must be the account's
    (st_uid). Windows: the folder's owner SID must be the account's; the new file inherits
    the folder's permissions, as a download there would.
    """
    if sid:
        return Placement(folder_sid=sid)
    return Placement(owner=(uid, gid), folder_uid=uid)
