"""The read stage of ``prepare``: work units in, their pages out in parts of a few MB.

A single-stream ``.bz2`` (or ``.gz``, ``.xz``) cannot be split before it is read, so it is
one unit, and decompressing it is serial; everything after it is not. This stage only
decompresses and cuts pages, and hands them on in parts to the prepare actors
(:mod:`ultralink.jobs.prepare.stage`), so one big input spreads over every worker. A
unit's parts are deterministic (its pages in order, a new part once ``part_bytes`` of page
text are in), so the shard name of each part is too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs

from ultralink.core.counters import Counters
from ultralink.core.fs import resolve
from ultralink.core.records import Page, counts_type
from ultralink.pipeline.dataflow import declare
from ultralink.pipeline.outcome import groups_type, nested_column, nested_of
from ultralink.sources.wikipedia import InputError, InputUnit, read_unit

log = logging.getLogger("ultralink.prepare")

PART_BYTES = 4 << 20   # page text per part: ~1 s of cleaning, small enough to balance workers
MAX_PROBLEMS_PER_UNIT = 50
IO_ATTEMPTS = 3        # a unit that fails on I/O is tried this often, then left not done
IO_BACKOFF_S = 2.0     # first wait between attempts (doubles)


@dataclass(slots=True)
class Part:
    """Consecutive pages of one unit, with what reading them counted."""

    unit: InputUnit
    index: int
    pages: list[Page]
    counters: Counters = field(default_factory=Counters)
    problems: list[str] = field(default_factory=list)
    last: bool = False    # no part of this unit follows
    failed: str = ""      # the unit could not be read (I/O): it must not be marked done


def read_parts(unit: InputUnit, fs: pafs.FileSystem, part_bytes: int = PART_BYTES) -> Iterator[Part]:
    """Yield ``unit``'s pages in parts; the last one has ``last`` set.

    An I/O failure before the first part is retried with backoff; one that persists, or
    comes after parts were handed on, ends the unit with a ``failed`` part, so the unit is
    not marked done and the next run reads it again.
    """
    wait = IO_BACKOFF_S
    for attempt in range(1, IO_ATTEMPTS + 1):
        emitted = 0
        try:
            for part in _cut(unit, fs, part_bytes):
                yield part
                emitted += 1
            return
        except (InputError, OSError) as exc:
            line = f"{unit.uri}: unit {unit.index}: I/O error (attempt {attempt}/{IO_ATTEMPTS}): {exc}"
            log.warning("%s", line)
            if emitted or attempt == IO_ATTEMPTS:
                counters = Counters()
                counters.add("units_failed_io")
                yield Part(unit, emitted, [], counters, [line], last=True, failed=line)
                return
            time.sleep(wait)
            wait *= 2


def _cut(unit: InputUnit, fs: pafs.FileSystem, part_bytes: int) -> Iterator[Part]:
    counters = Counters()          # the reader counts into this one; each part takes a copy
    problems: list[str] = []
    reported = 0

    def report(line: str) -> None:
        nonlocal reported
        log.warning(line)
        counters.add("problems")
        if reported < MAX_PROBLEMS_PER_UNIT:
            problems.append(line)
            reported += 1

    def take(pages: list[Page], index: int) -> Part:
        part = Part(unit, index, pages, Counters().merge(counters), list(problems))
        counters.counts.clear()
        counters.timings.clear()
        counters.groups.clear()
        counters.stages.clear()
        problems.clear()
        return part

    pages = iter(read_unit(unit, fs, resolve(unit.uri).path, counters, report))
    held: Part | None = None   # a full part is handed on once the next page shows it is not last
    buf: list[Page] = []
    size = index = 0
    while True:
        start = time.perf_counter()
        page = next(pages, None)
        counters.timings["read"] = counters.timings.get("read", 0.0) + time.perf_counter() - start
        if page is None:
            break
        buf.append(page)
        size += len(page.text)
        if size >= part_bytes:
            if held is not None:
                yield held
            held, buf, size, index = take(buf, index), [], 0, index + 1
    if buf or held is None:
        if held is not None:
            yield held
        held = take(buf, index)
    else:                          # what the end of the file counted goes with the last part
        held.counters.merge(counters)
        held.problems.extend(problems)
    held.last = True
    yield held


# --------------------------------------------------------------------------- Ray Data rows

_PAGE_FIELDS = [f.name for f in fields(Page)]
_UNIT_FIELDS = [f.name for f in fields(InputUnit)]

# What a part says of itself, and its summary carries back to the driver (prepare_parts).
STATUS_FIELDS = [
    ("part", pa.int64()),
    ("last", pa.bool_()),
    ("failed", pa.string()),
    ("counts", counts_type()),
    ("timings", pa.map_(pa.string(), pa.float64())),
    ("groups", groups_type()),
    ("stages", groups_type()),
    ("problems", pa.list_(pa.string())),
]

PART_SCHEMA = pa.schema([
    ("unit", pa.struct([("uri", pa.string()), ("kind", pa.string()), ("index", pa.int64()),
                        ("start", pa.int64()), ("end", pa.int64()),
                        ("siteinfo_base", pa.string()), ("version", pa.string())])),
    *STATUS_FIELDS,
    ("pages", pa.list_(pa.struct([
        ("page_id", pa.string()), ("title", pa.string()), ("text", pa.string()),
        ("source_file", pa.string()), ("markup", pa.string()), ("namespace", pa.int64()),
        ("redirect", pa.bool_()), ("url", pa.string())]))),
])


def status_columns(part: Part) -> dict[str, Any]:
    """The ``STATUS_FIELDS`` of a part (its counters as they are now)."""
    c = part.counters
    return {"part": part.index, "last": part.last, "failed": part.failed,
            "counts": list(c.counts.items()), "timings": list(c.timings.items()),
            "groups": nested_column(c.groups), "stages": nested_column(c.stages),
            "problems": part.problems}


def counters_of(row: Mapping[str, Any]) -> Counters:
    """The counters of a row with ``STATUS_FIELDS`` (a part, or its summary)."""
    return Counters(dict(row["counts"]), dict(row["timings"]), nested_of(row["groups"]),
                    nested_of(row["stages"]))


def part_table(part: Part) -> pa.Table:
    """One part as a one-row Arrow table (``PART_SCHEMA``)."""
    return pa.Table.from_pylist([{
        "unit": asdict(part.unit), **status_columns(part),
        "pages": [{name: getattr(p, name) for name in _PAGE_FIELDS} for p in part.pages],
    }], schema=PART_SCHEMA)


def part_from_row(row: dict[str, Any]) -> Part:
    """The inverse of :func:`part_table` for one row of it (``Table.to_pylist()``)."""
    return Part(InputUnit(**row["unit"]), row["part"], [Page(**p) for p in row["pages"]],
                counters_of(row), list(row["problems"]), row["last"], row["failed"])


def unit_of(batch: dict[str, np.ndarray], i: int) -> InputUnit:
    """Row ``i`` of a batch of planned units (``asdict(InputUnit)`` rows)."""
    return InputUnit(**{name: batch[name][i].item() if hasattr(batch[name][i], "item")
                   else batch[name][i] for name in _UNIT_FIELDS if name in batch})


@declare(num_cpus=0)
class ReadParts:
    """Ray Data task UDF: planned units in, one row per part out (``PART_SCHEMA``).

    Passed as an instance (not a class), so Ray Data runs it as tasks: reading loads no
    model. It reserves no CPU slot: decompressing and cutting pages is a fraction of the
    cleaning it feeds, so every slot holds a prepare actor and the job caps its readers.
    """

    def __init__(self, in_fs: pafs.FileSystem, part_bytes: int = PART_BYTES) -> None:
        self.in_fs = in_fs
        self.part_bytes = part_bytes

    def __call__(self, batch: dict[str, np.ndarray]) -> Iterator[pa.Table]:
        for i in range(len(batch["uri"])):
            for part in read_parts(unit_of(batch, i), self.in_fs, self.part_bytes):
                yield part_table(part)
