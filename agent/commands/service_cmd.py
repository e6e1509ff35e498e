"""`photogate service [run|migrate]`: protected mode's machine-wide service.

`run` (the default) is what the systemd system unit, the Windows service and the
LaunchDaemon start, as root/LocalSystem: it watches every local user's landing folders,
owns the machine policy, vault, state and events, and answers the tray, the review window
and the `quarantine`/`status` commands over the local channel. `migrate` moves existing
per-user vaults into the machine vault (the installer runs it once).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from agent import paths
from agent.errors import EXIT_OK, ConfigError, UsageError
from agent.textsafe import safe_path, safe_text

# platformdirs' per-account data dir, below the account's home/profile folder
PER_USER_VAULT = (
    Path("AppData/Local/Photogate/vault")
    if sys.platform == "win32"
    else Path(".local/share/Photogate/vault")
)


def register(subparsers: Any) -> None:
    """Add the `service` subcommand."""
    parser = subparsers.add_parser(
        "service",
        help="protected mode: the machine-wide service (run by systemd/Windows/launchd)",
        description="Run Photogate's machine-wide service (as root), or migrate per-user "
        "vaults into the machine vault.",
    )
    parser.add_argument("action", nargs="?", choices=("run", "migrate"), default="run")
    parser.add_argument("--config", type=Path, metavar="FILE", help="machine policy file")
    parser.add_argument(
        "--state-dir", type=Path, metavar="DIR", help="machine state (default: per OS)"
    )
    parser.add_argument("--socket", metavar="PATH", help="where clients connect (default: per OS)")
    parser.add_argument(
        "--user",
        action="append",
        metavar="NAME",
        help="only these local accounts (repeatable; default: every login account)",
    )
    parser.set_defaults(handler=_handle)


def _require_privileges() -> None:
    if sys.platform != "win32" and os.geteuid() != 0:
        raise UsageError(
            "photogate service runs as root (its systemd unit does this); "
            "for per-user mode, run `photogate run`"
        )


def _keeper(args: argparse.Namespace, state_dir: Path) -> Any:
    from agent.policy.keeper import PolicyKeeper
    from agent.policy.registry import default_registry_source

    machine_file: Path = args.config or paths.machine_config_path()
    if args.config is not None and not args.config.is_file():
        raise UsageError(f"policy file not found: {args.config}")
    # No user preferences in protected mode: the machine policy is the whole policy.
    keeper = PolicyKeeper(
        machine_file,
        None,
        default_registry_source(),
        last_good_file=state_dir / "last-good-policy.toml",
    )
    if args.config is not None and keeper.problem:
        raise ConfigError(list(keeper.problems))
    return keeper


def _handle(args: argparse.Namespace) -> int:
    _require_privileges()
    if sys.platform != "win32":
        os.umask(0o077)  # logs, state, vault: the service's alone unless it says otherwise
    state_dir: Path = args.state_dir or paths.machine_state_dir()
    if args.action == "migrate":
        return _migrate(args, state_dir)
    if sys.platform == "win32":  # pragma: no cover - the SCM starts `photogate.exe service run`
        from agent.commands.winservice import main as windows_service

        return windows_service([sys.argv[0]])
    from agent.commands.run import setup_logging
    from agent.service.client import service_address
    from agent.service.lock import AgentLock
    from agent.service.protected import ProtectedService

    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    lock = AgentLock(state_dir / "run")
    lock.acquire()  # one service per state folder
    try:
        setup_logging(state_dir / "logs")
        keeper = _keeper(args, state_dir)
        vault_root = (
            paths.machine_vault_dir(keeper.current.policy.vault.path)
            if keeper.current.policy.vault.path
            else state_dir / "vault"
        )
        service = ProtectedService(
            keeper,
            state_dir=state_dir,
            address=args.socket or service_address(),
            vault_root=vault_root,
            only_users=args.user,
        )
        return service.run_forever()
    finally:
        lock.release()


def _migrate(args: argparse.Namespace, state_dir: Path) -> int:
    """Move every per-user vault found into the machine vault; prints one line each."""
    from agent.service.machine import is_account_folder, local_users
    from agent.vault.store import Vault

    keeper = _keeper(args, state_dir)
    policy = keeper.current.policy
    target_root = (
        paths.machine_vault_dir(policy.vault.path) if policy.vault.path else state_dir / "vault"
    )
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = Vault(target_root)
    moved = 0
    for user in local_users(args.user):
        candidates = [user.home / PER_USER_VAULT]
        if policy.vault.path:
            candidates.append(paths.machine_vault_dir(policy.vault.path) / user.name)
        for folder in candidates:
            if folder == target_root or not (folder / "vault.key").is_file():
                continue
            if not is_account_folder(folder, user):
                print(
                    f"  skipped {safe_path(folder)}: not a folder of that account", file=sys.stderr
                )
                continue
            moved += _migrate_one(folder, user, target, Vault)
    print(f"Migrated {moved} item(s) into {safe_path(target_root)}")
    return EXIT_OK


def _migrate_one(folder: Path, user: Any, target: Any, vault_class: Any) -> int:
    """Adopt every item of the per-user vault in `folder`, owned by `user` (a LocalUser)."""
    try:
        source = vault_class(folder)
    except Exception as error:  # one broken vault must not stop the others
        print(f"  skipped {safe_path(folder)}: {safe_text(str(error))}", file=sys.stderr)
        return 0
    count = 0
    for item in source.items():
        try:
            adopted = target.adopt(item, source, user.uid, user.sid)
            if adopted is not None:
                count += 1
            source.delete(item.id)
        except Exception as error:
            print(f"  item {item.id} left in {safe_path(folder)}: {error}", file=sys.stderr)
    print(f"  {safe_path(folder)}: {count} item(s)")
    return count
