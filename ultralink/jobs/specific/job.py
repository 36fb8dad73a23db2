"""``ultralink specific``: segments → grounded multi-turn dialogues (paper §2.1.2).

Work units are deterministic: each input part file's segments, sorted by id, cut into chunks
of ``unit_size`` (unit id = hash of the file name and the range). ``--max-dialogues N`` keeps
the first N segment ids overall, which is a prefix of every file's sorted list, so the units
of a small run are the units of a bigger one (a partial last chunk gets its own id, and is
replaced when a later run completes it). All pending units' rows go through ONE Ray Data
pipeline, declared as a stage list (``pipeline.dataflow``): ``read_unit_segments`` (tasks: a
unit's segments, read on a worker) → ``DialogueStage`` (an actor pool talking to the job's
engine hosts) → the driver's :class:`UnitCollector`, which writes each unit's shard and marker
the moment its last row is back. A rerun skips finished units and never regenerates them.

Example::

    ultralink specific --language zh --input out/segments/zh --output out/specific/zh \\
        --max-dialogues 20                                  # CPU: llama.cpp + gemma3-270m
    ultralink specific --language fr --input s3://b/segments/fr --output s3://b/specific/fr \\
        --engine openai --model qwen2.5-7b-instruct --base-url http://10.0.0.5:8000 \\
        --ray-address auto
"""

from __future__ import annotations

import logging
import posixpath
import uuid
from dataclasses import dataclass
from typing import Any

import pyarrow.parquet as pq

from ultralink.core.config import identity
from ultralink.core.counters import Counters
from ultralink.core.fs import expand_inputs, resolve
from ultralink.core.languages import get_language
from ultralink.core.lease import releasing
from ultralink.core.records import conversation_schema
from ultralink.dataset.sink import UnitStore
from ultralink.hosting.llm_stage import spend_request_cache, stage_sizing
from ultralink.jobs.specific.config import JOB, SpecificConfig
from ultralink.jobs.specific.plan import plan_units, read_unit_segments
from ultralink.jobs.specific.report import build_report, stage_report, summary_text
from ultralink.llm.registry import ModelSpec, resolve_model
from ultralink.llm.request_cache import CacheSpec
from ultralink.pipeline.dataflow import RayStage
from ultralink.pipeline.progress import ProgressLine
from ultralink.pipeline.report import JobReport
from ultralink.pipeline.runner import UnitJob
from ultralink.pipeline.units import UnitCollector, WorkUnit, grow_to_target
from ultralink.specific.stage import CONVERSATION_COLUMN, DialogueStage

log = logging.getLogger("ultralink.specific")


