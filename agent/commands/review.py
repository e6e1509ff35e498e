"""`photogate review` (the review window) and `photogate sanitize FILE` (a safe copy).

`review` opens the window in this process; the tray starts it as a subprocess so the
window never shares a process with the tray icon (macOS forbids both on one main loop).
`review --scan-file` is the tray's "Scan a file…": a file chooser and the verdict.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from agent import paths
from agent.errors import EXIT_ERROR, EXIT_OK, UsageError
from agent.textsafe import safe_path


def register(subparsers: Any) -> None:
    """Add the `review` and `sanitize` subcommands."""
    review = subparsers.add_parser(
        "review",
        help="open the window listing quarantined and flagged files",
        description="Open the review window: what was caught, why, and what you may do.",
    )
    review.add_argument(
        "--policy",
        type=Path,
        metavar="FILE",
        help="machine policy file to read instead of the installed one",
    )
    review.add_argument(
        "--scan-file", action="store_true", help="choose a file and check it now (no window list)"
    )
    review.add_argument(
        "--item", metavar="ID", help="select this item (a notification was clicked)"
    )
    review.set_defaults(handler=_handle_review)

    sanitize = subparsers.add_parser(
        "sanitize",
        help="save a safe copy of a picture: only its pixels, nothing hidden",
        description="Decode FILE in a limited subprocess and write a fresh file with only its "
        "pixels, upright and in sRGB: a JPEG for photos (JPEG, HEIC, AVIF, lossy WebP), else "
        "a PNG (--out FILE.jpg/.png chooses). Exit 0 on success, 2 when no copy could be made.",
    )
    sanitize.add_argument("file", type=Path, metavar="FILE")
    sanitize.add_argument(
        "--out", type=Path, metavar="PATH", help="where to write (default: beside FILE)"
    )
    sanitize.set_defaults(handler=_handle_sanitize)


def _load_policy(machine_file: Path | None) -> Any:
    """The policy the agent enforces: a broken push (or preferences file) leaves IT's last
    good policy in force, so staff can still open the review window."""
    from agent.policy.keeper import PolicyKeeper

    keeper = PolicyKeeper(
        machine_file or paths.machine_config_path(),
        paths.user_config_path(),
        last_good_file=paths.last_good_policy_path(),
    )
    return keeper.current.policy


NO_SCREEN_MESSAGE = (
    "There is no screen to show the review window on ({problem}); "
    "use `photogate quarantine list` instead."
)


def _handle_review(args: argparse.Namespace) -> int:
    from agent.ui.display import screen_problem

    problem = screen_problem()
    if problem is not None:
        print(f"photogate: {NO_SCREEN_MESSAGE.format(problem=problem)}", file=sys.stderr)
        return EXIT_ERROR
    if args.scan_file:
        from agent.ui.review import run_scan_dialog

        return run_scan_dialog(_scan_verdict)
    from agent.service.client import open_backend
    from agent.service.staff import VIA_REVIEW
    from agent.ui.review import run_review_window
    from agent.ui.review_model import Permissions

    backend = open_backend(args.policy, via=VIA_REVIEW)
    try:
        permissions = Permissions.from_rights(backend.rights())
        policy = getattr(backend, "policy", None)  # per-user: the policy's [ui] is here
        if policy is not None and policy.ui.thumbnails:
            permissions = dataclasses.replace(permissions, thumbnails=True)
        return run_review_window(backend, permissions, select_item=args.item)
    finally:
        backend.close()


def _scan_verdict(path: Path) -> tuple[str, str]:
    """(headline, reason) for "Scan a file…", in plain words."""
    from agent.inspect.engine import inspect_path
    from agent.inspect.reasons import plain_summary
    from agent.model import Verdict
    from agent.textsafe import safe_name

    report = inspect_path(str(path))
    name = safe_name(path, 80)
    if report.verdict is Verdict.CLEAN:
        return f"{name} looks safe.", "Photogate found nothing dangerous in it."
    headline = (
        f"{name} is dangerous: do not open it."
        if report.verdict is Verdict.QUARANTINE
        else f"{name} looks suspicious: ask IT before opening it."
    )
    return headline, plain_summary(report.findings, report.type, path.name)


def _handle_sanitize(args: argparse.Namespace) -> int:
    from agent.sanitize.parent import SanitizeError, sanitize_file, sanitize_to_folder

    source: Path = args.file
    if not source.is_file():
        raise UsageError(f"{safe_path(str(source))} is not a file")
    out: Path | None = args.out
    try:
        if out is None or out.is_dir():
            # The format follows the source: a photo stays a JPEG, a graphic becomes a PNG.
            folder = source.parent if out is None else out
            result = sanitize_to_folder(source, folder, source.name)
        else:
            result = sanitize_file(source, out)
    except SanitizeError as error:
        print(f"photogate: {error}", file=sys.stderr)
        return EXIT_ERROR
    print(f"{safe_path(str(result.path))} ({result.width}x{result.height} {result.format})")
    return EXIT_OK
