"""Reading the job's input files: once per file for the plan (ids only, a Ray task each), and
again in the pipeline for the selected records (streamed as typed Arrow tables)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from ultralink.core.counters import Counters
from ultralink.core.fs import Location, resolve
from ultralink.jobs.agnostic.config import AgnosticConfig
from ultralink.jobs.agnostic.source_checks import SourceChecks
from ultralink.jobs.decontaminate.index import EvalIndex
from ultralink.pipeline.dataflow import declare

log = logging.getLogger("ultralink.agnostic")

MAX_PROBLEMS = 1000


@declare(num_cpus=0.5)
def scan_file(loc: Location, language: str, subset: str, cfg: AgnosticConfig,
              index: EvalIndex | None = None, checks: SourceChecks | None = None
              ) -> dict[str, Any]:
    """Read one file once: per usable record ``(ordinal, key, pre-drop reason)`` + counts;
    with ``limit``, only as far as its first ``limit`` usable records. ``checks``: the
    per-record source checks (not English, refusals). With ``index``, a
    record copying an evaluation item is dropped as ``contaminated:<set>`` (in every
    language: each scans the same English record), counted per set for the test-split
    check."""
    from ultralink.agnostic.heuristics import prefilter_reason
    from ultralink.sources.sft import SchemaError, read_sft
    from ultralink.text.ngrams import text_hash

    counters = Counters()
    problems: list[str] = []

    def note(line: str) -> None:
        wanted = "skipped" in line or "dropped" in line or "no records" in line
        if wanted and len(problems) < MAX_PROBLEMS:
            problems.append(line)

    records: list[tuple[int, str, str]] = []
    contaminated: dict[str, int] = {}
    groups: dict[str, int] = {}  # key → hash of MetaMathQA's original_question (pruning)
    error = ""
    try:
        for i, conv in enumerate(read_sft(loc, subset, counters, note, tool_roles=cfg.tool_roles,
                                               max_bytes=cfg.max_record_bytes)):
            reason = _pre_drop(conv, index, checks, contaminated)
            if not reason and subset == "chat" and language != "en" and cfg.prefilter:
                try:
                    reason = prefilter_reason(conv.messages, cfg.max_conversation_tokens)
                except Exception as exc:  # one poison record must not lose the file
                    reason = f"error:{type(exc).__name__}"
                    log.error("%s: record %s dropped: %s: %s", loc.uri, conv.id,
                              type(exc).__name__, exc)
            records.append((i, f"{conv.source['dataset']}:{conv.id}", reason))
            if isinstance(conv.group, str):  # stable across workers
                groups[records[-1][1]] = text_hash(conv.group)
            if cfg.limit is not None and len(records) >= cfg.limit:
                break  # the plan takes at most ``limit`` records of any one file: stop reading
    except SchemaError as exc:
        error = str(exc)
    except (OSError, ValueError) as exc:
        error = f"{loc.uri}: {type(exc).__name__}: {exc}"
    return {"uri": loc.uri, "records": records, "counters": counters.to_dict(),
            "problems": problems, "error": error, "groups": groups,
            "checked": len(records), "contaminated": contaminated}


def _pre_drop(conv: Any, index: EvalIndex | None, checks: SourceChecks | None,
              contaminated: dict[str, int]) -> str:
    """The source's own drop reason for one record: a copied test item first (named as one,
    whatever else is wrong with it), then the per-record source checks; or ""."""
    if index is not None:
        found = index.match_messages([(t.role, t.content) for t in conv.messages])
        if found:
            contaminated[found["set"]] = contaminated.get(found["set"], 0) + 1
            return f"contaminated:{found['set']}"
    return checks.reason(conv.messages) if checks is not None else ""


def read_rows(item: dict[str, Any], *, subset: str, config: AgnosticConfig,
              s3: tuple[tuple[str, str], ...] = ()) -> Iterator[dict[str, Any]]:
    """Re-read one file and yield its selected records as pipeline rows (streaming).

    ``s3``: the driver's endpoint/credentials (``Location.s3``), so workers read the same
    endpoint whatever their own environment holds."""
    from ultralink.sources.sft import read_sft

    cfg = config
    wanted = dict(zip(item["ordinals"], item["units"]))
    last = max(wanted) if wanted else -1
    loc = resolve(item["uri"])
    if loc.is_s3 and s3:
        from ultralink.core.fs import s3_filesystem

        loc = Location(s3_filesystem(s3), loc.path, loc.uri, s3)
    for i, conv in enumerate(read_sft(loc, subset, Counters(), lambda _line: None,
                                      tool_roles=cfg.tool_roles, max_bytes=cfg.max_record_bytes)):
        if i > last:
            return
        unit = wanted.get(i)
        if unit is None:
            continue
        yield {"unit_id": unit, "id": conv.id, "source_file": loc.uri,
               "conversation": conv.to_row()}


READ_CHUNK = 256


@declare(num_cpus=0.5)
def read_tables(batch: Any, **kwargs: Any) -> Iterator[Any]:
    """Ray Data ``map_batches`` UDF: each item's rows (:func:`read_rows`) as typed Arrow
    tables of :data:`READ_CHUNK` rows (``records.sft_row_schema``), streamed."""
    import pyarrow as pa

    from ultralink.core.records import sft_row_schema

    schema = sft_row_schema()
    for item in batch.to_pylist():
        rows: list[dict[str, Any]] = []
        for row in read_rows(item, **kwargs):
            rows.append(row)
            if len(rows) == READ_CHUNK:
                yield pa.Table.from_pylist(rows, schema=schema)
                rows = []
        if rows:
            yield pa.Table.from_pylist(rows, schema=schema)
