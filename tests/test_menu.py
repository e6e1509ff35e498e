"""The tray's menu model, icon state and tooltip for every state the agent can be in."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from agent.inspect.reasons import plain_reason, plain_summary
from agent.model import Finding, Severity
from agent.service.state import AgentState, FolderStatus
from agent.ui.icons import ICON_SIZE_PX, draw_icon
from agent.ui.menu import (
    ACTION_OPEN_LOGS,
    ACTION_QUIT,
    ACTION_RESUME,
    ACTION_REVIEW,
    ACTION_SCAN,
    TOOLTIP_MAX_CHARS,
    IconKind,
    IconState,
    MenuEntry,
    build_menu,
    clock_time,
    icon_state,
    parse_pause_action,
    tooltip,
)

NOW = 1_750_000_000.0
DOWNLOADS = FolderStatus("/home/desk/Downloads", watching=True)
MAIL = FolderStatus("/home/desk/.thunderbird/attachments", watching=True)
WATCHING = AgentState(version="1.2.3", folders=(DOWNLOADS, MAIL), started_at=NOW - 60)


def _actions(entries: tuple[MenuEntry, ...]) -> list[str]:
    found: list[str] = []
    for entry in entries:
        if entry.action:
            found.append(entry.action)
        found.extend(_actions(entry.submenu))
    return found


def _labels(entries: tuple[MenuEntry, ...]) -> list[str]:
    return [e.label for e in entries if not e.separator]


def test_watching() -> None:
    assert icon_state(WATCHING, NOW) == IconState(IconKind.WATCHING, 0)
    assert tooltip(WATCHING, NOW) == "Photogate — Watching 2 folders"
    menu = build_menu(WATCHING, NOW)
    assert menu[0] == MenuEntry("Watching 2 folders", enabled=False)
    assert _actions(menu) == [
        ACTION_REVIEW,
        ACTION_SCAN,
        "pause:900",
        "pause:3600",
        ACTION_OPEN_LOGS,
    ]
    defaults = [e for e in menu if e.default]
    assert [e.action for e in defaults] == [ACTION_REVIEW]  # a click on the icon opens review
    pause = next(e for e in menu if e.label == "Pause protection")
    assert _labels(pause.submenu) == ["15 minutes", "1 hour"]


def test_files_to_review_show_a_count() -> None:
    state = replace(WATCHING, unreviewed=3)
    assert icon_state(state, NOW) == IconState(IconKind.REVIEW, 3)
    assert tooltip(state, NOW) == "Photogate — 3 files to review · watching 2 folders"
    assert "Review quarantined files (3 new)…" in _labels(build_menu(state, NOW))
    one = replace(WATCHING, unreviewed=1)
    assert tooltip(one, NOW).startswith("Photogate — 1 file to review")


def test_paused_shows_resume_and_the_time_it_resumes() -> None:
    until = NOW + 15 * 60
    state = replace(WATCHING, paused_until=until)
    assert icon_state(state, NOW) == IconState(IconKind.PAUSED, 0)
    assert tooltip(state, NOW) == f"Photogate — Paused until {clock_time(until)}"
    menu = build_menu(state, NOW)
    resume = [e for e in menu if e.action == ACTION_RESUME]
    assert len(resume) == 1 and clock_time(until) in resume[0].label
    assert not any(a.startswith("pause:") for a in _actions(menu))


def test_paused_with_files_to_review_keeps_the_badge() -> None:
    state = replace(WATCHING, paused_until=NOW + 60, unreviewed=2)
    assert icon_state(state, NOW) == IconState(IconKind.PAUSED, 2)
    assert tooltip(state, NOW).endswith("· 2 files to review")


def test_a_pause_that_ran_out_counts_as_watching() -> None:
    state = replace(WATCHING, paused_until=NOW - 1)
    assert icon_state(state, NOW).kind is IconKind.WATCHING
    assert ACTION_RESUME not in _actions(build_menu(state, NOW))


def test_policy_problem_wins_over_everything() -> None:
    state = replace(
        WATCHING,
        policy_problem="the new policy from IT was rejected; the previous one is in force",
        paused_until=NOW + 60,
        unreviewed=4,
    )
    assert icon_state(state, NOW) == IconState(IconKind.PROBLEM, 4)
    assert tooltip(state, NOW).startswith("Photogate — Problem: the new policy")
    about = next(e for e in build_menu(state, NOW) if e.label == "About Photogate")
    assert "A newer policy was rejected; the previous one is in force" in _labels(about.submenu)


def test_folder_problem() -> None:
    broken = FolderStatus("/mnt/scans", watching=False, problem="access denied")
    state = replace(WATCHING, folders=(DOWNLOADS, broken))
    assert icon_state(state, NOW).kind is IconKind.PROBLEM
    assert tooltip(state, NOW) == "Photogate — Problem: /mnt/scans: access denied"


def test_not_running_is_a_problem() -> None:
    state = replace(WATCHING, running=False)
    assert icon_state(state, NOW).kind is IconKind.PROBLEM
    assert tooltip(state, NOW) == "Photogate — Protection is not running"


def test_pause_and_quit_follow_policy() -> None:
    locked = replace(WATCHING, allow_pause=False, allow_quit=False)
    assert _actions(build_menu(locked, NOW)) == [ACTION_REVIEW, ACTION_SCAN, ACTION_OPEN_LOGS]
    free = replace(WATCHING, allow_pause=True, allow_quit=True)
    assert _actions(build_menu(free, NOW))[-1] == ACTION_QUIT
    # Already paused when policy changed to forbid pausing: resuming is still offered.
    paused_locked = replace(locked, paused_until=NOW + 60)
    assert ACTION_RESUME in _actions(build_menu(paused_locked, NOW))


def test_about_names_version_and_policy_source() -> None:
    state = replace(
        WATCHING, policy_version="clinic-2025-03", policy_source="/etc/photogate/config.toml"
    )
    about = next(e for e in build_menu(state, NOW) if e.label == "About Photogate")
    assert _labels(about.submenu) == [
        "Photogate 1.2.3",
        "Policy: clinic-2025-03",
        "From: /etc/photogate/config.toml",
    ]
    assert all(not e.enabled for e in about.submenu)


def test_tooltip_is_cut_to_the_windows_limit() -> None:
    long_folder = FolderStatus(
        "/srv/" + "very-long-folder-name/" * 20, watching=False, problem="gone"
    )
    state = replace(WATCHING, folders=(long_folder,))
    text = tooltip(state, NOW)
    assert len(text) == TOOLTIP_MAX_CHARS and text.endswith("…")


def test_menu_is_a_pure_function() -> None:
    state = replace(WATCHING, unreviewed=5, paused_until=NOW + 600)
    assert build_menu(state, NOW) == build_menu(state, NOW)
    assert build_menu(state, NOW) != build_menu(state, NOW + 601)  # pause ran out


@pytest.mark.parametrize(
    ("action", "seconds"),
    [("pause:900", 900), ("pause:0", None), ("pause:x", None), ("review", None)],
)
def test_parse_pause_action(action: str, seconds: int | None) -> None:
    assert parse_pause_action(action) == seconds


def test_icons_differ_per_state_and_badge() -> None:
    images = {
        (kind, count): draw_icon(IconState(kind, count)).tobytes()
        for kind in IconKind
        for count in (0, 3)
    }
    assert len(set(images.values())) == len(images)
    image = draw_icon(IconState(IconKind.WATCHING))
    assert image.size == (ICON_SIZE_PX, ICON_SIZE_PX) and image.mode == "RGBA"
    assert image.getpixel((0, 0)) == (0, 0, 0, 0)  # transparent corners


def test_clock_time_uses_local_time() -> None:
    assert clock_time(NOW) == time.strftime("%H:%M", time.localtime(NOW))


@pytest.mark.parametrize(
    ("finding", "detected", "name", "sentence"),
    [
        (
            Finding("content.executable", Severity.HIGH, "x", payload="pe"),
            "pe",
            "scan.jpg",
            "This file pretends to be a JPEG picture but is a Windows program.",
        ),
        (
            Finding("jpeg.trailing_data", Severity.HIGH, "x", payload="zip"),
            "jpeg",
            "a.jpg",
            "A hidden attachment (a ZIP archive) is stuck to the end of this JPEG picture.",
        ),
        (
            Finding("gif.trailing_data", Severity.HIGH, "x", payload="vbs"),
            "gif",
            "a.gif",
            "A hidden attachment (a Windows VBScript program) is stuck to the end"
            " of this GIF picture.",
        ),
        (
            Finding("png.trailing_data", Severity.MEDIUM, "x"),
            "png",
            "a.png",
            "Unexplained extra data is stuck to the end of this PNG picture.",
        ),
        (
            Finding("dicom.executable_preamble", Severity.HIGH, "x"),
            "dicom",
            "ct.dcm",
            "This medical image has a Windows program hidden at its start.",
        ),
        (
            Finding("future.check", Severity.LOW, "The engine's own plain sentence."),
            None,
            None,
            "The engine's own plain sentence.",
        ),
    ],
)
def test_plain_reasons(
    finding: Finding, detected: str | None, name: str | None, sentence: str
) -> None:
    assert plain_reason(finding, detected, name) == sentence


def test_plain_summary_takes_the_worst_finding() -> None:
    findings = [
        Finding("jpeg.known_trailer", Severity.INFO, "motion photo"),
        Finding("name.bidi_control", Severity.HIGH, "x"),
    ]
    assert plain_summary(findings).startswith("The name contains a hidden character")
    assert plain_summary([]) == "Photogate found nothing wrong with this file."
