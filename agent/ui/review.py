"""The review window (tkinter/ttk), run in its own process by `photogate review`.

Widgets only: what to list, how names are shown and what is allowed comes from
`agent.ui.review_model`; every action goes through the backend (agent.service.api), so
it works in both modes and is on record. This process never decodes an untrusted image:
safe copies are made by the limited child of `agent.sanitize.parent`.

For a receptionist: the selected file's whole reason is in the detail pane under the list;
actions that cannot apply are greyed and the pane says why; destructive confirmations
default to No; columns sort on a click; the search box filters as you type.
Keys (each used once): Alt+F search, Alt+S safe copy, Alt+R restore, Alt+D delete,
Alt+A false alarm, Alt+T technical details, Alt+E export, Alt+C / Escape close; Delete
deletes, Enter shows the technical details.
"""

from __future__ import annotations

import logging
import queue
import time
import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from tkinter import ttk
from typing import Any

from agent.textsafe import safe_text
from agent.ui.review_actions import ReviewActions
from agent.ui.review_model import (
    FLAGGED,
    QUARANTINED,
    Permissions,
    ReviewRow,
    ReviewSource,
    detail_text,
    matches,
    sort_rows,
    status_text,
    when_text,
    why_not,
)

log = logging.getLogger(__name__)

FOLDER_DISPLAY_CHARS = 32  # of the folder column; the full path is in the detail pane
REASON_COLUMN_CHARS = 90  # of the reason column; the whole reason is in the detail pane
DETAIL_LINES = 12  # the detail pane: name, what it hides, the whole reason, what can't be done
POLL_INTERVAL_MS = 2000  # new items appear within this long while the window is open
RESULT_CHECK_MS = 100  # how often the window looks for a finished background copy
WINDOW_TITLE = "Photogate — caught files"
COLUMNS = (
    ("name", "File", 240),
    ("when", "Caught", 120),
    ("folder", "From folder", 170),
    ("reason", "What is wrong", 420),
    ("status", "Status", 190),
)
INTRO = (
    "These files were stopped because they may be dangerous. "
    "Do not open them unless IT tells you they are safe."
)
# (action, label, access key index): every access key is a different letter.
BUTTONS = (
    ("sanitize", "Save a safe copy…", 0),
    ("restore", "Restore…", 0),
    ("delete", "Delete…", 0),
    ("report", "This is a false alarm…", 16),
    ("details", "Technical details…", 0),
)


