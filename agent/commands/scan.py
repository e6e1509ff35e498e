"""`photogate scan [--json] PATH...`: inspect files on demand, like `clamscan`.

Exit codes: 0 everything clean, 1 something was flagged or would be quarantined,
2 a path could not be scanned at all (the others are still scanned). Files are only
ever opened read-only (and without touching their access time where permitted);
directories are walked recursively without following symbolic links.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from agent.errors import EXIT_ERROR, EXIT_FOUND, EXIT_OK
from agent.inspect.engine import inspect_path
from agent.model import Report, Verdict
from agent.textsafe import safe_path, safe_text

PROGRESS_MIN_FILES = 500  # files seen before a progress line appears (large trees only)
PROGRESS_INTERVAL_SECONDS = 0.5  # seconds between progress updates on a terminal
REASON_MAX_CHARS = 160  # characters of the first reason shown on a human-readable line


def register(subparsers: Any) -> None:
    """Add the `scan` subcommand to the `photogate` parser."""
    parser = subparsers.add_parser(
        "scan",
        help="inspect files or folders now and report what is dangerous",
        description="Inspect files (folders recursively) and report a verdict for each. "
        "Exit status: 0 all clean, 1 something found, 2 error.",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line per file")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="file or folder to inspect")
    parser.set_defaults(handler=run_scan)


def iter_files(root: str, on_error: Callable[[OSError], None]) -> Iterator[str]:
    """Every non-directory entry under `root` (itself when it is not a directory).

    Symbolic links to directories are not followed (they are yielded as entries and the
    engine reports them as not inspected); unreadable directories go to `on_error`.
    """
    # os.walk/os.scandir keep paths as str (undecodable bytes survive as surrogates).
    if not os.path.isdir(root) or os.path.islink(root):  # noqa: PTH112, PTH114
        yield root
        return
    for directory, subdirs, files in os.walk(root, onerror=on_error, followlinks=False):
        subdirs.sort()
        for name in sorted(files):
            yield os.path.join(directory, name)  # noqa: PTH118
        for name in subdirs:
            candidate = os.path.join(directory, name)  # noqa: PTH118
            if os.path.islink(candidate):  # noqa: PTH114
                yield candidate


def format_human(report: Report) -> str:
    """One line: verdict, the sanitized path, and the first (worst) reason."""
    line = f"{report.verdict.value.upper():<10} {safe_path(report.path)}"
    if report.findings and report.verdict is not Verdict.CLEAN:
        first = report.findings[0]
        reason = safe_text(first.message, REASON_MAX_CHARS)
        line += f"  [{first.code}] {reason}"
    elif report.type in ("symlink", "special"):
        line += "  (not inspected: not an ordinary file)"
    return line


def format_json(report: Report) -> str:
    """One JSON object (ASCII only, so bidi/control characters arrive escaped)."""
    return json.dumps(report.to_json(), ensure_ascii=True, separators=(",", ":"))


class _Progress:
    """A single updating line on stderr, only for large trees on a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._enabled = stream.isatty()
        self._last = 0.0
        self._shown = False

    def update(self, done: int, flagged: int) -> None:
        if not self._enabled or done < PROGRESS_MIN_FILES:
            return
        now = time.monotonic()
        if now - self._last < PROGRESS_INTERVAL_SECONDS:
            return
        self._last = now
        self._shown = True
        self._stream.write(f"\rscanned {done} files, {flagged} found")
        self._stream.flush()

    def finish(self) -> None:
        if self._shown:
            self._stream.write("\r\x1b[K")
            self._stream.flush()


def run_scan(args: argparse.Namespace) -> int:
    """Scan every PATH; print one line per file; return the exit code."""
    out: TextIO = sys.stdout
    err: TextIO = sys.stderr
    had_error = False
    found = 0
    done = 0
    progress = _Progress(err)

    def walk_error(error: OSError) -> None:
        nonlocal had_error
        had_error = True
        where = safe_text(str(error.filename or "?"))
        err.write(f"photogate scan: cannot read folder {where}: {error.strerror}\n")

    for root in args.paths:
        if not os.path.lexists(root):
            had_error = True
            err.write(f"photogate scan: no such file or folder: {safe_text(root)}\n")
            continue
        for path in iter_files(root, walk_error):
            report = inspect_path(path)
            done += 1
            if report.verdict is not Verdict.CLEAN:
                found += 1
            progress.update(done, found)
            out.write((format_json(report) if args.json else format_human(report)) + "\n")
    progress.finish()
    out.flush()
    if had_error:
        return EXIT_ERROR
    return EXIT_FOUND if found else EXIT_OK
