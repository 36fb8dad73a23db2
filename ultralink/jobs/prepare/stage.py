"""The prepare stage: parts of pages in, their segments written as one shard per part.

Each actor loads fastText, OpenCC and tiktoken once and runs the preparation chain

    clean → language → t2s → doc_length → segment

over one part at a time (:mod:`ultralink.jobs.prepare.read` cut it), so the parts of one
big input keep every actor busy. A part's shard name is deterministic
(``UnitStore.part``); the driver marks the unit done once all of its parts are back.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from ultralink.core.fs import Location
from ultralink.core.records import Segment, segment_schema
from ultralink.dataset.sink import UnitStore, write_parquet_atomic
from ultralink.jobs.prepare.config import PrepareConfig
from ultralink.jobs.prepare.read import (
    STATUS_FIELDS,
    Part,
    part_from_row,
    status_columns,
)
from ultralink.pipeline.chain import run_chain
from ultralink.pipeline.dataflow import declare
from ultralink.pipeline.runtime import freeze_heap

BATCH_ROWS = 2048

SUMMARY_SCHEMA = pa.schema([("unit_id", pa.string()), ("rows", pa.int64()), *STATUS_FIELDS])


def step_classes() -> tuple[type, ...]:
    """The chain, in order: each step declares its name and drop reasons (the report's
    per-stage table is built from them)."""
    from ultralink.text.chinese import ToSimplified
    from ultralink.text.clean import CleanWikitext
    from ultralink.text.doc_length import DocLengthFilter
    from ultralink.text.langid import LanguageFilter
    from ultralink.text.segment import SegmentDocuments

    return CleanWikitext, LanguageFilter, ToSimplified, DocLengthFilter, SegmentDocuments


def build_steps(language: str, cfg: PrepareConfig) -> list:
    """The chain's steps, set up (models loaded) in this process."""
    CleanWikitext, LanguageFilter, ToSimplified, DocLengthFilter, SegmentDocuments = (
        step_classes())
    steps = [
        CleanWikitext(language),
        LanguageFilter(language, threshold=cfg.langid_threshold, model_path=cfg.fasttext_model,
                       chars=cfg.langid_chars),
        ToSimplified(language),
        DocLengthFilter(min_tokens=cfg.min_doc_tokens, max_tokens=cfg.max_doc_tokens,
                        encoding=cfg.encoding),
        SegmentDocuments(min_tokens=cfg.min_segment_tokens,
                         max_tokens=cfg.max_segment_tokens, encoding=cfg.encoding),
    ]
    for step in steps:
        step.setup()
    return steps


def _batches(segments: Iterator[Segment], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    names = schema.names
    buf: list[Segment] = []
    for seg in segments:
        buf.append(seg)
        if len(buf) >= BATCH_ROWS:
            yield pa.RecordBatch.from_pylist([{n: getattr(s, n) for n in names} for s in buf], schema)
            buf = []
    if buf:
        yield pa.RecordBatch.from_pylist([{n: getattr(s, n) for n in names} for s in buf], schema)


@declare(num_cpus=1)
class PrepareParts:
    """Ray Data actor UDF: rows of ``PART_SCHEMA`` in, one ``SUMMARY_SCHEMA`` row per part out."""

    def __init__(self, language: str, config: PrepareConfig, out: Location,
                 job_config: dict[str, Any], token: int | None = None) -> None:
        self.store = UnitStore(out, "prepare", job_config)
        self.store.token = token   # fencing: a worker of a superseded run cannot commit
        self.steps = build_steps(language, config)
        self.schema = segment_schema()
        freeze_heap()

    def __call__(self, batch: pa.Table) -> pa.Table:
        rows = []
        for row in batch.to_pylist():
            part = part_from_row(row)
            rows.append(self.prepare(part))
        return pa.Table.from_pylist(rows, schema=SUMMARY_SCHEMA)

    def prepare(self, part: Part) -> dict[str, Any]:
        """Run the chain over one part and write its shard (an I/O error propagates)."""
        counters = part.counters
        start = time.perf_counter()
        segments = run_chain(self.steps, part.pages, counters)
        rows = self.store_shard(part, segments)
        counters.timings["unit_wall"] = counters.timings.get("unit_wall", 0.0) + time.perf_counter() - start
        counters.add("rows_written", rows)
        return {"unit_id": part.unit.unit_id, "rows": rows, **status_columns(part)}

    def store_shard(self, part: Part, segments: Iterator[Segment]) -> int:
        first = next(segments, None)
        if first is None:
            return 0

        def all_segments() -> Iterator[Segment]:
            yield first
            yield from segments

        return write_parquet_atomic(self.store.part(part.unit.unit_id, part.index),
                                    _batches(all_segments(), self.schema), self.schema)
