"""``ultralink prepare``: Wikipedia inputs → clean, language-checked, sentence-safe segments.

Work is split into deterministic units (file × byte range / row group, planned as Ray
tasks next to the data). Ray Data streams the pending units through two stages:

    read (tasks: decompress, cut pages into parts)  →  prepare (actors: clean → language
    → t2s → doc_length → segment, one shard per part)

so a unit that cannot be split before reading (a single-stream ``.bz2``) still spreads over
every worker. Parts and their shard names are deterministic; the driver's
:class:`~ultralink.jobs.prepare.collect.UnitParts` writes a unit's completion marker once all
its parts are back, so a rerun after a crash skips finished units, redoes the others from
scratch and never duplicates.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ultralink.core.config import identity
from ultralink.core.counters import Counters
from ultralink.core.fs import Location, NoInput
from ultralink.core.languages import get_language
from ultralink.core.lease import releasing
from ultralink.dataset.sink import JobIncomplete
from ultralink.jobs.prepare.collect import UnitParts
from ultralink.jobs.prepare.config import JOB, PrepareConfig
from ultralink.jobs.prepare.read import PART_BYTES, ReadParts
from ultralink.jobs.prepare.report import (
    RunFacts,
    build_report,
    stage_report,
    summary_text,
)
from ultralink.jobs.prepare.stage import PrepareParts
from ultralink.pipeline.dataflow import Actors, RayStage, declare, remote
from ultralink.pipeline.error_guard import ErrorGuard
from ultralink.pipeline.progress import ProgressLine
from ultralink.pipeline.report import JobReport
from ultralink.pipeline.runner import UnitJob
from ultralink.sources.wikipedia import InputError, InputUnit, plan_units

__all__ = ["PrepareJob", "UnitParts", "run_prepare"]

log = logging.getLogger("ultralink.prepare")

READERS_PER_CPU = 0.25   # one reader (decompress + cut pages) keeps about four prepare actors fed
PARTS_PER_CPU = 8        # object store for parts in flight, in parts per CPU (at least the min)
PARTS_IN_FLIGHT_MIN = 32


@dataclass
class PrepareJob:
    """The prepare job as the runner sees it (``pipeline.runner.Job``): config, plan, stage
    list, collector and report. ``plan`` remembers what it planned (the units, the files
    that could be planned), which sizes the stages and goes into the report."""

    language: str
    config: PrepareConfig
    name: str = JOB
    units: list[InputUnit] = field(default_factory=list, init=False)
    files_ok: int = field(default=0, init=False)

    def identity(self) -> dict[str, Any]:
        """The output's identity (``job_config``): the language and the hashed config."""
        return {"language": self.language, JOB: identity(self.config)}

    def plan(self, job: UnitJob) -> list[InputUnit]:
        """Every input's units, planned as Ray tasks next to the data; a file that cannot be
        planned is a problem of the job, not its end."""
        import ray

        plan_task = remote(_plan)
        planned = ray.get([plan_task.remote(loc, self.config.unit_bytes) for loc in job.files])
        self.units, self.files_ok = [], 0
        for file_units, error in planned:
            if error:
                job.problems.append(error)
                log.error("%s", error)
            else:
                self.files_ok += 1
            self.units.extend(InputUnit(**u) for u in file_units)
        return self.units

    def items(self, pending: list[InputUnit]) -> list[dict[str, Any]]:
        return [asdict(u) for u in pending]

    def stages(self, job: UnitJob, pool: Any = None,
               pending: list[InputUnit] | None = None) -> list[RayStage]:
        """Read (tasks) → prepare (actors), sized by the ``pending`` units (default: the
        planned ones not done, which reads every marker again); ``pool`` is unused: prepare
        needs no LLM."""
        from ultralink.pipeline.runtime import cluster_cpus

        in_fs = job.files[0].fs if job.files else job.out.fs   # one scheme (UnitJob.open)
        if pending is None:
            done = job.store.done()
            pending = [u for u in self.units if u.unit_id not in done]
        cpus = cluster_cpus()
        initial = max(1, min(cpus, _expected_parts(pending, _sizes(job.files))))
        return [
            # Reading takes no CPU slot (declared), so every slot holds a prepare actor:
            # decompressing and cutting pages is a fraction of the cleaning it feeds. The
            # pool of reader tasks is capped instead, which also bounds the parts in flight
            # (memory flat in input size).
            RayStage(ReadParts(in_fs),
                     tasks=max(1, min(len(pending), round(cpus * READERS_PER_CPU)))),
            # start every actor at once (the pool would otherwise grow one by one while
            # parts wait), but need only one: a busy cluster still makes progress
            RayStage(PrepareParts, batch_format="pyarrow",
                     actors=Actors(1, cpus, initial=initial, max_tasks_in_flight=2),
                     kwargs={"language": self.language, "config": self.config,
                             "out": job.out, "job_config": self.identity(),
                             "token": job.store.token}),
        ]

    def collector(self, job: UnitJob, pending: list[InputUnit]) -> UnitParts:
        """The driver's end; a pending unit cut short by a crash starts from nothing."""
        by_id = {u.unit_id: u for u in pending}
        job.store.clear_units(by_id)
        return UnitParts(job.store, by_id, ErrorGuard(self.config.error_limits, "pages"),
                         ProgressLine(f"prepare {self.language}", len(pending), 0,
                                      noun="segments"))

    def record(self, row: dict[str, Any]) -> dict[str, Any]:
        """Prepare writes its own shards (one per part); the driver sees part summaries."""
        return row

    def report(self, totals: Counters, this_run: Counters) -> JobReport:
        return stage_report(totals, this_run)


