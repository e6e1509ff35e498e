"""The tray's view of the protected service: what an in-process AgentService offers, remotely.

In protected mode the tray runs in the user's session as a client (`photogate run` finds
the service and does not start a second watcher). `RemoteAgent` gives the tray the same
methods it calls on an AgentService (snapshot, pause, resume, listeners, notifications),
carried over a `QuarantineBackend`: state is polled every POLL_SECONDS, a new item of this
user's becomes a notification, pause is a request the service may refuse, and `stop`
ends only the polling: the tray's Quit closes the tray, never the protection.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from agent.inspect.reasons import plain_summary
from agent.service.api import BackendError, QuarantineBackend
from agent.service.state import AgentState
from agent.textsafe import safe_name

log = logging.getLogger("photogate.service.remote_agent")

POLL_SECONDS = 2.0  # how often the tray asks the service for news
NOTIFY_NAME_CHARS = 60  # characters of a file name in a notification


class RemoteAgent:
    """AgentService-shaped client of the protected service, for the tray."""

    def __init__(self, backend: QuarantineBackend) -> None:
        self.backend = backend
        self._listeners: list[Callable[[AgentState], None]] = []
        self._notifier: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._known: set[str] | None = None  # item ids seen; None until the first poll
        self._last: AgentState | None = None

    def snapshot(self) -> AgentState:
        """The service's state as this user sees it (a stale one while it does not answer)."""
        try:
            self._last = self.backend.snapshot()
        except BackendError as problem:
            log.warning("service not answering: %s", problem)
            if self._last is None:
                return AgentState(version="unknown", running=False, allow_quit=True)
            return AgentState(
                **{**self._last.__dict__, "running": False, "policy_problem": str(problem)}
            )
        return self._last

    def pause(self, seconds: float) -> None:
        """Ask the service to pause; a refusal is logged (and on record at the service)."""
        try:
            self.backend.pause(seconds)
        except BackendError as refusal:
            log.warning("pause refused: %s", refusal)
        self._publish()

    def resume(self) -> None:
        """Ask the service to resume."""
        try:
            self.backend.resume()
        except BackendError as problem:
            log.warning("resume failed: %s", problem)
        self._publish()

    def add_listener(self, callback: Callable[[AgentState], None]) -> None:
        """Call `callback(state)` after every poll that found a change."""
        self._listeners.append(callback)

    def set_notifier(self, notifier: Any) -> None:
        """Where new items of this user are announced."""
        self._notifier = notifier

    def mark_reviewed(self) -> None:
        """This user opened the review window."""
        try:
            self.backend.mark_reviewed()
        except BackendError as problem:
            log.warning("mark reviewed failed: %s", problem)

    def record_quit(self, via: str = "tray") -> None:
        """Quit closes the tray only; the service keeps protecting (nothing to record)."""
        del via

    def start(self) -> None:
        """Start polling."""
        self._thread = threading.Thread(target=self._poll, name="photogate-poll", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling and close the connection; the service is untouched."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=POLL_SECONDS * 2)
        self.backend.close()

    def _publish(self) -> None:
        state = self.snapshot()
        for listener in list(self._listeners):
            try:
                listener(state)
            except Exception:
                log.exception("state listener failed")

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._announce_new_items()
            self._publish()
            self._stop.wait(POLL_SECONDS)

    def _announce_new_items(self) -> None:
        try:
            items = self.backend.items()
        except BackendError:
            return
        ids = {item.id for item in items}
        fresh = [] if self._known is None else [i for i in items if i.id not in self._known]
        self._known = ids
        if self._notifier is None:
            return
        for item in fresh:
            name = safe_name(item.name, NOTIFY_NAME_CHARS)
            reason = plain_summary(item.findings, item.detected_type, item.name)
            try:
                self._notifier.notify(f"{name} was quarantined", reason, item_id=item.id)
            except Exception:
                log.exception("notification failed")
