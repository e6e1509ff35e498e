"""Write config.toml, default_config.toml, config-reference.md and finding-codes.md.

Run after changing agent/policy/keys.py, agent/policy/schema.py or agent/inspect/codes.py:
    .venv/bin/python scripts/gen_config_reference.py
`--check` exits 1 (listing the stale files) instead of writing; tests run the same check.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from agent.policy.docs import (  # noqa: E402
    render_codes_reference,
    render_default_config,
    render_reference,
)


def outputs() -> dict[Path, str]:
    """Each generated file and the text it must hold."""
    config = render_default_config()
    return {
        REPO / "config.toml": config,
        REPO / "agent" / "default_config.toml": config,
        REPO / "docs" / "config-reference.md": render_reference(),
        REPO / "docs" / "finding-codes.md": render_codes_reference(),
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