def run_limits() -> dict[str, int]:
    """Each part is a block of its own (Ray Data would gather a reader's output into 128 MB
    blocks: a late start for the actors, memory that grows with the input), and the parts in
    flight are bounded: a reader that outruns the actors waits."""
    from ultralink.pipeline.runtime import cluster_cpus

    return {"block_bytes": PART_BYTES,
            "in_flight_bytes": max(PARTS_IN_FLIGHT_MIN, PARTS_PER_CPU * cluster_cpus()) * PART_BYTES}


@declare(num_cpus=1)
def _plan(loc: Location, unit_bytes: int) -> tuple[list[dict[str, Any]], str | None]:
    try:
        return [asdict(replace(u, version=loc.version)) for u in plan_units(loc, unit_bytes)], None
    except InputError as exc:
        return [], f"{loc.uri}: {getattr(exc, 'reason', exc)}"
    except Exception as exc:  # never let one bad file stop the others
        return [], f"{loc.uri}: {type(exc).__name__}: {exc}"


def _sizes(files: list[Location]) -> dict[str, int]:
    return {loc.uri: int(m.group(1)) for loc in files
            if (m := re.search(r"size=(\d+)", loc.version))}


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
    this = PrepareJob(language, config or PrepareConfig())
    job = UnitJob.open(JOB, inputs, output, this.identity(), overwrite)  # inputs checked first
    init_ray(ray_address)
    units = this.plan(job)
    pending = job.pending(units)
    log.info("prepare %s: %d files, %d units (%d already done, %d to run)",
             language, len(job.files), len(units), len(units) - len(pending), len(pending))
    this_run, failed = _run_pending(this, job, pending) if pending else (Counters(), [])
    total = job.totals()
    problems = job.problems + [p for m in job.store.done().values() for p in m.get("problems", [])]
    facts = RunFacts(language, inputs, job.out.uri, this.config, len(job.files), this.files_ok,
                     len(units), len(pending), job.started, problems + failed)
    typed = this.report(total, this_run)
    report = build_report(facts, typed, total, this_run)
    report["units"]["failed_io"] = len(failed)
    job.finish(report, typed, status="incomplete" if failed else "done", units_total=len(units),
               segments=report["segments_written"], tokens=report["tokens"])
    print(summary_text(report))
    if failed:
        raise JobIncomplete(f"{len(failed)} unit(s) failed on I/O and were not marked done "
                            f"(rerun to retry them); first: {failed[0]}")
    if this.files_ok == 0 or (total.counts.get("pages_read", 0) == 0 and facts.problems):
        raise NoInput("no input could be read: " + "; ".join(facts.problems[:5]))
    return report


def _run_pending(this: PrepareJob, job: UnitJob,
                 pending: list[InputUnit]) -> tuple[Counters, list[str]]:
    """The pending units through read → prepare; this run's counters and the units that
    failed (on I/O, or with parts missing at the end)."""
    collector = this.collector(job, pending)
    unfinished = job.run(this.items(pending), this.stages(job, None, pending), collector,
                         **run_limits())
    failed = collector.failed + [f"unit {uid} ({collector.units[uid].uri}): parts missing at "
                                 "the end" for uid in unfinished]
    return collector.this_run, failed
