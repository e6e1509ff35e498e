"""Where Photogate keeps its per-user state and where machine policy lives.

`PHOTOGATE_HOME`, when set, is the root of all per-user state (vault, database, logs,
user preferences); otherwise the platform's per-user data folder.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

APP_NAME = "Photogate"
HOME_ENV = "PHOTOGATE_HOME"


def home() -> Path:
    """The root of this user's Photogate state (created on first use by the callers)."""
    override = os.environ.get(HOME_ENV)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def vault_dir(configured: str = "") -> Path:
    """Per-user mode's vault: <vault.path>/<login name> when policy sets one, else <home>/vault.

    A machine-wide `vault.path` (`D:\\Photogate\\vault`) is shared by every user of the
    PC, so each user's agent keeps its own vault (its own key) in a subfolder named after
    the account; protected mode's service uses `vault.path` itself (agent.service.machine).
    """
    if not configured:
        return home() / "vault"
    return machine_vault_dir(configured) / _account_folder_name()


SHARED_PARENT_MODE = 0o1777  # like /tmp: every account may add its own folder, none another's


def prepare_vault_parent(configured: str) -> None:
    """Create a machine-wide `vault.path` so that every user can keep a vault under it.

    Only creates a missing folder (sticky and world-writable, like /tmp); an existing one
    is left as IT made it. Best effort: the vault's own error says what went wrong.
    """
    if not configured or sys.platform == "win32":
        return  # Windows: the installer's ACL on the folder decides
    parent = machine_vault_dir(configured)
    if parent.exists():
        return
    try:
        parent.mkdir(parents=True)
        parent.chmod(SHARED_PARENT_MODE)
    except OSError:
        return


def machine_vault_dir(configured: str = "") -> Path:
    """The vault of the protected service: `vault.path`, or the OS's machine state folder."""
    if configured:
        return Path(os.path.expandvars(configured)).expanduser().absolute()
    return machine_state_dir() / "vault"


def machine_state_dir() -> Path:
    """Protected mode's state (vault, database, events), readable by the service only."""
    if sys.platform == "win32":
        return Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData")) / APP_NAME
    if sys.platform == "darwin":
        return Path("/Library/Application Support") / APP_NAME
    return Path("/var/lib/photogate")


def _account_folder_name() -> str:
    import getpass

    try:
        name = getpass.getuser()
    except (OSError, KeyError, ImportError):
        name = str(os.getuid()) if hasattr(os, "getuid") else "user"
    # One path component, whatever the account is called.
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name).strip(".") or "user"


def log_dir() -> Path:
    """Folder of the audit log and the agent's own log."""
    return home() / "logs"


def state_db_path() -> Path:
    """The sqlite database that remembers what was inspected."""
    return home() / "state.sqlite3"


def user_config_path() -> Path:
    """User preferences: the lowest-precedence file layer above the built-in defaults."""
    return home() / "preferences.toml"


def last_good_policy_path() -> Path:
    """The agent's copy of IT's last good machine policy (used while a push is broken)."""
    return home() / "last-good-policy.toml"


def machine_config_path() -> Path:
    """The machine policy file IT pushes, per OS (DESIGN.md section 4)."""
    if sys.platform == "win32":
        # Environment variable names are case-insensitive on Windows.
        base = os.environ.get("PROGRAMDATA", r"C:\ProgramData")
        return Path(base) / APP_NAME / "config.toml"
    if sys.platform == "darwin":
        return Path("/Library/Application Support") / APP_NAME / "config.toml"
    return Path("/etc/photogate/config.toml")


def runtime_dir() -> Path:
    """Lock file, status file and the review window's IPC live here."""
    return home() / "run"
