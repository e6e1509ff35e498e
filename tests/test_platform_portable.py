"""The agent protects with the Unix-only attributes gone, as on a Windows interpreter.

tests/no_unix_agent.py removes os.pread & co. in a fresh process, installs the portable
implementation (what Windows runs, with a Linux lock standing in for msvcrt), and runs the
engine, then the real agent on a real watched folder with a real vault.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RUN_TIMEOUT_SECONDS = 120


def test_booby_trapped_file_is_quarantined_without_unix_only_calls(tmp_path: Path) -> None:
    env = {**os.environ, "USERNAME": "frontdesk"}  # Windows always sets USERNAME
    done = subprocess.run(
        [sys.executable, "-m", "tests.no_unix_agent", str(tmp_path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["platform"] == "windows-like"
    for name in ("os.pread", "os.setxattr", "os.set_blocking", "mmap.MADV_DONTNEED", "resource"):
        assert name in result["removed"]
    # The content check ran: a failed positional read would be scan.read_error.
    assert result["engine"] == ["jpeg.trailing_data"]
    assert result["bad"]["action"] == "quarantine"
    assert result["bad"]["findings"] == ["jpeg.trailing_data"]
    assert result["bad_exists"] is False and result["good_exists"] is True
    assert result["good"] == {"action": "log", "findings": []}
    assert [item[0] for item in result["vault"]] == [result["bad"]["item_id"]]
    assert result["vault_bytes_ok"] is True
