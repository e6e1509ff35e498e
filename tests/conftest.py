"""Shared fixtures: where the real-world sample corpus lives, and isolated agent homes."""

from __future__ import annotations

import os
import sys
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


# Test modules that exercise Linux itself: not collected where the suite runs on Windows or
# macOS in CI (.github/workflows/installers.yml); the report header lists them with the reason.
# Everything else runs on every OS: a test that fails there is a portability bug to fix.
LINUX_ONLY_MODULES = {
    "test_installer_linux.py": "installs the Linux layout (XDG autostart, systemd --user)",
    "test_tray_gui.py": "drives the tray under Xvfb with an X11 tray host",
    "test_review_gui.py": "drives the review window under Xvfb",
    "test_tray_stop.py": "stops the X11 tray with SIGTERM under Xvfb",
    "test_protected.py": "creates Unix accounts (useradd) and checks SO_PEERCRED",
    "test_platform_portable.py": "simulates a Windows interpreter on Linux",
}
ON_LINUX = sys.platform.startswith("linux")


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Leave LINUX_ONLY_MODULES out off Linux (some cannot even be imported there)."""
    del config
    if not ON_LINUX and collection_path.name in LINUX_ONLY_MODULES:
        return True
    return None


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Say which modules this OS does not run, and why."""
    del config
    if ON_LINUX:
        return []
    return [
        f"Linux only, not run on {sys.platform}: {name} ({why})"
        for name, why in sorted(LINUX_ONLY_MODULES.items())
    ]
