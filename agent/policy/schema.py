"""The shape of a Photogate policy: frozen dataclasses with the shipped defaults.

`agent.policy.layers` turns TOML layers into one `Policy`; everything else reads a `Policy`
and never sees TOML. A key's dotted name is its section and field (`ui.allow_restore`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.inspect.limits import (
    DEFAULT_MAX_FILE_BYTES,
    DEFAULT_TIME_BUDGET_SECONDS,
    PHOTO_MAX_PIXELS,
    PIXELS_REJECT,
    PIXELS_WARN,
    Limits,
)

ACTIONS = ("quarantine", "flag", "log", "ignore")  # what a decision can do, strongest first


@dataclass(frozen=True)
class PolicyInfo:
    """[policy]: identifies the policy in events and `photogate status`."""

    version: str = "builtin-default"
    name: str = "Photogate built-in defaults"


@dataclass(frozen=True)
class WatchSettings:
    """[watch]: which folders are watched and how completion is detected."""

    use_default_folders: bool = True  # Downloads, mail attachment folders for this OS
    folders: tuple[str, ...] = ()  # extra folders; `~` and environment variables expand
    exclude: tuple[str, ...] = ()  # folders never watched
    recursive: bool = True
    sweep_interval_seconds: float = 300.0  # reconciliation sweep period
    settle_seconds: float = 1.0  # size/mtime must stay unchanged this long (no close event)
    ignore_patterns: tuple[str, ...] = (
        "*.crdownload",
        "*.part",
        "*.partial",
        "*.download",
        "*.tmp",
        "~$*",
        ".~lock.*",
        "*.opdownload",
    )


@dataclass(frozen=True)
class InspectSettings:
    """[inspect]: bounds of the inspection engine."""

    max_file_mb: int = DEFAULT_MAX_FILE_BYTES // (1024 * 1024)
    time_budget_seconds: float = DEFAULT_TIME_BUDGET_SECONDS
    pixels_warn: int = PIXELS_WARN
    pixels_reject: int = PIXELS_REJECT
    photo_max_pixels: int = PHOTO_MAX_PIXELS

    def limits(self) -> Limits:
        """The engine's Limits for these settings."""
        return Limits(
            max_file_bytes=self.max_file_mb * 1024 * 1024,
            time_budget_seconds=self.time_budget_seconds,
            pixels_warn=self.pixels_warn,
            pixels_reject=self.pixels_reject,
            photo_max_pixels=self.photo_max_pixels,
        )


@dataclass(frozen=True)
class ActionSettings:
    """[actions]: severity -> action, and per-code overrides ([actions.codes])."""

    high: str = "quarantine"
    medium: str = "flag"
    low: str = "log"
    info: str = "log"
    codes: tuple[tuple[str, str], ...] = ()  # (finding code or prefix "name.*", action)


@dataclass(frozen=True)
class FolderRule:
    """[[folder_rules]]: actions for files under one folder (e.g. a scanner's drop folder)."""

    path: str
    high: str | None = None
    medium: str | None = None
    low: str | None = None
    info: str | None = None
    codes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class VaultSettings:
    """[vault]: where quarantined files go and how long they are kept."""

    path: str = ""  # empty: <PHOTOGATE_HOME>/vault
    retention_days: int = 30


@dataclass(frozen=True)
class ReportSettings:
    """[report]: the audit log and where events go."""

    audit_log: str = ""  # empty: <PHOTOGATE_HOME>/logs/events.jsonl
    max_log_mb: int = 20
    keep_logs: int = 5
    hash_file_names: bool = True  # names may be patient data: only a hash leaves the machine
    hash_local_file_names: bool = False  # also hash them in the local audit log
    name_salt: str = ""  # salt for hashed names (empty: a per-install random salt)
    syslog: str = ""  # "", "udp://host:514", "tcp://host:514", "tls://host:6514", "unix:///dev/log"
    syslog_facility: str = "local0"
    syslog_ca_file: str = ""  # PEM CAs that sign the tls:// server (empty: the system's CAs)
    syslog_client_cert: str = ""  # PEM client certificate for tls:// (empty: none)
    syslog_client_key: str = ""  # its private key (empty: inside syslog_client_cert)
    windows_event_log: bool = True  # only on Windows


@dataclass(frozen=True)
class UiSettings:
    """[ui]: what front-desk staff may do and see."""

    notifications: bool = True
    allow_restore: bool = False
    allow_sanitized_copy: bool = True
    thumbnails: bool = False
    allow_delete: bool = True
    allow_pause: bool = True
    allow_quit: bool = False
    it_contact: str = "your IT department"
    # Protected mode: members of these OS groups act on every user's items (root always
    # does). Empty: the OS default (sudo and wheel on Linux, admin on macOS, Administrators
    # on Windows).
    it_groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class Policy:
    """One complete, validated policy. Built by `agent.policy.layers`; read by everything else."""

    policy: PolicyInfo = field(default_factory=PolicyInfo)
    watch: WatchSettings = field(default_factory=WatchSettings)
    inspect: InspectSettings = field(default_factory=InspectSettings)
    actions: ActionSettings = field(default_factory=ActionSettings)
    folder_rules: tuple[FolderRule, ...] = ()
    allowlist_sha256: tuple[str, ...] = ()  # [allowlist] sha256 = [...]: never acted on
    vault: VaultSettings = field(default_factory=VaultSettings)
    report: ReportSettings = field(default_factory=ReportSettings)
    ui: UiSettings = field(default_factory=UiSettings)
    locked: frozenset[str] = frozenset()  # [locks] keys = [...]: user preferences ignored
