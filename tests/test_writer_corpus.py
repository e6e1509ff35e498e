"""Corpus gate for the benign shapes of real writers (bench/eval_writers.py).

Each recipe rebuilds a layout a real writer produces that gave, or must never give, a false alarm
(Inkscape path effects, ImageMagick 6 WebP, big-endian DICOM without File Meta): every
generated file must come out clean.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import eval_corpus
from bench.eval_writers import RECIPES
from tests.corpus_gate import wrong_verdicts

SEEDS_PER_RECIPE = 6  # files per recipe in the test suite (the bench runs the full count)


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda r: r.category)
def test_writer_recipe_is_clean(recipe: object, tmp_path: Path) -> None:
    wrong = wrong_verdicts(recipe, "clean", SEEDS_PER_RECIPE, tmp_path)
    assert not wrong, "\n".join(wrong)


def test_writer_recipes_are_benign_and_registered_in_the_evaluation_corpus() -> None:
    assert not any(r.malicious for r in RECIPES)
    assert {r.category for r in RECIPES} <= {r.category for r in eval_corpus.RECIPES}
