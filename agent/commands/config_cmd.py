"""`photogate config check FILE` and `photogate config show [--json] [--config FILE]`.

check: exit 0 and "ok", or exit 1 with every problem as `FILE:LINE: key: what is wrong`
(exit 2 when FILE does not exist). show: every effective value and the layer it came from,
computed the way the running agent computes it (an invalid layer is left out and its problems
are listed; exit 1 then).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from agent import paths
from agent.errors import EXIT_FOUND, EXIT_OK, UsageError
from agent.policy import keys as ck
from agent.policy.docs import toml_value
from agent.policy.keeper import PolicyKeeper
from agent.policy.layers import check_file, load_policy
from agent.policy.registry import (
    FileRegistryPolicySource,
    RegistryPolicySource,
    default_registry_source,
)

SHOW_VALUE_COLUMNS = 60  # characters: values are padded to this before the "# source" column


def register(subparsers: Any) -> None:
    """Add the `config` subcommand with `check` and `show`."""
    parser = subparsers.add_parser("config", help="check or show the policy")
    actions = parser.add_subparsers(dest="config_command", metavar="ACTION", required=True)

    check = actions.add_parser("check", help="validate a policy file before pushing it")
    check.add_argument("file", type=Path, metavar="FILE")
    check.add_argument("--user", action="store_true", help="check FILE as a user preferences file")
    check.set_defaults(handler=handle_check)

    show = actions.add_parser("show", help="every effective value and where it came from")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.add_argument("--config", type=Path, metavar="FILE", help="use FILE as the machine policy")
    # A JSON file standing in for HKLM\SOFTWARE\Policies\Photogate (tests, previews).
    show.add_argument("--registry-file", type=Path, help=argparse.SUPPRESS)
    show.set_defaults(handler=handle_show)


def handle_check(args: argparse.Namespace) -> int:
    """Print "ok" with the policy's version, or every problem; exit 0 or 1."""
    path: Path = args.file
    if not os.path.lexists(path):
        raise UsageError(f"no such file: {path}")
    # Anything else (a FIFO, a device, a link for --user, an empty file) is a problem in the
    # policy, reported like the others by the same bounded reader the agent uses.
    problems = check_file(path, user=args.user)
    if problems:
        for problem in problems:
            print(problem)
        return EXIT_FOUND
    if args.user:
        print("ok: user preferences")
    else:
        policy = load_policy(machine_file=path).policy
        print(f"ok: policy {policy.policy.version!r} ({policy.policy.name})")
    return EXIT_OK


def _registry(args: argparse.Namespace) -> RegistryPolicySource | None:
    if args.registry_file is not None:
        return FileRegistryPolicySource(args.registry_file)
    return default_registry_source()


def handle_show(args: argparse.Namespace) -> int:
    """Print every key's effective value, its layer and whether it is locked."""
    machine_file: Path = args.config if args.config is not None else paths.machine_config_path()
    if args.config is not None and not machine_file.is_file():
        raise UsageError(f"no such file: {machine_file}")
    keeper = PolicyKeeper(machine_file, paths.user_config_path(), _registry(args))
    loaded = keeper.current
    flat = ck.to_flat(loaded.policy)
    locked = loaded.policy.locked
    if args.json:
        document = {
            "version": loaded.policy.policy.version,
            "name": loaded.policy.policy.name,
            "fingerprint": loaded.fingerprint,
            "keys": {
                key: {
                    "value": value,
                    "source": loaded.sources.get(key, "built-in"),
                    "locked": ck.is_locked(key, locked),
                }
                for key, value in flat.items()
            },
            "notes": list(loaded.notes),
            "problems": list(keeper.problems),
        }
        json.dump(document, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        _print_text(loaded.policy.policy.version, loaded.fingerprint, flat, loaded.sources, locked)
        for note in loaded.notes:
            print(f"note: {note}")
        for problem in keeper.problems:
            print(f"problem: {problem}")
    return EXIT_FOUND if keeper.problems else EXIT_OK


def _print_text(
    version: str,
    fingerprint: str,
    flat: dict[str, Any],
    sources: Any,
    locked: frozenset[str],
) -> None:
    print(f"policy {version!r}, fingerprint {fingerprint}")
    rows = [(f"{key} = {toml_value(value)}", key) for key, value in flat.items()]
    width = min(max(len(text) for text, _key in rows), SHOW_VALUE_COLUMNS)
    for text, key in rows:
        lock = ", locked" if ck.is_locked(key, locked) else ""
        print(f"{text.ljust(width)}  # {sources.get(key, 'built-in')}{lock}")
