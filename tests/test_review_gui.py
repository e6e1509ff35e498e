"""The real review window under Xvfb, driven with the keyboard through xdotool.

A real vault in a private PHOTOGATE_HOME holds generated files; the test deletes one,
restores one, saves a safe copy of one, and checks the vault and the folders after
each step. Screenshots go to test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import io
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from agent.model import Finding, Severity
from agent.ui.review_model import Permissions, ReviewSource, details_text, report, row_from_item
from agent.vault.store import Vault
from tests.gui_support import (
    REPO_ROOT,
    gui_env,
    press,
    screenshot,
    wait_for_window,
    wait_for_window_gone,
    wait_until,
    xvfb,
)

pytestmark = pytest.mark.gui

WINDOW = "caught files$"  # xdotool matches a regex (and may not see the dash in WM_NAME)
STEP_TIMEOUT_SECONDS = 15.0
POLL_MARGIN_SECONDS = 3.0  # the window polls every 2 s


def _photo() -> bytes:
    image = Image.new("RGB", (64, 48))
    image.putdata([(x * 4, y * 5, (x + y) * 2) for y in range(48) for x in range(64)])
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _quarantine(
    vault: Vault, folder: Path, name: str, data: bytes, finding: Finding, kind: str
) -> str:
    path = folder / name
    path.write_bytes(data)
    item = vault.quarantine(path, [finding], detected_type=kind, policy_version="clinic-test")
    time.sleep(0.01)  # distinct quarantine times give a stable newest-first order
    return item.id


@pytest.fixture
def desk(photogate_home: Path, tmp_path: Path) -> Iterator[dict[str, object]]:
    downloads = tmp_path / "Downloads"
    downloads.mkdir()
    vault = Vault(photogate_home / "vault")
    photo = _photo()
    trailer = Finding(
        "png.trailing_data",
        Severity.HIGH,
        "ZIP after IEND",
        offset=len(photo),
        length=30,
        payload="zip",
    )
    ids = {
        "photo": _quarantine(
            vault,
            downloads,
            "xray_posterior.png",
            photo + b"PK\x03\x04" + b"\x00" * 26,
            trailer,
            "png",
        ),
        "exe": _quarantine(
            vault,
            downloads,
            "scan.jpg",
            b"MZ" + b"\x00" * 200,
            Finding("content.executable", Severity.HIGH, "a Windows program", payload="pe"),
            "pe",
        ),
        "rlo": _quarantine(
            vault,
            downloads,
            "invoice_\u202egpj.exe",
            b"MZ" + b"\x00" * 300,
            Finding("name.bidi_control", Severity.HIGH, "right-to-left override in the name"),
            "pe",
        ),
    }
    policy = tmp_path / "policy.toml"
    policy.write_text('[ui]\nallow_restore = true\nit_contact = "Sam at the IT desk (ext. 210)"\n')
    yield {"vault": vault, "downloads": downloads, "ids": ids, "policy": policy, "photo": photo}


def _ids(vault: Vault) -> set[str]:
    return {item.id for item in vault.items()}


def _confirm(display: str, title: str, shot: str | None = None) -> None:
    dialog = wait_for_window(display, title)
    time.sleep(0.3)
    if shot:
        screenshot(display, shot)
    press(display, dialog, "Return")
    wait_for_window_gone(display, title)


def test_review_window_delete_restore_sanitize(
    desk: dict[str, object], photogate_home: Path
) -> None:
    vault = desk["vault"]
    downloads = desk["downloads"]
    ids = desk["ids"]
    assert isinstance(vault, Vault) and isinstance(downloads, Path) and isinstance(ids, dict)
    with xvfb() as display:
        window_process = subprocess.Popen(
            [sys.executable, "-m", "agent", "review", "--policy", str(desk["policy"])],
            env=gui_env(display, PHOTOGATE_HOME=str(photogate_home)),
            cwd=REPO_ROOT,
            stderr=subprocess.PIPE,
        )
        try:
            window = wait_for_window(display, WINDOW)
            time.sleep(0.5)
            screenshot(display, "review-window")
            assert (photogate_home / "run" / "reviewed").exists()  # opening = reviewed

            # Newest first: the RLO file is selected. Delete key, confirm.
            press(display, window, "Delete")
            _confirm(display, "Delete file")
            wait_until(lambda: ids["rlo"] not in _ids(vault), STEP_TIMEOUT_SECONDS, "the delete")
            assert _ids(vault) == {ids["exe"], ids["photo"]}

            # Selection moved to scan.jpg: Alt+R restores after a confirmation.
            press(display, window, "alt+r")
            _confirm(display, "Restore file", shot="review-restore-confirmation")
            wait_until(
                lambda: (downloads / "scan.jpg").exists(), STEP_TIMEOUT_SECONDS, "the restore"
            )
            assert (downloads / "scan.jpg").read_bytes() == b"MZ" + b"\x00" * 200
            assert _ids(vault) == {ids["photo"]}

            # The photo with a ZIP stuck to it: Alt+S saves a safe copy beside where it was.
            press(display, window, "alt+s")
            _confirm(display, "Safe copy saved", shot="review-safe-copy")
            copy = downloads / "xray_posterior (safe copy).png"
            assert copy.exists()
            assert b"PK\x03\x04" not in copy.read_bytes()
            with Image.open(copy) as copied, Image.open(io.BytesIO(desk["photo"])) as original:  # type: ignore[arg-type]
                assert copied.tobytes() == original.convert("RGB").tobytes()
            assert _ids(vault) == {ids["photo"]}  # a safe copy leaves the item in quarantine

            # A file caught while the window is open appears at the top and can be deleted.
            late = _quarantine(
                vault,
                downloads,
                "late.jpg",
                b"MZ" + b"\x00" * 50,
                Finding("content.executable", Severity.HIGH, "x", payload="pe"),
                "pe",
            )
            time.sleep(POLL_MARGIN_SECONDS)
            screenshot(display, "review-new-item")
            press(display, window, "Home", "Delete")
            _confirm(display, "Delete file")
            wait_until(
                lambda: late not in _ids(vault), STEP_TIMEOUT_SECONDS, "deleting the new item"
            )
            assert _ids(vault) == {ids["photo"]}

            press(display, window, "Escape")
            window_process.wait(timeout=STEP_TIMEOUT_SECONDS)
            assert window_process.returncode == 0
        finally:
            if window_process.poll() is None:
                window_process.kill()
            _out, err = window_process.communicate()
            assert b"Traceback" not in err, err.decode(errors="replace")


def test_forbidden_actions_are_disabled_with_who_to_ask(
    desk: dict[str, object], photogate_home: Path, tmp_path: Path
) -> None:
    vault = desk["vault"]
    assert isinstance(vault, Vault)
    policy = tmp_path / "locked.toml"
    policy.write_text(
        "[ui]\nallow_restore = false\nallow_delete = false\nallow_sanitized_copy = false\n"
        'it_contact = "Sam at the IT desk (ext. 210)"\n'
    )
    before = _ids(vault)
    with xvfb() as display:
        window_process = subprocess.Popen(
            [sys.executable, "-m", "agent", "review", "--policy", str(policy)],
            env=gui_env(display, PHOTOGATE_HOME=str(photogate_home)),
            cwd=REPO_ROOT,
        )
        try:
            window = wait_for_window(display, WINDOW)
            time.sleep(0.5)
            screenshot(display, "review-locked-policy")
            press(display, window, "Delete", "alt+r", "alt+s")  # all refused silently
            time.sleep(0.5)
            assert not [w for w in ("Delete file", "Restore file") if _has_window(display, w)]
            assert _ids(vault) == before
            press(display, window, "Escape")
            window_process.wait(timeout=STEP_TIMEOUT_SECONDS)
        finally:
            if window_process.poll() is None:
                window_process.kill()


def _has_window(display: str, title: str) -> bool:
    from tests.gui_support import find_windows

    return bool(find_windows(display, title))


def test_model_lists_details_and_report(desk: dict[str, object]) -> None:
    """The pure side of the window: safe names, plain reasons, details and the IT report."""
    vault = desk["vault"]
    assert isinstance(vault, Vault)
    source = ReviewSource(vault)
    added, removed = source.poll()
    assert len(added) == 3 and removed == []
    assert source.poll() == ([], [])  # nothing new: nothing re-read
    names = sorted(row.name for row in added)
    assert names == ["invoice_\\u202egpj.exe", "scan.jpg", "xray_posterior.png"]
    photo = next(row for row in added if row.name == "xray_posterior.png")
    assert (
        photo.reason
        == "A hidden attachment (a ZIP archive) is stuck to the end of this PNG picture."
    )
    text = details_text(row_from_item(vault.get(str(photo.item_id))))
    assert "png.trailing_data [high] at offset" in text and photo.sha256 in text  # type: ignore[operator]
    data = report(source.rows.values(), now=time.time(), host="desk-1")
    assert next(item["name"] for item in data["items"]) == "invoice_\\u202egpj.exe"  # newest first
    assert all("\u202e" not in item["name"] for item in data["items"])
    vault.delete(str(photo.item_id))
    assert source.poll() == ([], [photo.key])
    line = Permissions(restore=False, it_contact="Sam").unavailable_line()
    assert line == "Your IT policy does not allow restoring files here. To ask, contact Sam."
