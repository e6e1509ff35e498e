"""Run the engine and the agent with the Unix-only attributes removed (as on Windows).

Started by tests/test_platform_portable.py as `python -m tests.no_unix_agent WORKDIR`, so
the removals never leak into the pytest process. Prints one JSON line with what happened.

What a Windows CPython 3.11 lacks (Python docs, "Availability: Unix"): os.pread/pwrite/
preadv/pwritev, the xattr calls, os.set_blocking/get_blocking, os.posix_fadvise/fallocate,
O_NOFOLLOW/O_NONBLOCK/O_DIRECTORY/O_CLOEXEC/O_NOATIME, dir_fd support,
mmap's MADV_* advice, and the modules `resource` and `fcntl`. os.getuid & co. stay: the
agent uses them only behind `sys.platform` checks, whose Windows side this Linux run cannot
take; `mypy --platform win32 agent` checks that side.
"""

from __future__ import annotations

import fcntl
import json
import mmap
import os
import sys
from pathlib import Path

UNIX_ONLY_OS = (
    "pread", "pwrite", "preadv", "pwritev", "setxattr", "getxattr", "listxattr",
    "removexattr", "set_blocking", "get_blocking", "posix_fadvise", "posix_fallocate",
    "O_NOFOLLOW", "O_NONBLOCK", "O_DIRECTORY",
    "O_CLOEXEC", "O_NOATIME", "sendfile",
)  # fmt: skip
_flock = fcntl.flock  # the stand-in for msvcrt.locking, taken before fcntl disappears
_LOCK_EX, _LOCK_NB, _LOCK_UN = fcntl.LOCK_EX, fcntl.LOCK_NB, fcntl.LOCK_UN


def remove_unix_only() -> list[str]:
    """Delete the attributes and block the modules; returns what was removed."""
    removed = []
    for name in UNIX_ONLY_OS:
        if hasattr(os, name):
            delattr(os, name)
            removed.append(f"os.{name}")
    for name in [n for n in dir(mmap) if n.startswith("MADV_")]:
        delattr(mmap, name)
        removed.append(f"mmap.{name}")
    os.supports_dir_fd = set()  # Windows: no dir_fd anywhere
    for module in ("resource", "fcntl"):
        sys.modules[module] = None  # type: ignore[assignment]  # import now fails
        removed.append(module)
    return removed


def main(workdir: Path) -> int:
    """Engine on a trapped file, then the real agent on a real folder and vault."""
    # Third-party modules pick their Linux backends at import (platformdirs' unix module
    # calls os.getuid, watchdog's inotify): on Windows they pick their Windows ones. Only
    # the agent's own code has to live without the Unix-only attributes.
    import platformdirs  # noqa: F401
    import watchdog.observers  # noqa: F401
    from PIL import Image  # noqa: F401

    # agent.platform is the one place allowed OS-specific modules: importing it selects
    # this OS's implementation (whose modules use fcntl & co.), which is then swapped for
    # the portable one. Every other agent module is imported after the removal.
    from agent import platform

    removed = remove_unix_only()

    class WindowsLikeOnLinux(platform.PortablePlatform):
        """portable.py as Windows runs it; only the lock is a Linux stand-in for msvcrt."""

        name = "windows-like"

        def lock_fd(self, fd: int, *, blocking: bool) -> bool:
            try:
                _flock(fd, _LOCK_EX | (0 if blocking else _LOCK_NB))
            except BlockingIOError:
                return False
            return True

        def unlock_fd(self, fd: int) -> None:
            _flock(fd, _LOCK_UN)

    platform.use(WindowsLikeOnLinux())
    from agent.inspect.engine import inspect_path
    from agent.policy.keeper import PolicyKeeper
    from agent.service.loop import AgentService
    from agent.vault.store import Vault
    from tests.agent_harness import make_jpeg, make_jpeg_with_zip, read_events, wait_for

    downloads = workdir / "Downloads"
    downloads.mkdir()
    probe = workdir / "probe.jpg"
    probe.write_bytes(make_jpeg_with_zip(41))
    engine_codes = [f.code for f in inspect_path(probe).findings]

    config = workdir / "config.toml"
    config.write_text(
        '[policy]\nversion = "no-unix"\n\n[watch]\nuse_default_folders = false\n'
        "settle_seconds = 0.3\nsweep_interval_seconds = 300.0\n",
        encoding="utf-8",
    )
    home = workdir / "home"
    keeper = PolicyKeeper(config, home / "preferences.toml")
    service = AgentService(keeper, watch_override=[str(downloads)], home=home)
    service.start()
    try:
        bad, good = downloads / "invoice.jpg", downloads / "holiday.jpg"
        good.write_bytes(make_jpeg(42))
        bad.write_bytes(make_jpeg_with_zip(43))

        def verdict(path: Path) -> dict[str, object] | None:
            found = [e for e in read_events(home) if e.get("event") == "verdict"]
            return next((e for e in found if e.get("path") == str(path)), None)

        bad_event = wait_for(lambda: verdict(bad), 20, "verdict for the trapped file")
        good_event = wait_for(lambda: verdict(good), 20, "verdict for the clean file")
    finally:
        service.stop()
    items = Vault(home / "vault").items()
    print(
        json.dumps(
            {
                "platform": platform.current().name,
                "removed": removed,
                "engine": engine_codes,
                "bad": {k: bad_event.get(k) for k in ("action", "findings", "item_id")},
                "good": {k: good_event.get(k) for k in ("action", "findings")},
                "bad_exists": bad.exists(),
                "good_exists": good.exists(),
                "vault": [(i.id, i.name, i.sha256) for i in items],
                "vault_bytes_ok": bool(items)
                and Vault(home / "vault").read_content(items[0].id) == make_jpeg_with_zip(43),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
