"""Every policy key: its dotted name, kind, bounds, who may set it, and what it means.

This table is the single description of `config.toml` that validation, `config show`, the
shipped default file and docs/config-reference.md are all derived from, so they cannot drift.
The shape of the values themselves lives in `agent.policy.schema`; `to_flat`/`from_flat` convert a
`Policy` to and from the flat form used here (dotted key -> TOML-like value).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agent.inspect.limits import PHOTO_MAX_PIXELS
from agent.policy.schema import (
    ActionSettings,
    FolderRule,
    InspectSettings,
    Policy,
    PolicyInfo,
    ReportSettings,
    UiSettings,
    VaultSettings,
    WatchSettings,
)

# Bounds on values, with units. Generous: they only stop typos and absurd values.
MAX_STRING_CHARS = 1_024  # characters in any one string value
MAX_LIST_ITEMS = 1_000  # items in a list of folders, patterns, codes or folder rules
MAX_ALLOWLIST_ITEMS = 100_000  # SHA-256 entries in [allowlist] sha256
MAX_FILE_MB = 65_536  # megabytes: inspect.max_file_mb upper bound (64 GiB)
MAX_TIME_BUDGET_SECONDS = 600.0  # seconds: inspect.time_budget_seconds upper bound
MAX_SWEEP_INTERVAL_SECONDS = 86_400.0  # seconds: one reconciliation sweep a day at least
MAX_SETTLE_SECONDS = 600.0  # seconds a file must stay unchanged before inspection
MAX_RETENTION_DAYS = 3_650  # days the vault keeps an item (ten years)
MAX_LOG_MB = 4_096  # megabytes per audit log file before it rotates
MAX_KEEP_LOGS = 1_000  # rotated audit log files kept

# Kinds of values. Each has one validator in agent.policy.validate.
BOOL = "bool"
INT = "int"
FLOAT = "float"
STRING = "string"
STRING_LIST = "string list"
PATH = "path"  # "" (use the default) or a folder/file path; `~` and env vars expand
PATH_LIST = "path list"
ACTION = "action"
CODE_ACTIONS = "table code -> action"
FOLDER_RULES = "array of tables"
SHA256_LIST = "SHA-256 list"
KEY_LIST = "key list"
SYSLOG_URL = "syslog URL"
FACILITY = "syslog facility"


@dataclass(frozen=True)
class KeySpec:
    """One policy key: how to validate it and how to document it."""

    key: str  # dotted: section.field
    kind: str
    description: str
    example: str  # a TOML value, shown in the reference and as a comment in config.toml
    user_settable: bool = False  # user preferences may set it (unless IT locks it)
    minimum: float | None = None
    maximum: float | None = None
    max_items: int = MAX_LIST_ITEMS

    @property
    def section(self) -> str:
        """The TOML table the key lives in (`actions` for `actions.high`)."""
        return self.key.split(".", 1)[0]

    @property
    def name(self) -> str:
        """The key's name inside its table (`high` for `actions.high`)."""
        return self.key.split(".", 1)[1] if "." in self.key else self.key


# Keys user preferences may add to rather than replace: staff may watch more, never less.
ADDITIVE_USER_KEYS = frozenset({"watch.folders"})

_A = "one of quarantine, flag, log, ignore"

