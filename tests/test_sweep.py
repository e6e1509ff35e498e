"""The reconciliation sweep: iterative, and a tree reported level by level is walked once."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from agent.service import sweep as sweep_module
from agent.service.pipeline import Scope
from agent.service.statedb import StateDB
from agent.service.sweep import Sweep

TREE_LEVELS = 200  # the tree, made one mkdir at a time (24 s of agent CPU before)
WIDE_FOLDERS = 1_500  # the issue: 990 and 1,500 new folders at once stopped the worker


def _chain(base: Path, levels: int) -> list[Path]:
    folders = []
    current = base
    for _ in range(levels):
        current = current / "d"
        current.mkdir()
        folders.append(current)
    (current / "bottom.jpg").write_bytes(b"x")
    return folders


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    listed: list[str] = []
    real = os.scandir

    def counting(path: str) -> os._ScandirIterator[str]:
        listed.append(path)
        return real(path)

    monkeypatch.setattr(sweep_module.os, "scandir", counting)
    return listed


def test_a_tree_reported_one_new_folder_per_level_is_listed_once_per_folder(
    tmp_path: Path, counted: list[str]
) -> None:
    root = tmp_path / "Downloads"
    root.mkdir()
    levels = _chain(root, TREE_LEVELS)
    scope = Scope(roots=(root,), excluded=(), ignore_patterns=())
    with StateDB(tmp_path / "s.db") as db:
        sweep = Sweep(db, threading.Event())
        sweep.add([root], scope)
        found: list[str] = []
        for folder in levels:  # watchdog reports each level as a new folder, in order
            sweep.add([folder], scope)
            found += sweep.take(1)
        while sweep.active:
            found += sweep.take(128)
    assert found == [str(levels[-1] / "bottom.jpg")]
    assert len(counted) == TREE_LEVELS + 1  # linear: each folder listed once
    assert len(set(counted)) == TREE_LEVELS + 1


def test_1500_new_folders_at_once_are_walked_without_recursion(tmp_path: Path) -> None:
    root = tmp_path / "Downloads"
    root.mkdir()
    for index in range(WIDE_FOLDERS):
        (root / f"f{index:04}").mkdir()
    (root / f"f{WIDE_FOLDERS - 1:04}" / "last.jpg").write_bytes(b"x")
    scope = Scope(roots=(root,), excluded=(), ignore_patterns=())
    with StateDB(tmp_path / "s.db") as db:
        sweep = Sweep(db, threading.Event())
        sweep.add([root / f"f{index:04}" for index in range(WIDE_FOLDERS)], scope)
        found: list[str] = []
        while sweep.active:
            found += sweep.take(128)
    assert found == [str(root / f"f{WIDE_FOLDERS - 1:04}" / "last.jpg")]
