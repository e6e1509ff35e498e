"""Corpus gate for the red-team recipes (bench/eval_redteam.py).

Each attack passed the engine before its rule existed; each benign twin holds what the rule
looks at in an innocent form. Every file is written under its real name to a real folder
and inspected with `inspect_path`: attacks must be quarantined (a program, script or disk
hidden in a picture), twins must stay clean.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from agent.inspect.engine import inspect_path
from bench import eval_corpus
from bench.eval_redteam import EXPECTED, RECIPES, mountable
from tests.corpus_gate import wrong_verdicts

SEEDS_PER_RECIPE = 5  # every file the bench generates for these recipes


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda r: r.category)
def test_redteam_recipe_gets_its_expected_verdict(recipe: object, tmp_path: Path) -> None:
    expected = EXPECTED[recipe.category]  # type: ignore[attr-defined]
    wrong = wrong_verdicts(recipe, expected, SEEDS_PER_RECIPE, tmp_path)
    assert not wrong, "\n".join(wrong)


def test_redteam_recipes_are_registered_and_paired() -> None:
    registered = {r.category for r in eval_corpus.RECIPES}
    assert {r.category for r in RECIPES} <= registered
    assert {EXPECTED[r.category] for r in RECIPES if r.malicious} == {"quarantine"}
    assert {EXPECTED[r.category] for r in RECIPES if not r.malicious} == {"clean"}
    assert sum(not r.malicious for r in RECIPES) >= 7  # a twin for every rule


@pytest.mark.parametrize("seed", range(5))
def test_a_disk_image_under_its_own_name_is_clean(seed: int, tmp_path: Path) -> None:
    """The twin of redteam-mountable-decoy: only the picture decoy makes a disk a lie."""
    name, data, _ = mountable("plain", random.Random(seed))
    path = tmp_path / name
    path.write_bytes(data)
    report = inspect_path(path)
    assert report.verdict.value == "clean", [(f.code, f.detail) for f in report.findings]
