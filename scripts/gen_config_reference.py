"""Write config.toml, agent/default_config.toml and docs/config-reference.md from the schema.

Run after changing agent/policy/keys.py or agent/policy/schema.py:
    .venv/bin/python scripts/gen_config_reference.py
`--check` exits 1 (listing the stale files) instead of writing; tests run the same check.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from agent.policy.docs import render_default_config, render_reference  # noqa: E402


def outputs() -> dict[Path, str]:
    """Each generated file and the text it must hold."""
    config = render_default_config()
    return {
        REPO / "config.toml": config,
        REPO / "agent" / "default_config.toml": config,
        REPO / "docs" / "config-reference.md": render_reference(),
    }


def main(argv: list[str]) -> int:
    """Write the files, or with --check report the ones that differ."""
    stale = [p for p, text in outputs().items() if not p.exists() or p.read_text("utf-8") != text]
    if "--check" in argv:
        for path in stale:
            print(f"{path.relative_to(REPO)} is out of date: run scripts/gen_config_reference.py")
        return 1 if stale else 0
    for path, text in outputs().items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
