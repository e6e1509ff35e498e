"""Corpus gate for payloads hidden inside walked structures (bench/eval_walkers.py).

Every recipe of the walker corpus is generated (a few seeds each), written to a real
folder and inspected with `inspect_path`; each file must get exactly its recipe's
verdict: benign twins clean, payloads quarantined, encrypted-looking blobs and
decoded-size bombs under the reject threshold flagged.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from agent.inspect.engine import inspect_path
from bench import eval_corpus
from bench.eval_walkers import EXPECTED_VERDICT, RECIPES

SEEDS_PER_RECIPE = 3  # files per recipe in the test suite (the bench runs the full count)


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda r: r.category)
def test_walker_recipe_gets_its_expected_verdict(recipe: object, tmp_path: Path) -> None:
    category = recipe.category  # type: ignore[attr-defined]
    expected = EXPECTED_VERDICT.get(category, "clean")
    wrong = []
    for index in range(SEEDS_PER_RECIPE):
        rng = random.Random(f"{eval_corpus.DEFAULT_SEED}/{category}/{index}")
        name, data, note = recipe.make(rng)  # type: ignore[attr-defined]
        path = tmp_path / f"{index}" / name
        path.parent.mkdir()
        path.write_bytes(data)
        report = inspect_path(path)
        if report.verdict.value != expected:
            found = [(f.code, f.severity.label) for f in report.findings]
            wrong.append(f"{name} [{note}] -> {report.verdict.value}: {found}")
    assert not wrong, "\n".join(wrong)


def test_walker_recipes_are_registered_in_the_evaluation_corpus() -> None:
    categories = {r.category for r in eval_corpus.RECIPES}
    assert {r.category for r in RECIPES} <= categories
    malicious = [r for r in RECIPES if r.malicious]
    assert set(EXPECTED_VERDICT) == {r.category for r in malicious}
    assert set(EXPECTED_VERDICT.values()) == {"quarantine", "flag"}
