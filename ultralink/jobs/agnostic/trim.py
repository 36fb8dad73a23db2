"""The cut past the target: a refill round is sized by the yield so far, so the last one may
bring more records than the shortfall; the output keeps the best-ranked ``size``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow.parquet as pq

from ultralink.core.counters import Counters
from ultralink.core.fs import exists
from ultralink.dataset.sink import UnitStore, write_parquet_atomic
from ultralink.pipeline.units import WorkUnit


def made(marker: Mapping[str, Any]) -> int:
    """Records a finished unit wrote before any surplus was trimmed from it."""
    return int(marker["rows"]) + int(marker.get("trimmed", 0))


def trim_surplus(store: UnitStore, planned: Sequence[WorkUnit], last: Sequence[WorkUnit],
                 size: int, order: Sequence[str]) -> None:
    """Drop the records past ``size`` from the last refill round, the latest-ranked first.

    A round is sized by the yield so far, so it may bring more than the shortfall; the
    output keeps the best-ranked ``size``. Every cut is computed from the counts as written
    before any trim (:func:`made`) and keeps a prefix by rank, so a run killed halfway through
    trimming redoes the same cut on the rerun."""
    done = store.done()
    surplus = sum(made(done[u.unit_id]) for u in planned) - size
    for unit in sorted(last, key=lambda u: -u.info["start"]):
        marker = done[unit.unit_id]
        wrote = made(marker)
        cut = min(max(surplus, 0), wrote)
        surplus -= cut
        if int(marker.get("trimmed", 0)) == cut:
            continue
        keep = wrote - cut
        _cut_shard(store, unit, keep, order)
        counters = Counters.from_dict(marker["counters"])
        counters.counts["rows_written"] = keep
        counters.counts["dropped_over_target"] = cut
        store.finish_unit(unit.unit_id, {"rows": keep, "counters": counters.to_dict(),
                                         "info": marker.get("info", {}), "trimmed": cut})


def _cut_shard(store: UnitStore, unit: WorkUnit, keep: int, order: Sequence[str]) -> None:
    """Keep the unit shard's ``keep`` best-ranked records (a crash may fall after the cut)."""
    shard = store.shard(unit.unit_id)
    if exists(shard):
        with shard.fs.open_input_file(shard.path) as f:
            table = pq.read_table(f)
        if table.num_rows > keep:  # not yet cut (a crash may fall after the shard's cut)
            pos = {order[p]: p for p in range(unit.info["start"], unit.info["end"])}
            ranks = [pos[f"{src['dataset']}:{src['id']}"]
                     for src in table.column("source").to_pylist()]
            best = sorted(sorted(range(len(ranks)), key=ranks.__getitem__)[:keep])
            if best:
                write_parquet_atomic(shard, [table.take(best)], table.schema)
            else:
                shard.fs.delete_file(shard.path)