KEY_SPECS: tuple[KeySpec, ...] = (
    KeySpec(
        "policy.version",
        STRING,
        "Version of this policy, named in every event and in "
        "`photogate status`; change it on every push.",
        '"2024-06-clinic-1"',
    ),
    KeySpec("policy.name", STRING, "Human-readable name of this policy.", '"Front desk PCs"'),
    KeySpec(
        "watch.use_default_folders",
        BOOL,
        "Watch this OS's usual landing folders (Downloads, mail attachment folders).",
        "true",
    ),
    KeySpec(
        "watch.folders",
        PATH_LIST,
        "Extra folders to watch; `~` and environment variables "
        "expand. User preferences add to this list, never replace it.",
        '["~/Scans", "%USERPROFILE%\\\\Desktop"]',
        user_settable=True,
    ),
    KeySpec(
        "watch.exclude",
        PATH_LIST,
        "Folders never watched, even inside watched ones.",
        '["~/Downloads/large-video"]',
    ),
    KeySpec("watch.recursive", BOOL, "Watch subfolders of the watched folders too.", "true"),
    KeySpec(
        "watch.sweep_interval_seconds",
        FLOAT,
        "Seconds between reconciliation sweeps that catch events the OS dropped.",
        "300.0",
        minimum=1.0,
        maximum=MAX_SWEEP_INTERVAL_SECONDS,
    ),
    KeySpec(
        "watch.settle_seconds",
        FLOAT,
        "Seconds a file's size and time must stay unchanged "
        "before it counts as complete (where no close event exists).",
        "1.0",
        minimum=0.0,
        maximum=MAX_SETTLE_SECONDS,
    ),
    KeySpec(
        "watch.ignore_patterns",
        STRING_LIST,
        "File name patterns never inspected (browser and office temporary files).",
        '["*.crdownload", "*.part"]',
    ),
    KeySpec(
        "inspect.max_file_mb",
        INT,
        "Files larger than this (MB) get only name and header checks.",
        "2048",
        minimum=1,
        maximum=MAX_FILE_MB,
    ),
    KeySpec(
        "inspect.time_budget_seconds",
        FLOAT,
        "Seconds of inspection per file before it gives up with a resource.time_budget finding.",
        "10.0",
        minimum=0.1,
        maximum=MAX_TIME_BUDGET_SECONDS,
    ),
    KeySpec(
        "inspect.pixels_warn",
        INT,
        "Declared pixels over this give a medium finding.",
        "89478485",
        minimum=1,
    ),
    KeySpec(
        "inspect.pixels_reject",
        INT,
        "Declared pixels over this give a high finding; must be at least inspect.pixels_warn.",
        "178956970",
        minimum=1,
    ),
    KeySpec(
        "inspect.photo_max_pixels",
        INT,
        "Pictures over the pixel thresholds whose image data is as dense as a real photo's are "
        "judged photos (resource.large_photo) up to this many pixels; 0 judges every one a "
        "bomb. May only be lowered.",
        str(PHOTO_MAX_PIXELS),
        minimum=0,
        maximum=PHOTO_MAX_PIXELS,
    ),
    KeySpec("actions.high", ACTION, f"Action for high-severity findings: {_A}.", '"quarantine"'),
    KeySpec("actions.medium", ACTION, f"Action for medium-severity findings: {_A}.", '"flag"'),
    KeySpec("actions.low", ACTION, f"Action for low-severity findings: {_A}.", '"log"'),
    KeySpec("actions.info", ACTION, f"Action for informational findings: {_A}.", '"log"'),
    KeySpec(
        "actions.codes",
        CODE_ACTIONS,
        "Per-finding-code overrides: an exact code or a "
        'prefix wildcard such as "name.*"; the exact code wins over a wildcard, the '
        "longer wildcard over a shorter one.",
        '{ "content.other_image_type" = "ignore", "name.*" = "quarantine" }',
    ),
    KeySpec(
        "folder_rules",
        FOLDER_RULES,
        "Rules for files under one folder: `path` plus any of "
        "`high`, `medium`, `low`, `info` and a `codes` table; the longest matching path "
        "wins, and its settings come before [actions].",
        '[{ path = "~/Scans", high = "flag" }]',
    ),
    KeySpec(
        "allowlist.sha256",
        SHA256_LIST,
        "SHA-256 of files that are never acted on (only logged): known-good files IT has checked.",
        '["e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]',
        max_items=MAX_ALLOWLIST_ITEMS,
    ),
    KeySpec(
        "vault.path",
        PATH,
        "Folder of quarantined files; empty: the vault inside the user's Photogate folder.",
        '"D:\\\\Photogate\\\\vault"',
    ),
    KeySpec(
        "vault.retention_days",
        INT,
        "Days a quarantined file is kept before `purge` deletes it.",
        "30",
        minimum=1,
        maximum=MAX_RETENTION_DAYS,
    ),
    KeySpec(
        "report.audit_log",
        PATH,
        "The JSON-lines audit log; empty: logs/events.jsonl in the user's Photogate folder.",
        '"/var/log/photogate/events.jsonl"',
    ),
    KeySpec(
        "report.max_log_mb",
        INT,
        "Megabytes per audit log file before it rotates.",
        "20",
        minimum=1,
        maximum=MAX_LOG_MB,
    ),
    KeySpec(
        "report.keep_logs",
        INT,
        "Rotated audit log files kept.",
        "5",
        minimum=1,
        maximum=MAX_KEEP_LOGS,
    ),
    KeySpec(
        "report.hash_file_names",
        BOOL,
        "Events that leave the machine (syslog, Windows Event Log) carry a salted hash "
        "instead of file names and paths (names may be patient data); the local audit log "
        "keeps the name beside the hash.",
        "false",
    ),
    KeySpec(
        "report.hash_local_file_names",
        BOOL,
        "Also replace file names and paths by their hash in the local audit log.",
        "true",
    ),
    KeySpec(
        "report.name_salt",
        STRING,
        "Salt for hashed names; empty: a random per-install "
        "salt. Set one fleet-wide to correlate names across PCs.",
        '"clinic-salt-2024"',
    ),
    KeySpec(
        "report.syslog",
        SYSLOG_URL,
        'Syslog target (RFC 5424): "" (none), "udp://host:514", "tcp://host:514", '
        '"tls://host:6514" (RFC 5425: the server certificate is verified) or '
        '"unix:///dev/log". TCP and TLS events are spooled to disk while the receiver is down.',
        '"tls://siem.clinic.lan:6514"',
    ),
    KeySpec(
        "report.syslog_facility",
        FACILITY,
        "Syslog facility: kern, user, mail, daemon, "
        "auth, syslog, lpr, news, uucp, cron, authpriv, ftp or local0 to local7.",
        '"local0"',
    ),
    KeySpec(
        "report.syslog_ca_file",
        PATH,
        "PEM file of the CA(s) that sign the tls:// syslog server's certificate; empty: "
        "the system's CAs.",
        '"/etc/photogate/siem-ca.pem"',
    ),
    KeySpec(
        "report.syslog_client_cert",
        PATH,
        "PEM client certificate presented to a tls:// syslog server that asks for one; "
        "empty: none.",
        '"/etc/photogate/client.pem"',
    ),
    KeySpec(
        "report.syslog_client_key",
        PATH,
        "Private key of report.syslog_client_cert; empty: the key is in that file.",
        '"/etc/photogate/client.key"',
    ),
    KeySpec(
        "report.windows_event_log",
        BOOL,
        "Also write events to the Windows Event Log (Windows only).",
        "true",
    ),
    KeySpec(
        "ui.notifications",
        BOOL,
        "Show a desktop notification for each quarantined or flagged file.",
        "true",
        user_settable=True,
    ),
    KeySpec("ui.allow_restore", BOOL, "Staff may restore a quarantined file.", "false"),
    KeySpec(
        "ui.allow_sanitized_copy",
        BOOL,
        "Staff may save a sanitized copy (pixels only) of a quarantined picture.",
        "true",
    ),
    KeySpec(
        "ui.thumbnails",
        BOOL,
        "The review window shows a small picture of the selected caught image, made only from"
        " a sanitized copy by the limited decoder (nothing else of the file is drawn).",
        "true",
    ),
    KeySpec("ui.allow_delete", BOOL, "Staff may delete a quarantined file.", "true"),
    KeySpec("ui.allow_pause", BOOL, "Staff may pause watching from the tray.", "true"),
    KeySpec("ui.allow_quit", BOOL, "Staff may quit the agent from the tray.", "false"),
    KeySpec(
        "ui.it_contact",
        STRING,
        "Who staff should ask, shown in notifications and the review window.",
        '"the IT help desk, ext. 4321"',
    ),
    KeySpec(
        "ui.it_groups",
        STRING_LIST,
        "Protected mode: OS groups whose members may see and act on every user's quarantined "
        "files (root/SYSTEM always may). Empty: sudo and wheel on Linux, admin on macOS, "
        "Administrators on Windows.",
        '["clinic-it"]',
    ),
    KeySpec(
        "locks.keys",
        KEY_LIST,
        "Keys user preferences may not change (machine policy and "
        'registry only); "section.*" locks a whole table.',
        '["ui.notifications", "watch.*"]',
    ),
)

