"""Small pieces of the protected service's handlers: refusals, caller-stamped events, the
vault as StaffActions sees it with one restore placement, ownership of a path."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol

from agent import platform
from agent.errors import AgentError
from agent.service.authority import Caller
from agent.service.events import EventLog
from agent.vault.restore import Placement
from agent.vault.store import Vault


class _HasVault(Protocol):
    @property
    def vault(self) -> Vault: ...


class Refusal(AgentError):
    """Policy said no; the message is for the person."""


class CallerEvents:
    """The service's EventLog, with the caller in every event and as the `user` who acted."""

    def __init__(self, events: EventLog, caller: Caller) -> None:
        self._events = events
        self._caller = caller

    @property
    def user(self) -> str:
        """The OS account that asked (not the service's own)."""
        return self._caller.name

    @property
    def hashes_names(self) -> bool:
        """As the service's log."""
        return self._events.hashes_names

    def emit(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Emit with caller fields added."""
        fields["caller"] = self._caller.name
        fields["caller_uid"] = self._caller.uid
        return self._events.emit(kind, **fields)


class PlacedVault:
    """The vault as StaffActions sees it, restoring with one placement (owner, folder uid)."""

    def __init__(self, service: _HasVault, placement: Placement) -> None:
        self._vault = service.vault
        self._placement = placement

    def get(self, item_id: str) -> Any:
        return self._vault.get(item_id)

    def restore(self, item_id: str, to: Path | None = None) -> Path:
        return self._vault.restore(item_id, to, self._placement)

    def delete(self, item_id: str) -> None:
        self._vault.delete(item_id)

    def purge(self, older_than_days: float) -> list[str]:
        return self._vault.purge(older_than_days)


def owned_by(path: str, caller: Caller) -> bool:
    """True when the entry at `path` (not followed if a link) belongs to `caller`.

    POSIX: its st_uid is the caller's uid; Windows: its owner SID is the caller's SID.
    """
    if caller.sid:
        return platform.owner_sid(Path(path)) == caller.sid
    try:
        return os.lstat(path).st_uid == caller.uid
    except OSError:
        return False
