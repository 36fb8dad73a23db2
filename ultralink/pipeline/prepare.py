"""``ultralink prepare``: Wikipedia inputs → clean, language-checked, sentence-safe segments.

Work is split into deterministic units (file × byte range / row group, planned as Ray
tasks next to the data). Ray Data streams the pending units through an actor pool whose
actors load fastText, OpenCC and tiktoken once; each unit runs the preparation chain

    read → clean → language → t2s → doc_length → segment

and writes one atomic Parquet shard plus a completion marker (``ultralink.sink``). A unit
is the atom of output, so a rerun after a crash skips finished units and never duplicates.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

import numpy as np
import pyarrow as pa

from ultralink.config import PrepareConfig
from ultralink.counters import Counters
from ultralink.fs import Location, NoInput, expand_inputs, resolve
from ultralink.languages import get_language
from ultralink.pipeline.chain import format_table, run_chain, stage_summary
from ultralink.pipeline.error_guard import ErrorGuard
from ultralink.pipeline.runner import JobSummary
from ultralink.records import Segment, segment_schema
from ultralink.lease import releasing
from ultralink.sink import JobIncomplete, UnitStore
from ultralink.sources.wikipedia import InputError, Unit, plan_units, read_unit

log = logging.getLogger("ultralink.prepare")

STAGES = ("clean", "language", "t2s", "doc_length", "segment")
MAX_PROBLEMS_PER_UNIT = 50
MAX_PROBLEMS_IN_REPORT = 1000
BATCH_ROWS = 2048
IO_ATTEMPTS = 3        # a unit that fails on I/O is tried this often, then left not done
IO_BACKOFF_S = 2.0     # first wait between attempts (doubles)


def _build_steps(language: str, cfg: PrepareConfig) -> list:
    from ultralink.text.chinese import ToSimplified
    from ultralink.text.clean import CleanWikitext
    from ultralink.text.langid import LanguageFilter
    from ultralink.text.segment import DocLengthFilter, SegmentDocuments

    return [
        CleanWikitext(language),
        LanguageFilter(language, threshold=cfg.langid_threshold, model_path=cfg.fasttext_model,
                       chars=cfg.langid_chars),
        ToSimplified(language),
        DocLengthFilter(min_tokens=cfg.min_doc_tokens, max_tokens=cfg.max_doc_tokens,
                        encoding=cfg.encoding),
        SegmentDocuments(min_tokens=cfg.min_segment_tokens,
                         max_tokens=cfg.max_segment_tokens, encoding=cfg.encoding),
    ]


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


class PrepareUnits:
    """Ray Data actor UDF: one work unit in, its shard + marker written, one summary row out."""

    def __init__(self, language: str, config: dict[str, Any], in_fs: Any, out: Location,
                 job_config: dict[str, Any], token: int | None = None) -> None:
        self.language = language
        self.cfg = PrepareConfig(**config)
        self.in_fs = in_fs
        self.store = UnitStore(out, "prepare", job_config)
        self.store.token = token   # fencing: a worker of a superseded run cannot commit
        self.steps = _build_steps(language, self.cfg)
        for step in self.steps:
            step.setup()
        self.schema = segment_schema()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list]:
        out: dict[str, list] = {"unit_id": [], "uri": [], "counters": [], "problems": [], "rows": [],
                                "failed": []}
        for i in range(len(batch["uri"])):
            unit = Unit(uri=str(batch["uri"][i]), kind=str(batch["kind"][i]),
                        index=int(batch["index"][i]), start=int(batch["start"][i]),
                        end=int(batch["end"][i]), siteinfo_base=str(batch["siteinfo_base"][i]),
                        version=str(batch["version"][i]) if "version" in batch else "")
            counters, problems, rows, failed = self._run_unit(unit)
            out["unit_id"].append(unit.unit_id)
            out["uri"].append(unit.uri)
            out["counters"].append(json.dumps(counters.to_dict()))
            out["problems"].append(json.dumps(problems, ensure_ascii=False))
            out["rows"].append(rows)
            out["failed"].append(failed)
        return out

    def _run_unit(self, unit: Unit) -> tuple[Counters, list[str], int, str]:
        """Run one unit; an I/O failure is retried and, if it persists, leaves the unit
        unmarked (``failed`` names it) so the next run does it again."""
        wait = IO_BACKOFF_S
        for attempt in range(1, IO_ATTEMPTS + 1):
            try:
                return (*self._attempt_unit(unit), "")
            except (InputError, OSError) as exc:
                line = f"{unit.uri}: unit {unit.index}: I/O error (attempt {attempt}/{IO_ATTEMPTS}): {exc}"
                log.warning("%s", line)
                if attempt == IO_ATTEMPTS:
                    counters = Counters()
                    counters.add("units_failed_io")
                    return counters, [line], 0, line
                time.sleep(wait)
                wait *= 2
        raise AssertionError("unreachable")

    def _attempt_unit(self, unit: Unit) -> tuple[Counters, list[str], int]:
        counters = Counters()
        problems: list[str] = []

        def report(line: str) -> None:
            log.warning(line)
            counters.add("problems")
            if len(problems) < MAX_PROBLEMS_PER_UNIT:
                problems.append(line)

        start = time.perf_counter()
        path = resolve(unit.uri).path
        pages = read_unit(unit, self.in_fs, path, counters, report)
        segments = run_chain(self.steps, pages, counters)
        rows = self.store_shard(unit, segments)   # an I/O error propagates: no marker
        counters.timings["unit_wall"] = time.perf_counter() - start
        counters.add("rows_written", rows)
        self.store.finish_unit(unit.unit_id, {"uri": unit.uri, "unit": asdict(unit), "rows": rows,
                                              "counters": counters.to_dict(), "problems": problems})
        return counters, problems, rows

    def store_shard(self, unit: Unit, segments: Iterator[Segment]) -> int:
        from ultralink.sink import write_parquet_atomic

        first = next(segments, None)
        if first is None:
            return 0

        def all_segments() -> Iterator[Segment]:
            yield first
            yield from segments

        return write_parquet_atomic(self.store.shard(unit.unit_id),
                                    _batches(all_segments(), self.schema), self.schema)


def _plan(loc: Location, unit_bytes: int) -> tuple[list[dict[str, Any]], str | None]:
    from dataclasses import replace

    try:
        return [asdict(replace(u, version=loc.version)) for u in plan_units(loc, unit_bytes)], None
    except InputError as exc:
        return [], f"{loc.uri}: {getattr(exc, 'reason', exc)}"
    except Exception as exc:  # never let one bad file stop the others
        return [], f"{loc.uri}: {type(exc).__name__}: {exc}"


@releasing
def run_prepare(language: str, inputs: list[str], output: str, config: PrepareConfig | None = None,
                ray_address: str | None = None, overwrite: bool = False) -> dict[str, Any]:
    """Run the preparation job; returns the report (also written as ``_report.json``)."""
    import ray

    from ultralink.pipeline.runtime import cluster_cpus, init_ray

    get_language(language)  # fail fast on an unknown language
    cfg = config or PrepareConfig()
    started = time.time()
    out = resolve(output)
    job_config = {"language": language, "prepare": cfg.model_dump(exclude={"error_limits"})}
    files, problems = expand_inputs(inputs)   # checks (S3 reachable) before writing anything
    store = UnitStore(out, "prepare", job_config)
    store.open(overwrite)
    store.record_inputs(files)

    init_ray(ray_address)
    plan_task = ray.remote(num_cpus=1)(_plan)
    planned = ray.get([plan_task.remote(loc, cfg.unit_bytes) for loc in files])
    units: list[dict[str, Any]] = []
    files_ok = 0
    for loc, (file_units, error) in zip(files, planned):
        if error:
            problems.append(error)
            log.error("%s", error)
        else:
            files_ok += 1
        units.extend(file_units)

    stale = store.drop_stale(Unit(**u).unit_id for u in units)
    if stale:
        log.info("removed %d unit(s) of changed or removed inputs: %s", len(stale), stale[:5])
    done = store.done()
    pending = [u for u in units if Unit(**u).unit_id not in done]
    log.info("prepare %s: %d files, %d units (%d already done, %d to run)",
             language, len(files), len(units), len(units) - len(pending), len(pending))

    in_fs = files[0].fs if files else out.fs
    fs_by_scheme = {loc.is_s3: loc.fs for loc in files}
    if len(fs_by_scheme) > 1:
        raise ValueError("mixing local and s3:// inputs in one job is not supported; run them separately")

    this_run = Counters()
    failed: list[str] = []
    if pending:
        pool = max(1, min(cluster_cpus(), len(pending)))
        ds = ray.data.from_items(pending, override_num_blocks=len(pending))
        ds = ds.map_batches(
            PrepareUnits, batch_size=1, num_cpus=1,
            # start every actor at once (the pool would otherwise grow one by one while units
            # wait), but need only one: a busy cluster still makes progress
            compute=ray.data.ActorPoolStrategy(min_size=1, max_size=pool, initial_size=pool),
            fn_constructor_kwargs={"language": language, "config": cfg.model_dump(),
                                   "in_fs": in_fs, "out": out, "job_config": job_config,
                                   "token": store.token})
        guard = ErrorGuard(cfg.error_limits, "pages")
        for row in ds.iter_rows():
            unit_counters = Counters.from_dict(json.loads(row["counters"]))
            this_run.merge(unit_counters)
            guard.add_counts(unit_counters.counts.get("out_read", 0), unit_counters.dropped(),
                             f"unit {row['unit_id']} of {row['uri']}")
            if row["failed"]:
                failed.append(row["failed"])

    total = Counters()
    for marker in store.done().values():
        total.merge(marker["counters"])
        problems.extend(marker.get("problems", []))
    problems.extend(failed)
    report = _report(language, inputs, out, cfg, files, files_ok, units, pending, total, this_run,
                     problems, started)
    report["units"]["failed_io"] = len(failed)
    report["summary"] = JobSummary(
        records_in=report["documents"]["seen"], records_out=report["segments_written"],
        dropped=report["dropped"], tokens=report["tokens"], tokens_kind="segment").to_dict()
    store.write_report(report)
    store.write_manifest(status="incomplete" if failed else "done", units_total=len(units),
                         units_done=len(store.done()), segments=report["segments_written"],
                         tokens=report["tokens"])
    print(summary_text(report))
    if failed:
        raise JobIncomplete(f"{len(failed)} unit(s) failed on I/O and were not marked done "
                            f"(rerun to retry them); first: {failed[0]}")
    if files_ok == 0 or (total.counts.get("pages_read", 0) == 0 and problems):
        raise NoInput("no input could be read: " + "; ".join(problems[:5]))
    return report


def _report(language: str, inputs: list[str], out: Location, cfg: PrepareConfig,
            files: list[Location], files_ok: int, units: list[dict[str, Any]],
            pending: list[dict[str, Any]], total: Counters, this_run: Counters,
            problems: list[str], started: float) -> dict[str, Any]:
    c = total.counts
    wall = time.time() - started
    run_wall = this_run.timings.get("unit_wall", 0.0)
    return {
        "job": "prepare",
        "language": language,
        "inputs": inputs,
        "output": out.uri,
        "config": cfg.model_dump(),
        "files": {"found": len(files), "read": files_ok, "failed": len(files) - files_ok},
        "units": {"total": len(units), "skipped_done": len(units) - len(pending), "run": len(pending)},
        "documents": {"seen": c.get("pages_read", 0), "kept": c.get("out_doc_length", 0)},
        "dropped": total.dropped(),
        "segments_written": c.get("rows_written", 0),
        "tokens": c.get("segment_tokens", 0),
        "long_sentence_splits": c.get("long_sentence_splits", 0),
        "stages": stage_summary(STAGES, total),
        "this_run": {"documents_seen": this_run.counts.get("pages_read", 0),
                     "segments": this_run.counts.get("rows_written", 0),
                     "worker_seconds": round(run_wall, 3)},
        "counts": dict(sorted(c.items())),
        "problems": problems[:MAX_PROBLEMS_IN_REPORT],
        "problems_total": len(problems),
        "wall_time_s": round(wall, 3),
    }


def summary_text(report: dict[str, Any]) -> str:
    lines = [f"\nprepare {report['language']} → {report['output']}",
             format_table(report["stages"], ["stage", "in", "out", "dropped", "seconds", "records_per_s"]),
             f"documents seen {report['documents']['seen']:,}, kept {report['documents']['kept']:,}; "
             f"segments {report['segments_written']:,}; tokens {report['tokens']:,}; "
             f"units {report['units']['run']} run, {report['units']['skipped_done']} skipped; "
             f"wall {report['wall_time_s']:.1f}s"]
    if report["problems_total"]:
        lines.append(f"{report['problems_total']} input problems (see _report.json):")
        lines.extend("  " + p for p in report["problems"][:10])
    return "\n".join(lines)
