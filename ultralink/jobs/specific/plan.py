"""The ``specific`` job's work units: each segment file's ids, sorted, cut into chunks of
``unit_size``; a unit's segments are read on a worker, never on the driver."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Any

import pyarrow.parquet as pq

from ultralink.core.fs import Location
from ultralink.core.ids import digest
from ultralink.pipeline.dataflow import declare
from ultralink.pipeline.units import UNIT_COLUMN, WorkUnit

SEGMENT_COLUMNS = ("id", "doc_id", "title", "url", "language", "segment_index", "text",
                   "source_file")


def unit_id_for(file_uri: str, start: int, end: int, members: list[str] | None = None) -> str:
    """Readable and keyed by the unit's segment ids (a changed selection makes a new unit).

    The file's identity (size + mtime) is kept in the unit's marker, not its name: segment
    files are this project's own outputs, rewritten with new mtimes by every build, and equal
    content must name equal units across builds; a changed file still redoes its units
    (``UnitStore.drop_stale`` compares the marker's version)."""
    name = posixpath.basename(file_uri)
    key = digest(name, start, end, *(("\x1e".join(members),) if members else ()))
    return f"{posixpath.splitext(name)[0].removeprefix('part-')[:24]}-{start:06d}-{end:06d}-{key[:8]}"


def plan_units(files: list[Location], unit_size: int, max_dialogues: int | None
               ) -> tuple[list[WorkUnit], dict[str, list[str]]]:
    """Units (file × id-sorted range) and the segment ids each holds; reads only ``id``."""
    ids_by_file = {}
    for loc in files:
        with loc.fs.open_input_file(loc.path) as f:
            ids_by_file[loc.uri] = sorted(pq.read_table(f, columns=["id"]).column("id").to_pylist())
    if max_dialogues is not None:
        chosen = set(sorted(i for ids in ids_by_file.values() for i in ids)[:max_dialogues])
        ids_by_file = {uri: [i for i in ids if i in chosen] for uri, ids in ids_by_file.items()}
    units: list[WorkUnit] = []
    members: dict[str, list[str]] = {}
    for loc in files:
        ids = ids_by_file[loc.uri]
        for start in range(0, len(ids), unit_size):
            chunk = ids[start:start + unit_size]
            uid = unit_id_for(loc.uri, start, start + len(chunk), chunk)
            units.append(WorkUnit(uid, len(chunk), {"file": loc.uri, "start": start,
                                                    "end": start + len(chunk),
                                                    "version": loc.version}))
            members[uid] = chunk
    return units, members


@declare(num_cpus=0.25)
def read_unit_segments(item: dict[str, Any], *, files: Mapping[str, Location]
                       ) -> list[dict[str, Any]]:
    """Segments ``ids`` of one file, each tagged with its unit, read on a worker (Ray Data
    ``flat_map``, one item per unit; only the columns the stage reads, rows filtered by id
    while reading): the driver plans with segment ids only and never holds a text."""
    import pyarrow.compute as pc

    loc = files[item["file"]]
    unit_of = dict(zip(item["ids"], item["units"]))
    with loc.fs.open_input_file(loc.path) as f:
        names = pq.ParquetFile(f).schema_arrow.names
        table = pq.read_table(f, columns=[c for c in SEGMENT_COLUMNS if c in names],
                              filters=pc.field("id").isin(item["ids"]))
    rows = []
    for row in table.to_pylist():
        row.setdefault("source_file", None)
        row[UNIT_COLUMN] = unit_of[row["id"]]
        rows.append(row)
    return sorted(rows, key=lambda r: (r[UNIT_COLUMN], r["id"]))
