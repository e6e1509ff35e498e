"""Test-only failure hooks in production code: named as such, documented, inert when frozen.

Two failures the suite must provoke cannot be produced reliably from outside the process,
so production code has a hook for each, read only through `hook_value`:

- `PHOTOGATE_TEST_HOOK_VAULT_CRASH_AT=<step>`, read by `agent.vault.journal.crash_point`:
  the process SIGKILLs itself at that vault or journal step (tests/test_vault_crash.py);
- `PHOTOGATE_TEST_HOOK_SANITIZE_FAULT=crash|hang`, read by `agent.sanitize.child`: the
  decoder child aborts or spins (tests/test_sanitize.py).

In a frozen build (`sys.frozen`, set by PyInstaller: what the installers ship) every hook
reads as unset: an environment variable on a clinic PC cannot make the agent crash.
"""

from __future__ import annotations

import os
import sys

VAULT_CRASH_AT = "PHOTOGATE_TEST_HOOK_VAULT_CRASH_AT"
SANITIZE_FAULT = "PHOTOGATE_TEST_HOOK_SANITIZE_FAULT"
HOOKS = (VAULT_CRASH_AT, SANITIZE_FAULT)


def hook_value(name: str) -> str:
    """The test hook's value, or "" when unset or in a frozen build (where hooks are inert)."""
    if name not in HOOKS or getattr(sys, "frozen", False):
        return ""
    return os.environ.get(name, "")
