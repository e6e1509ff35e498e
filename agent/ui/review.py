"""The review window (tkinter/ttk), run in its own process by `photogate review`.

Widgets only: what to list and what is allowed comes from `agent.ui.review_model`. This
process never decodes an untrusted image: sanitized copies are made by the limited
child of `agent.sanitize.parent`, and there are no thumbnails.

Keyboard: arrows move, Enter shows details, Delete deletes, Alt+R restores, Alt+S saves
a safe copy, Alt+E exports a report, Escape closes.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import threading
import time
import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from tkinter import filedialog, messagebox, ttk
from typing import Any

from agent.sanitize.parent import (
    SanitizeError,
    sanitize_file,
    sanitize_vault_item,
    sanitized_name,
    unique_destination,
)
from agent.textsafe import safe_path, safe_text
from agent.ui.review_model import (
    FLAGGED,
    QUARANTINED,
    Permissions,
    ReviewRow,
    ReviewSource,
    can,
    delete_question,
    details_text,
    restore_question,
    sort_rows,
    status_text,
    when_text,
    write_report,
)

log = logging.getLogger(__name__)

FOLDER_DISPLAY_CHARS = 32  # of the folder column; the full path is in Details
POLL_INTERVAL_MS = 2000  # new items appear within this long while the window is open
RESULT_CHECK_MS = 100  # how often the window looks for a finished background copy
WINDOW_TITLE = "Photogate — caught files"
COLUMNS = (
    ("name", "File", 230),
    ("when", "Caught", 120),
    ("folder", "From folder", 170),
    ("reason", "What is wrong", 520),
    ("status", "Status", 110),
)
INTRO = (
    "These files were stopped because they may be dangerous. "
    "Do not open them unless IT tells you they are safe."
)


def _copies_folder(row: ReviewRow) -> Path:
    """Where a safe copy goes: the folder the file came from, else Downloads, else home."""
    for candidate in (Path(row.original_path).parent, Path.home() / "Downloads", Path.home()):
        if candidate.is_dir():
            return candidate
    return Path.home()


class ReviewWindow:
    """The window: a list of caught files and the actions policy allows on them."""

    def __init__(
        self,
        root: tk.Tk,
        source: ReviewSource,
        permissions: Permissions,
        vault: Any,
        statedb: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Build the widgets and start polling `source` for new items."""
        self.root = root
        self.source = source
        self.permissions = permissions
        self.vault = vault
        self.statedb = statedb
        self.clock = clock
        self._results: queue.Queue[Callable[[], None]] = queue.Queue()
        self._busy = False
        self._message = ""
        # Tk item ids are plain counters: keys hold paths that Tcl may not carry intact.
        self._iid_of: dict[str, str] = {}
        self._key_of: dict[str, str] = {}
        root.title(WINDOW_TITLE)
        root.geometry("1200x520")
        root.minsize(720, 320)
        self._build()
        self.refresh()
        self._bind_keys()
        root.after(POLL_INTERVAL_MS, self._poll)
        root.after(RESULT_CHECK_MS, self._drain_results)

    # --- layout --------------------------------------------------------------------------

    def _build(self) -> None:
        frame = ttk.Frame(self.root, padding=10)
        frame.pack(fill=tk.BOTH, expand=True)
        ttk.Label(frame, text=INTRO, wraplength=1100, font=("TkDefaultFont", 11)).pack(
            anchor=tk.W, pady=(0, 8)
        )
        table = ttk.Frame(frame)
        table.pack(fill=tk.BOTH, expand=True)
        self.tree = ttk.Treeview(
            table, columns=[c[0] for c in COLUMNS], show="headings", selectmode="browse"
        )
        for key, title, width in COLUMNS:
            self.tree.heading(key, text=title, anchor=tk.W)
            self.tree.column(key, width=width, anchor=tk.W, stretch=key == "reason")
        scroll = ttk.Scrollbar(table, orient=tk.VERTICAL, command=self.tree.yview)
        self.tree.configure(yscrollcommand=scroll.set)
        self.tree.pack(side=tk.LEFT, fill=tk.BOTH, expand=True)
        scroll.pack(side=tk.RIGHT, fill=tk.Y)
        self.tree.bind("<<TreeviewSelect>>", lambda _e: self._update_buttons())

        buttons = ttk.Frame(frame, padding=(0, 8, 0, 0))
        buttons.pack(fill=tk.X)
        self.buttons: dict[str, ttk.Button] = {}
        for action, label, underline, command in (
            ("details", "Details…", 0, self.show_details),
            ("sanitize", "Save a safe copy", 7, self.save_safe_copy),
            ("restore", "Restore…", 0, self.restore),
            ("delete", "Delete", 0, self.delete),
        ):
            button = ttk.Button(buttons, text=label, underline=underline, command=command)
            button.pack(side=tk.LEFT, padx=(0, 6))
            self.buttons[action] = button
        ttk.Button(buttons, text="Close", command=self.root.destroy).pack(side=tk.RIGHT)
        ttk.Button(buttons, text="Export report…", underline=0, command=self.export).pack(
            side=tk.RIGHT, padx=(0, 6)
        )
        policy_line = self.permissions.unavailable_line()
        if policy_line:
            ttk.Label(frame, text=policy_line, foreground="#8a4b00").pack(anchor=tk.W, pady=(6, 0))
        self.status = ttk.Label(frame, text="", foreground="#333333")
        self.status.pack(anchor=tk.W, pady=(4, 0))

    def _bind_keys(self) -> None:
        bindings: dict[str, Callable[[], None]] = {
            "<Return>": self.show_details,
            "<KP_Enter>": self.show_details,
            "<Delete>": self.delete,
            "<Alt-r>": self.restore,
            "<Alt-s>": self.save_safe_copy,
            "<Alt-d>": self.show_details,
            "<Alt-e>": self.export,
            "<Home>": lambda: self._select_edge(last=False),
            "<End>": lambda: self._select_edge(last=True),
            "<Escape>": self.root.destroy,
            "<Control-w>": self.root.destroy,
        }
        for sequence, command in bindings.items():
            self.root.bind(sequence, self._key_handler(command))
        self.tree.focus_set()

    @staticmethod
    def _key_handler(command: Callable[[], None]) -> Callable[[Any], str]:
        def handle(_event: Any) -> str:
            command()
            return "break"  # the key is handled: no default Tk binding runs after it

        return handle

    # --- rows ----------------------------------------------------------------------------

    def _values(self, row: ReviewRow) -> tuple[str, ...]:
        return (
            row.name,
            when_text(row.when, self.clock()),
            # Long folders keep their end ("…/Downloads"), where people recognise them.
            safe_text(row.folder, FOLDER_DISPLAY_CHARS),
            row.reason,
            status_text(row),
        )

    def refresh(self) -> None:
        """Poll the source and update only the rows that changed."""
        added, removed = self.source.poll()
        for key in removed:
            self._delete_item(key)
        if added:
            order = sort_rows(self.source.rows.values())
            position = {row.key: index for index, row in enumerate(order)}
            for row in sorted(added, key=lambda r: position[r.key]):
                iid = f"row{len(self._key_of) + 1}"
                while iid in self._key_of:
                    iid += "+"
                self._iid_of[row.key], self._key_of[iid] = iid, row.key
                self.tree.insert("", position[row.key], iid=iid, values=self._values(row))
        if not self.tree.selection() and self.tree.get_children():
            first = self.tree.get_children()[0]
            self.tree.selection_set(first)
            self.tree.focus(first)
        self._update_buttons()
        self._show_count()

    def _poll(self) -> None:
        try:
            self.refresh()
        except Exception:  # a poll failing once must not close the window
            log.exception("review window poll failed")
        self.root.after(POLL_INTERVAL_MS, self._poll)

    def _delete_item(self, key: str) -> None:
        iid = self._iid_of.pop(key, None)
        if iid is not None:
            self._key_of.pop(iid, None)
            if self.tree.exists(iid):
                self.tree.delete(iid)

    def selected(self) -> ReviewRow | None:
        """The selected row, if any."""
        selection = self.tree.selection()
        if not selection:
            return None
        return self.source.rows.get(self._key_of.get(selection[0], ""))

    def _update_buttons(self) -> None:
        row = self.selected()
        for action, button in self.buttons.items():
            allowed = can(action, row, self.permissions) and not self._busy
            button.state(["!disabled"] if allowed else ["disabled"])

    def _show_count(self, message: str | None = None) -> None:
        """The status line: how many files are listed, and the last thing done."""
        if message is not None:
            self._message = message
        count = len(self.source.rows)
        listed = "No caught files." if count == 0 else f"{count} caught file{'s' * (count != 1)}."
        self.status.configure(text=f"{listed} {self._message}".strip())

    def _select_edge(self, last: bool) -> None:
        children = self.tree.get_children()
        if children:
            target = children[-1] if last else children[0]
            self.tree.selection_set(target)
            self.tree.focus(target)
            self.tree.see(target)

    def _remove_row(self, row: ReviewRow) -> None:
        iid = self._iid_of.get(row.key, "")
        index = self.tree.index(iid) if iid and self.tree.exists(iid) else 0
        self._delete_item(row.key)
        self.source.forget(row.key)
        children = self.tree.get_children()
        if children:
            nxt = children[min(index, len(children) - 1)]
            self.tree.selection_set(nxt)
            self.tree.focus(nxt)
        self._update_buttons()

    # --- actions -------------------------------------------------------------------------

    def _error(self, title: str, text: str) -> None:
        messagebox.showerror(title, text, parent=self.root)

    def show_details(self) -> None:
        """A window with the findings, offsets, hashes and original path."""
        row = self.selected()
        if row is None:
            return
        top = tk.Toplevel(self.root)
        top.title(f"Details — {row.name}")
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
        """Delete the selected file for good, after a confirmation."""
        row = self.selected()
        if row is None or not can("delete", row, self.permissions):
            return
        if not messagebox.askyesno("Delete file", delete_question(row), parent=self.root):
            return
        try:
            if row.kind == QUARANTINED:
                self.vault.delete(row.item_id)
            else:
                Path(row.original_path).unlink(missing_ok=True)
                if self.statedb is not None:
                    self.statedb.forget(row.original_path)
        except Exception as error:
            self._error("Could not delete", f"{row.name} could not be deleted: {error}")
            return
        self._remove_row(row)
        self._show_count(f"Deleted {row.name}.")

    def restore(self) -> None:
        """Put a quarantined file back, after a confirmation that repeats the reason."""
        row = self.selected()
        if row is None or not can("restore", row, self.permissions):
            return
        if not messagebox.askyesno(
            "Restore file", restore_question(row), icon=messagebox.WARNING, parent=self.root
        ):
            return
        try:
            restored = self.vault.restore(row.item_id)
        except Exception as error:
            self._error("Could not restore", f"{row.name} could not be put back: {error}")
            return
        self._remove_row(row)
        self._show_count(f"Put back as {safe_path(str(restored))}.")

    def save_safe_copy(self) -> None:
        """Make a sanitized copy in the background; report where it went."""
        row = self.selected()
        if row is None or not can("sanitize", row, self.permissions) or self._busy:
            return
        folder = _copies_folder(row)
        self._busy = True
        self._update_buttons()
        self._show_count(f"Making a safe copy of {row.name}…")
        worker = threading.Thread(
            target=self._sanitize_worker, args=(row, folder), name="safe-copy", daemon=True
        )
        worker.start()

    def _sanitize_worker(self, row: ReviewRow, folder: Path) -> None:
        try:
            if row.kind == QUARANTINED:
                path = sanitize_vault_item(self.vault, str(row.item_id), folder, row.untrusted_name)
            else:
                dest = unique_destination(folder, sanitized_name(row.untrusted_name))
                path = sanitize_file(Path(row.original_path), dest).path
        except SanitizeError as error:
            message = str(error)
            self._results.put(lambda: self._copy_done(None, message))
            return
        except Exception as error:  # the vault may refuse (tampered record...)
            message = f"No safe copy could be made: {error}"
            self._results.put(lambda: self._copy_done(None, message))
            return
        self._results.put(lambda: self._copy_done(path, ""))

    def _copy_done(self, path: Path | None, problem: str) -> None:
        self._busy = False
        self._update_buttons()
        if path is None:
            self._show_count("No safe copy was made.")
            self._error("No safe copy", problem)
            return
        where = safe_path(str(path.parent))
        self._show_count(f"Safe copy saved as {path.name} in {where}.")
        messagebox.showinfo(
            "Safe copy saved",
            "A safe copy (only the picture, nothing hidden) was saved as"
            f"\n\n{path.name}\n\nin {where}.",
            parent=self.root,
        )

    def _drain_results(self) -> None:
        while True:
            try:
                callback = self._results.get_nowait()
            except queue.Empty:
                break
            callback()
        self.root.after(RESULT_CHECK_MS, self._drain_results)

    def export(self) -> None:
        """Save a JSON report of everything listed, for IT."""
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
        try:
            write_report(
                self.source.rows.values(), Path(target), self.clock(), socket.gethostname()
            )
        except OSError as error:
            self._error("Could not save the report", str(error))
            return
        self._show_count(f"Report saved as {safe_path(target)}.")


