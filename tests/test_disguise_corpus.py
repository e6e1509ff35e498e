"""Corpus gate for the disguise classes (bench/eval_disguises.py): names, SVG, DICOM.

Every recipe is generated (a few seeds each), written to a real folder under its real
name and inspected with `inspect_path`; each file must get exactly its recipe's verdict:
benign twins clean, disguised programs quarantined, the milder lies flagged.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import eval_corpus
from bench.eval_disguises import EXPECTED_VERDICT, RECIPES
from tests.corpus_gate import wrong_verdicts

SEEDS_PER_RECIPE = 4  # files per recipe in the test suite (the bench runs the full count)


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda r: r.category)
def test_disguise_recipe_gets_its_expected_verdict(recipe: object, tmp_path: Path) -> None:
    expected = EXPECTED_VERDICT.get(recipe.category, "clean")  # type: ignore[attr-defined]
    wrong = wrong_verdicts(recipe, expected, SEEDS_PER_RECIPE, tmp_path)
    assert not wrong, "\n".join(wrong)


def test_disguise_recipes_are_registered_in_the_evaluation_corpus() -> None:
    categories = {r.category for r in eval_corpus.RECIPES}
    assert {r.category for r in RECIPES} <= categories
    malicious = {r.category for r in RECIPES if r.malicious}
    assert set(EXPECTED_VERDICT) == malicious
    assert {r.category for r in RECIPES if not r.malicious}  # every class has benign twins
