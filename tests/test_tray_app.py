"""TrayApp's decisions without a display: Quit obeys policy, notifications reach the
desktop, a dead worker shows the problem and ends the process non-zero.

pystray is replaced by a small fake with the same surface (Icon.run(setup) blocks the
calling thread until stop(), like every backend); the agent is the real AgentService.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from agent.policy.keeper import PolicyKeeper
from agent.service.loop import EXIT_WORKER_DIED, AgentService
from agent.service.state import AgentState
from agent.ui import tray
from agent.ui.icons import draw_icon
from agent.ui.menu import ACTION_QUIT, IconKind, IconState
from tests.agent_harness import read_events


class FakeIcon:
    HAS_MENU = True
    HAS_NOTIFICATION = True
    __module__ = "pystray._gtk"

    def __init__(self, name: str, icon: Any, title: str, menu: Any) -> None:
        self.icon, self.title, self.menu = icon, title, menu
        self.visible = False
        self.stopped = threading.Event()
        self.notified: list[tuple[str, str]] = []
        self.images: list[bytes] = []

    def run(self, setup: Any) -> None:
        threading.Thread(target=setup, args=(self,), daemon=True).start()
        self.stopped.wait(30)

    def stop(self) -> None:
        self.stopped.set()

    def update_menu(self) -> None:
        self.images.append(self.icon.tobytes())

    def notify(self, message: str, title: str) -> None:
        self.notified.append((title, message))


class FakePystray:
    Icon = FakeIcon

    class Menu:
        SEPARATOR = object()

        def __init__(self, *items: Any) -> None:
            self.items = items

    @staticmethod
    def MenuItem(*args: Any, **kwargs: Any) -> tuple[Any, ...]:
        return args


class FakeService:
    def __init__(self, *, allow_quit: bool) -> None:
        self.state = AgentState(version="t", allow_quit=allow_quit)
        self.quits: list[str] = []
        self.stops = 0

    def snapshot(self) -> AgentState:
        return self.state

    def record_quit(self, via: str = "tray") -> None:
        self.quits.append(via)

    def stop(self) -> None:
        self.stops += 1

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


@pytest.mark.parametrize("allowed", [False, True])
def test_quit_follows_allow_quit(allowed: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tray, "STOP_GRACE_SECONDS", 3600.0)  # never exit the test process
    service = FakeService(allow_quit=allowed)
    app = tray.TrayApp(service, FakePystray)  # type: ignore[arg-type]
    app.perform(ACTION_QUIT)
    assert service.quits == (["tray"] if allowed else [])
    assert service.stops == (1 if allowed else 0)
    assert app.icon.stopped.is_set() is allowed


def test_notifications_go_to_the_desktop_with_safe_text() -> None:
    service = FakeService(allow_quit=False)
    app = tray.TrayApp(service, FakePystray)  # type: ignore[arg-type]
    sent: list[tuple[Any, ...]] = []

    class Desktop:
        def notify(self, title: str, message: str, item_id: str | None, *, critical: bool) -> None:
            sent.append((title, message, item_id, critical))

    app.desktop_notifier = Desktop()
    app.notify("Caught", "invoice_\u202egpj.exe: a disguised program", item_id="abc")
    assert sent == [("Caught", "invoice_\\u202egpj.exe: a disguised program", "abc", True)]
    app.desktop_notifier = None
    app.notify("Flagged", "x.jpg: odd", item_id=None, severity="medium")
    assert app.icon.notified == [("Flagged", "x.jpg: odd")]  # pystray's own as the fallback


def test_a_dead_worker_shows_the_problem_and_exits_non_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tray, "FATAL_SHOW_SECONDS", 0.2)
    monkeypatch.setattr(tray, "STOP_GRACE_SECONDS", 3600.0)
    config = tmp_path / "config.toml"
    config.write_text("[watch]\nuse_default_folders = false\n")
    (tmp_path / "dl").mkdir()
    home = tmp_path / "home"
    service = AgentService(
        PolicyKeeper(config, home / "prefs.toml"), watch_override=[str(tmp_path / "dl")], home=home
    )

    def broken(_timeout: float) -> str | None:
        raise RuntimeError("simulated worker bug")

    monkeypatch.setattr(service.tracker, "next_ready", broken)
    app = tray.TrayApp(service, FakePystray)
    assert app.run() == EXIT_WORKER_DIED == tray.EXIT_WORKER_DIED
    assert service.fatal_problem is not None
    problem_icon = draw_icon(IconState(IconKind.PROBLEM, 0)).tobytes()
    assert app.icon.images[-1] == problem_icon
    assert any("stopped protecting" in title for title, _ in app.icon.notified)
    failures = [e for e in read_events(home) if e["event"] == "action_failed"]
    assert "worker thread died: RuntimeError: simulated worker bug" in failures[0]["error"]


def test_a_dead_worker_ends_the_headless_agent_non_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[watch]\nuse_default_folders = false\n")
    (tmp_path / "dl").mkdir()
    service = AgentService(
        PolicyKeeper(config, tmp_path / "prefs.toml"),
        watch_override=[str(tmp_path / "dl")],
        home=tmp_path / "home",
    )

    def broken(_timeout: float) -> str | None:
        raise RuntimeError("simulated worker bug")

    monkeypatch.setattr(service.tracker, "next_ready", broken)
    assert service.run_forever() == EXIT_WORKER_DIED
