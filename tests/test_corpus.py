"""The real-corpus gate: benign stays clean, malicious is caught, unusual is never quarantined.

Parametrized per file so a failure names the file. The corpus must exist: the fixture
helpers in conftest.py raise (fail, never skip) when it is missing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import corpus_files

from agent.inspect.engine import inspect_path
from agent.model import Verdict


def _describe(path: Path) -> str:
    report = inspect_path(path)
    return "; ".join(f"{f.code}({f.severity.label}): {f.detail}" for f in report.findings)


@pytest.mark.parametrize("path", corpus_files("benign"), ids=lambda p: p.name)
def test_benign_file_is_clean(path: Path) -> None:
    report = inspect_path(path)
    assert report.verdict is Verdict.CLEAN, _describe(path)


@pytest.mark.parametrize("path", corpus_files("malicious"), ids=lambda p: p.name)
def test_malicious_file_is_caught(path: Path) -> None:
    report = inspect_path(path)
    assert report.verdict is not Verdict.CLEAN, _describe(path)


@pytest.mark.parametrize("path", corpus_files("unusual"), ids=lambda p: p.name)
def test_unusual_file_is_never_quarantined(path: Path) -> None:
    report = inspect_path(path)
    assert report.verdict is not Verdict.QUARANTINE, _describe(path)


def test_corpus_is_populated() -> None:
    assert len(corpus_files("benign")) >= 10
    assert len(corpus_files("malicious")) >= 10
    assert corpus_files("unusual")
