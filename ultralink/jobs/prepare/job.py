"""``ultralink prepare``: Wikipedia inputs → clean, language-checked, sentence-safe segments.

Work is split into deterministic units (file × byte range / row group, planned as Ray
tasks next to the data). Ray Data streams the pending units through two stages:

    read (tasks: decompress, cut pages into parts)  →  prepare (actors: clean → language
    → t2s → doc_length → segment, one shard per part)

so a unit that cannot be split before reading (a single-stream ``.bz2``) still spreads over
every worker. Parts and their shard names are deterministic; the driver writes a unit's
completion marker (``ultralink.dataset.sink``) once all its parts are back, so a rerun after a crash
skips finished units, redoes the others from scratch and never duplicates.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import asdict
from typing import Any

from ultralink.core.config import identity
from ultralink.jobs.prepare.config import PrepareConfig
from ultralink.core.counters import Counters
from ultralink.core.fs import Location, NoInput
from ultralink.core.languages import get_language
from ultralink.core.lease import releasing
from ultralink.pipeline.chain import format_table, stage_rows
from ultralink.pipeline.dataflow import Actors, RayStage, declare, remote
from ultralink.pipeline.error_guard import ErrorGuard
from ultralink.jobs.prepare.stage import PrepareParts, step_classes
from ultralink.jobs.prepare.read import MAX_PROBLEMS_PER_UNIT, PART_BYTES, ReadParts, counters_of
from ultralink.pipeline.runner import JobReport, UnitJob
from ultralink.dataset.sink import JobIncomplete, UnitStore
from ultralink.sources.wikipedia import InputError, InputUnit, plan_units

log = logging.getLogger("ultralink.prepare")

MAX_PROBLEMS_IN_REPORT = 1000
READERS_PER_CPU = 0.25   # one reader (decompress + cut pages) keeps about four prepare actors fed
PARTS_PER_CPU = 8        # object store for parts in flight, in parts per CPU (at least the min)
PARTS_IN_FLIGHT_MIN = 32


class UnitParts:
    """Driver side: part summaries in (any order), a unit's marker out once all are back.

    Holds only counts per unit in flight, never texts; every part's counts also go to the
    run's totals and its error guard (a part that drops too many pages stops the job).
    """

    def __init__(self, store: UnitStore, units: dict[str, InputUnit], guard: ErrorGuard) -> None:
        self.store = store
        self.units = units
        self.guard = guard
        self.this_run = Counters()
        self.seen: dict[str, set[int]] = {}
        self.total: dict[str, int] = {}
        self.counters: dict[str, Counters] = {}
        self.problems: dict[str, list[str]] = {}
        self.rows: dict[str, int] = {}
        self.failed: list[str] = []

    def add(self, row: dict[str, Any]) -> None:
        uid = row["unit_id"]
        counters = counters_of(row)
        self.this_run.merge(counters)
        self.guard.add_counts(counters.counts.get("out_read", 0), counters.dropped(),
                              f"part {row['part']} of unit {uid} ({self.units[uid].uri})")
        self.seen.setdefault(uid, set()).add(row["part"])
        self.counters.setdefault(uid, Counters()).merge(counters)
        self.problems.setdefault(uid, []).extend(row["problems"])
        self.rows[uid] = self.rows.get(uid, 0) + row["rows"]
        if row["failed"]:
            self.failed.append(row["failed"])
        if row["last"]:
            self.total[uid] = row["part"] + 1
        if len(self.seen[uid]) == self.total.get(uid, -1):
            self._finish(uid, failed=bool(row["failed"]))

    def _finish(self, uid: str, failed: bool) -> None:
        unit, counters, parts = self.units[uid], self.counters.pop(uid), self.total.pop(uid)
        problems, rows = self.problems.pop(uid), self.rows.pop(uid)
        del self.seen[uid]
        if failed:   # left unmarked: the next run reads it again
            return
        self.store.finish_unit(uid, {"uri": unit.uri, "unit": asdict(unit), "rows": rows,
                                     "parts": parts, "counters": counters.to_dict(),
                                     "problems": problems[:MAX_PROBLEMS_PER_UNIT]})

    def incomplete(self) -> list[str]:
        """Units some of whose parts never came back."""
        return sorted(self.seen)


@declare(num_cpus=1)
def _plan(loc: Location, unit_bytes: int) -> tuple[list[dict[str, Any]], str | None]:
    from dataclasses import replace

    try:
        return [asdict(replace(u, version=loc.version)) for u in plan_units(loc, unit_bytes)], None
    except InputError as exc:
        return [], f"{loc.uri}: {getattr(exc, 'reason', exc)}"
    except Exception as exc:  # never let one bad file stop the others
        return [], f"{loc.uri}: {type(exc).__name__}: {exc}"


def _expected_parts(units: list[InputUnit], sizes: dict[str, int]) -> int:
    """About how many parts the units will make (compressed inputs counted as ~4x their
    size), so a small job starts one prepare actor, not one per CPU."""
    total = sum((u.end if u.end >= 0 else sizes.get(u.uri, 0)) - u.start for u in units)
    return max(1, -(-4 * total // PART_BYTES))


@releasing
def run_prepare(language: str, inputs: list[str], output: str, config: PrepareConfig | None = None,
                ray_address: str | None = None, overwrite: bool = False) -> dict[str, Any]:
    """Run the preparation job; returns the report (also written as ``_report.json``)."""
    from ultralink.pipeline.runtime import init_ray

    get_language(language)  # fail fast on an unknown language
    cfg = config or PrepareConfig()
    job_config = {"language": language, "prepare": identity(cfg)}
    job = UnitJob.open("prepare", inputs, output, job_config, overwrite)  # inputs checked first
    init_ray(ray_address)
    units, files_ok = _plan_all(job, cfg)
    pending = [asdict(u) for u in job.pending([InputUnit(**u) for u in units])]
    log.info("prepare %s: %d files, %d units (%d already done, %d to run)",
             language, len(job.files), len(units), len(units) - len(pending), len(pending))
    this_run, failed = (_run_pending(job, pending, language, cfg, job_config) if pending
                        else (Counters(), []))

    total = job.totals()
    problems = job.problems
    for marker in job.store.done().values():
        problems.extend(marker.get("problems", []))
    problems.extend(failed)
    typed = JobReport.of("prepare", total, stage_rows(step_classes(), total),
                         records_in=total.counts.get("pages_read", 0),
                         records_out=total.counts.get("rows_written", 0),
                         tokens=total.counts.get("segment_tokens", 0), tokens_kind="segment")
    report = _report(language, inputs, job.out, cfg, job.files, files_ok, units, pending, total,
                     this_run, problems, job.started, typed)
    report["units"]["failed_io"] = len(failed)
    job.finish(report, typed, status="incomplete" if failed else "done", units_total=len(units),
               segments=report["segments_written"], tokens=report["tokens"])
    print(summary_text(report))
    if failed:
        raise JobIncomplete(f"{len(failed)} unit(s) failed on I/O and were not marked done "
                            f"(rerun to retry them); first: {failed[0]}")
    if files_ok == 0 or (total.counts.get("pages_read", 0) == 0 and problems):
        raise NoInput("no input could be read: " + "; ".join(problems[:5]))
    return report


def _plan_all(job: UnitJob, cfg: PrepareConfig) -> tuple[list[dict[str, Any]], int]:
    """Every input's units, planned as Ray tasks next to the data; a file that cannot be
    planned is a problem of the job, not its end. Returns the units and the files planned."""
    import ray

    plan_task = remote(_plan)
    planned = ray.get([plan_task.remote(loc, cfg.unit_bytes) for loc in job.files])
    units: list[dict[str, Any]] = []
    files_ok = 0
    for file_units, error in planned:
        if error:
            job.problems.append(error)
            log.error("%s", error)
        else:
            files_ok += 1
        units.extend(file_units)
    return units, files_ok


def _run_pending(job: UnitJob, pending: list[dict[str, Any]], language: str,
                 cfg: PrepareConfig, job_config: dict[str, Any]) -> tuple[Counters, list[str]]:
    """The pending units through read → prepare; this run's counters and the units that
    failed (on I/O, or with parts missing at the end)."""
    from ultralink.pipeline.runtime import cluster_cpus

    files, store = job.files, job.store
    in_fs = files[0].fs if files else job.out.fs   # one scheme for all inputs (UnitJob.open)
    by_id = {u.unit_id: u for u in (InputUnit(**p) for p in pending)}
    store.clear_units(by_id)   # a unit cut short by a crash starts from nothing
    cpus = cluster_cpus()
    sizes = {loc.uri: int(m.group(1)) for loc in files
             if (m := re.search(r"size=(\d+)", loc.version))}
    pool = max(1, min(cpus, _expected_parts(list(by_id.values()), sizes)))
    tracker = UnitParts(store, by_id, ErrorGuard(cfg.error_limits, "pages"))
    # Each part is a block of its own (Ray Data would gather a reader's output into
    # 128 MB blocks: a late start for the actors, memory that grows with the input), and
    # the parts in flight are bounded: a reader that outruns the actors waits.
    unfinished = job.run(pending, [
        # Reading takes no CPU slot (declared), so every slot holds a prepare actor:
        # decompressing and cutting pages is a fraction of the cleaning it feeds. The
        # pool of reader tasks is capped instead, which also bounds the parts in flight
        # (memory flat in input size).
        RayStage(ReadParts(in_fs),
                 tasks=max(1, min(len(pending), round(cpus * READERS_PER_CPU)))),
        # start every actor at once (the pool would otherwise grow one by one while
        # parts wait), but need only one: a busy cluster still makes progress
        RayStage(PrepareParts, batch_format="pyarrow",
                 actors=Actors(1, cpus, initial=pool, max_tasks_in_flight=2),
                 kwargs={"language": language, "config": cfg, "out": job.out,
                         "job_config": job_config, "token": store.token}),
    ], tracker, block_bytes=PART_BYTES,
        in_flight_bytes=max(PARTS_IN_FLIGHT_MIN, PARTS_PER_CPU * cpus) * PART_BYTES)
    failed = tracker.failed + [f"unit {uid} ({by_id[uid].uri}): parts missing at the end"
                               for uid in unfinished]
    return tracker.this_run, failed


def _report(language: str, inputs: list[str], out: Location, cfg: PrepareConfig,
            files: list[Location], files_ok: int, units: list[dict[str, Any]],
            pending: list[dict[str, Any]], total: Counters, this_run: Counters,
            problems: list[str], started: float, typed: JobReport) -> dict[str, Any]:
    c = total.counts
    wall = time.time() - started
    run_wall = this_run.timings.get("unit_wall", 0.0) + this_run.timings.get("read", 0.0)
    return {
        "job": "prepare",
        "language": language,
        "inputs": inputs,
        "output": out.uri,
        "config": cfg.model_dump(),
        "files": {"found": len(files), "read": files_ok, "failed": len(files) - files_ok},
        "units": {"total": len(units), "skipped_done": len(units) - len(pending), "run": len(pending)},
        "documents": {"seen": c.get("pages_read", 0), "kept": c.get("out_doc_length", 0)},
        "dropped": typed.dropped,
        "segments_written": c.get("rows_written", 0),
        "tokens": c.get("segment_tokens", 0),
        "long_sentence_splits": c.get("long_sentence_splits", 0),
        "stages": [row.to_dict() for row in typed.stages],
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
