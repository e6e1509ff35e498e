"""The one interface every front end uses for the quarantine, in both modes.

`open_backend()` returns a `QuarantineBackend` (agent.service.api): the machine's
protected service when it is installed (agent.service.remote), else this user's own vault
(agent.service.local). Import the types from here too; docs/client-api.md is the contract.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from agent import paths
from agent.service.api import (
    LINUX_SOCKET_PATH,
    MACOS_SOCKET_PATH,
    MODE_PER_USER,
    MODE_PROTECTED,
    SOCKET_ENV,
    WINDOWS_PIPE_NAME,
    BackendError,
    FlaggedFile,
    QuarantineBackend,
    Refused,
    Rights,
    ServiceUnavailable,
)

PROTECTED_MARKER_NAME = "protected-mode"  # written by install.sh --protected and the others

__all__ = [
    "MODE_PER_USER",
    "MODE_PROTECTED",
    "BackendError",
    "FlaggedFile",
    "QuarantineBackend",
    "Refused",
    "Rights",
    "ServiceUnavailable",
    "open_backend",
    "protected_mode_installed",
    "service_address",
]


def service_address() -> str:
    """Where the machine's protected service listens on this OS (PHOTOGATE_SOCKET wins)."""
    override = os.environ.get(SOCKET_ENV)
    if override:
        return override
    if sys.platform == "win32":
        return WINDOWS_PIPE_NAME
    if sys.platform == "darwin":
        return MACOS_SOCKET_PATH
    return LINUX_SOCKET_PATH


def protected_mode_installed(address: str | None = None) -> bool:
    """True when a protected service is installed here (its socket exists).

    A named pipe exists only while its server runs, so on Windows this is the same as
    "the service is up"; elsewhere the socket file outlives a crashed service, and the
    client then says plainly that the service does not answer instead of falling back.
    """
    where = address or service_address()
    if address is None and not os.environ.get(SOCKET_ENV) and protected_marker().exists():
        return True  # installed, even while its socket or pipe is missing (service down)
    if sys.platform == "win32" and where.startswith("\\\\.\\pipe\\"):
        return Path(where).exists()
    return os.path.lexists(where)


def protected_marker() -> Path:
    """The file the protected-mode installers leave where every user can see it.

    Not in the machine state folder: that one is the service's alone (0700, or SYSTEM +
    Administrators on Windows), so a user's tray could not tell it exists.
    """
    if sys.platform == "win32":
        base = Path(os.environ.get("PROGRAMFILES", r"C:\Program Files")) / "Photogate"
        return base / PROTECTED_MARKER_NAME
    if sys.platform == "darwin":
        return Path("/Library/Preferences") / f"com.photogate.{PROTECTED_MARKER_NAME}"
    return paths.machine_config_path().with_name(PROTECTED_MARKER_NAME)


def open_backend(
    machine_config: Path | None = None,
    *,
    address: str | None = None,
    prefer_local: bool = False,
    via: str = "cli",
) -> QuarantineBackend:
    """The backend for this caller: the service when protected mode is installed, else local.

    `machine_config` is the policy file the local backend reads (default: the installed
    one). `prefer_local` is for the per-user agent's own process (its tray and window).
    """
    where = address or service_address()
    if not prefer_local and protected_mode_installed(where):
        from agent.service.remote import RemoteBackend

        return RemoteBackend(where)
    from agent.service.local import LocalBackend

    return LocalBackend.from_installed(machine_config, via=via)  # via: names it in events
