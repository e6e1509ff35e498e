"""The tray's menu, icon state and tooltip as pure functions of an `AgentState`.

Nothing here imports pystray or draws anything: `agent.ui.tray` turns these values into
pystray objects, and tests call them directly for every state the agent can be in.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass

from agent.service.state import AgentState

TOOLTIP_MAX_CHARS = 127  # Windows' NOTIFYICONDATA.szTip holds 128 UTF-16 units with the NUL
PAUSE_CHOICES_SECONDS = ((15 * 60, "15 minutes"), (60 * 60, "1 hour"))

# Menu actions: the tray maps each to a callback. "pause:<seconds>" carries its duration.
ACTION_REVIEW = "review"
ACTION_SCAN = "scan"
ACTION_RESUME = "resume"
ACTION_OPEN_LOGS = "open_logs"
ACTION_QUIT = "quit"
PAUSE_PREFIX = "pause:"


class IconKind(enum.StrEnum):
    """What the icon shows, strongest first when several apply."""

    PROBLEM = "problem"  # something needs IT: policy rejected, a folder cannot be watched
    PAUSED = "paused"  # protection is off for a while
    REVIEW = "review"  # files were caught since the review window was last opened
    WATCHING = "watching"  # all is well


@dataclass(frozen=True)
class IconState:
    """The icon's look: its kind and the count for the badge (0 = no badge)."""

    kind: IconKind
    count: int = 0


@dataclass(frozen=True)
class MenuEntry:
    """One menu line. `action` None with no submenu is an information line (disabled).

    `default` marks the entry a click on the icon runs (pystray's default action).
    `separator` entries carry no text.
    """

    label: str
    action: str | None = None
    enabled: bool = True
    submenu: tuple[MenuEntry, ...] = ()
    default: bool = False
    separator: bool = False


SEPARATOR = MenuEntry("", separator=True)


def pause_action(seconds: int) -> str:
    """The action string for pausing `seconds` long."""
    return f"{PAUSE_PREFIX}{seconds}"


def parse_pause_action(action: str) -> int | None:
    """Seconds of a "pause:<seconds>" action, or None for any other action."""
    if not action.startswith(PAUSE_PREFIX):
        return None
    try:
        seconds = int(action[len(PAUSE_PREFIX) :])
    except ValueError:
        return None
    return seconds if seconds > 0 else None


def is_paused(state: AgentState, now: float) -> bool:
    """Paused, and the pause has not already run out (the service may lag a tick)."""
    return state.paused_until is not None and state.paused_until > now


def clock_time(epoch_seconds: float) -> str:
    """Local wall-clock time as people read it on the taskbar ("14:35")."""
    return time.strftime("%H:%M", time.localtime(epoch_seconds))


def icon_state(state: AgentState, now: float) -> IconState:
    """The icon for this state: problem > paused > files to review > watching.

    A problem wins because protection may be incomplete; paused wins over the count
    because "protection is off" is what staff must notice first. The badge count is
    kept in every kind so the number of files to review is never hidden.
    """
    count = max(0, state.unreviewed)
    if state.problem is not None or not state.running:
        return IconState(IconKind.PROBLEM, count)
    if is_paused(state, now):
        return IconState(IconKind.PAUSED, count)
    if count > 0:
        return IconState(IconKind.REVIEW, count)
    return IconState(IconKind.WATCHING, 0)


def _files(count: int) -> str:
    return "1 file" if count == 1 else f"{count} files"


def status_line(state: AgentState, now: float) -> str:
    """The state in words, for the tooltip and the first (information) menu line."""
    kind = icon_state(state, now).kind
    if kind is IconKind.PROBLEM:
        if not state.running:
            return "Protection is not running"
        return f"Problem: {state.problem}"
    if kind is IconKind.PAUSED:
        assert state.paused_until is not None  # is_paused() checked it
        return f"Paused until {clock_time(state.paused_until)}"
    watched = sum(1 for folder in state.folders if folder.watching)
    watching = f"Watching {watched} folder{'s' if watched != 1 else ''}"
    if kind is IconKind.REVIEW:
        return f"{_files(state.unreviewed)} to review · {watching.lower()}"
    return watching


def tooltip(state: AgentState, now: float) -> str:
    """The tooltip: "Photogate — <state in words>", at most TOOLTIP_MAX_CHARS long."""
    text = f"Photogate — {status_line(state, now)}"
    if state.problem is None and is_paused(state, now) and state.unreviewed > 0:
        text += f" · {_files(state.unreviewed)} to review"
    if len(text) > TOOLTIP_MAX_CHARS:
        text = text[: TOOLTIP_MAX_CHARS - 1] + "…"
    return text


def _pause_entry(state: AgentState, now: float) -> MenuEntry | None:
    if is_paused(state, now):
        assert state.paused_until is not None
        label = f"Resume protection (paused until {clock_time(state.paused_until)})"
        # Resuming turns protection back on: allowed even when pausing is not.
        return MenuEntry(label, ACTION_RESUME)
    if not state.allow_pause:
        return None
    choices = tuple(
        MenuEntry(label, pause_action(seconds)) for seconds, label in PAUSE_CHOICES_SECONDS
    )
    return MenuEntry("Pause protection", submenu=choices)


def about_lines(state: AgentState) -> tuple[str, ...]:
    """What "About" shows: version, the policy in force and where it came from."""
    lines = [f"Photogate {state.version}", f"Policy: {state.policy_version}"]
    lines.append(f"From: {state.policy_source}")
    if state.policy_problem:
        lines.append("A newer policy was rejected; the previous one is in force")
    return tuple(lines)


def build_menu(state: AgentState, now: float) -> tuple[MenuEntry, ...]:
    """The tray menu for this state (pure: same state and time, same menu)."""
    review_label = "Review quarantined files…"
    if state.unreviewed > 0:
        review_label = f"Review quarantined files ({state.unreviewed} new)…"
    entries: list[MenuEntry] = [
        MenuEntry(status_line(state, now), enabled=False),
        SEPARATOR,
        MenuEntry(review_label, ACTION_REVIEW, default=True),
        MenuEntry("Scan a file…", ACTION_SCAN),
    ]
    pause = _pause_entry(state, now)
    if pause is not None:
        entries.append(pause)
    entries.append(SEPARATOR)
    entries.append(MenuEntry("Open log folder", ACTION_OPEN_LOGS))
    about = tuple(MenuEntry(line, enabled=False) for line in about_lines(state))
    entries.append(MenuEntry("About Photogate", submenu=about))
    if state.allow_quit:
        entries.append(SEPARATOR)
        entries.append(MenuEntry("Quit Photogate", ACTION_QUIT))
    return tuple(entries)
