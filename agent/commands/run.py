"""`photogate run`: start the agent (with the tray when a display is available).

`--headless` is the service mode: no tray, notifications go to the log. `--config FILE`
uses FILE as the machine policy; `--watch DIR` (repeatable) replaces the configured
folders. Logs go to <home>/logs/agent.log and to stderr.
"""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import sys
from pathlib import Path
from typing import Any

from agent import paths
from agent.errors import ConfigError, UsageError

AGENT_LOG_NAME = "agent.log"
AGENT_LOG_MAX_BYTES = 5 * 1024 * 1024  # bytes per agent.log before it rotates
AGENT_LOG_BACKUPS = 3  # rotated agent.log files kept

log = logging.getLogger("photogate.run")


def register(subparsers: Any) -> None:
    """Add the `run` subcommand."""
    parser = subparsers.add_parser(
        "run",
        help="start the agent: watch folders, quarantine or flag dangerous files",
        description="Start the Photogate agent. Only one agent runs per PHOTOGATE_HOME.",
    )
    parser.add_argument(
        "--headless", action="store_true", help="run without the tray icon (service mode)"
    )
    parser.add_argument(
        "--config", type=Path, metavar="FILE", help="use FILE as the machine policy"
    )
    parser.add_argument(
        "--watch",
        action="append",
        metavar="DIR",
        help="watch DIR instead of the configured folders (repeatable)",
    )
    parser.set_defaults(handler=_handle)


def setup_logging(log_dir: Path) -> None:
    """Agent log: a rotating file under the home, plus stderr."""
    from agent.service.logfiles import PrivateRotatingFileHandler, private_dir

    private_dir(log_dir)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    file_handler = PrivateRotatingFileHandler(
        log_dir / AGENT_LOG_NAME, max_bytes=AGENT_LOG_MAX_BYTES, backups=AGENT_LOG_BACKUPS
    )
    file_handler.setFormatter(formatter)
    logging.raiseExceptions = False  # a closed stderr (broken pipe) is not worth a traceback
    stderr_handler = logging.StreamHandler(sys.stderr)
    stderr_handler.setFormatter(formatter)
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    root.addHandler(file_handler)
    root.addHandler(stderr_handler)


def display_available() -> bool:
    """True when a tray icon could be shown (on Linux: a reachable X11 or Wayland display)."""
    from agent.ui.display import screen_problem

    return screen_problem() is None


def _handle(args: argparse.Namespace) -> int:
    from agent.policy.keeper import PolicyKeeper
    from agent.policy.registry import default_registry_source
    from agent.service.lock import AgentLock
    from agent.service.loop import AgentService

    machine_file: Path = args.config if args.config is not None else paths.machine_config_path()
    if args.config is not None and not args.config.is_file():
        raise UsageError(f"policy file not found: {args.config}")
    if not args.watch:
        from agent.service.client import protected_mode_installed

        if protected_mode_installed():
            return _run_as_client(args)
    from agent.service.logfiles import private_dir

    home = paths.home()
    private_dir(home)  # 0700: the state, logs and vault name patients' files
    lock = AgentLock(paths.runtime_dir())
    lock.acquire()  # AlreadyRunningError: the CLI prints its message
    try:
        setup_logging(paths.log_dir())
        # A copy of IT's last good machine policy: a restart on a broken push keeps enforcing
        # it instead of falling back to the built-in defaults.
        keeper = PolicyKeeper(
            machine_file,
            paths.user_config_path(),
            default_registry_source(),
            last_good_file=paths.last_good_policy_path(),
        )
        if args.config is not None and keeper.problem:
            raise ConfigError(list(keeper.problems))
        if keeper.problem:
            log.warning("%s", keeper.problem)
        service = AgentService(keeper, watch_override=args.watch, home=home)
        if not args.headless:
            from agent.ui.display import screen_problem

            problem = screen_problem()
            if problem is not None:
                log.info("no screen (%s): running headless", problem)
            else:
                try:
                    from agent.ui.tray import run_with_tray
                except ImportError as error:
                    log.info("tray unavailable (%s): running headless", error)
                else:
                    # The windows it opens read the same policy file as the agent.
                    return int(run_with_tray(service, policy_file=args.config))
        else:
            log.info("running headless")
        return service.run_forever()
    finally:
        lock.release()


def _run_as_client(args: argparse.Namespace) -> int:
    """Protected mode: the machine's service protects this account; start only the tray.

    A second, per-user watcher would race the service for the same files, so none starts.
    The tray talks to the service (agent.service.remote_agent); its Quit closes the tray.
    """
    from agent.service.client import open_backend
    from agent.service.remote_agent import RemoteAgent

    if args.headless:
        print(
            "photogate: protected mode is installed: the machine's Photogate service "
            "protects this account (see `photogate status`); no per-user agent is started"
        )
        return 0
    setup_logging(paths.log_dir())
    from agent.ui.display import screen_problem

    problem = screen_problem()
    if problem is not None:
        log.info("protected mode, no screen (%s): nothing to show", problem)
        return 0
    from agent.ui.tray import run_with_tray

    return int(run_with_tray(RemoteAgent(open_backend())))
