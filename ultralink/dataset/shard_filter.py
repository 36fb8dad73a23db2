"""Drop rows from finished Parquet shards, one Ray task per shard, keeping names and layout.

Near-dup removal and decontamination both decide per row and then need the same dataset minus
those rows: in place (a build) or under another root (``ultralink decontaminate --output``).
A shard streams batch by batch (memory bounded by one batch) and is written atomically under
the same relative path; an in-place shard that loses nothing is left untouched, one that loses
everything is deleted (like a unit with no rows, which never writes a shard).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ultralink.core.fs import Location, list_files, read_bytes, write_atomic

# A judge gets one batch and answers, per row, None (keep) or a drop record
# {"reason": ..., **details}; it may keep state across batches of one shard.
Judge = Callable[[pa.RecordBatch], list[dict[str, Any] | None]]
BATCH_ROWS = 2048


def parts(root: Location) -> list[Location]:
    """Data shards under ``root`` (``part-*.parquet``, bookkeeping folders skipped), sorted."""
    out = []
    for loc in list_files(root, ".parquet"):
        rel = posixpath.relpath(loc.path, root.path).split("/")
        if rel[-1].startswith("part-") and not any(p.startswith(("_", ".")) for p in rel):
            out.append(loc)
    return out


def retarget(loc: Location, src_root: Location, dst_root: Location) -> Location:
    """``loc`` moved from under ``src_root`` to the same relative path under ``dst_root``."""
    return dst_root.join(*posixpath.relpath(loc.path, src_root.path).split("/"))


def filter_shard(src: Location, dst: Location, judge: Judge, id_column: str = "id"
                 ) -> dict[str, Any]:
    """Rewrite one shard without the rows ``judge`` drops; returns rows in/out and the drops."""
    from ultralink.dataset.sink import write_parquet_atomic

    in_place = src.path == dst.path and src.fs.type_name == dst.fs.type_name
    drops: list[dict[str, Any]] = []
    rows_in = 0

    def kept() -> Iterator[pa.RecordBatch]:
        nonlocal rows_in
        with src.fs.open_input_file(src.path) as f:
            for batch in pq.ParquetFile(f).iter_batches(batch_size=BATCH_ROWS):
                rows_in += batch.num_rows
                verdicts = judge(batch)
                ids = batch.column(id_column).to_pylist()
                mask = [v is None for v in verdicts]
                for rid, v in zip(ids, verdicts):
                    if v is not None:
                        drops.append({"id": rid, **v})
                yield batch.filter(pa.array(mask, pa.bool_()))

    with src.fs.open_input_file(src.path) as f:
        schema = pq.ParquetFile(f).schema_arrow
    if in_place:
        for _ in kept():  # judge first: most shards lose nothing and are not rewritten
            pass
        if not drops:
            return {"uri": src.uri, "rows_in": rows_in, "rows_out": rows_in, "drops": []}
        drop_ids = pa.array([d["id"] for d in drops], pa.string())
        rows_in = 0
        drops_first = drops
        drops = []

        def rest() -> Iterator[pa.RecordBatch]:
            with src.fs.open_input_file(src.path) as f:
                for batch in pq.ParquetFile(f).iter_batches(batch_size=BATCH_ROWS):
                    yield batch.filter(pc.invert(pc.is_in(batch.column(id_column),
                                                          value_set=drop_ids)))

        n_out = _write(dst, rest(), schema, write_parquet_atomic)
        return {"uri": src.uri, "rows_in": n_out + len(drops_first), "rows_out": n_out,
                "drops": drops_first}
    n_out = _write(dst, kept(), schema, write_parquet_atomic)
    return {"uri": src.uri, "rows_in": rows_in, "rows_out": n_out, "drops": drops}


def _write(dst: Location, batches: Iterator[pa.RecordBatch], schema: pa.Schema, writer: Any) -> int:
    """Write ``batches`` to ``dst``; a shard left with no rows is removed instead."""
    n = writer(dst, batches, schema)
    if n == 0:
        dst.fs.delete_file(dst.path)
    return n


def copy_bookkeeping(src_root: Location, dst_root: Location) -> int:
    """Copy every file under ``src_root`` that is not a data shard (manifests, markers,
    card, stats, figures) to the same path under ``dst_root``; returns how many."""
    data = {loc.path for loc in parts(src_root)}
    n = 0
    for loc in list_files(src_root):
        if loc.path in data or posixpath.basename(loc.path).startswith(".tmp-"):
            continue
        write_atomic(retarget(loc, src_root, dst_root), read_bytes(loc))
        n += 1
    return n