class ReviewWindow(ReviewActions):
    """The window: a list of caught files and the actions policy allows on them."""

    def __init__(
        self,
        root: tk.Tk,
        source: ReviewSource,
        permissions: Permissions,
        *,
        select_item: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Build the widgets and start polling `source` for new items."""
        self.root = root
        self.source = source
        self.backend = source.backend
        self.permissions = permissions
        self.clock = clock
        self._results: queue.Queue[Callable[[], None]] = queue.Queue()
        self._busy = False
        self._message = ""
        self._sort = ("when", True)
        self._select_key = f"q:{select_item}" if select_item else None
        self._thumbnails: dict[str, tk.PhotoImage] = {}
        # Tk item ids are plain counters: keys hold paths that Tcl may not carry intact.
        self._iid_of: dict[str, str] = {}
        self._key_of: dict[str, str] = {}
        root.title(WINDOW_TITLE)
        root.geometry("1220x720")
        root.minsize(760, 420)
        self._build()
        self.refresh()
        self._bind_keys()
        root.after(POLL_INTERVAL_MS, self._poll)
        root.after(RESULT_CHECK_MS, self._drain_results)

    # --- layout --------------------------------------------------------------------------

    def _build(self) -> None:
        frame = ttk.Frame(self.root, padding=10)
        frame.pack(fill=tk.BOTH, expand=True)
        ttk.Label(frame, text=INTRO, wraplength=1150, font=("TkDefaultFont", 11)).pack(
            anchor=tk.W, pady=(0, 6)
        )
        search_row = ttk.Frame(frame)
        search_row.pack(fill=tk.X, pady=(0, 6))
        ttk.Label(search_row, text="Find:", underline=0).pack(side=tk.LEFT)
        self.search = tk.StringVar()
        self.search_entry = ttk.Entry(search_row, textvariable=self.search, width=40)
        self.search_entry.pack(side=tk.LEFT, padx=(4, 0))
        self.search.trace_add("write", lambda *_args: self._rebuild_rows())

        table = ttk.Frame(frame)
        table.pack(fill=tk.BOTH, expand=True)
        self.tree = ttk.Treeview(
            table, columns=[c[0] for c in COLUMNS], show="headings", selectmode="browse", height=9
        )
        for key, title, width in COLUMNS:
            self.tree.heading(key, text=title, anchor=tk.W, command=self._sorter(key))
            self.tree.column(key, width=width, anchor=tk.W, stretch=key == "reason")
        scroll = ttk.Scrollbar(table, orient=tk.VERTICAL, command=self.tree.yview)
        self.tree.configure(yscrollcommand=scroll.set)
        self.tree.pack(side=tk.LEFT, fill=tk.BOTH, expand=True)
        scroll.pack(side=tk.RIGHT, fill=tk.Y)
        self.tree.bind("<<TreeviewSelect>>", lambda _e: self._selection_changed())

        pane = ttk.Frame(frame)
        pane.pack(fill=tk.X, pady=(8, 0))
        # Policy ui.thumbnails: a picture made by the limited decoder, never the file itself.
        self.thumbnail = ttk.Label(pane)
        if self.permissions.thumbnails:
            self.thumbnail.pack(side=tk.RIGHT, padx=(8, 0), anchor=tk.N)
        self.detail = tk.Text(
            pane, height=DETAIL_LINES, wrap=tk.WORD, relief=tk.FLAT, takefocus=0,
            font=("TkDefaultFont", 11),
        )  # fmt: skip
        self.detail.configure(background=self.root.cget("background"), state=tk.DISABLED)
        self.detail.tag_configure("title", font=("TkDefaultFont", 12, "bold"))
        self.detail.tag_configure("warning", foreground="#a33000")
        self.detail.pack(side=tk.LEFT, fill=tk.X, expand=True)

        buttons = ttk.Frame(frame, padding=(0, 8, 0, 0))
        buttons.pack(fill=tk.X)
        self.buttons: dict[str, ttk.Button] = {}
        commands = {
            "sanitize": self.save_safe_copy,
            "restore": self.restore,
            "delete": self.delete,
            "report": self.report_false_alarm,
            "details": self.show_details,
        }
        for action, label, underline in BUTTONS:
            button = ttk.Button(buttons, text=label, underline=underline, command=commands[action])
            button.pack(side=tk.LEFT, padx=(0, 6))
            self.buttons[action] = button
        ttk.Button(buttons, text="Close", underline=0, command=self.root.destroy).pack(
            side=tk.RIGHT
        )
        ttk.Button(buttons, text="Export report…", underline=0, command=self.export).pack(
            side=tk.RIGHT, padx=(0, 6)
        )
        policy_line = self.permissions.unavailable_line()
        self.policy_label = ttk.Label(frame, text=policy_line or "", foreground="#8a4b00")
        if policy_line:
            self.policy_label.pack(anchor=tk.W, pady=(6, 0))
        self.status = ttk.Label(frame, text="", foreground="#333333")
        self.status.pack(anchor=tk.W, pady=(4, 0))

    def _bind_keys(self) -> None:
        bindings: dict[str, Callable[[], None]] = {
            "<Return>": self.show_details,
            "<KP_Enter>": self.show_details,
            "<Delete>": self.delete,
            "<Alt-f>": self.search_entry.focus_set,
            "<Alt-s>": self.save_safe_copy,
            "<Alt-r>": self.restore,
            "<Alt-d>": self.delete,
            "<Alt-a>": self.report_false_alarm,
            "<Alt-t>": self.show_details,
            "<Alt-e>": self.export,
            "<Alt-c>": self.root.destroy,
            "<Home>": lambda: self._select_edge(last=False),
            "<End>": lambda: self._select_edge(last=True),
            "<Escape>": self.root.destroy,
            "<Control-w>": self.root.destroy,
        }
        for sequence, command in bindings.items():
            target = self.tree if sequence in ("<Delete>", "<Return>", "<KP_Enter>") else self.root
            target.bind(sequence, self._key_handler(command))
        self.tree.focus_set()

    @staticmethod
    def _key_handler(command: Callable[[], None]) -> Callable[[Any], str]:
        def handle(_event: Any) -> str:
            command()
            return "break"  # the key is handled: no default Tk binding runs after it

        return handle

    # --- rows ----------------------------------------------------------------------------

    def _values(self, row: ReviewRow) -> tuple[str, ...]:
        name = row.view.shown if not row.view.note else f"⚠ {row.view.shown}"
        return (
            name,
            when_text(row.when, self.clock()),
            # Long folders keep their end ("…/Downloads"), where people recognise them.
            safe_text(row.folder, FOLDER_DISPLAY_CHARS),
            safe_text(row.reason, REASON_COLUMN_CHARS),
            status_text(row),
        )

    def refresh(self) -> None:
        """Poll the source and show what changed."""
        added, removed = self.source.poll()
        if added or removed or not self._iid_of:
            self._rebuild_rows()
        self._show_count()

    def _rebuild_rows(self) -> None:
        """Redraw the list in the current order and filter, keeping the selection."""
        selected = self.selected()
        keep = self._select_key or (selected.key if selected else None)
        self.tree.delete(*self.tree.get_children())
        self._iid_of.clear()
        self._key_of.clear()
        query = self.search.get() if hasattr(self, "search") else ""
        column, descending = self._sort
        shown = [row for row in sort_rows(self.source.rows.values(), column, descending)]
        for index, row in enumerate(r for r in shown if matches(r, query)):
            iid = f"row{index}"
            self._iid_of[row.key], self._key_of[iid] = iid, row.key
            self.tree.insert("", tk.END, iid=iid, values=self._values(row))
        target = self._iid_of.get(keep or "")
        if target is not None and keep == self._select_key:
            self._select_key = None  # the item a notification named: selected once
        children = self.tree.get_children()
        target = target or (children[0] if children else None)
        if target is not None:
            self.tree.selection_set(target)
            self.tree.focus(target)
            self.tree.see(target)
        self._selection_changed()

    def _sorter(self, column: str) -> Callable[[], None]:
        return lambda: self.sort_by(column)

    def sort_by(self, column: str) -> None:
        """Sort by `column` (a click on its heading); a second click reverses the order."""
        current, descending = self._sort
        self._sort = (column, not descending if column == current else column == "when")
        self._rebuild_rows()

    def _poll(self) -> None:
        try:
            self.refresh()
        except Exception:  # a poll failing once must not close the window
            log.exception("review window poll failed")
        self.root.after(POLL_INTERVAL_MS, self._poll)

    def selected(self) -> ReviewRow | None:
        """The selected row, if any."""
        selection = self.tree.selection()
        if not selection:
            return None
        return self.source.rows.get(self._key_of.get(selection[0], ""))

    def _selection_changed(self) -> None:
        row = self.selected()
        for action, button in self.buttons.items():
            allowed = row is not None and (
                action == "details" or why_not(action, row, self.permissions) is None
            )
            button.state(["!disabled"] if allowed and not self._busy else ["disabled"])
        text = detail_text(row, self.permissions) if row else "No file is selected."
        self.detail.configure(state=tk.NORMAL)
        self.detail.delete("1.0", tk.END)
        self.detail.insert("1.0", text)
        self.detail.tag_add("title", "1.0", "1.end")
        if row is not None and row.view.note:
            self.detail.tag_add("warning", "2.0", "2.end")
        self.detail.configure(state=tk.DISABLED)
        self._show_thumbnail(row)

    def _show_count(self, message: str | None = None) -> None:
        """The status line: how many files are listed, and the last thing done."""
        if message is not None:
            self._message = message
        count = len(self.source.rows)
        listed = "No caught files." if count == 0 else f"{count} caught file{'s' * (count != 1)}."
        self.status.configure(text=f"{listed} {self._message}".strip())

    def _focus_list(self) -> None:
        """Give the keyboard back to the list (after a dialog closed)."""
        self.tree.focus_set()
        selection = self.tree.selection()
        if selection:
            self.tree.focus(selection[0])

    def _select_edge(self, last: bool) -> None:
        children = self.tree.get_children()
        if children:
            target = children[-1] if last else children[0]
            self.tree.selection_set(target)
            self.tree.focus(target)
            self.tree.see(target)

    def _remove_row(self, row: ReviewRow) -> None:
        self.source.forget(row.key)
        self._rebuild_rows()

    def _drain_results(self) -> None:
        while True:
            try:
                callback = self._results.get_nowait()
            except queue.Empty:
                break
            callback()
        self.root.after(RESULT_CHECK_MS, self._drain_results)


def run_review_window(
    backend: Any, permissions: Permissions, *, select_item: str | None = None
) -> int:
    """Open the window on `backend` and run until it is closed; returns the exit code."""
    root = tk.Tk(className="Photogate")
    source = ReviewSource(backend)
    window = ReviewWindow(root, source, permissions, select_item=select_item)
    try:
        backend.mark_reviewed()
    except Exception:  # the count in the tray is a convenience, not a reason to fail
        log.warning("could not reset the to-review count", exc_info=True)
    opened = getattr(backend, "review_opened", None)
    if opened is not None:
        opened(len(source.rows))
    del window
    root.mainloop()
    return 0


def run_scan_dialog(inspect: Callable[[Path], tuple[str, str]]) -> int:
    """ "Scan a file…": choose a file, inspect it, show the verdict in plain words.

    `inspect(path)` returns (headline, reason). Nothing is decoded: inspection only
    reads the file's structure.
    """
    from tkinter import filedialog, messagebox

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