SPECS: Mapping[str, KeySpec] = {spec.key: spec for spec in KEY_SPECS}
SECTIONS: tuple[str, ...] = tuple(dict.fromkeys(spec.section for spec in KEY_SPECS))
USER_SETTABLE_KEYS: tuple[str, ...] = tuple(s.key for s in KEY_SPECS if s.user_settable)

# Sections whose dataclass maps field-for-field onto the TOML table.
_PLAIN_SECTIONS: Mapping[str, type] = {
    "policy": PolicyInfo,
    "watch": WatchSettings,
    "inspect": InspectSettings,
    "vault": VaultSettings,
    "report": ReportSettings,
    "ui": UiSettings,
}
SEVERITY_KEYS = ("high", "medium", "low", "info")
FOLDER_RULE_KEYS = ("path", *SEVERITY_KEYS, "codes")

SECTION_DOCS: Mapping[str, str] = {
    "policy": (PolicyInfo.__doc__ or "").strip(),
    "watch": (WatchSettings.__doc__ or "").strip(),
    "inspect": (InspectSettings.__doc__ or "").strip(),
    "actions": (ActionSettings.__doc__ or "").strip(),
    "folder_rules": (FolderRule.__doc__ or "").strip(),
    "allowlist": "[allowlist]: files IT has checked and that are never acted on.",
    "vault": (VaultSettings.__doc__ or "").strip(),
    "report": (ReportSettings.__doc__ or "").strip(),
    "ui": (UiSettings.__doc__ or "").strip(),
    "locks": "[locks]: keys that user preferences may not change.",
}


