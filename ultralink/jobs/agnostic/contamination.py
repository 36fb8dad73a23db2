"""Decontamination of the English sources, before any LLM call: the evaluation sets' index for
the scans (a contaminated record is a pre-drop, so no language translates it), and the input
files refused as training sources because they are test splits (by name, then by content)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ultralink.core.errors import UsageError
from ultralink.core.fs import Location
from ultralink.jobs.decontaminate.config import DecontaminateConfig
from ultralink.jobs.decontaminate.index import EvalIndex, build_index
from ultralink.jobs.decontaminate.sets import ResolvedSets, known_test_file, test_split_share

log = logging.getLogger("ultralink.agnostic")

OVERRIDE = "set agnostic.allow_test_splits: true to use it anyway"
_CACHE: dict[str, EvalIndex] = {}


def source_index(cfg: DecontaminateConfig) -> tuple[EvalIndex | None, ResolvedSets]:
    """The index of the sets found now (None when none is, or ``at_source`` is off), built
    once per driver process for the same files (a build's 15 agnostic stages share it)."""
    from ultralink.core.fs import identities
    from ultralink.dataset.sink import config_hash

    found = cfg.resolve(warn=False)
    if not cfg.at_source or not found.sets:
        return None, found
    key = config_hash({"sets": [(s.name, identities(s.uris)) for s in found.sets],
                       "config": cfg.model_dump(mode="json")})
    if key not in _CACHE:
        _CACHE[key] = build_index(found.sets, cfg.word_n, cfg.char_n,
                                  min_numbers=cfg.min_numbers,
                                  min_containment=cfg.min_containment)
    return _CACHE[key], found


def refuse_by_name(files: Iterable[Location], allow: bool) -> None:
    """A training input named like an evaluation set (``gsm8k/test.jsonl``, ``mgsm_zh.tsv``,
    ``HumanEval.jsonl.gz``) is a usage error, one line, unless ``allow``."""
    if allow:
        return
    for loc in files:
        what = known_test_file(loc.uri)
        if what:
            raise UsageError(f"{loc.uri}: named like the {what} evaluation set; a test split "
                             f"is not a training source ({OVERRIDE})")


def refuse_by_content(scans: Sequence[Mapping[str, Any]], allow: bool) -> None:
    """A file most of whose records are items of one evaluation set is that set: a usage
    error naming it, unless ``allow`` (then its contaminated records are still dropped)."""
    for s in scans:
        seen, hits = s.get("checked", 0), s.get("contaminated", {})
        worst = max(hits, key=hits.get, default=None)
        if worst is None or not test_split_share(seen, sum(hits.values())):
            continue
        line = (f"{s['uri']}: {sum(hits.values())} of {seen} records are items of {worst}: "
                f"a test split is not a training source")
        if not allow:
            raise UsageError(f"{line} ({OVERRIDE})")
        log.warning("%s; allowed (allow_test_splits), its contaminated records dropped", line)
