"""Protected mode: one privileged `photogate service` per machine, front ends as its clients.

The same core as per-user mode (agent.service.loop.AgentService) runs with the machine's
state folder (`/var/lib/photogate`, `%ProgramData%\\Photogate`, `/Library/Application
Support/Photogate`, 0700 / SYSTEM+Administrators), the machine vault, the machine policy
only (no user preferences), and every local user's landing folders
(agent.service.machine). The local channel (agent.service.channel; a named pipe on
Windows) carries the clients' requests to agent.service.handlers, which decides per caller.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agent.errors import AgentError
from agent.policy.keeper import PolicyKeeper
from agent.policy.schema import Policy
from agent.service import protocol
from agent.service.api import Refused
from agent.service.authority import Caller, caller_from_ids, it_groups
from agent.service.handler_support import Refusal
from agent.service.handlers import Handlers
from agent.service.loop import AgentService
from agent.service.machine import MachineFolders
from agent.service.pipeline import Toolkit
from agent.vault.store import Vault

log = logging.getLogger("photogate.service.protected")

STATE_DIR_MODE = 0o700  # the vault, key, database and events: the service's alone
SERVICE_UMASK = 0o077  # what the service creates is its own unless it says otherwise


class ProtectedService:
    """The machine's service: core + channel. `run_forever()` until SIGTERM."""

    def __init__(
        self,
        keeper: PolicyKeeper,
        *,
        state_dir: Path,
        address: str,
        vault_root: Path | None = None,
        only_users: Sequence[str] | None = None,
        toolkit: Toolkit | None = None,
    ) -> None:
        self.keeper = keeper
        self.state_dir = Path(state_dir).absolute()
        self.address = address
        if sys.platform != "win32":
            os.umask(SERVICE_UMASK)
        self.state_dir.mkdir(mode=STATE_DIR_MODE, parents=True, exist_ok=True)
        if sys.platform != "win32":
            self.state_dir.chmod(STATE_DIR_MODE)  # an existing folder too: never readable by users
        self.machine = MachineFolders(only_users)
        self.core = AgentService(
            keeper,
            home=self.state_dir,
            toolkit=toolkit,
            pattern_source=self.machine.patterns,
            vault_root=vault_root or self.state_dir / "vault",
        )
        self.handlers = Handlers(self)
        self._stop = threading.Event()
        self._server: Any = None
        problems = self.vault.journal_problems
        if problems:  # reported once: the journal is cleared with them
            self.core.events.emit(
                "journal_lines_skipped",
                policy_version=self.policy.policy.version,
                count=len(problems),
                problem=problems[0],
            )

    @property
    def policy(self) -> Policy:
        """The machine policy in force."""
        return self.core.policy

    @property
    def vault(self) -> Vault:
        """The machine vault."""
        return self.core.toolkit.vault

    def dispatch(self, peer: tuple[int, int, int], message: dict[str, Any]) -> dict[str, Any]:
        """One request from the peer (pid, uid, gid) the OS identified -> one response."""
        pid, uid, gid = peer
        try:
            caller = caller_from_ids(uid, gid, pid, self.policy)
        except OSError as failure:
            return protocol.error(None, protocol.ERROR_REFUSED, f"unknown caller ({failure})")
        return self.answer(caller, message)

    def answer(self, caller: Caller, message: dict[str, Any]) -> dict[str, Any]:
        """One request from `caller` -> one response (the Windows pipe calls this directly)."""
        request_id = message.get("id") if isinstance(message.get("id"), int) else None
        op, args = message.get("op"), message.get("args", {})
        if not isinstance(op, str) or op not in protocol.OPS or not isinstance(args, dict):
            return protocol.error(request_id, protocol.ERROR_BAD_REQUEST, "unknown request")
        try:
            result = getattr(self.handlers, f"op_{op}")(caller, args)
        except (Refusal, Refused) as refusal:
            return protocol.error(request_id, protocol.ERROR_REFUSED, str(refusal))
        except protocol.ProtocolError as problem:
            return protocol.error(request_id, protocol.ERROR_BAD_REQUEST, str(problem))
        except AgentError as failure:
            return protocol.error(request_id, protocol.ERROR_FAILED, str(failure))
        except OSError as failure:
            return protocol.error(request_id, protocol.ERROR_FAILED, failure.strerror or "error")
        except Exception:  # a bug must not take the service down with it
            log.exception("request %s failed", op)
            return protocol.error(request_id, protocol.ERROR_FAILED, "internal error (logged)")
        return protocol.ok(request_id, result)

    def start(self) -> None:
        """Start the core (watching), then the channel."""
        self.core.start()
        if sys.platform == "win32":  # pragma: no cover - Windows only
            from agent.service.winpipe import PipeServer

            self._server = PipeServer(self.address, self.answer, lambda: it_groups(self.policy))
        else:
            from agent.service.channel import ChannelServer

            self._server = ChannelServer(Path(self.address), self.dispatch)
        self._server.start()

    def stop(self) -> None:
        """Stop the channel, then the core."""
        if self._server is not None:
            self._server.stop()
        self.core.stop()

    def request_stop(self) -> None:
        """Ask `run_forever` to return (signal handlers, the Windows service's SvcStop)."""
        self._stop.set()

    def run_forever(self) -> int:
        """Run until SIGTERM/SIGINT (the unit's stop, only root can send it); exit code."""

        def on_signal(signum: int, frame: object) -> None:
            del frame
            log.info("signal %d: stopping", signum)
            self._stop.set()

        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, on_signal)
            signal.signal(signal.SIGINT, on_signal)
        self.start()
        while not self._stop.wait(1.0):
            if self.core.died.is_set():
                log.error("the worker died; exiting so the service manager restarts us")
                self.stop()
                return 1
        self.stop()
        return 0
