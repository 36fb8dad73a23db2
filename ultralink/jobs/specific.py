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

import json
import logging
import posixpath
import time
import uuid
from collections.abc import Mapping
from typing import Any

import pyarrow.parquet as pq
from pydantic import Field

from ultralink.core.config import ErrorLimits, Strict
from ultralink.core.counters import Counters
from ultralink.core.fs import Location, expand_inputs, resolve
from ultralink.core.languages import get_language
from ultralink.core.lease import releasing
from ultralink.llm.registry import EngineConfig, resolve_model
from ultralink.llm.request_cache import CacheSpec, RequestCacheConfig
from ultralink.pipeline.chain import format_table
from ultralink.pipeline.dataflow import RayStage, declare
from ultralink.pipeline.llm_stage import spend_request_cache, stage_sizing
from ultralink.pipeline.report import JobReport, StageRow
from ultralink.pipeline.runner import UnitJob
from ultralink.pipeline.units import UNIT_COLUMN, UnitCollector, WorkUnit, grow_to_target
from ultralink.core.records import conversation_schema
from ultralink.dataset.sink import UnitStore
from ultralink.specific.dialogue import DialogueConfig, turn_distribution
from ultralink.specific.stage import CONVERSATION_COLUMN, DialogueStage
from ultralink.core.ids import digest

log = logging.getLogger("ultralink.specific")

JOB = "specific"
# Keys that steer a run but not what it writes: not part of the output's identity (hash).
RUN_CONTROL = {"max_dialogues", "target_dialogues", "target_rounds", "error_limits",
               "request_cache"}
SEGMENT_COLUMNS = ("id", "doc_id", "title", "url", "language", "segment_index", "text",
                   "source_file")


class SpecificConfig(Strict):
    """The ``specific`` job: dialogue rules, the engine, and how work is cut and scheduled.

    Example (``--config jobs/specific.yaml``)::

        specific:
          seed: 0
          num_hosts: 1
          dialogue: {stop_first: 0.1, stop_growth: 2.0, answer_max_tokens: 256}
          llm: {engine: llamacpp, model: gemma3-270m, n_threads: 1}
    """

    seed: int = Field(0, description="with the segment id, fixes every random choice")
    max_dialogues: int | None = Field(None, gt=0, description="only the first N segments by "
                                      "id (deterministic)")
    target_dialogues: int | None = Field(None, gt=0, description="finished dialogues wanted: "
                                         "segments are taken in id order, more in each round "
                                         "(sized by the yield so far) until the target is met "
                                         "or the segments (or max_dialogues) run out")
    target_rounds: int = Field(8, gt=0, description="rounds at most to reach target_dialogues")
    unit_size: int = Field(64, gt=0, description="segments per work unit (output shard)")
    batch_size: int | None = Field(None, gt=0, description="segments per Ray Data batch; "
                                   "default: sized from the hosts' capacity "
                                   "(llm_stage.stage_sizing)")
    num_hosts: int = Field(1, gt=0, description="engine host actors (one model each)")
    stage_actors: int = Field(1, gt=0, description="DialogueStage actors, all started at once "
                              "(cheap: they only hold requests)")
    dialogues_in_flight: int | None = Field(None, gt=0, description="dialogues running at "
                                            "once per stage actor; default: num_hosts for "
                                            "llama.cpp (keeps its one-slot prompt cache on "
                                            "one document), else the stage sizing's rows per "
                                            "actor (2 × the hosts' gates / actors)")
    prompts_dir: str | None = Field(None, description="directory of <lang>.yaml (default: the "
                                    "repository's prompts/)")
    fasttext_model: str | None = Field(None, description="lid.176 path (default: the shipped "
                                       ".ftz)")
    dialogue: DialogueConfig = Field(default_factory=DialogueConfig)
    error_limits: ErrorLimits = Field(default_factory=ErrorLimits)
    request_cache: RequestCacheConfig = Field(default_factory=RequestCacheConfig)
    llm: EngineConfig = Field(default_factory=lambda: EngineConfig(engine="llamacpp",
                                                                   model="gemma3-270m",
                                                                   n_threads=1,
                                                                   max_model_len=8192))


# --------------------------------------------------------------------------------- planning


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


def _to_record(row: dict[str, Any]) -> dict[str, Any]:
    return row[CONVERSATION_COLUMN]


def _in_flight(cfg: SpecificConfig, rows_per_actor: int) -> int:
    if cfg.dialogues_in_flight:
        return cfg.dialogues_in_flight
    if cfg.llm.engine == "llamacpp":
        return cfg.num_hosts
    return rows_per_actor


# ------------------------------------------------------------------------------------ run


