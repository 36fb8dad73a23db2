"""One agnostic run as an object: its state is fields, its steps are methods (open, scan and
plan, rounds, finish); :func:`run_agnostic` is the entry point that runs them in order."""

from __future__ import annotations

import logging
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from ultralink.core.counters import Counters
from ultralink.core.fs import NoInput
from ultralink.core.lease import releasing
from ultralink.core.records import conversation_schema
from ultralink.hosting.llm_stage import spend_request_cache
from ultralink.jobs.agnostic.collect import RecordBuilder, RejectSamples
from ultralink.jobs.agnostic.config import AgnosticConfig
from ultralink.jobs.agnostic.contamination import refuse_by_content, refuse_by_name, source_index
from ultralink.jobs.agnostic.plan import (
    RowsOf,
    Selection,
    block_units,
    file_key,
    refill_units,
    select,
    work_items,
)
from ultralink.jobs.agnostic.report import RunFacts, build_report, summary_text
from ultralink.jobs.agnostic.scan import read_tables, scan_file
from ultralink.jobs.agnostic.source_checks import SourceChecks
from ultralink.jobs.agnostic.settings import RunSettings
from ultralink.jobs.agnostic.trim import made, trim_surplus
from ultralink.jobs.decontaminate.sets import ResolvedSets
from ultralink.pipeline.dataflow import RayStage, remote
from ultralink.pipeline.progress import ProgressLine
from ultralink.pipeline.runner import JobSummary, UnitJob
from ultralink.pipeline.units import Rounds, UnitCollector, WorkUnit, grow_to_target

log = logging.getLogger("ultralink.agnostic")


