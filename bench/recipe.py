"""The shape every generated corpus is made from: a recipe per category of files.

One definition for the evaluation modules (bench/eval_*.py), which bench/eval_corpus.py
gathers: none of them may import eval_corpus itself (it imports them).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

Maker = Callable[[random.Random], tuple[str, bytes, str]]  # -> (file name, bytes, note)


@dataclass(frozen=True)
class Recipe:
    """`count` files of one category (at full scale), each made by `make` from its own seed."""

    category: str
    malicious: bool
    count: int
    make: Maker
