"""`photogate` command line: parses arguments and hands off to agent/commands/*.

Each subcommand module exposes `register(subparsers)`, which adds its parser and stores
its handler with `set_defaults(handler=...)`. A handler takes the parsed arguments and
returns the process exit code (0 clean/ok, 1 something found, 2 error).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from agent import __version__
from agent.commands import config_cmd, quarantine, review, run, scan, status
from agent.errors import EXIT_ERROR, AgentError

_COMMAND_MODULES = (run, status, scan, quarantine, config_cmd, review)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (also used by tests and the docs generator)."""
    parser = argparse.ArgumentParser(
        prog="photogate",
        description="Catch disguised and booby-trapped images before anyone opens them.",
    )
    parser.add_argument("--version", action="version", version=f"photogate {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns its exit code. Errors meant for people are printed plainly."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    try:
        return handler(args)
    except AgentError as error:
        print(f"photogate: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130
