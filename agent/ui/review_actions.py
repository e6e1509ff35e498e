"""What the review window's buttons do: each action through the backend, each on record.

`ReviewWindow` (agent.ui.review) draws; this mixin acts. Confirmations for what cannot
be undone default to No (Enter on the dialog cancels). The safe copy asks where to save
(default: beside the original, named "<name> (safe copy).jpg/.png"), is made in the
background by the limited decoder, and the window offers to open it.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import queue
import socket
import subprocess
import sys
import threading
import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from tkinter import filedialog, messagebox, ttk
from typing import Any

from agent.textsafe import safe_path, safe_text
from agent.ui.review_model import (
    PICTURE_TYPES,
    QUARANTINED,
    Permissions,
    ReviewRow,
    ReviewSource,
    can,
    delete_question,
    details_text,
    restore_question,
    write_report,
)

log = logging.getLogger(__name__)

NOTE_ENTRY_CHARS = 60  # width of the one-line note field
REPORT_DIALOG_TITLE = "Tell IT this is a false alarm"


def copies_folder(row: ReviewRow) -> Path:
    """Where a safe copy goes by default: beside the original, else Downloads, else home."""
    for candidate in (Path(row.original_path).parent, Path.home() / "Downloads", Path.home()):
        if candidate.is_dir():
            return candidate
    return Path.home()


def open_with_default_app(path: Path) -> None:
    """Open `path` (a sanitized copy, safe to open) the way a double click would."""
    if sys.platform == "win32":
        os.startfile(path)  # type: ignore[attr-defined,unused-ignore]  # noqa: S606  (Windows only)
    elif sys.platform == "darwin":
        subprocess.Popen(["open", str(path)])
    else:
        subprocess.Popen(
            ["xdg-open", str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )


class ReviewActions:
    """Button and key handlers; mixed into `ReviewWindow`, which provides the widgets."""

    root: tk.Tk
    backend: Any
    source: ReviewSource
    permissions: Permissions
    clock: Callable[[], float]
    _results: queue.Queue[Callable[[], None]]
    _busy: bool
    _thumbnails: dict[str, tk.PhotoImage]
    thumbnail: ttk.Label

    # Provided by ReviewWindow.
    def selected(self) -> ReviewRow | None:
        """The selected row."""
        raise NotImplementedError

    def _show_count(self, message: str | None = None) -> None:
        raise NotImplementedError

    def _remove_row(self, row: ReviewRow) -> None:
        raise NotImplementedError

    def _rebuild_rows(self) -> None:
        raise NotImplementedError

    def _selection_changed(self) -> None:
        raise NotImplementedError

    def _focus_list(self) -> None:
        raise NotImplementedError

    # --- helpers -------------------------------------------------------------------------

    def _error(self, title: str, text: str) -> None:
        messagebox.showerror(title, text, parent=self.root)

    def _confirmed(self, title: str, question: str) -> bool:
        """Ask; No is the default button, so Enter alone never destroys anything."""
        answer = messagebox.askyesno(
            title, question, icon=messagebox.WARNING, default=messagebox.NO, parent=self.root
        )
        self._focus_list()
        return bool(answer)

    # --- actions -------------------------------------------------------------------------

    def show_details(self) -> None:
        """A window with the findings, offsets, hashes and original path (for IT)."""
        row = self.selected()
        if row is None:
            return
        top = tk.Toplevel(self.root)
        top.title(f"Technical details — {row.name}")
        top.transient(self.root)
        text = tk.Text(top, width=100, height=24, wrap=tk.WORD)
        text.insert("1.0", details_text(row))
        text.configure(state=tk.DISABLED)
        text.pack(fill=tk.BOTH, expand=True, padx=8, pady=8)
        ttk.Button(top, text="Close", command=top.destroy).pack(pady=(0, 8))
        top.bind("<Escape>", lambda _e: top.destroy())
        top.bind("<Return>", lambda _e: top.destroy())
        top.focus_set()

    def delete(self) -> None:
        """Delete the selected file for good, after a confirmation (default: No)."""
        from agent.service.api import BackendError

        row = self.selected()
        if row is None or not can("delete", row, self.permissions):
            return
        if not self._confirmed("Delete file", delete_question(row)):
            return
        try:
            if row.kind == QUARANTINED:
                self.backend.delete(row.item_id)
            elif hasattr(self.backend, "delete_flagged"):
                self.backend.delete_flagged(row.original_path, row.sha256)
            else:
                Path(row.original_path).unlink(missing_ok=True)
        except (BackendError, OSError) as error:
            self._error("Could not delete", f"{row.name} could not be deleted: {error}")
            return
        self._remove_row(row)
        self._show_count(f"Deleted {row.name}.")

    def restore(self) -> None:
        """Put a quarantined file back (and release it), after a confirmation (default: No)."""
        from agent.service.api import BackendError

        row = self.selected()
        if row is None or not can("restore", row, self.permissions):
            return
        if not self._confirmed("Restore file", restore_question(row)):
            return
        try:
            restored = self.backend.restore(row.item_id)
        except BackendError as error:
            self._error("Could not restore", f"{row.name} could not be put back: {error}")
            return
        outcome = getattr(self.backend, "last_restore", None)
        message = (
            outcome.message() if outcome is not None else f"Put back as {safe_path(restored)}."
        )
        self._remove_row(row)
        self._show_count(f"Put back {row.name}; Photogate leaves it there.")
        messagebox.showinfo("File restored", message, parent=self.root)
        self._focus_list()

    def report_false_alarm(self) -> None:
        """One step: an optional one-line note, then the report goes to IT."""
        row = self.selected()
        if row is None or not can("report", row, self.permissions):
            return
        top = tk.Toplevel(self.root)
        top.title(REPORT_DIALOG_TITLE)
        top.transient(self.root)
        ttk.Label(
            top,
            text=f"Photogate will tell IT that {row.name} is a false alarm. IT decides"
            " whether to release it.\nA note for IT (optional, one line; never sent: the file"
            " itself):",
            wraplength=520,
        ).pack(padx=10, pady=(10, 4), anchor=tk.W)
        note = tk.StringVar()
        entry = ttk.Entry(top, textvariable=note, width=NOTE_ENTRY_CHARS)
        entry.pack(padx=10, fill=tk.X)
        buttons = ttk.Frame(top)
        buttons.pack(pady=10)

        def send() -> None:
            top.destroy()
            self._send_report(row, note.get())

        ttk.Button(buttons, text="Report to IT", command=send).pack(side=tk.LEFT, padx=4)

        def cancel() -> None:
            top.destroy()
            self._focus_list()

        ttk.Button(buttons, text="Cancel", command=cancel).pack(side=tk.LEFT, padx=4)
        top.bind("<Return>", lambda _e: send())
        top.bind("<Escape>", lambda _e: cancel())
        entry.focus_set()

    def _send_report(self, row: ReviewRow, untrusted_note: str) -> None:
        from agent.service.api import BackendError

        try:
            if row.kind == QUARANTINED:
                self.backend.report_false_alarm(row.item_id, untrusted_note)
            elif hasattr(self.backend, "report_flagged"):
                flagged = next(
                    (f for f in self.backend.flagged() if f.path == row.original_path), None
                )
                if flagged is not None:
                    self.backend.report_flagged(flagged, untrusted_note)
        except BackendError as error:
            self._error("Could not report", f"The report could not be sent: {error}")
            return
        self.source.poll()
        self._rebuild_rows()
        self._show_count(f"Reported {row.name} to IT as a false alarm.")
        self._focus_list()

    def save_safe_copy(self) -> None:
        """Ask where, then make a sanitized copy in the background; offer to open it."""
        from agent.sanitize.parent import expected_suffix, sanitized_name

        row = self.selected()
        if row is None or not can("sanitize", row, self.permissions) or self._busy:
            return
        target = filedialog.asksaveasfilename(
            parent=self.root,
            title="Save a safe copy",
            initialdir=str(copies_folder(row)),
            initialfile=sanitized_name(row.untrusted_name, expected_suffix(row.detected_type)),
            defaultextension=expected_suffix(row.detected_type),
            filetypes=[("JPEG picture", "*.jpg"), ("PNG picture", "*.png")],
            confirmoverwrite=True,
        )
        self._focus_list()
        if not target:
            return
        self._busy = True
        self._selection_changed()
        self._show_count(f"Making a safe copy of {row.name}…")
        worker = threading.Thread(
            target=self._copy_worker, args=(row, Path(target)), name="safe-copy", daemon=True
        )
        worker.start()

    def _copy_worker(self, row: ReviewRow, dest: Path) -> None:
        from agent.sanitize.parent import SanitizeError, sanitize_file, vault_chunks
        from agent.service.api import BackendError

        try:
            vault = getattr(self.backend, "vault", None)  # per-user: decode here, exactly there
            if vault is not None and row.kind == QUARANTINED:
                source: Any = vault_chunks(vault, str(row.item_id))
                path = sanitize_file(source, dest).path
            elif row.kind == QUARANTINED:  # protected: the service writes it (its name)
                path = Path(self.backend.sanitized_copy(row.item_id, dest.parent))
            else:
                path = sanitize_file(Path(row.original_path), dest).path
            recorder = getattr(self.backend, "safe_copy_saved", None)
            if recorder is not None and (vault is not None or row.kind != QUARANTINED):
                recorder(
                    item_id=row.item_id, sha256=row.sha256, source=row.original_path, copy=path
                )
        except (SanitizeError, BackendError, OSError) as error:
            message = str(error)
            self._results.put(lambda: self._copy_done(None, message))
            return
        self._results.put(lambda: self._copy_done(path, ""))

    def _copy_done(self, path: Path | None, problem: str) -> None:
        self._busy = False
        self._selection_changed()
        if path is None:
            self._show_count("No safe copy was made.")
            self._error("No safe copy", problem)
            return
        where = safe_path(str(path.parent))
        name = safe_text(path.name)
        self._show_count(f"Safe copy saved as {name} in {where}.")
        if messagebox.askyesno(
            "Safe copy saved",
            f"A safe copy (only the picture, nothing hidden) was saved as\n\n{name}\n\nin"
            f" {where}.\n\nOpen it now?",
            default=messagebox.NO,
            parent=self.root,
        ):
            with contextlib.suppress(OSError):
                open_with_default_app(path)
        self._focus_list()

    def export(self) -> None:
        """Save a JSON report of everything listed, for IT."""
        import time

        stamp = time.strftime("%Y%m%d-%H%M", time.localtime(self.clock()))
        target = filedialog.asksaveasfilename(
            parent=self.root,
            title="Save a report for IT",
            initialfile=f"photogate-report-{stamp}.json",
            initialdir=str(Path.home()),
            defaultextension=".json",
            filetypes=[("JSON report", "*.json")],
        )
        if not target:
            return
        rows = list(self.source.rows.values())
        try:
            write_report(rows, Path(target), self.clock(), socket.gethostname())
        except OSError as error:
            self._error("Could not save the report", str(error))
            return
        recorder = getattr(self.backend, "report_exported", None)
        if recorder is not None:
            recorder(Path(target), [row.item_id for row in rows if row.item_id])
        self._show_count(f"Report saved as {safe_path(target)}.")

    # --- thumbnails (policy ui.thumbnails) ----------------------------------------------

    def _show_thumbnail(self, row: ReviewRow | None) -> None:
        """The selected picture's thumbnail (policy ui.thumbnails), made in the background."""
        if not self.permissions.thumbnails:
            return
        self.thumbnail.configure(image="", text="")
        if row is None or (row.detected_type or "").lower() not in PICTURE_TYPES:
            return
        cached = self._thumbnails.get(row.key)
        if cached is not None:
            self.thumbnail.configure(image=cached)
            return
        worker = threading.Thread(
            target=self._thumbnail_worker, args=(row,), name="thumbnail", daemon=True
        )
        worker.start()

    def _thumbnail_worker(self, row: ReviewRow) -> None:
        from agent.sanitize.parent import SanitizeError, vault_chunks
        from agent.sanitize.thumbnail import THUMBNAIL_SIDE_PX, thumbnail_png

        vault = getattr(self.backend, "vault", None)
        try:
            if row.kind == QUARANTINED and vault is not None:
                source: Any = vault_chunks(vault, str(row.item_id))
            elif row.kind != QUARANTINED:
                source = Path(row.original_path)
            else:
                return  # protected mode: the window cannot read the vault
            png = thumbnail_png(source, THUMBNAIL_SIDE_PX)
        except (SanitizeError, OSError):  # no thumbnail is never an error
            log.info("no thumbnail for %s", row.name, exc_info=True)
            return
        self._results.put(lambda: self._thumbnail_done(row.key, png))

    def _thumbnail_done(self, key: str, png: bytes) -> None:
        image = tk.PhotoImage(data=base64.b64encode(png).decode("ascii"), format="png")
        self._thumbnails[key] = image  # Tk drops images nobody references
        selected = self.selected()
        if selected is not None and selected.key == key:
            self.thumbnail.configure(image=image)
