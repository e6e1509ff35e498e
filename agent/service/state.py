"""What the running agent shows the tray and `photogate status`: one frozen snapshot.

The service builds an `AgentState` whenever something changes; the tray's menu and icon
are pure functions of it, so they can be tested without a display.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FolderStatus:
    """One watched folder: whether an observer is on it, and what is wrong if not."""

    path: str
    watching: bool
    problem: str | None = None  # plain words: "folder does not exist yet", "access denied"


@dataclass(frozen=True)
class AgentState:
    """A snapshot of the agent for the tray, notifications and `photogate status`."""

    version: str
    running: bool = True
    paused_until: float | None = None  # epoch seconds; None = not paused
    folders: tuple[FolderStatus, ...] = ()
    policy_version: str = "builtin-default"
    policy_source: str = "built-in defaults"
    policy_problem: str | None = None  # the last policy push was rejected (old one in force)
    policy_problem_words: str | None = None  # the same for staff: no FILE:LINE, no parser words
    preferences_problem: str | None = None  # the user's preferences file is wrong (plain words)
    events_problem: str | None = None  # events cannot reach the SIEM (status only, not the tray)
    unreviewed: int = 0  # quarantined/flagged since the review window was last opened
    quarantined_total: int = 0
    flagged_total: int = 0
    inspected_total: int = 0
    allow_pause: bool = True
    allow_quit: bool = False
    started_at: float = 0.0
    unmoved: int = 0  # dangerous files whose move failed and that are still where they were
    service_problems: tuple[str, ...] = ()  # a thread restarted, the state folder full...
    fatal_problem: str | None = None  # the agent cannot protect and cannot recover by itself

    @property
    def paused(self) -> bool:
        """True while protection is paused (the caller compares with the clock)."""
        return self.paused_until is not None

    @property
    def problem(self) -> str | None:
        """The first thing that needs IT's attention, in plain words, or None."""
        if self.fatal_problem:
            return self.fatal_problem
        if self.unmoved:
            files = "file" if self.unmoved == 1 else "files"
            return f"could not move {self.unmoved} dangerous {files}"
        if self.service_problems:
            return self.service_problems[0]
        if self.policy_problem:
            return self.policy_problem_words or self.policy_problem
        if self.preferences_problem:
            return self.preferences_problem
        for folder in self.folders:
            if folder.problem and not folder.watching:
                return f"{folder.path}: {folder.problem}"
        # events_problem is left out on purpose: a SIEM outage does not weaken protection, and
        # staff must not be sent to IT for it; `photogate status` shows it to IT.
        return None
