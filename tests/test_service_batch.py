"""The worker judges the burst at hand as one batch, and a file alone at once.

The real AgentService with watchdog: the first file's inspection is held until ten more
files are queued behind it; the worker then takes those ten in one `process_many` call.
Waits are on the agent's own signals (the queue length, verdict events), never a sleep.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agent.inspect.limits import Limits
from agent.model import Report
from tests.agent_harness import make_jpeg, make_pe_bytes, wait_for, write_plain
from tests.test_service import Agent


def test_files_queued_while_the_worker_is_busy_are_judged_together(tmp_path: Path) -> None:
    agent = Agent(tmp_path)
    service = agent.service
    held, release = threading.Event(), threading.Event()
    real_inspect = service.toolkit.inspect

    def hold_the_first(path: str, limits: Limits) -> Report:
        if not held.is_set():
            held.set()
            release.wait(30)
        return real_inspect(path, limits)

    service.toolkit.inspect = hold_the_first
    calls: list[list[str]] = []
    real_process_many = service.pipeline.process_many

    def recording(paths: Sequence[str], *args: Any, **kwargs: Any) -> Any:
        calls.append(list(paths))
        return real_process_many(paths, *args, **kwargs)

    service.pipeline.process_many = recording  # type: ignore[method-assign]
    service.start()
    try:
        agent.looked(sweeps_after=0)  # the startup sweep is over: only events from here on
        first = agent.downloads / "first.jpg"
        write_plain(first, make_jpeg(1))
        wait_for(held.is_set, 10, "the first file's inspection")
        burst = []
        for index in range(10):
            path = agent.downloads / f"burst-{index}.jpg"
            write_plain(path, make_pe_bytes(index) if index % 3 == 0 else make_jpeg(10 + index))
            burst.append(path)
        wait_for(lambda: service.tracker.ready_count == 10, 10, "ten files queued")
        release.set()
        for path in [first, *burst]:
            agent.wait_verdict(path)
    finally:
        release.set()
        service.stop()
    assert calls[0] == [str(first)]
    assert sorted(calls[1]) == sorted(str(p) for p in burst)
    assert len(calls) == 2
    assert [len(agent.verdicts(p)) for p in [first, *burst]] == [1] * 11
    for index, path in enumerate(burst):
        assert path.exists() == (index % 3 != 0)
    assert service.snapshot().quarantined_total == 4
