"""Shared fixtures: where the real-world sample corpus lives, and isolated agent homes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def corpus_root() -> Path:
    """The shared corpus: $PHOTOGATE_CORPUS, or ../shared/corpus beside the repository."""
    configured = os.environ.get("PHOTOGATE_CORPUS")
    root = Path(configured) if configured else REPO_ROOT.parent / "shared" / "corpus"
    if not (root / "benign").is_dir():
        raise RuntimeError(
            f"sample corpus not found at {root}; set PHOTOGATE_CORPUS to the shared/corpus folder"
        )
    return root


def corpus_files(kind: str) -> list[Path]:
    """Every file under corpus/<kind>/ (benign, malicious, unusual), sorted."""
    return sorted(p for p in (corpus_root() / kind).iterdir() if p.is_file())


@pytest.fixture
def corpus() -> Path:
    """The corpus root folder (fails, never skips, when it is missing)."""
    return corpus_root()


@pytest.fixture
def photogate_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private PHOTOGATE_HOME so no test touches the real user's state."""
    home = tmp_path / "photogate-home"
    home.mkdir()
    monkeypatch.setenv("PHOTOGATE_HOME", str(home))
    return home
