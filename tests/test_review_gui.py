"""The real review window under Xvfb, driven with the keyboard through xdotool.

A real vault in a private PHOTOGATE_HOME holds generated files; the test deletes one,
restores one, saves a safe copy of one, reports one as a false alarm, and checks the
vault, the folders and the audit events after each step. Confirmations default to No:
Enter alone never destroys anything. Screenshots go to test-artifacts/. The in-process
tests build the window on a private Xvfb and read the widgets back (buttons greyed per
row and policy, the IT contact line, unique access keys, sorting, the search box).
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from agent.model import Finding, Severity
from agent.service import staffdb
from agent.service.events import read_events
from agent.service.local import LocalBackend
from agent.service.statedb import StateDB
from agent.ui.review_model import (
    Permissions,
    ReviewSource,
    details_text,
    report,
    row_from_item,
    why_not,
)
from agent.vault.store import Vault
from tests.gui_support import (
    REPO_ROOT,
    gui_env,
    press,
    screenshot,
    wait_for_window,
    wait_for_window_gone,
    wait_until,
    xdotool,
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


def _answer(display: str, title: str, key: str, shot: str | None = None) -> None:
    dialog = wait_for_window(display, title)
    time.sleep(0.3)
    if shot:
        screenshot(display, shot)
    press(display, dialog, key)
    wait_for_window_gone(display, title)


def _events(home: Path, kind: str) -> list[dict[str, object]]:
    return [e for e in read_events(home / "logs" / "events.jsonl") if e["event"] == kind]


def test_review_window_delete_restore_copy_report(
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
            wait_until(lambda: bool(_events(photogate_home, "review_opened")), 5, "review_opened")

            # Newest first: the RLO file is selected. Delete; Enter answers No.
            press(display, window, "Delete")
            _answer(display, "Delete file", "Return", shot="review-delete-defaults-to-no")
            press(display, window, "Delete")
            # Tk handles one event at a time: the second dialog opens only after the "No"
            # was fully handled, so the item must still be there now (no fixed sleep).
            wait_for_window(display, "Delete file")
            assert ids["rlo"] in _ids(vault)
            _answer(display, "Delete file", "alt+y")
            wait_until(lambda: ids["rlo"] not in _ids(vault), STEP_TIMEOUT_SECONDS, "the delete")

            # scan.jpg: reported as a false alarm in one step, with a note.
            press(display, window, "alt+a")
            note = wait_for_window(display, "false alarm")
            xdotool(display, "type", "--window", note, "Sent by the patient")
            press(display, note, "Return")
            wait_until(
                lambda: bool(_events(photogate_home, "false_alarm_reported")),
                STEP_TIMEOUT_SECONDS,
                "the report",
            )
            screenshot(display, "review-reported")

            # ...and restored: the file is back and released.
            press(display, window, "alt+r")
            _answer(display, "Restore file", "alt+y", shot="review-restore-confirmation")
            _answer(display, "File restored", "Return", shot="review-restored-message")
            assert (downloads / "scan.jpg").read_bytes() == b"MZ" + b"\x00" * 200
            with StateDB(photogate_home / "state.sqlite3", readonly=True) as db:
                release = staffdb.release_for(db, str(downloads / "scan.jpg"))
            assert release is not None and release.item_id == ids["exe"]

            # The photo with a ZIP stuck to it: a safe copy beside where it was, as a JPEG.
            press(display, window, "alt+s")
            _answer(display, "Save a safe copy", "Return", shot="review-save-dialog")
            _answer(display, "Safe copy saved", "Return", shot="review-safe-copy")
            copy = downloads / "xray_posterior (safe copy).png"
            assert copy.exists()
            assert b"PK\x03\x04" not in copy.read_bytes()
            with Image.open(copy) as copied, Image.open(io.BytesIO(desk["photo"])) as original:  # type: ignore[arg-type]
                assert copied.tobytes() == original.convert("RGB").tobytes()
            assert _ids(vault) == {ids["photo"]}  # a safe copy leaves the item in quarantine

            press(display, window, "Escape")
            window_process.wait(timeout=STEP_TIMEOUT_SECONDS)
            assert window_process.returncode == 0
        finally:
            if window_process.poll() is None:
                window_process.kill()
            _out, err = window_process.communicate()
            assert b"Traceback" not in err, err.decode(errors="replace")
    for kind in ("review_opened", "deleted", "false_alarm_reported", "restored", "safe_copy_saved"):
        (event,) = _events(photogate_home, kind)
        assert event["via"] == "review_window", kind
        assert event["user"] and event["policy_version"] == "builtin-default", kind
    (reported,) = _events(photogate_home, "false_alarm_reported")
    assert reported["item_id"] == ids["exe"] and reported["note"] == "Sent by the patient"
    assert reported["findings"] == ["content.executable"] and reported["type"] == "pe"
    assert _events(photogate_home, "deleted")[0]["item_id"] == ids["rlo"]


@pytest.fixture(scope="module")
def tk_display() -> Iterator[str]:
    """One Xvfb for every in-process window of this module: Tk keeps its connection to a
    display after the last window closes, and an X server that goes away under it ends the
    whole process (Xlib's I/O error handler calls exit)."""
    with xvfb() as display:
        yield display


def _window(
    display: str, policy: Path, home: Path, thumbnails: bool = False, **kwargs: object
) -> tuple[object, object]:
    import dataclasses
    import tkinter as tk

    from agent.policy.layers import load_policy
    from agent.ui.review import ReviewWindow

    backend = LocalBackend(
        load_policy(policy, home / "none.toml").policy, Vault(home / "vault"), home=home
    )
    root = tk.Tk(screenName=display, className="Photogate")
    permissions = dataclasses.replace(
        Permissions.from_rights(backend.rights()), thumbnails=thumbnails
    )
    window = ReviewWindow(root, ReviewSource(backend), permissions, **kwargs)  # type: ignore[arg-type]
    root.update()
    return root, window


def _disabled(window: object) -> dict[str, bool]:
    buttons = window.buttons  # type: ignore[attr-defined]
    return {action: button.instate(["disabled"]) for action, button in buttons.items()}


def test_buttons_follow_the_row_and_the_policy(
    desk: dict[str, object], photogate_home: Path, tmp_path: Path, tk_display: str
) -> None:
    ids = desk["ids"]
    assert isinstance(ids, dict)
    locked = tmp_path / "locked.toml"
    locked.write_text(
        "[ui]\nallow_restore = false\nallow_delete = false\nallow_sanitized_copy = false\n"
        'it_contact = "Sam at the IT desk (ext. 210)"\n'
    )
    with contextlib.nullcontext(tk_display) as display:
        root, window = _window(display, desk["policy"], photogate_home, select_item=ids["exe"])  # type: ignore[arg-type]
        try:
            assert window.selected().item_id == ids["exe"]  # type: ignore[attr-defined]
            # A Windows program: no safe copy (and the pane says why); the rest is allowed.
            assert _disabled(window) == {
                "sanitize": True, "restore": False, "delete": False, "report": False,
                "details": False,
            }  # fmt: skip
            pane = window.detail.get("1.0", "end")  # type: ignore[attr-defined]
            assert "This is not a picture (it is a Windows program)" in pane
            assert "pretends to be a JPEG picture but is a Windows program." in pane
            assert not window.policy_label.winfo_ismapped()  # type: ignore[attr-defined]
            # Sorting and searching.
            window.sort_by("name")  # type: ignore[attr-defined]
            names = [window.tree.item(i)["values"][0] for i in window.tree.get_children()]  # type: ignore[attr-defined]
            assert names == ["⚠ invoice_exe.jpg", "scan.jpg", "xray_posterior.png"]
            window.sort_by("name")  # type: ignore[attr-defined]
            names = [window.tree.item(i)["values"][0] for i in window.tree.get_children()]  # type: ignore[attr-defined]
            assert names == ["xray_posterior.png", "scan.jpg", "⚠ invoice_exe.jpg"]
            window.search.set("zip archive")  # type: ignore[attr-defined]
            root.update()  # type: ignore[attr-defined]
            assert len(window.tree.get_children()) == 1  # type: ignore[attr-defined]
            window.search.set("")  # type: ignore[attr-defined]
            # Every access key is a different letter.
            underlined = [
                str(button.cget("text"))[int(button.cget("underline"))].lower()
                for button in window.buttons.values()  # type: ignore[attr-defined]
            ]
            assert len(set(underlined)) == len(underlined) == 5
            assert not set(underlined) & {"f", "e", "c"}  # Find, Export, Close
        finally:
            root.destroy()  # type: ignore[attr-defined]
        root, window = _window(display, locked, photogate_home)
        try:
            assert _disabled(window) == {
                "sanitize": True, "restore": True, "delete": True, "report": False,
                "details": False,
            }  # fmt: skip
            line = window.policy_label  # type: ignore[attr-defined]
            assert line.winfo_ismapped()
            assert line.cget("text") == (
                "Your IT policy does not allow restoring files, saving safe copies and deleting"
                " files here. To ask, contact Sam at the IT desk (ext. 210)."
            )
        finally:
            root.destroy()  # type: ignore[attr-defined]


def _image_names(window: object) -> list[str]:
    shown = window.thumbnail.cget("image")  # type: ignore[attr-defined]
    names = [shown] if isinstance(shown, str) else [str(name) for name in shown]
    return [name for name in names if name]


def test_thumbnails_come_only_from_the_limited_decoder_and_only_by_policy(
    desk: dict[str, object], photogate_home: Path, tk_display: str
) -> None:
    ids = desk["ids"]
    assert isinstance(ids, dict)
    with contextlib.nullcontext(tk_display) as display:
        root, window = _window(
            display,
            desk["policy"],
            photogate_home,
            thumbnails=True,
            select_item=ids["photo"],  # type: ignore[arg-type]
        )
        try:
            assert window.thumbnail.winfo_ismapped()  # type: ignore[attr-defined]
            key = f"q:{ids['photo']}"
            deadline = time.monotonic() + STEP_TIMEOUT_SECONDS
            while key not in window._thumbnails and time.monotonic() < deadline:  # type: ignore[attr-defined]
                root.update()  # type: ignore[attr-defined]
                time.sleep(0.05)
            image = window._thumbnails[key]  # type: ignore[attr-defined]
            assert (image.width(), image.height()) == (64, 48)  # small pictures are not enlarged
            assert _image_names(window) == [str(image)]
            # A Windows program gets no picture at all.
            window.tree.selection_set(window._iid_of[f"q:{ids['exe']}"])  # type: ignore[attr-defined]
            root.update()  # type: ignore[attr-defined]
            assert _image_names(window) == []
        finally:
            root.destroy()  # type: ignore[attr-defined]
        root, window = _window(display, desk["policy"], photogate_home)
        try:
            assert not window.thumbnail.winfo_ismapped()  # type: ignore[attr-defined]
        finally:
            root.destroy()  # type: ignore[attr-defined]


def test_model_names_reasons_and_report(desk: dict[str, object], photogate_home: Path) -> None:
    """The pure side of the window: shown names and what they hide, reasons, the IT report."""
    from agent.policy.schema import Policy

    vault = desk["vault"]
    assert isinstance(vault, Vault)
    backend = LocalBackend(Policy(), vault, home=photogate_home)
    source = ReviewSource(backend)
    added, removed = source.poll()
    assert len(added) == 3 and removed == []
    assert source.poll() == ([], [])
    rlo = next(row for row in added if row.item_id == desk["ids"]["rlo"])  # type: ignore[index]
    assert rlo.name == "invoice_exe.jpg"  # as Explorer shows it
    assert rlo.view.note == "Looks like invoice_exe.jpg — really ends in .exe"
    photo = next(row for row in added if row.name == "xray_posterior.png")
    assert (
        photo.reason
        == "A hidden attachment (a ZIP archive) is stuck to the end of this PNG picture."
    )
    assert why_not("sanitize", photo, Permissions()) is None
    assert why_not("restore", photo, Permissions()) == "Your IT policy does not allow this here."
    text = details_text(row_from_item(vault.get(str(photo.item_id))))
    assert "png.trailing_data [high] at offset" in text and photo.sha256 in text  # type: ignore[operator]
    data = report(source.rows.values(), now=time.time(), host="desk-1")
    assert all("\u202e" not in item["name"] for item in data["items"])
    vault.delete(str(photo.item_id))
    assert source.poll() == ([], [photo.key])
    line = Permissions(restore=False, it_contact="Sam").unavailable_line()
    assert line == "Your IT policy does not allow restoring files here. To ask, contact Sam."


def test_a_flagged_row_leaves_when_its_file_is_gone(tmp_path: Path) -> None:
    from agent.service.api import FlaggedFile

    flagged_path = tmp_path / "odd.jpg"
    flagged_path.write_bytes(b"x")

    class Backend:
        def items(self) -> list[object]:
            return []

        def flagged(self) -> list[FlaggedFile]:
            return [
                FlaggedFile(str(flagged_path), None, "jpeg", ("jpeg.trailing_data",), None, 1.0)
            ]

    source = ReviewSource(Backend())
    added, _ = source.poll()
    assert [row.name for row in added] == ["odd.jpg"]
    flagged_path.unlink()
    assert source.poll() == ([], [f"f:{flagged_path}"])
