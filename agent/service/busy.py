"""Files another program still holds: looked at again later, with backoff, never given up.

On Windows a browser, Outlook, the Photos app or the antivirus may hold a just-finished
file; our exclusive-open probe or the quarantine's open then fails with a sharing
violation (`agent.platform.is_in_use`). That means "not complete yet": the file is judged
again after a delay that doubles up to a cap, so a file held all day costs two looks a
minute, and a verdict is never recorded for a version we could not act on.
"""

from __future__ import annotations

import threading

IN_USE_FIRST_RETRY_SECONDS = 0.5  # seconds before the first look again
IN_USE_MAX_RETRY_SECONDS = 30.0  # the backoff stops growing here
MAX_BUSY_PATHS = 10_000  # paths remembered; past this the counts start over (bounded memory)


class BusyFiles:
    """How often each path was found in use; thread-safe."""

    def __init__(
        self,
        first: float = IN_USE_FIRST_RETRY_SECONDS,
        cap: float = IN_USE_MAX_RETRY_SECONDS,
    ) -> None:
        self._first = first
        self._cap = cap
        self._attempts: dict[str, int] = {}
        self._lock = threading.Lock()

    def found_in_use(self, path: str) -> int:
        """Count one more time `path` was in use; returns how many times so far."""
        with self._lock:
            if path not in self._attempts and len(self._attempts) >= MAX_BUSY_PATHS:
                self._attempts.clear()
            self._attempts[path] = self._attempts.get(path, 0) + 1
            return self._attempts[path]

    def retry_delay(self, path: str) -> float:
        """Seconds to wait before looking at `path` again: first, 2*first, ... up to cap."""
        with self._lock:
            attempts = self._attempts.get(path, 1)
        return float(min(self._cap, self._first * 2 ** max(0, attempts - 1)))

    def done(self, path: str) -> None:
        """`path` was judged (or is gone): forget its count."""
        with self._lock:
            self._attempts.pop(path, None)

    def attempts(self, path: str) -> int:
        """Times `path` was found in use since it was last judged."""
        with self._lock:
            return self._attempts.get(path, 0)
