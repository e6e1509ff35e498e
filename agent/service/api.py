"""The contract of the one interface every front end uses, in both modes (see client.py).

The review window, the tray and the `quarantine`/`status` commands never open the vault
themselves: they get a `QuarantineBackend` from `agent.service.client.open_backend()`.
This module holds the types only, so both implementations can import it.

- `LocalBackend` (per-user mode, agent.service.local): the vault, state database and event
  log in this user's own PHOTOGATE_HOME, used directly by this process, as before.
- `RemoteBackend` (protected mode, agent.service.remote): requests over the local channel
  to the machine's `photogate service`, which identifies the caller by the OS and decides.

Both raise `Refused` (policy does not let this caller do it; the message is a plain
sentence for the person) and `BackendError` (unknown item, tampered record, service not
answering...). Both are AgentErrors, so the CLI prints them and exits 2.
docs/client-api.md and /work/coord/client-api.md describe the contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from agent.errors import AgentError
from agent.service.state import AgentState
from agent.vault.record import QuarantineItem

MODE_PER_USER = "per-user"
MODE_PROTECTED = "protected"
SOCKET_ENV = "PHOTOGATE_SOCKET"  # tests and unusual layouts: where the service listens
LINUX_SOCKET_PATH = "/run/photogate/photogate.sock"
MACOS_SOCKET_PATH = "/var/run/photogate/photogate.sock"
WINDOWS_PIPE_NAME = r"\\.\pipe\photogate"


class BackendError(AgentError):
    """The backend could not do what was asked (unknown id, damaged record, no service)."""


class Refused(BackendError):
    """Policy does not let this caller do this; `str()` is the plain reason."""


class ServiceUnavailable(BackendError):
    """Protected mode is installed but the service does not answer."""


@dataclass(frozen=True)
class Rights:
    """What the caller may do, as the backend decides (the UI greys out the rest)."""

    restore: bool
    delete: bool
    sanitized_copy: bool
    report_false_alarm: bool
    pause: bool
    every_item: bool  # IT: sees and acts on every user's items, may `restore --to`
    it_contact: str = "your IT department"

    def to_wire(self) -> dict[str, Any]:
        """The JSON shape sent over the channel."""
        return dict(self.__dict__)

    @classmethod
    def from_wire(cls, untrusted: dict[str, Any]) -> Rights:
        """Rights from the channel; anything missing or not a boolean counts as False."""

        def flag(name: str) -> bool:
            return untrusted.get(name) is True

        contact = untrusted.get("it_contact")
        return cls(
            restore=flag("restore"),
            delete=flag("delete"),
            sanitized_copy=flag("sanitized_copy"),
            report_false_alarm=flag("report_false_alarm"),
            pause=flag("pause"),
            every_item=flag("every_item"),
            it_contact=contact if isinstance(contact, str) else "your IT department",
        )


@dataclass(frozen=True)
class FlaggedFile:
    """A flagged file (left in its folder), as the review window lists it."""

    path: str
    sha256: str | None
    detected_type: str | None
    finding_codes: tuple[str, ...]
    folder: str | None
    inspected_at: float


class QuarantineBackend(Protocol):
    """The quarantine and the agent, as a front end sees them. Thread-safe per instance.

    Every id argument accepts a full id or a unique prefix of 6+ characters.
    """

    @property
    def mode(self) -> str:
        """MODE_PER_USER or MODE_PROTECTED."""
        ...

    def rights(self) -> Rights:
        """What this caller may do under the policy in force."""
        ...

    def items(self) -> list[QuarantineItem]:
        """The quarantined items this caller may see, oldest first."""
        ...

    def damaged(self) -> list[tuple[str, str]]:
        """(id, problem) of damaged records this caller may see."""
        ...

    def get(self, item_id: str) -> QuarantineItem:
        """One item's record (BackendError when unknown or not the caller's)."""
        ...

    def restore(self, item_id: str, to: Path | None = None) -> str:
        """Put the item back (or into `to`); returns where it landed (a path, as text)."""
        ...

    def delete(self, item_id: str) -> None:
        """Delete the item for good."""
        ...

    def purge(self, older_than_days: float | None = None) -> tuple[float, list[str]]:
        """Delete items older than `older_than_days` (policy retention when None).

        Returns (the age in days that was applied, the ids purged)."""
        ...

    def sanitized_copy(self, item_id: str, dest_dir: Path | None = None) -> str:
        """Write a sanitized copy (pixels only) into `dest_dir` (default: the item's folder)."""
        ...

    def report_false_alarm(self, item_id: str, note: str = "") -> None:
        """Tell IT this item looks like a false alarm (an audit event; the item stays)."""
        ...

    def flagged(self) -> list[FlaggedFile]:
        """Flagged files (left in place) this caller may see, newest first."""
        ...

    def pause(self, seconds: float) -> None:
        """Ask the agent to pause acting for `seconds` (Refused when policy forbids)."""
        ...

    def resume(self) -> None:
        """Ask the agent to act again."""
        ...

    def mark_reviewed(self) -> None:
        """The caller looked at the review window: nothing of theirs is unreviewed."""
        ...

    def snapshot(self) -> AgentState:
        """The agent's state now (the tray's icon and menu are built from it)."""
        ...

    def status(self) -> dict[str, Any]:
        """What `photogate status --json` prints; always has "mode" and "running"."""
        ...

    def close(self) -> None:
        """Release the connection or files."""
        ...
