"""Per-language pruning of math and code (paper §2.3: 32K math, 16K code per language).

Selection is by a seeded hash rank of each record's id, so it is deterministic, needs one
streaming pass and memory for the kept ids only (a bounded heap), and happens before translation (no LLM time is
spent on records that would be cut). ``shared`` gives every language the same subset;
``disjoint`` gives each language its own slice of the ranking.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Iterable, Sequence
from typing import Literal

Mode = Literal["shared", "disjoint"]


def rank(seed: int, record_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{seed}\x1f{record_id}".encode(), digest_size=8).digest(), "big")


def select(ids: Iterable[str], size: int, seed: int, language: str, languages: Sequence[str],
           mode: Mode = "shared") -> set[str]:
    """The ids ``language`` keeps out of ``ids`` (all of them for English, the source)."""
    if size < 0:
        raise ValueError("size must be >= 0")
    if language == "en":
        return set(ids)
    targets = [lang for lang in languages if lang != "en"]
    if mode == "shared":
        return set(heapq.nsmallest(size, ids, key=lambda i: rank(seed, i)))
    if language not in targets:
        raise ValueError(f"{language!r} is not among the pruned languages {targets}")
    ordered = heapq.nsmallest(size * len(targets), ids, key=lambda i: rank(seed, i))
    k = targets.index(language)
    return set(ordered[k::len(targets)][:size])