@dataclass
class SpecificJob:
    """The dialogue job as the runner sees it (``pipeline.runner.Job``): its config, plan,
    stage list, record builder and report."""

    language: str
    config: SpecificConfig
    spec: ModelSpec
    name: str = JOB

    def plan(self, job: UnitJob) -> tuple[list[WorkUnit], dict[str, list[str]]]:
        """Units (file x id-sorted range) and the segment ids each holds."""
        return plan_units(job.files, self.config.unit_size, self.config.max_dialogues)

    def stages(self, job: UnitJob, pool: Any) -> list[RayStage]:
        """Read a unit's segments on a worker, then the dialogue stage: many small batches
        in flight per stage actor, sized from the hosts' real capacity, so no batch's
        slowest dialogue leaves an engine slot idle."""
        cfg = self.config
        sizing = stage_sizing(pool.capacity()["total_in_flight"], cfg.stage_actors)
        batch_size = cfg.batch_size or sizing.batch_size
        return [
            RayStage(read_unit_segments, kwargs={"files": {f.uri: f for f in job.files}},
                     flat=True),
            DialogueStage.stage(
                pool, concurrency=cfg.stage_actors, batch_size=batch_size,
                max_concurrent_batches=max(1, -(-sizing.rows_per_actor // batch_size)),
                keep_dropped=True, language=self.language, config=cfg.dialogue,
                seed=cfg.seed, prompt_format=self.spec.prompt_format, model=self.spec.name,
                prompts_dir=cfg.prompts_dir,
                max_in_flight=_in_flight(cfg, sizing.rows_per_actor),
                fasttext_model=cfg.fasttext_model,
                request_cache=CacheSpec.for_output(job.out, cfg.llm.engine, self.spec.name,
                                                   cfg.request_cache))]

    def record(self, row: dict[str, Any]) -> dict[str, Any]:
        return row[CONVERSATION_COLUMN]

    def report(self, totals: Counters, this_run: Counters) -> JobReport:
        return stage_report(totals, this_run)


def _in_flight(cfg: SpecificConfig, rows_per_actor: int) -> int:
    if cfg.dialogues_in_flight:
        return cfg.dialogues_in_flight
    if cfg.llm.engine == "llamacpp":
        return cfg.num_hosts
    return rows_per_actor


@releasing
def run_specific(language: str, inputs: list[str], output: str,
                 config: SpecificConfig | None = None, ray_address: str | None = None,
                 overwrite: bool = False, pool: Any = None) -> dict[str, Any]:
    """Run the dialogue job; returns the report (also written as ``_report.json``).

    Args:
        pool: an existing ``HostPool`` serving ``config.llm`` (e.g. shared by ``ultralink
            build`` across stages); used as is and not shut down. Default: the job's own.
    """
    from ultralink.specific.prompts import load_prompts

    get_language(language)
    cfg = config or SpecificConfig()
    if cfg.target_dialogues is not None:
        return _run_to_target(language, inputs, output, cfg, ray_address, overwrite, pool)
    prompts = load_prompts(language, cfg.prompts_dir)  # a missing key fails before Ray starts
    spec = resolve_model(cfg.llm.model, cfg.llm.models_yaml)
    this = SpecificJob(language, cfg, spec)
    job_config = {"language": language, "prompt_version": prompts.version, JOB: identity(cfg)}
    job = UnitJob.open(JOB, inputs, output, job_config, overwrite, suffix=".parquet")
    units, members = this.plan(job)
    pending = job.pending(units, {u.unit_id: u.info["version"] for u in units})
    log.info("specific %s: %d segments in %d units (%d done, %d to run)", language,
             sum(u.n_rows for u in units), len(units), len(units) - len(pending), len(pending))
    this_run, llm_stats = (_run_pending(this, job, pending, members, ray_address, pool)
                           if pending else (Counters(), {}))
    total = job.totals()
    report = build_report(language, inputs, job.out, cfg, prompts.version, spec.name, units,
                          pending, total, this_run, llm_stats, job.problems, job.started)
    job.finish(report, this.report(total, this_run), units_total=len(units),
               dialogues=report["dialogues"]["out"])
    print(summary_text(report))
    return report


def _run_pending(this: SpecificJob, job: UnitJob, pending: list[WorkUnit],
                 members: dict[str, list[str]], ray_address: str | None, pool: Any
                 ) -> tuple[Counters, dict[str, Any]]:
    """The pending units through one pipeline (one work item per unit, so units spread over
    the stage actors and each is marked the moment it is done); this run's counters and the
    pool's stats."""
    from ultralink.hosting.pool import HostPool
    from ultralink.pipeline.runtime import init_ray

    init_ray(ray_address)
    cfg = this.config
    collector = UnitCollector(job.store, pending, conversation_schema(), this.record,
                              limits=cfg.error_limits, on_unit_done=spend_request_cache(job.store),
                              progress=ProgressLine(f"specific {this.language}", len(pending),
                                                    sum(u.n_rows for u in pending)))
    collector.finish_empty()
    own_pool = pool is None
    if own_pool:
        pool = HostPool.create(cfg.llm, cfg.num_hosts, f"ul-specific-{uuid.uuid4().hex[:8]}")
    try:
        items = [{"file": u.info["file"], "ids": members[u.unit_id],
                  "units": [u.unit_id] * u.n_rows} for u in pending]
        incomplete = job.run(items, this.stages(job, pool), collector)
        llm_stats = pool.stats()
    finally:
        if own_pool:
            pool.shutdown()
    if incomplete:
        raise RuntimeError(f"units left incomplete: {incomplete[:5]}")
    return collector.counters, llm_stats


def _run_to_target(language: str, inputs: list[str], output: str, cfg: SpecificConfig,
                   ray_address: str | None, overwrite: bool, pool: Any) -> dict[str, Any]:
    """Rounds of :func:`run_specific` over a growing id-ordered prefix of the segments until
    ``target_dialogues`` dialogues are finished. Each round resumes the last (finished units
    keep their ids; only a file's partial last unit is redone), so the result is the same
    as one run over the final prefix: deterministic."""
    files, _ = expand_inputs(inputs)
    available = 0
    for loc in files:
        if posixpath.basename(loc.path).endswith(".parquet"):
            with loc.fs.open_input_file(loc.path) as f:
                available += pq.ParquetFile(f).metadata.num_rows
    cap = min(available, cfg.max_dialogues or available)
    target = cfg.target_dialogues or 0
    report: dict[str, Any] = {}

    def run_round(round_: int, _lo: int, n: int) -> int:
        nonlocal report
        once = cfg.model_copy(update={"max_dialogues": max(1, n), "target_dialogues": None})
        report = run_specific(language, inputs, output, once, ray_address,
                              overwrite and round_ == 0, pool)
        return report["dialogues"]["out"]

    grown = grow_to_target(target, cap, target, cfg.target_rounds, run_round)
    report["target"] = {"dialogues": target, "met": grown.met, "segments_used": grown.drawn,
                        "segments_available": available, "rounds": grown.rounds}
    if not grown.met:
        log.warning("specific %s: %d of %d dialogues: the %d segments%s do not allow more",
                    language, grown.got, target, cap, " (max_dialogues)" if cap < available else "")
    UnitStore(resolve(output), JOB, {}).write_report(report)
    return report
