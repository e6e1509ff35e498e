"""`photogate config` (placeholder until its owner lands the real command)."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: Any) -> None:
    """Add the `config` subcommand."""
    parser = subparsers.add_parser("config", help="(not available in this build yet)")
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    print("photogate: 'config' is not available in this build yet", file=sys.stderr)
    return 2
