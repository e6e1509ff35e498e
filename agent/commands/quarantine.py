"""`photogate quarantine list|show|restore|delete|purge`: the vault from the command line.

In per-user mode this opens the user's own vault; in protected mode every action is a
request to the machine's service, which decides by the caller's OS identity and policy
(staff: their own items within `[ui]`; IT: every item, `restore --to` a folder they own).
A restore releases the file: the agent will not catch that version at that path again
(agent.service.staffdb); every action is an audit event (agent.service.staff). Items staff
reported as false alarms are listed as "reported".
Names are printed through `safe_text`, so a file name cannot forge terminal output.
`--json` prints JSON lines, one object per item, like `photogate scan --json`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.errors import EXIT_OK
from agent.textsafe import safe_path, safe_text
from agent.vault.record import QuarantineItem

if TYPE_CHECKING:
    from agent.service.client import QuarantineBackend

SHORT_ID_CHARS = 12  # ids shown in the list; any unique prefix of 6+ characters is accepted
LIST_PATH_MAX_CHARS = 80  # long paths are cut in the middle in the human-readable list


def register(subparsers: Any) -> None:
    """Add the `quarantine` subcommand and its actions."""
    parser = subparsers.add_parser(
        "quarantine",
        help="list, show, restore, delete or purge quarantined files",
        description="Manage the files Photogate moved into its vault.",
    )
    parser.add_argument(
        "--config", type=Path, metavar="FILE", help="machine policy file (default: per OS)"
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="list quarantined files")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(handler=_list)

    show = actions.add_parser("show", help="show one item's record")
    show.add_argument("id", help="item id (or a unique prefix of 6+ characters)")
    show.add_argument("--json", action="store_true", help="print the record as JSON")
    show.set_defaults(handler=_show)

    restore = actions.add_parser("restore", help="put a file back (never overwrites)")
    restore.add_argument("id", help="item id (or a unique prefix of 6+ characters)")
    restore.add_argument("--to", type=Path, metavar="PATH", help="folder or file path")
    restore.set_defaults(handler=_restore)

    delete = actions.add_parser("delete", help="delete a quarantined file for good")
    delete.add_argument("id", help="item id (or a unique prefix of 6+ characters)")
    delete.set_defaults(handler=_delete)

    purge = actions.add_parser("purge", help="delete items older than the retention period")
    purge.add_argument(
        "--older-than",
        type=float,
        metavar="DAYS",
        help="age in days (default: the policy's vault.retention_days)",
    )
    purge.set_defaults(handler=_purge)


def _backend(args: argparse.Namespace) -> QuarantineBackend:
    """The service in protected mode (it decides what this caller may do), else the vault."""
    from agent.service.client import open_backend

    backend = open_backend(args.config)
    notice = getattr(backend, "policy_notice", None)  # per-user mode on a broken push
    if notice:
        print(f"photogate: note: {safe_text(notice)}", file=sys.stderr)
    return backend


def _print_json(data: dict[str, Any]) -> None:
    print(json.dumps(data, ensure_ascii=True, sort_keys=True))


def _warn_damaged(backend: QuarantineBackend) -> None:
    for _item_id, problem in backend.damaged():
        print(f"photogate: warning: {problem}", file=sys.stderr)


def _reported_ids(backend: QuarantineBackend) -> set[str]:
    """Ids of items staff reported as false alarms (what this backend can tell)."""
    reported = getattr(backend, "reported", None)  # both backends have it; a stub may not
    if reported is None:
        return set()
    return {report.item_id for report in reported().values() if report.item_id}


def _list(args: argparse.Namespace) -> int:
    backend = _backend(args)
    items = backend.items()
    reported = _reported_ids(backend)
    if args.json:
        for item in items:
            _print_json({**item.to_json(), "reported": item.id in reported})
    elif not items:
        print("The quarantine is empty.")
    else:
        print(f"{'ID':<{SHORT_ID_CHARS}}  {'QUARANTINED (UTC)':<20}  {'SIZE':>10}  NOTE      FILE")
        for item in items:
            when = item.to_json()["quarantined_at"][:19].replace("T", " ")
            where = safe_text(item.original_path, LIST_PATH_MAX_CHARS)
            note = "reported" if item.id in reported else ""
            print(f"{item.id[:SHORT_ID_CHARS]}  {when:<20}  {item.size:>10}  {note:<8}  {where}")
    _warn_damaged(backend)
    return EXIT_OK


def _show(args: argparse.Namespace) -> int:
    item = _backend(args).get(args.id)
    if args.json:
        _print_json(item.to_json())
    else:
        print(_describe(item))
    return EXIT_OK


def _describe(item: QuarantineItem) -> str:
    data = item.to_json()
    lines = [
        f"id:             {item.id}",
        f"original path:  {safe_path(item.original_path)}",
        f"size:           {item.size} bytes",
        f"sha256:         {item.sha256}",
        f"type:           {safe_text(item.detected_type)}",
        f"quarantined at: {data['quarantined_at']}",
        f"modified at:    {data['mtime']}",
        f"user:           {safe_text(item.user)}",
        f"policy:         {safe_text(item.policy_version)}",
        "findings:" if item.findings else "findings:       none",
    ]
    for finding in item.findings:
        lines.append(
            f"  [{finding.severity.label}] {safe_text(finding.code)}: {safe_text(finding.message)}"
        )
    return "\n".join(lines)


def _restore(args: argparse.Namespace) -> int:
    backend = _backend(args)
    item_id = backend.get(args.id).id
    restored = backend.restore(item_id, args.to)
    outcome = getattr(backend, "last_restore", None)  # what the restore and release did
    if outcome is not None:
        print(f"Restored {item_id}. {outcome.message()}")
    else:
        print(f"Restored {item_id}. Put back as {safe_path(restored)}.")
    return EXIT_OK


def _delete(args: argparse.Namespace) -> int:
    backend = _backend(args)
    item_id = backend.get(args.id).id
    backend.delete(item_id)
    print(f"Deleted {item_id}")
    return EXIT_OK


def _purge(args: argparse.Namespace) -> int:
    backend = _backend(args)
    days, purged = backend.purge(args.older_than)
    print(f"Purged {len(purged)} item(s) quarantined more than {days:g} days ago")
    for item_id in purged:
        print(f"  {item_id}")
    return EXIT_OK
