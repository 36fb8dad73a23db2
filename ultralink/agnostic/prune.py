"""Per-language pruning of math and code (paper §2.3: 32K math, 16K code per language).

Selection is by a seeded hash rank of each record's id, so it is deterministic, needs one
streaming pass and memory for the kept ids only (a bounded heap), and happens before translation (no LLM time is
spent on records that would be cut). ``ranked`` extends a selection in the same order: the
records past it are the pool that replaces failed translations. ``shared`` gives every
language the same subset; ``disjoint`` gives each language its own slice of the ranking. With ``groups`` (MetaMathQA's
``original_question`` per id) every group's best-ranked record comes before any group's second,
so a pruned set holds as many distinct problems as it can rather than rephrasings of one.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

from ultralink.core.ids import stable_int

Mode = Literal["shared", "disjoint"]


def rank(seed: int, record_id: str) -> int:
    return stable_int(seed, record_id, bits=64)


def _occurrences(ids: Iterable[str], seed: int, groups: Mapping[str, object]
                 ) -> dict[str, tuple[int, int, object]]:
    """id → (its turn within its group, its rank position, its group), in rank order."""
    seen: Counter[object] = Counter()
    out = {}
    for pos, i in enumerate(sorted(ids, key=lambda i: rank(seed, i))):
        g = groups.get(i, ("id", i))
        out[i] = (seen[g], pos, g)
        seen[g] += 1
    return out


def _first(n: int, ids: Iterable[str], seed: int, groups: Mapping[str, object] | None) -> list[str]:
    """The ``n`` best-ranked ids; with ``groups``, round by round over distinct groups."""
    if not groups:
        return heapq.nsmallest(n, ids, key=lambda i: rank(seed, i))
    occ = _occurrences(ids, seed, groups)
    return sorted(occ, key=lambda i: occ[i][:2])[:n]


def ranked(ids: Iterable[str], n: int, seed: int, language: str, languages: Sequence[str],
           mode: Mode = "shared", groups: Mapping[str, object] | None = None) -> list[str]:
    """The first ``n`` ids of ``language``'s draw order (all of them, as given, for English).

    The order has the prefix property (``ranked(.., m)`` starts ``ranked(.., n)`` for m < n),
    so the records past the selection are the pool that refills failed translations,
    best-ranked first, and a disjoint language only ever refills from its own slice."""
    if n < 0:
        raise ValueError("size must be >= 0")
    if language == "en":
        return list(ids)
    targets = [lang for lang in languages if lang != "en"]
    if mode == "shared":
        return _first(n, ids, seed, groups)
    if language not in targets:
        raise ValueError(f"{language!r} is not among the pruned languages {targets}")
    k = targets.index(language)
    if groups:  # a group's t-th member goes to language (t + offset of the group) mod L
        occ = _occurrences(ids, seed, groups)
        L = len(targets)
        mine = [i for i in occ if (occ[i][0] + rank(seed, repr(occ[i][2]))) % L == k]
        return sorted(mine, key=lambda i: (occ[i][0] // L, occ[i][1]))[:n]
    ordered = heapq.nsmallest(n * len(targets), ids, key=lambda i: rank(seed, i))
    return ordered[k::len(targets)][:n]


def select(ids: Iterable[str], size: int, seed: int, language: str, languages: Sequence[str],
           mode: Mode = "shared", groups: Mapping[str, object] | None = None) -> set[str]:
    """The ids ``language`` keeps out of ``ids`` (all of them for English, the source)."""
    return set(ranked(ids, size, seed, language, languages, mode, groups))
