"""Corpus gate for the disguise classes (bench/eval_disguises.py): names, SVG, DICOM.

Every recipe is generated (a few seeds each), written to a real folder under its real
name and inspected with `inspect_path`; each file must get exactly its recipe's verdict:
benign twins clean, disguised programs quarantined, the milder lies flagged.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from agent.inspect.engine import inspect_path
from bench import eval_corpus
from bench.eval_disguises import EXPECTED_VERDICT, RECIPES

SEEDS_PER_RECIPE = 4  # files per recipe in the test suite (the bench runs the full count)


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda r: r.category)
def test_disguise_recipe_gets_its_expected_verdict(recipe: object, tmp_path: Path) -> None:
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
            found = [(f.code, f.severity.label, f.detail) for f in report.findings]
            wrong.append(f"{name!r} [{note}] -> {report.verdict.value}: {found}")
    assert not wrong, "\n".join(wrong)


def test_disguise_recipes_are_registered_in_the_evaluation_corpus() -> None:
    categories = {r.category for r in eval_corpus.RECIPES}
    assert {r.category for r in RECIPES} <= categories
    malicious = {r.category for r in RECIPES if r.malicious}
    assert set(EXPECTED_VERDICT) == malicious
    assert {r.category for r in RECIPES if not r.malicious}  # every class has benign twins
