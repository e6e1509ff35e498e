"""`photogate status` (placeholder until its owner lands the real command)."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: Any) -> None:
    """Add the `status` subcommand."""
    parser = subparsers.add_parser("status", help="(not available in this build yet)")
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    print("photogate: 'status' is not available in this build yet", file=sys.stderr)
    return 2