def mark_reviewed(runtime_dir: Path) -> None:
    """Tell the agent the window was opened: it resets the "to review" count."""
    with contextlib.suppress(OSError):
        runtime_dir.mkdir(parents=True, exist_ok=True)
        (runtime_dir / "reviewed").touch()


def run_review_window(
    vault: Any, statedb: Any, permissions: Permissions, runtime_dir: Path | None = None
) -> int:
    """Open the window and run until it is closed; returns the exit code."""
    root = tk.Tk(className="Photogate")
    if runtime_dir is not None:
        mark_reviewed(runtime_dir)
    ReviewWindow(root, ReviewSource(vault, statedb), permissions, vault, statedb)
    root.mainloop()
    return 0


def run_scan_dialog(inspect: Callable[[Path], tuple[str, str]]) -> int:
    """ "Scan a file…": choose a file, inspect it, show the verdict in plain words.

    `inspect(path)` returns (headline, reason). Nothing is decoded: inspection only
    reads the file's structure.
    """
    root = tk.Tk(className="Photogate")
    root.withdraw()
    chosen = filedialog.askopenfilename(parent=root, title="Choose a file to check")
    if not chosen:
        root.destroy()
        return 0
    headline, reason = inspect(Path(chosen))
    messagebox.showinfo("Photogate", f"{headline}\n\n{reason}", parent=root)
    root.destroy()
    return 0


__all__ = ["FLAGGED", "QUARANTINED", "ReviewWindow", "run_review_window", "run_scan_dialog"]