def folder_rule_to_dict(rule: FolderRule) -> dict[str, Any]:
    """A folder rule in its TOML form (unset severities left out)."""
    result: dict[str, Any] = {"path": rule.path}
    for severity in SEVERITY_KEYS:
        action = getattr(rule, severity)
        if action is not None:
            result[severity] = action
    if rule.codes:
        result["codes"] = dict(rule.codes)
    return result


def to_flat(policy: Policy) -> dict[str, Any]:
    """Every key of `policy` in flat form: dotted key -> TOML-like value (lists, dicts)."""
    flat: dict[str, Any] = {}
    for section, _cls in _PLAIN_SECTIONS.items():
        settings = getattr(policy, section)
        for f in dataclasses.fields(settings):
            value = getattr(settings, f.name)
            flat[f"{section}.{f.name}"] = list(value) if isinstance(value, tuple) else value
    for severity in SEVERITY_KEYS:
        flat[f"actions.{severity}"] = getattr(policy.actions, severity)
    flat["actions.codes"] = dict(policy.actions.codes)
    flat["folder_rules"] = [folder_rule_to_dict(rule) for rule in policy.folder_rules]
    flat["allowlist.sha256"] = list(policy.allowlist_sha256)
    flat["locks.keys"] = sorted(policy.locked)
    return {key: flat[key] for key in SPECS}  # in table order


def from_flat(flat: Mapping[str, Any]) -> Policy:
    """Build a Policy from already-validated flat values; missing keys take their defaults."""
    values = {**to_flat(Policy()), **flat}
    sections: dict[str, Any] = {}
    for section, cls in _PLAIN_SECTIONS.items():
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            value = values[f"{section}.{f.name}"]
            kwargs[f.name] = tuple(value) if isinstance(value, list) else value
        sections[section] = cls(**kwargs)
    actions = ActionSettings(
        **{severity: values[f"actions.{severity}"] for severity in SEVERITY_KEYS},
        codes=tuple(values["actions.codes"].items()),
    )
    rules = tuple(
        FolderRule(
            path=rule["path"],
            **{severity: rule.get(severity) for severity in SEVERITY_KEYS},
            codes=tuple(rule.get("codes", {}).items()),
        )
        for rule in values["folder_rules"]
    )
    return Policy(
        actions=actions,
        folder_rules=rules,
        allowlist_sha256=tuple(values["allowlist.sha256"]),
        locked=frozenset(values["locks.keys"]),
        **sections,
    )


def is_locked(key: str, locked: frozenset[str] | set[str]) -> bool:
    """True when `key` is named in `locked`, directly or by its table's "section.*"."""
    return key in locked or f"{key.split('.', 1)[0]}.*" in locked
