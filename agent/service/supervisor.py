"""A watchdog over the agent's own threads: a heartbeat per thread, restarts, a plain problem.

An exception that escapes a thread ends it silently: the process lives on, the tray still
says "watching", and no file is judged again (the issue-13 review killed the worker with
990 new folders and watchdog's inotify thread with a 1,000-deep chain). The supervisor
thread looks at each thread every SUPERVISE_SECONDS: a dead worker or watch thread is
restarted (the folders are swept again, since events were lost meanwhile) and shown as a
problem for RESTART_WINDOW_SECONDS; a thread that keeps dying (MAX_RESTARTS within the
window) is a fatal problem, for the tray and the service manager to act on. A worker
whose heartbeat is older than HEARTBEAT_STALE_SECONDS is reported as not answering.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("photogate.supervisor")

SUPERVISE_SECONDS = 1.0  # seconds between two looks at the threads
HEARTBEAT_STALE_SECONDS = 120.0  # seconds: a worker silent this long is stuck (one file's
# inspection is bounded by its time budget, 10 s by default; hashing and moving a file of
# the 2 GiB cap take tens of seconds on a slow disk)
MAX_RESTARTS = 5  # restarts of one thread within RESTART_WINDOW_SECONDS before it is fatal
RESTART_WINDOW_SECONDS = 300.0  # seconds a restart is remembered (and shown as a problem)


class Heartbeats:
    """The last time each named thread said it was alive (monotonic seconds). Thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}

    def beat(self, name: str) -> None:
        """`name` is alive now."""
        now = self._clock()
        with self._lock:
            self._last[name] = now

    def ages(self) -> dict[str, float]:
        """Seconds since each thread's last heartbeat."""
        now = self._clock()
        with self._lock:
            return {name: round(max(0.0, now - last), 3) for name, last in self._last.items()}


@dataclass
class Supervised:
    """One thread under supervision: how to tell it is dead and how to restart it."""

    name: str  # "worker", "observer"
    dead: Callable[[], str | None]  # None while alive, else why it is not
    restart: Callable[[], None]


class Supervisor:
    """Restarts dead threads and keeps the problems they leave for `status` and the tray."""

    def __init__(
        self,
        threads: list[Supervised],
        heartbeats: Heartbeats,
        stop: threading.Event,
        *,
        on_change: Callable[[], None],
        on_tick: Callable[[], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._threads = threads
        self._heartbeats = heartbeats
        self._stop = stop
        self._on_change = on_change
        self._on_tick = on_tick
        self._clock = clock
        self._restarts: dict[str, deque[float]] = {t.name: deque() for t in threads}
        self._problems: dict[str, str] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.fatal_problem: str | None = None

    def start(self) -> None:
        """Start the supervisor thread."""
        self._thread = threading.Thread(target=self._run, name="photogate-supervisor", daemon=True)
        self._thread.start()

    def join(self, timeout: float) -> None:
        """Wait for the supervisor thread to end (after the stop event)."""
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def problems(self) -> tuple[str, ...]:
        """Plain-words problems now (a restarted thread, a worker not answering)."""
        with self._lock:
            return tuple(self._problems[key] for key in sorted(self._problems))

    def _run(self) -> None:
        while not self._stop.wait(SUPERVISE_SECONDS):
            try:
                self.check_once()
                self._on_tick()
            except Exception as error:  # the supervisor itself must not die of a bad tick
                log.error("supervisor check failed: %s: %s", type(error).__name__, error)

    def check_once(self) -> None:
        """One look at every thread: restart the dead, age out old problems."""
        if self._stop.is_set() or self.fatal_problem is not None:
            return
        changed = False
        now = self._clock()
        for supervised in self._threads:
            restarts = self._restarts[supervised.name]
            while restarts and now - restarts[0] > RESTART_WINDOW_SECONDS:
                restarts.popleft()
            why = supervised.dead()
            if why is None:
                if supervised.name != "worker":  # the worker beats by itself, between files
                    self._heartbeats.beat(supervised.name)
                if not restarts:
                    changed |= self._clear(supervised.name)
                continue
            if len(restarts) >= MAX_RESTARTS:
                self.fatal_problem = (
                    f"protection stopped: {why}, {len(restarts)} times in"
                    f" {RESTART_WINDOW_SECONDS:.0f} s; restart Photogate"
                )
                log.error("%s", self.fatal_problem)
                changed = True
                break
            restarts.append(now)
            log.error("%s: restarting it", why)
            supervised.restart()
            changed |= self._set(supervised.name, f"{why} and was restarted")
        stale = self._heartbeats.ages().get("worker", 0.0)
        if stale > HEARTBEAT_STALE_SECONDS:
            changed |= self._set("worker-stuck", f"the worker has not answered for {stale:.0f} s")
        else:
            changed |= self._clear("worker-stuck")
        if changed:
            self._on_change()

    def _set(self, key: str, problem: str) -> bool:
        with self._lock:
            changed = self._problems.get(key) != problem
            self._problems[key] = problem
        return changed

    def _clear(self, key: str) -> bool:
        with self._lock:
            return self._problems.pop(key, None) is not None
