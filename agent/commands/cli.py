"""`photogate` command line: parses arguments and hands off to agent/commands/*.

Each subcommand module exposes `register(subparsers)`, which adds its parser and stores
its handler with `set_defaults(handler=...)`. A handler takes the parsed arguments and
returns the process exit code (0 clean/ok, 1 something found, 2 error).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable

from agent import __version__
from agent.errors import EXIT_ERROR, AgentError

SANITIZE_CHILD_COMMAND = "_sanitize-child"  # == agent.sanitize.child.SUBCOMMAND (a test checks)
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what `yes | head` reports for `yes`

# command -> module that registers it. Only the module of the command being run is
# imported: `photogate scan` should not pay for the tray, the vault or the watcher.
_COMMAND_MODULES: dict[str, str] = {
    "run": "agent.commands.run",
    "status": "agent.commands.status",
    "scan": "agent.commands.scan",
    "quarantine": "agent.commands.quarantine",
    "config": "agent.commands.config_cmd",
    "codes": "agent.commands.codes_cmd",
    "review": "agent.commands.review",
    "service": "agent.commands.service_cmd",
    "sanitize": "agent.commands.review",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser: every command, or only `command`'s when it is known."""
    parser = argparse.ArgumentParser(
        prog="photogate",
        description="Catch disguised and booby-trapped images before anyone opens them.",
    )
    parser.add_argument("--version", action="version", version=f"photogate {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    if command in _COMMAND_MODULES:
        modules = [_COMMAND_MODULES[command]]
    else:
        modules = list(dict.fromkeys(_COMMAND_MODULES.values()))
    for module_name in modules:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns its exit code. Errors meant for people are printed plainly."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    if arguments[:1] == [SANITIZE_CHILD_COMMAND]:
        # The frozen build's sanitizer child (agent/sanitize/parent.py): hidden from the
        # help, and dispatched before argparse so that nothing else is imported.
        from agent.sanitize import child

        return child.main()
    command = next((a for a in arguments if not a.startswith("-")), None)
    parser = build_parser(command)
    args = parser.parse_args(arguments)
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
    except BrokenPipeError:
        # The reader went away (`photogate quarantine list | head`): stop quietly. Point
        # stdout at /dev/null so the interpreter's final flush does not complain again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_BROKEN_PIPE
