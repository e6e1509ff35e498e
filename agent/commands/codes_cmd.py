"""`photogate codes [--json]`: every finding code, its default severity, reason and policy key.

Read from the engine's registry (`agent.inspect.codes`), the same table `config check` uses
to reject unknown codes in `[actions.codes]`. Text output is one block per code; `--json`
prints one JSON object per line, like `photogate scan --json`.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from agent.errors import EXIT_OK
from agent.inspect import codes


def register(subparsers: Any) -> None:
    """Add the `codes` subcommand."""
    parser = subparsers.add_parser(
        "codes",
        help="list every finding code with its default severity and policy key",
        description="List the finding codes policy can name in [actions.codes].",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.set_defaults(handler=handle_codes)


def code_rows() -> list[dict[str, Any]]:
    """One row per concrete code, in registry order (families expanded per format)."""
    rows: list[dict[str, Any]] = []
    for spec in codes.CODE_SPECS:
        for code in spec.expand():
            rows.append(
                {
                    "code": code,
                    "family": spec.code if spec.is_family else None,
                    "severity": spec.severity.label,
                    "severity_note": spec.severity_note or None,
                    "reason": codes.plain_reason_for(code),
                    "meaning": spec.meaning,
                    "policy_key": f'actions.codes."{code}"',
                    "also_changed_by": list(spec.tuned_by),
                }
            )
    return rows


def handle_codes(args: argparse.Namespace) -> int:
    """Print the registry; exit 0."""
    rows = code_rows()
    if args.json:
        for row in rows:
            compact = {key: value for key, value in row.items() if value not in (None, [])}
            sys.stdout.write(json.dumps(compact, ensure_ascii=False) + "\n")
        return EXIT_OK
    for row in rows:
        severity = row["severity"] + (f" ({row['severity_note']})" if row["severity_note"] else "")
        print(row["code"])
        print(f"  default severity: {severity}")
        print(f"  reason:           {row['reason']}")
        keys = [row["policy_key"], *row["also_changed_by"]]
        print(f"  policy key:       {', '.join(keys)}")
    print(f'{len(rows)} codes; wildcards such as "name.*" match every code that starts so.')
    return EXIT_OK
