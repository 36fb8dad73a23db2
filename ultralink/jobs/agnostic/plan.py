"""The job's plan from the scans: which records (limit, pre-drops, cross-file duplicates,
pruning), in which draw order, cut into work units (round 0: file × block of records; each
refill round: a rank range of the draw order)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ultralink.core.counters import Counters
from ultralink.core.ids import digest
from ultralink.jobs.agnostic.config import AgnosticConfig
from ultralink.pipeline.units import WorkUnit

# per input file, the ``(ordinal, unit id)`` of every record a round reads from it
RowsOf = dict[str, list[tuple[int, str]]]


def file_key(uri: str) -> str:
    return digest(uri, length=10, algorithm="sha1")


@dataclass(slots=True)
class Selection:
    """The records the run draws from: the driver holds ids only, never texts."""

    pre: Counters                         # drops before any LLM call (duplicates, prefilter)
    taken: int                            # records within ``limit``
    candidates: int                       # records left after the pre-drops
    where: dict[str, tuple[str, int]]     # candidate → (file, ordinal): where refills read
    cut: dict[str, int]                   # file → records of it within ``limit``
    selected: set[str]                    # round 0's records
    order: list[str]                      # the language's draw order: its selection, then its pool
    size: int | None                      # records wanted (the prune size); None: all

    @property
    def pool_size(self) -> int:
        """Candidates left for refill rounds after the selection."""
        return len(self.order) - len(self.selected)


def select(scans: Sequence[Mapping[str, Any]], cfg: AgnosticConfig, language: str,
           size: int | None) -> Selection:
    """Limit, pre-drop, drop cross-file duplicates, then rank the candidates and keep the
    first ``size`` (all when ``size`` is None): a seeded ranking over ids, so every run and
    every language of a build draws the same way."""
    from ultralink.agnostic.prune import ranked

    pre = Counters()
    seen: set[str] = set()
    candidates: list[str] = []
    where: dict[str, tuple[str, int]] = {}
    taken = 0
    cut: dict[str, int] = {}
    for s in scans:
        n = 0
        for ordinal, key, reason in s["records"]:
            if cfg.limit is not None and taken >= cfg.limit:
                break
            taken += 1
            n = ordinal + 1
            if key in seen:
                pre.drop("duplicate_id")
                continue
            seen.add(key)
            if reason:
                pre.drop(reason)
                continue
            candidates.append(key)
            where[key] = (s["uri"], ordinal)
        cut[s["uri"]] = n
    order: list[str] = []
    if size is None:
        selected = set(candidates)
    else:
        groups = {k: g for s in scans for k, g in s.get("groups", {}).items()}
        order = ranked(candidates, len(candidates), cfg.seed, language, cfg.languages,
                       cfg.prune_mode, groups)
        selected = set(order[:size])
    return Selection(pre, taken, len(candidates), where, cut, selected, order, size)


def block_units(scans: Sequence[Mapping[str, Any]], cut: Mapping[str, int],
                selected: set[str], fks: Mapping[str, str], unit_records: int
                ) -> tuple[list[WorkUnit], RowsOf]:
    """Round 0's units: each file's blocks of ``unit_records`` records, holding the block's
    selected records; and per file the ``(ordinal, unit id)`` of every selected record.

    The file's identity and each block's selection are in its unit id: a changed input or a
    changed selection (pruning over other files) makes a new unit, never a stale one."""
    units: list[WorkUnit] = []
    rows_of: RowsOf = {}
    for s in scans:
        fk = fks[s["uri"]]
        blocks: dict[int, list[int]] = {}
        for ordinal, key, reason in s["records"]:
            if ordinal >= cut.get(s["uri"], 0):
                break
            chosen = blocks.setdefault(ordinal // unit_records, [])
            if not reason and key in selected:
                chosen.append(ordinal)
        pairs = rows_of.setdefault(s["uri"], [])
        for block, chosen in sorted(blocks.items()):
            uid = f"{fk}-{block:06d}-{file_key(','.join(map(str, chosen)))[:8]}"
            start = block * unit_records
            units.append(WorkUnit(uid, len(chosen),
                                  {"uri": s["uri"], "start": start, "end": start + unit_records}))
            pairs.extend((o, uid) for o in chosen)
    return units, rows_of


def refill_units(keys: list[str], start: int, round_: int,
                 where: Mapping[str, tuple[str, int]], fks: Mapping[str, str],
                 unit_records: int) -> tuple[list[WorkUnit], RowsOf]:
    """One refill round: ``keys``, the draw order's records from rank ``start`` on, cut by
    rank into units of ``unit_records`` (records of any file).

    A unit is named by its rank range and its members with their files' identities, so it
    is the same unit whichever run plans it and does not change when later rounds grow the
    selection; a changed input or an earlier selection that changed makes a new one."""
    units: list[WorkUnit] = []
    rows_of: RowsOf = {}
    for a in range(0, len(keys), unit_records):
        chunk = keys[a:a + unit_records]
        lo, hi = start + a, start + a + len(chunk)
        members = "\x1e".join(f"{fks[where[k][0]]}\x1f{k}" for k in chunk)
        uid = f"refill-{lo:07d}-{hi:07d}-{digest(members, length=8)}"
        units.append(WorkUnit(uid, len(chunk), {"round": round_, "start": lo, "end": hi}))
        for k in chunk:
            uri, ordinal = where[k]
            rows_of.setdefault(uri, []).append((ordinal, uid))
    for pairs in rows_of.values():
        pairs.sort()
    return units, rows_of


def work_items(rows_of: RowsOf, pending: Sequence[WorkUnit]) -> list[dict[str, Any]]:
    """The pipeline's input for ``pending`` units: per file, the ordinals to read and the
    unit each belongs to."""
    ids = {u.unit_id for u in pending}
    items = []
    for uri, pairs in rows_of.items():
        keep = [(o, u) for o, u in pairs if u in ids]
        if keep:
            items.append({"uri": uri, "ordinals": [o for o, _ in keep],
                          "units": [u for _, u in keep]})
    return items