@releasing
def run_specific(language: str, inputs: list[str], output: str,
                 config: SpecificConfig | None = None, ray_address: str | None = None,
                 overwrite: bool = False, pool: Any = None) -> dict[str, Any]:
    """Run the dialogue job; returns the report (also written as ``_report.json``).

    Args:
        pool: an existing ``HostPool`` serving ``config.llm`` (e.g. shared by ``ultralink
            build`` across stages); used as is and not shut down. Default: the job's own.
    """
    from ultralink.pipeline.engine_host import HostPool
    from ultralink.pipeline.runtime import init_ray
    from ultralink.specific.prompts import load_prompts

    get_language(language)
    cfg = config or SpecificConfig()
    if cfg.target_dialogues is not None:
        return _run_to_target(language, inputs, output, cfg, ray_address, overwrite, pool)
    prompts = load_prompts(language, cfg.prompts_dir)  # a missing key fails before Ray starts
    spec = resolve_model(cfg.llm.model, cfg.llm.models_yaml)
    # max_dialogues selects a prefix of the same units: not part of the output's identity.
    # Re-validated so defaults get their field types (0 -> 0.0) as a YAML-loaded config does.
    canonical = json.loads(SpecificConfig(**cfg.model_dump()).model_dump_json(
        exclude={"max_dialogues"}))
    for key in RUN_CONTROL:  # run controls never change what is written
        canonical.pop(key, None)
    job_config = {"language": language, "prompt_version": prompts.version, JOB: canonical}
    job = UnitJob.open(JOB, inputs, output, job_config, overwrite, suffix=".parquet")
    units, members = plan_units(job.files, cfg.unit_size, cfg.max_dialogues)
    pending = job.pending(units, {u.unit_id: u.info["version"] for u in units})
    log.info("specific %s: %d segments in %d units (%d done, %d to run)", language,
             sum(u.n_rows for u in units), len(units), len(units) - len(pending), len(pending))

    this_run = Counters()
    llm_stats: dict[str, Any] = {}
    if pending:
        init_ray(ray_address)
        collector = UnitCollector(job.store, pending, conversation_schema(), _to_record,
                                  limits=cfg.error_limits,
                                  on_unit_done=spend_request_cache(job.store))
        collector.finish_empty()
        own_pool = pool is None
        if own_pool:
            pool = HostPool.create(cfg.llm, cfg.num_hosts, f"ul-specific-{uuid.uuid4().hex[:8]}")
        try:
            # many small batches in flight per stage actor, sized from the hosts' real
            # capacity, so no batch's slowest dialogue leaves an engine slot idle
            sizing = stage_sizing(pool.capacity()["total_in_flight"], cfg.stage_actors)
            batch_size = cfg.batch_size or sizing.batch_size
            # one work item per unit, so units spread over the stage actors and each is
            # marked the moment it is done; workers read their unit's texts (the driver
            # holds ids)
            items = [{"file": u.info["file"], "ids": members[u.unit_id],
                      "units": [u.unit_id] * u.n_rows} for u in pending]
            incomplete = job.run(items, [
                RayStage(read_unit_segments, kwargs={"files": {f.uri: f for f in job.files}},
                         flat=True),
                DialogueStage.stage(
                    pool, concurrency=cfg.stage_actors, batch_size=batch_size,
                    max_concurrent_batches=max(1, -(-sizing.rows_per_actor // batch_size)),
                    keep_dropped=True, language=language, config=cfg.dialogue,
                    seed=cfg.seed, prompt_format=spec.prompt_format, model=spec.name,
                    prompts_dir=cfg.prompts_dir,
                    max_in_flight=_in_flight(cfg, sizing.rows_per_actor),
                    fasttext_model=cfg.fasttext_model,
                    request_cache=CacheSpec.for_output(job.out, cfg.llm.engine, spec.name,
                                                       cfg.request_cache))], collector)
            llm_stats = pool.stats()
        finally:
            if own_pool:
                pool.shutdown()
        if incomplete:
            raise RuntimeError(f"units left incomplete: {incomplete[:5]}")
        this_run = collector.counters

    total = job.totals()
    report = build_report(language, inputs, job.out, cfg, prompts.version, spec.name, units,
                          pending, total, this_run, llm_stats, job.problems, job.started)
    job.finish(report, stage_report(total, this_run), units_total=len(units),
               dialogues=report["dialogues"]["out"])
    print(summary_text(report))
    return report


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


GROUPS = ("turns", "kind", "end", "rejected", "planned_turns")


def stage_report(total: Counters, this_run: Counters) -> JobReport:
    """The dialogue stage's row (segments in, dialogues out, drops by end reason) and the
    dialogue counter groups."""
    c = total.counts
    row = StageRow(DialogueStage.name, c.get("rows_in", 0), c.get("dialogues_out", 0),
                   total.dropped())
    return JobReport.of(JOB, total, [row], GROUPS, records_in=row.records_in,
                        records_out=row.records_out, tokens=c.get("tokens_generated", 0),
                        tokens_kind="generated",
                        run_tokens=this_run.counts.get("tokens_generated", 0))


def build_report(language: str, inputs: list[str], out: Location, cfg: SpecificConfig,
                 version: str, model: str, units: list[WorkUnit], pending: list[WorkUnit],
                 total: Counters, this_run: Counters, llm_stats: Mapping[str, Any],
                 problems: list[str], started: float) -> dict[str, Any]:
    from ultralink.llm.metrics import job_report

    c = total.counts
    n_q = c.get("questions", 0)
    typed = stage_report(total, this_run)
    turns = {int(k): v for k, v in typed.groups["turns"].items()}
    rejections = typed.groups["rejected"]
    dropped = typed.dropped
    llm = job_report(llm_stats) if llm_stats else {}
    busy = llm.get("total", {}).get("host_busy_s_max", 0.0) if llm else 0.0
    run_tokens = this_run.counts.get("tokens_generated", 0)
    dist = turn_distribution(cfg.dialogue)
    return {
        "job": JOB,
        "language": language,
        "inputs": inputs,
        "output": out.uri,
        "model": model,
        "engine": cfg.llm.engine,
        "prompt_version": version,
        "config": cfg.model_dump(),
        "units": {"total": len(units), "skipped_done": len(units) - len(pending),
                  "run": len(pending)},
        "dialogues": {"in": c.get("rows_in", 0), "out": c.get("dialogues_out", 0),
                      "dropped": dropped},
        "turns_histogram": {str(k): turns[k] for k in sorted(turns)},
        "turns_expected": {str(k): round(v, 4) for k, v in dist.items()},
        "avg_turns": round(n_q / c["dialogues_out"], 3) if c.get("dialogues_out") else 0.0,
        "avg_question_tokens": round(c.get("question_tokens", 0) / n_q, 2) if n_q else 0.0,
        "avg_answer_tokens": round(c.get("answer_tokens", 0) / n_q, 2) if n_q else 0.0,
        "question_kinds": typed.groups["kind"],
        "end_reasons": typed.groups["end"],
        "rejections": dict(sorted(rejections.items())),
        "rejections_total": sum(rejections.values()),
        "requests": c.get("requests", 0),
        "history_cuts": c.get("history_cuts", 0),
        "tokens_generated": c.get("tokens_generated", 0),
        "this_run": {
            "dialogues_out": this_run.counts.get("dialogues_out", 0),
            "tokens_generated": run_tokens,
            "engine_seconds": round(busy, 3),
            "tokens_per_s": round(run_tokens / busy, 1) if busy else 0.0,
            "gpu_seconds": llm.get("total", {}).get("gpu_seconds", 0.0) if llm else 0.0,
        },
        "llm": llm,
        "problems": problems,
        "wall_time_s": round(time.time() - started, 3),
    }


def summary_text(report: Mapping[str, Any]) -> str:
    d = report["dialogues"]
    rows = [{"turns": k, "dialogues": v, "expected_share": report["turns_expected"].get(k, 0.0)}
            for k, v in report["turns_histogram"].items()]
    rej = [{"reason": k, "count": v} for k, v in report["rejections"].items()]
    r = report["this_run"]
    lines = [f"\nspecific {report['language']} ({report['model']}, prompts "
             f"v{report['prompt_version']}) → {report['output']}",
             f"dialogues in {d['in']:,}, out {d['out']:,}; dropped "
             + (", ".join(f"{k}={v}" for k, v in d["dropped"].items()) or "none"),
             format_table(rows, ["turns", "dialogues", "expected_share"]) if rows else "(no turns)",
             f"avg turns {report['avg_turns']}; avg question tokens "
             f"{report['avg_question_tokens']}; avg answer tokens {report['avg_answer_tokens']}",
             format_table(rej, ["reason", "count"]) if rej else "no rejections",
             f"tokens generated {report['tokens_generated']:,} (this run {r['tokens_generated']:,}"
             f" in {r['engine_seconds']}s engine time, {r['tokens_per_s']} tok/s); units "
             f"{report['units']['run']} run, {report['units']['skipped_done']} skipped; "
             f"wall {report['wall_time_s']:.1f}s"]
    if report["llm"]:
        from ultralink.llm.metrics import format_summary

        lines.append(format_summary(report["llm"]))
    return "\n".join(lines)