@dataclass
class AgnosticRun:
    """The state of one run: the plan, then what each round ran and counted."""

    settings: RunSettings
    job: UnitJob
    pool: Any = None            # hosting.pool.HostPool; created on first need
    progress: bool = True
    own_pool: bool = True
    files_read: int = 0
    read: Counters = field(default_factory=Counters)
    selection: Selection | None = None
    fks: dict[str, str] = field(default_factory=dict)
    units: list[WorkUnit] = field(default_factory=list)     # the round's units
    rows_of: RowsOf = field(default_factory=dict)           # the round's rows by file
    stale: list[str] = field(default_factory=list)
    planned: list[WorkUnit] = field(default_factory=list)   # every round's units
    ran: list[WorkUnit] = field(default_factory=list)       # those this run streamed
    this_run: Counters = field(default_factory=Counters)
    rejects: list[dict[str, str]] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)
    llm_report: dict[str, Any] = field(default_factory=dict)
    llm_wall: float = 0.0
    grown: Rounds | None = None
    eval_sets: ResolvedSets | None = None    # the sets the sources were checked against

    @classmethod
    def open(cls, setup: RunSettings, inputs: list[str], output: str, overwrite: bool,
             pool: Any, progress: bool) -> AgnosticRun:
        """Check the inputs (before anything is written), then open the output store."""
        job = UnitJob.open("agnostic", inputs, output, setup.identity(), overwrite)
        return cls(setup, job, pool=pool, progress=progress, own_pool=pool is None)

    @property
    def plan(self) -> Selection:
        if self.selection is None:
            raise RuntimeError("AgnosticRun.scan_and_plan() did not run")
        return self.selection

    @property
    def rounds(self) -> Rounds:
        if self.grown is None:
            raise RuntimeError("AgnosticRun.run_rounds() did not run")
        return self.grown

    def scan_and_plan(self) -> None:
        """Scan every file once (ids only, a Ray task each), select and rank the records,
        and plan round 0's units; stale units of an earlier plan are removed."""
        import ray

        setup, store = self.settings, self.job.store
        allow = setup.cfg.allow_test_splits
        refuse_by_name(self.job.files, allow)
        index, self.eval_sets = source_index(setup.cfg.decontaminate)
        ref = ray.put(index) if index is not None else None
        checks = SourceChecks.load(setup.prompts_dir) if setup.cfg.source_checks else None
        scan = remote(scan_file)
        scans = ray.get([scan.remote(loc, setup.language, setup.subset, setup.cfg, ref, checks)
                         for loc in self.job.files])
        refuse_by_content(scans, allow)
        for s in scans:
            self.read.merge(s["counters"])
            self.job.problems.extend(s["problems"])
            if s["error"]:
                self.job.problems.append(s["error"])
                log.error("%s", s["error"])
            else:
                self.files_read += 1
        size = setup.cfg.prune_size_for(setup.subset) if setup.translate else None
        self.selection = select(scans, setup.cfg, setup.language, size)
        versions = {loc.uri: loc.version for loc in self.job.files}
        self.fks = {s["uri"]: file_key(s["uri"] + "\x1f" + versions.get(s["uri"], ""))
                    for s in scans}
        self.units, self.rows_of = block_units(scans, self.plan.cut, self.plan.selected,
                                               self.fks, setup.cfg.unit_records)
        # refill units are planned round by round, so only round 0's can be judged stale
        # now; the others are checked once every round is planned
        refills = {uid for uid, m in store.done().items() if (m.get("info") or {}).get("round")}
        self.stale = store.drop_stale({u.unit_id for u in self.units} | refills)

    def run_rounds(self) -> None:
        """Round 0 is the pruned selection; each refill round draws the next-ranked records
        of the pool, sized by the yield so far, until the target is met."""
        sel, cfg = self.plan, self.settings.cfg
        try:
            if sel.size is None:   # nothing pruned: one round over every candidate
                n = len(sel.selected)
                self.grown = grow_to_target(n, n, n, 1, self.one_round)
            else:
                self.grown = grow_to_target(sel.size, len(sel.order), len(sel.selected),
                                            1 + cfg.refill_rounds, self.one_round)
            if self.settings.translate and self.pool is not None and any(u.n_rows for u in self.ran):
                from ultralink.llm.metrics import job_report

                self.llm_report = job_report(self.pool.stats())
        finally:
            if self.own_pool and self.pool is not None:
                self.pool.shutdown()

    def one_round(self, round_: int, lo: int, hi: int) -> int | None:
        """Round 0: the pruned selection's units; a refill round: the pool's ranks
        ``[lo, hi)``. Returns the records made so far, or None when units were left
        incomplete."""
        setup, store, sel = self.settings, self.job.store, self.plan
        if round_:
            self.units, self.rows_of = refill_units(sel.order[lo:hi], lo, round_, sel.where,
                                                    self.fks, setup.cfg.unit_records)
        self.planned.extend(self.units)
        markers = store.done()
        pending = [u for u in self.units if u.unit_id not in markers]
        self.ran.extend(pending)
        n_rows = sum(u.n_rows for u in pending)
        log.info("agnostic %s/%s round %d: %d records selected of %d, %d units (%d done, "
                 "%d to run, %d rows)", setup.language, setup.subset, round_, hi,
                 sel.candidates, len(self.units), len(self.units) - len(pending), len(pending),
                 n_rows)
        builder = RecordBuilder(setup.language, setup.subset, setup.model,
                                setup.prompt_version, setup.cfg.seed)
        collector = UnitCollector(store, pending, conversation_schema(), builder,
                                  limits=setup.cfg.error_limits,
                                  on_unit_done=spend_request_cache(store),
                                  on_drop=RejectSamples(self.rejects),
                                  progress=ProgressLine(
                                      f"agnostic {setup.language}/{setup.subset}"
                                      + (f" refill {round_}" if round_ else ""),
                                      len(pending), n_rows))
        collector.finish_empty()
        if n_rows:
            self.llm_wall += self.stream(round_, pending, collector)
        self.this_run.merge(collector.counters)
        self.incomplete = collector.incomplete()
        if self.incomplete:
            return None
        markers = store.done()
        return sum(made(markers[u.unit_id]) for u in self.planned)

    def stream(self, round_: int, pending: list[WorkUnit], collector: UnitCollector
               ) -> float:
        """Every pending row of one round through the job's stages; returns its wall."""
        setup = self.settings
        t0 = time.time()
        label = f"agnostic {setup.language}/{setup.subset}" + (
            f" refill {round_}" if round_ else "")
        bar = _progress(sum(u.n_rows for u in pending), label, self.progress)
        self.job.run(work_items(self.rows_of, pending), self.stages(), collector,
                     on_row=lambda: bar.update(1))
        bar.close()
        return time.time() - t0

    def stages(self) -> list[RayStage]:
        """Read, then (not English) the judge + translator stage on the run's host pool."""
        setup, cfg = self.settings, self.settings.cfg
        s3 = next((f.s3 for f in self.job.files if f.is_s3), ())
        stages = [RayStage(read_tables, kwargs={"subset": setup.subset, "config": cfg, "s3": s3},
                           batch_format="pyarrow")]
        if not setup.translate:
            return stages
        from ultralink.agnostic.stage import AgnosticStage
        from ultralink.hosting.pool import HostPool
        from ultralink.llm.request_cache import CacheSpec

        if self.pool is None:
            self.pool = HostPool.create(setup.engine, cfg.num_hosts,
                                        f"agnostic-{uuid.uuid4().hex[:8]}")
        # many small batches in flight per stage actor, sized from the hosts' capacity,
        # keep the engines fed whatever the tail of conversation lengths
        stages.append(AgnosticStage.stage(
            self.pool, concurrency=cfg.stage_concurrency, batch_size=cfg.batch_size,
            language=setup.language, subset=setup.subset, config=cfg,
            style=setup.style, granularity=setup.granularity, prompts_dir=setup.prompts_dir,
            request_cache=CacheSpec.for_output(self.job.out, setup.engine.engine, setup.model,
                                               cfg.request_cache)))
        return stages

    def finish(self, inputs: list[str]) -> dict[str, Any]:
        """Trim the surplus past the target, remove stale units, write the report and the
        manifest; raises ``NoInput`` when no input could be read."""
        sel, store, problems = self.plan, self.job.store, self.job.problems
        rounds = self.rounds.rounds - 1   # refill rounds run
        if rounds and sel.size is not None and not self.incomplete:
            trim_surplus(store, self.planned, self.units, sel.size, sel.order)
        stale = self.stale + store.drop_stale(u.unit_id for u in self.planned)
        if stale:
            log.info("removed %d unit(s) of changed or removed inputs or an earlier "
                     "selection: %s", len(stale), stale[:5])
        if self.incomplete:
            problems.append(f"{len(self.incomplete)} units did not receive all rows: "
                            f"{self.incomplete[:5]}")
            log.error("units incomplete: %s", self.incomplete[:5])
        report = build_report(self.facts(inputs, rounds))
        self.job.finish(report, JobSummary(
            records_in=report["read"], records_out=report["written"], dropped=report["dropped"],
            tokens=report["tokens"]["completion"], tokens_kind="generated",
            run_tokens=report["this_run"]["completion_tokens"]),
            status="done" if not self.incomplete else "incomplete",
            units_total=len(self.planned), conversations=report["written"])
        if self.progress:
            print(summary_text(report))
        if self.files_read == 0 or (self.read.counts.get("read", 0) == 0 and problems):
            raise NoInput("no input could be read: " + "; ".join(problems[:5]))
        return report

    def facts(self, inputs: list[str], rounds: int) -> RunFacts:
        setup, sel = self.settings, self.plan
        drawn = self.rounds.drawn - len(sel.selected)   # records the refill rounds drew
        return RunFacts(
            language=setup.language, subset=setup.subset, inputs=inputs,
            output=self.job.out.uri, config=setup.cfg, engine=setup.engine_report(),
            files_found=len(self.job.files), files_read=self.files_read, read=self.read,
            selection=sel, refill_rounds=rounds, refilled=drawn,
            units_total=len(self.planned), units_run=len(self.ran), total=self.job.totals(),
            this_run=self.this_run, llm_wall=self.llm_wall, started=self.job.started,
            llm=self.llm_report, rejects=self.rejects, problems=self.job.problems,
            eval_sets=self.eval_sets)


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, desc: str, enabled: bool) -> Any:
    from ultralink.pipeline.runtime import progress_bars

    if not enabled or not progress_bars():   # elsewhere the progress line says it
        return _NoBar()
    try:
        from tqdm import tqdm
    except ImportError:
        return _NoBar()
    return tqdm(total=total, desc=desc, unit="conv", file=sys.stderr)


@releasing
def run_agnostic(language: str, subset: str, inputs: list[str], output: str,
                 config: AgnosticConfig | None = None, engine: Any = None,
                 ray_address: str | None = None, overwrite: bool = False,
                 prompts_dir: str | None = None, progress: bool = True,
                 pool: Any = None) -> dict[str, Any]:
    """Run the job; returns the report (also written as ``_report.json``).

    Args:
        engine: an ``EngineConfig`` (default: the CPU llama.cpp default).
        pool: an existing ``HostPool`` serving ``engine`` (e.g. shared by ``ultralink build``
            across stages); used as is and not shut down. Default: the job's own.
    """
    from ultralink.llm.registry import cpu_engine
    from ultralink.pipeline.runtime import init_ray

    setup = RunSettings.resolve(language, subset, config or AgnosticConfig(),
                          engine or cpu_engine(), prompts_dir)
    run = AgnosticRun.open(setup, inputs, output, overwrite, pool, progress)
    init_ray(ray_address)
    run.scan_and_plan()
    run.run_rounds()
    return run.finish(inputs)
