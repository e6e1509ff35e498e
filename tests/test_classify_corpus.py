"""The classifier's evaluation recipes (bench/eval_classify.py): each file reaches its verdict.

Not "not clean": every malicious category must reach the verdict `EXPECTED` names
(quarantine: the payloads are programs, archives, documents and scripts), every benign
one must stay clean. The files are written to a real folder and inspected with
`inspect_path`, the way bench/detection.py measures the whole corpus.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from agent.inspect.engine import inspect_path
from agent.model import Report
from bench import eval_classify, eval_corpus
from bench.eval_corpus import Item, planned_count, write_corpus

SCALE = 1.0  # every file of the classifier's recipes (~290)


@pytest.fixture(scope="module")
def inspected(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, Item, Report]]:
    """The classifier's recipes, generated like the full corpus and inspected file by file."""
    items = []
    for recipe in eval_classify.RECIPES:  # the seeds eval_corpus.generate gives them
        for index in range(planned_count(recipe, SCALE)):  # type: ignore[arg-type]
            rng = random.Random(f"{eval_corpus.DEFAULT_SEED}/{recipe.category}/{index}")
            name, data, note = recipe.make(rng)
            items.append(Item(recipe.category, recipe.malicious, name, data, note))
    folder = tmp_path_factory.mktemp("classify")
    return [(path, item, inspect_path(path)) for path, item in write_corpus(folder, items)]


def test_every_category_reaches_its_verdict(inspected: list[tuple[Path, Item, Report]]) -> None:
    wrong = [
        f"{item.category} [{item.note}] -> {report.verdict.value}: "
        + ", ".join(f"{f.code}({f.severity.label})" for f in report.findings)
        for _, item, report in inspected
        if report.verdict.value != eval_classify.EXPECTED[item.category]
    ]
    assert not wrong, "\n".join(wrong)


def test_recipes_are_registered_and_cover_the_classes(
    inspected: list[tuple[Path, Item, Report]],
) -> None:
    registered = {recipe.category for recipe in eval_corpus.RECIPES}
    assert {recipe.category for recipe in eval_classify.RECIPES} <= registered
    notes = " ".join(item.note for _, item, _ in inspected)
    for needle in ("gzip", "bzip2", "xz", "cab", "ole", "iso", "lnk", "chm", "dex", "wasm",
                   "rtf", "hta", "python", "macho", "java_class", "base64-delimited",
                   "base64-reversed", "hex", "uuencode", "xor", "xp-comment", "user-comment",
                   "motion-mdat", "sef-record", "afcp", "gif-assign", "bmp", "jpeg-app0",
                   "profile", "app1-length-2f2a", "gif-width-317", "xmp-thumbnail"):  # fmt: skip
        assert needle in notes, needle


def test_malicious_files_are_the_clean_photos_plus_a_payload() -> None:
    """The pairs share their photos: each pool photo is one fixed file."""
    assert eval_classify.host(3) == eval_classify.host(3)
    fmt, clean = eval_classify.host(5, "jpeg")
    assert fmt == "jpeg" and clean.startswith(b"\xff\xd8\xff") and clean.endswith(b"\xff\xd9")
