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
    """The vault folder: the policy's `vault.path`, or <home>/vault."""
    return Path(os.path.expandvars(configured)).expanduser() if configured else home() / "vault"


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
