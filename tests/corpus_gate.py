"""The recipe -> verdict loop shared by the generated-corpus gates.

A recipe (bench/eval_*.py) makes `(name, data, note)` from a seeded random source; the gate
writes each file under its real name in its own folder, inspects it with `inspect_path`
and collects every file whose verdict is not the one the recipe's class promises.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from agent.inspect.engine import inspect_path
from bench import eval_corpus


def wrong_verdicts(recipe: Any, expected: str, seeds: int, folder: Path) -> list[str]:
    """One line per generated file of `recipe` whose verdict is not `expected`."""
    wrong = []
    for index in range(seeds):
        rng = random.Random(f"{eval_corpus.DEFAULT_SEED}/{recipe.category}/{index}")
        name, data, note = recipe.make(rng)
        path = folder / f"{index}" / name
        path.parent.mkdir()
        path.write_bytes(data)
        report = inspect_path(path)
        if report.verdict.value != expected:
            found = [(f.code, f.severity.label, f.detail) for f in report.findings]
            wrong.append(f"{name!r} [{note}] -> {report.verdict.value}: {found}")
    return wrong
