"""``ultralink agnostic``: English SFT data → criteria-filtered, pruned, validated translations.

Flow (paper §2.2–2.3)::

    scan (Ray task per file: read → normalize → heuristic pre-drop, ids only)
      → prune on the driver (seeded hash rank over the ids, before any LLM call)
      → plan units (file × block of records) → skip finished units (UnitStore markers)
      → ONE Ray Data pipeline over every pending row: read (flat_map, re-reads the file and
        keeps the selected records) → AgnosticStage (judge for chat, then translator) with
        keep_dropped=True → driver AgnosticCollector (one Parquet shard + marker per unit)
      → refill rounds (pruned subsets): while fewer records than the size came out, draw the
        next-ranked records of the language's pool (as many as the yield so far says are
        needed), as units per rank range, through the same pipeline

Every round's plan follows from the ranking and the markers of the rounds before it, so a
rerun redoes no finished unit and a run killed between or inside rounds resumes to the
output an uninterrupted run writes. Engine hosts are created once (``HostPool.create``) and
shut down at the end; one host serves the judge and the translator. English passes through
whole with no LLM. Memory is bounded: the driver holds ids (and the language's draw order),
never texts; rows stream through Ray Data and a unit's rows are buffered only until the unit
completes.
"""

from __future__ import annotations

import logging
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from ultralink.agnostic.config import OUTPUT_SUBSET, AgnosticConfig
from ultralink.core.counters import Counters
from ultralink.core.fs import Location, NoInput, resolve
from ultralink.core.languages import get_language
from ultralink.core.lease import releasing
from ultralink.pipeline.dataflow import RayStage, declare, remote
from ultralink.pipeline.runner import JobSummary, UnitJob
from ultralink.core.records import Conversation, Turn, conversation_schema
from ultralink.dataset.sink import UnitStore, write_parquet_atomic
from ultralink.core.ids import digest

log = logging.getLogger("ultralink.agnostic")

MAX_PROBLEMS = 1000
MAX_REJECT_SAMPLES = 50


def output_id(language: str, subset: str, dataset: str, source_id: str) -> str:
    """``{lang}_{subset}_{hash(source id + lang)}``: stable across reruns and machines."""
    key = digest(f"{dataset}:{source_id}", language, algorithm="sha1")
    return f"{language}_{OUTPUT_SUBSET[subset]}_{key}"


def file_key(uri: str) -> str:
    return digest(uri, length=10, algorithm="sha1")


# -- scan (Ray task per file) --------------------------------------------------------------

@declare(num_cpus=0.5)
def scan_file(loc: Location, language: str, subset: str, cfg: AgnosticConfig) -> dict[str, Any]:
    """Read one file once: per usable record ``(ordinal, key, prefilter reason)`` + counts."""
    from ultralink.agnostic.heuristics import prefilter_reason
    from ultralink.text.ngrams import text_hash
    from ultralink.sources.sft import SchemaError, read_sft

    counters = Counters()
    problems: list[str] = []

    def note(line: str) -> None:
        wanted = "skipped" in line or "dropped" in line or "no records" in line
        if wanted and len(problems) < MAX_PROBLEMS:
            problems.append(line)

    records: list[tuple[int, str, str]] = []
    groups: dict[str, int] = {}  # key → hash of MetaMathQA's original_question (pruning)
    error = ""
    try:
        for i, conv in enumerate(read_sft(loc, subset, counters, note, tool_roles=cfg.tool_roles)):
            reason = ""
            if subset == "chat" and language != "en" and cfg.prefilter:
                try:
                    reason = prefilter_reason(conv.messages, cfg.max_conversation_tokens)
                except Exception as exc:  # one poison record must not lose the file
                    reason = f"error:{type(exc).__name__}"
                    log.error("%s: record %s dropped: %s: %s", loc.uri, conv.id,
                              type(exc).__name__, exc)
            records.append((i, f"{conv.source['dataset']}:{conv.id}", reason))
            if isinstance(conv.group, str):  # stable across workers
                groups[records[-1][1]] = text_hash(conv.group)
    except SchemaError as exc:
        error = str(exc)
    except (OSError, ValueError) as exc:
        error = f"{loc.uri}: {type(exc).__name__}: {exc}"
    return {"uri": loc.uri, "records": records, "counters": counters.to_dict(),
            "problems": problems, "error": error, "groups": groups}


# -- read (Ray Data flat_map) --------------------------------------------------------------

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
                                      tool_roles=cfg.tool_roles)):
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


# -- driver side ---------------------------------------------------------------------------

def _collector_class() -> type:
    from ultralink.pipeline.llm_stage import DROP_COLUMN
    from ultralink.pipeline.units import UNIT_COLUMN, UnitCollector

    class AgnosticCollector(UnitCollector):
        """UnitCollector that turns ``result.reject`` into a drop and counts verdicts/costs
        into the unit's marker (so the report survives resumes)."""

        rejects: list[dict[str, str]]

        def add(self, row: dict[str, Any]) -> None:  # type: ignore[override]
            row = dict(row)
            c = self.dropped[row[UNIT_COLUMN]]
            res = row.get("result")
            if res:
                row["_result"] = res
                usage = res.get("usage") or {}
                for key in ("requests", "retries", "prompt_tokens", "completion_tokens"):
                    c.add("llm_" + key, int(usage.get(key) or 0))
                for reason, n in dict(usage.get("failures") or {}).items():
                    c.add("attempt_failed_" + reason, int(n))
                if res.get("judge_reused"):
                    c.add("judge_reused")  # verdict of an earlier language, no LLM call
                if res.get("judged"):
                    c.add("judged")
                    for crit in res.get("criteria") or []:
                        c.add("criterion_" + crit["name"], int(bool(crit["hit"])))
                if res.get("reject"):
                    row[DROP_COLUMN] = res["reject"]
                    if len(self.rejects) < MAX_REJECT_SAMPLES:
                        self.rejects.append({"id": row.get("id", ""), "reason": res["reject"],
                                             "detail": res.get("detail", "")})
                elif res.get("messages") is not None:
                    c.add("translated")
                    c.add("translated_messages", len(res["messages"]))
            super().add(row)

    return AgnosticCollector


def _to_record(language: str, subset: str, model: str, prompt_version: str,
               seed: int) -> Any:
    def convert(row: dict[str, Any]) -> dict[str, Any]:
        conv = row["conversation"]
        src = conv["source"]
        res = row.get("_result")
        meta: dict[str, Any] = {}
        messages = conv["messages"]
        if res is not None:
            messages = res["messages"]
            meta = {"criteria": res.get("criteria"), "translated_from": "en", "model": model,
                    "prompt_version": prompt_version, "seed": seed,
                    "retries": res.get("retries"),
                    "question_tokens": res.get("question_tokens"),
                    "answer_tokens": res.get("answer_tokens"),
                    "tokens_generated": int((res.get("usage") or {}).get("completion_tokens")
                                            or 0)}
        out = Conversation(
            id=output_id(language, subset, src.get("dataset") or "", src.get("id") or conv["id"]),
            language=language, subset=OUTPUT_SUBSET[subset],
            messages=[Turn(m["role"], m["content"]) for m in messages],
            source=src, meta=meta)
        return out.to_row()

    return convert


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
    import ray

    from ultralink.agnostic.prune import ranked
    from ultralink.llm.registry import EngineConfig, resolve_model
    from ultralink.pipeline.runtime import init_ray
    from ultralink.pipeline.units import WorkUnit, grow_to_target

    get_language(language)
    if subset not in OUTPUT_SUBSET:
        raise ValueError(f"unknown subset {subset!r}; expected one of {sorted(OUTPUT_SUBSET)}")
    cfg = config or AgnosticConfig()
    engine = engine or EngineConfig()
    translate = language != "en"
    spec = resolve_model(engine.model, engine.models_yaml)
    style = spec.prompt_format if cfg.prompt_style == "auto" else cfg.prompt_style
    granularity = cfg.granularity if cfg.granularity != "auto" else (
        "line" if style == "completion" else "message")
    prompt_version = ""
    if translate:
        from ultralink.agnostic.translate import TranslationPrompt

        prompt_version = f"{language}.yaml@{TranslationPrompt.load(language, prompts_dir).version}"
        if subset == "chat" and cfg.judge:
            from ultralink.agnostic.criteria_filter import CriteriaPrompt

            prompt_version += f";criteria_filter.yaml@{CriteriaPrompt.load(prompts_dir).version}"

    job_config = {"language": language, "subset": subset, "agnostic": cfg.identity(),
                  "engine": {"engine": engine.engine, "model": engine.model} if translate else None,
                  "style": style, "granularity": granularity, "prompt_version": prompt_version}
    job = UnitJob.open("agnostic", inputs, output, job_config, overwrite)  # inputs checked first
    out, store, files, problems, started = job.out, job.store, job.files, job.problems, job.started

    init_ray(ray_address)
    # 1. scan every file once (ids only) --------------------------------------------------
    scan = remote(scan_file)
    scans = ray.get([scan.remote(loc, language, subset, cfg) for loc in files])
    read = Counters()
    files_ok = 0
    for s in scans:
        read.merge(s["counters"])
        problems.extend(s["problems"])
        if s["error"]:
            problems.append(s["error"])
            log.error("%s", s["error"])
        else:
            files_ok += 1

    # 2. limit, pre-drop, cross-file duplicates, prune --------------------------------------
    pre = Counters()
    seen: set[str] = set()
    candidates: list[str] = []
    where: dict[str, tuple[str, int]] = {}  # candidate → (file, ordinal): where refills read
    taken = 0
    cut: dict[str, int] = {}
    for s in scans:
        n = 0
        for ordinal, key, reason in s["records"]:
            if cfg.limit is not None and taken >= cfg.limit:
                break
            taken += 1
            n = ordinal + 1
            if key in seen:
                pre.drop("duplicate_id")
                continue
            seen.add(key)
            if reason:
                pre.drop(reason)
                continue
            candidates.append(key)
            where[key] = (s["uri"], ordinal)
        cut[s["uri"]] = n
    size = cfg.prune_size_for(subset) if translate else None
    order: list[str] = []  # the language's draw order: its selection, then its pool
    if size is None:
        selected = set(candidates)
    else:
        groups = {k: g for s in scans for k, g in s.get("groups", {}).items()}
        order = ranked(candidates, len(candidates), cfg.seed, language, cfg.languages,
                       cfg.prune_mode, groups)
        selected = set(order[:size])
    del seen

    # 3. round 0's units: file × block of records -------------------------------------------
    versions = {loc.uri: loc.version for loc in files}
    fks = {s["uri"]: file_key(s["uri"] + "\x1f" + versions.get(s["uri"], "")) for s in scans}
    units, rows_of = _block_units(scans, cut, selected, fks, cfg.unit_records)
    del scans
    # refill units are planned round by round below, so only round 0's can be judged stale
    # now; the others are checked once every round is planned
    refills = {uid for uid, m in store.done().items() if (m.get("info") or {}).get("round")}
    stale = store.drop_stale({u.unit_id for u in units} | refills)

    # 4. rounds: round 0 is the pruned selection; each refill round draws the next-ranked
    # records of the pool, sized by the yield so far, until the target is met -------------
    s3 = next((f.s3 for f in files if f.is_s3), ())
    convert = _to_record(language, subset, spec.name, prompt_version, cfg.seed)
    planned: list[WorkUnit] = []
    ran: list[WorkUnit] = []
    this_run = Counters()
    rejects: list[dict[str, str]] = []
    incomplete: list[str] = []
    llm_report: dict[str, Any] = {}
    llm_wall = 0.0
    pool_size = len(order) - len(selected)
    own_pool = pool is None
    markers = store.done()   # finished units, read again after each round

    def stream_round(round_: int, pending: list[WorkUnit],
                     rows_of: dict[str, list[tuple[int, str]]], collector: Any) -> float:
        """Every pending row of one round through the job's stages; returns its wall."""
        nonlocal pool
        ids = {u.unit_id for u in pending}
        items = []
        for uri, pairs in rows_of.items():
            keep = [(o, u) for o, u in pairs if u in ids]
            if keep:
                items.append({"uri": uri, "ordinals": [o for o, _ in keep],
                              "units": [u for _, u in keep]})
        stages = [RayStage(read_tables, kwargs={"subset": subset, "config": cfg, "s3": s3},
                           batch_format="pyarrow")]
        if translate:
            from ultralink.agnostic.stage import AgnosticStage
            from ultralink.llm.request_cache import CacheSpec
            from ultralink.hosting.pool import HostPool

            if pool is None:
                pool = HostPool.create(engine, cfg.num_hosts, f"agnostic-{uuid.uuid4().hex[:8]}")
            # many small batches in flight per stage actor, sized from the hosts' capacity,
            # keep the engines fed whatever the tail of conversation lengths
            stages.append(AgnosticStage.stage(
                pool, concurrency=cfg.stage_concurrency, batch_size=cfg.batch_size,
                language=language, subset=subset, config=cfg,
                style=style, granularity=granularity, prompts_dir=prompts_dir,
                request_cache=CacheSpec.for_output(out, engine.engine, spec.name,
                                                   cfg.request_cache)))
        t0 = time.time()
        label = f"agnostic {language}/{subset}" + (f" refill {round_}" if round_ else "")
        bar = _progress(sum(u.n_rows for u in pending), label, progress)
        job.run(items, stages, collector, on_row=lambda: bar.update(1))
        bar.close()
        return time.time() - t0

    def one_round(round_: int, lo: int, hi: int) -> int | None:
        """Round 0: the pruned selection's units; a refill round: the pool's ranks
        ``[lo, hi)``. Returns the records made so far, or None when units were left
        incomplete."""
        nonlocal units, rows_of, incomplete, llm_wall, markers
        if round_:
            units, rows_of = _refill_units(order[lo:hi], lo, round_, where, fks,
                                           cfg.unit_records)
        planned.extend(units)
        pending = [u for u in units if u.unit_id not in markers]
        ran.extend(pending)
        n_rows = sum(u.n_rows for u in pending)
        log.info("agnostic %s/%s round %d: %d records selected of %d, %d units (%d done, "
                 "%d to run, %d rows)", language, subset, round_, hi, len(candidates),
                 len(units), len(units) - len(pending), len(pending), n_rows)
        collector = _collector_class()(store, pending, conversation_schema(), convert,
                                       limits=cfg.error_limits)
        collector.rejects = rejects
        collector.finish_empty()
        if n_rows:
            llm_wall += stream_round(round_, pending, rows_of, collector)
        this_run.merge(collector.counters)
        incomplete = collector.incomplete()
        if incomplete:
            return None
        markers = store.done()
        return sum(_made(markers[u.unit_id]) for u in planned)

    try:
        # round 0 is the pruned selection; each refill round draws the next-ranked records
        # of the pool, sized by the yield so far, until the target is met
        if size is None:   # nothing pruned: one round over every candidate
            grown = grow_to_target(len(selected), len(selected), len(selected), 1, one_round)
        else:
            grown = grow_to_target(size, len(order), len(selected), 1 + cfg.refill_rounds,
                                   one_round)
        if translate and pool is not None and any(u.n_rows for u in ran):
            from ultralink.llm.metrics import job_report

            llm_report = job_report(pool.stats())
    finally:
        if own_pool and pool is not None:
            pool.shutdown()
    rounds, drawn = grown.rounds - 1, grown.drawn - len(selected)   # refill rounds, records
    if rounds and size is not None and not incomplete:
        _trim_surplus(store, planned, units, size, order)
    stale += store.drop_stale(u.unit_id for u in planned)
    if stale:
        log.info("removed %d unit(s) of changed or removed inputs or an earlier selection: %s",
                 len(stale), stale[:5])
    if incomplete:
        problems.append(f"{len(incomplete)} units did not receive all rows: {incomplete[:5]}")
        log.error("units incomplete: %s", incomplete[:5])

    total = job.totals()
    report = _report(language, subset, inputs, out, cfg, engine if translate else None, style,
                     granularity, files, files_ok, read, pre, taken, len(candidates),
                     len(selected), size, {"rounds": rounds, "drawn": drawn, "pool": pool_size},
                     planned, ran, total, this_run, rejects, llm_report, llm_wall, problems,
                     started)
    job.finish(report, JobSummary(
        records_in=report["read"], records_out=report["written"], dropped=report["dropped"],
        tokens=report["tokens"]["completion"], tokens_kind="generated",
        run_tokens=report["this_run"]["completion_tokens"]),
        status="done" if not incomplete else "incomplete", units_total=len(planned),
        conversations=report["written"])
    if progress:
        print(summary_text(report))
    if files_ok == 0 or (read.counts.get("read", 0) == 0 and problems):
        raise NoInput("no input could be read: " + "; ".join(problems[:5]))
    return report


def _made(marker: Mapping[str, Any]) -> int:
    """Records a finished unit wrote before any surplus was trimmed from it."""
    return int(marker["rows"]) + int(marker.get("trimmed", 0))


def _trim_surplus(store: UnitStore, planned: list[Any], last: list[Any], size: int,
                  order: list[str]) -> None:
    """Drop the records past ``size`` from the last refill round, the latest-ranked first.

    A round is sized by the yield so far, so it may bring more than the shortfall; the
    output keeps the best-ranked ``size``. Every cut is computed from the counts as written
    before any trim (``_made``) and keeps a prefix by rank, so a run killed halfway through
    trimming redoes the same cut on the rerun."""
    import pyarrow.parquet as pq

    from ultralink.core.fs import exists

    done = store.done()
    surplus = sum(_made(done[u.unit_id]) for u in planned) - size
    for unit in sorted(last, key=lambda u: -u.info["start"]):
        marker = done[unit.unit_id]
        made = _made(marker)
        cut = min(max(surplus, 0), made)
        surplus -= cut
        if int(marker.get("trimmed", 0)) == cut:
            continue
        keep = made - cut
        shard = store.shard(unit.unit_id)
        if exists(shard):
            with shard.fs.open_input_file(shard.path) as f:
                table = pq.read_table(f)
            if table.num_rows > keep:  # not yet cut (a crash may fall after the shard's cut)
                pos = {order[p]: p for p in range(unit.info["start"], unit.info["end"])}
                ranks = [pos[f"{src['dataset']}:{src['id']}"]
                         for src in table.column("source").to_pylist()]
                best = sorted(sorted(range(len(ranks)), key=ranks.__getitem__)[:keep])
                if best:
                    write_parquet_atomic(shard, [table.take(best)], table.schema)
                else:
                    shard.fs.delete_file(shard.path)
        counters = Counters.from_dict(marker["counters"])
        counters.counts["rows_written"] = keep
        counters.counts["dropped_over_target"] = cut
        store.finish_unit(unit.unit_id, {"rows": keep, "counters": counters.to_dict(),
                                         "info": marker.get("info", {}), "trimmed": cut})


def _block_units(scans: list[dict[str, Any]], cut: Mapping[str, int], selected: set[str],
                 fks: Mapping[str, str], unit_records: int
                 ) -> tuple[list[Any], dict[str, list[tuple[int, str]]]]:
    """Round 0's units: each file's blocks of ``unit_records`` records, holding the block's
    selected records; and per file the ``(ordinal, unit id)`` of every selected record.

    The file's identity and each block's selection are in its unit id: a changed input or a
    changed selection (pruning over other files) makes a new unit, never a stale one."""
    from ultralink.pipeline.units import WorkUnit

    units: list[WorkUnit] = []
    rows_of: dict[str, list[tuple[int, str]]] = {}
    for s in scans:
        fk = fks[s["uri"]]
        blocks: dict[int, list[int]] = {}
        for ordinal, key, reason in s["records"]:
            if ordinal >= cut.get(s["uri"], 0):
                break
            chosen = blocks.setdefault(ordinal // unit_records, [])
            if not reason and key in selected:
                chosen.append(ordinal)
        pairs = rows_of.setdefault(s["uri"], [])
        for block, chosen in sorted(blocks.items()):
            uid = f"{fk}-{block:06d}-{file_key(','.join(map(str, chosen)))[:8]}"
            start = block * unit_records
            units.append(WorkUnit(uid, len(chosen),
                                  {"uri": s["uri"], "start": start, "end": start + unit_records}))
            pairs.extend((o, uid) for o in chosen)
    return units, rows_of


def _refill_units(keys: list[str], start: int, round_: int,
                  where: Mapping[str, tuple[str, int]], fks: Mapping[str, str],
                  unit_records: int) -> tuple[list[Any], dict[str, list[tuple[int, str]]]]:
    """One refill round: ``keys``, the draw order's records from rank ``start`` on, cut by
    rank into units of ``unit_records`` (records of any file).

    A unit is named by its rank range and its members with their files' identities, so it
    is the same unit whichever run plans it and does not change when later rounds grow the
    selection; a changed input or an earlier selection that changed makes a new one."""
    from ultralink.pipeline.units import WorkUnit

    units: list[WorkUnit] = []
    rows_of: dict[str, list[tuple[int, str]]] = {}
    for a in range(0, len(keys), unit_records):
        chunk = keys[a:a + unit_records]
        lo, hi = start + a, start + a + len(chunk)
        members = "\x1e".join(f"{fks[where[k][0]]}\x1f{k}" for k in chunk)
        uid = f"refill-{lo:07d}-{hi:07d}-{digest(members, length=8)}"
        units.append(WorkUnit(uid, len(chunk), {"round": round_, "start": lo, "end": hi}))
        for k in chunk:
            uri, ordinal = where[k]
            rows_of.setdefault(uri, []).append((ordinal, uid))
    for pairs in rows_of.values():
        pairs.sort()
    return units, rows_of


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, desc: str, enabled: bool) -> Any:
    if not enabled:
        return _NoBar()
    try:
        from tqdm import tqdm
    except ImportError:
        return _NoBar()
    return tqdm(total=total, desc=desc, unit="conv", file=sys.stderr)


def _report(language: str, subset: str, inputs: list[str], out: Location, cfg: AgnosticConfig,
            engine: Any, style: str, granularity: str, files: list[Location], files_ok: int,
            read: Counters, pre: Counters, n_taken: int, n_candidates: int, n_selected: int,
            size: int | None, refill: Mapping[str, int], units: list[Any], pending: list[Any],
            total: Counters, this_run: Counters, rejects: list[dict[str, str]],
            llm_report: dict[str, Any], llm_wall: float, problems: list[str],
            started: float) -> dict[str, Any]:
    c = total.counts
    rc = read.counts
    dropped: dict[str, int] = {}
    for source in (read.dropped(), pre.dropped(), total.dropped()):
        for k, v in source.items():
            dropped[k] = dropped.get(k, 0) + v
    criteria = {k[len("criterion_"):]: v for k, v in sorted(c.items()) if k.startswith("criterion_")}
    run = this_run.counts
    tokens_run = int(run.get("llm_completion_tokens", 0))
    written = int(c.get("rows_written", 0))
    surplus = int(c.get("dropped_over_target", 0))
    target = None
    if size is not None:
        target = {"records": size, "met": written >= size, "short_by": max(0, size - written),
                  "selected": n_selected, "refilled": refill["drawn"],
                  "refill_rounds": refill["rounds"], "translated_ok": written + surplus,
                  "failed": int(c.get("rows_in", 0)) - written - surplus,
                  "surplus_dropped": surplus,
                  "pool_left": refill["pool"] - refill["drawn"]}
    return {
        "job": "agnostic",
        "language": language,
        "subset": subset,
        "output_subset": OUTPUT_SUBSET[subset],
        "inputs": inputs,
        "output": out.uri,
        "config": cfg.model_dump(),
        "engine": ({"engine": engine.engine, "model": engine.model, "prompt_style": style,
                    "granularity": granularity} if engine is not None else None),
        "files": {"found": len(files), "read": files_ok, "failed": len(files) - files_ok},
        "read": int(rc.get("read", 0)),
        "by_schema": {k[len("schema_"):]: v for k, v in sorted(rc.items()) if k.startswith("schema_")},
        "usable": int(sum(v for k, v in rc.items() if k.startswith("schema_"))),
        "limited_to": n_taken,
        "prefiltered": pre.dropped(),
        "candidates": n_candidates,
        "pruning": {"size": size, "mode": cfg.prune_mode, "seed": cfg.seed,
                    "selected": n_selected, "pruned": n_candidates - n_selected},
        # records dropped after pruning (failed translations, criteria) are replaced from
        # the pool round by round: did the language end at its size, and if not by how much
        "target": target,
        "units": {"total": len(units), "skipped_done": len(units) - len(pending),
                  "run": len(pending)},
        "rows_in": int(c.get("rows_in", 0)),
        "judged": int(c.get("judged", 0)),
        "judge_reused": int(c.get("judge_reused", 0)),
        "criteria_hits": criteria,
        "translated": int(c.get("translated", 0)),
        "translated_messages": int(c.get("translated_messages", 0)),
        "written": written,
        "dropped": dict(sorted(dropped.items())),
        "attempt_failures": {k[len("attempt_failed_"):]: v for k, v in sorted(c.items())
                             if k.startswith("attempt_failed_")},
        "tokens": {"prompt": int(c.get("llm_prompt_tokens", 0)),
                   "completion": int(c.get("llm_completion_tokens", 0)),
                   "requests": int(c.get("llm_requests", 0)),
                   "retries": int(c.get("llm_retries", 0))},
        "this_run": {"rows": int(run.get("rows_in", 0)),
                     "written": int(run.get("rows_written", 0)),
                     "completion_tokens": tokens_run, "wall_s": round(llm_wall, 3),
                     "tokens_per_s": round(tokens_run / llm_wall, 2) if llm_wall > 0 else 0.0},
        "llm": llm_report,
        "reject_samples": rejects,
        "problems": problems[:MAX_PROBLEMS],
        "problems_total": len(problems),
        "wall_time_s": round(time.time() - started, 3),
    }


def summary_text(report: dict[str, Any]) -> str:
    from ultralink.pipeline.chain import format_table

    llm_drops = {k: v for k, v in report["dropped"].items()
                 if k.startswith(("llm_", "translation_", "judge_")) or k == "criteria"}
    judge_drops = {k: v for k, v in llm_drops.items() if k in ("criteria", "judge_unparseable")}
    tr_drops = {k: v for k, v in llm_drops.items() if k not in judge_drops}
    surplus = {k: v for k, v in report["dropped"].items() if k == "over_target"}
    reader_drops = {k: v for k, v in report["dropped"].items()
                    if k not in llm_drops and k not in report["prefiltered"] and k not in surplus}
    rows = [
        {"stage": "read", "in": report["read"], "out": report["usable"], "dropped": reader_drops},
        {"stage": "limit", "in": report["usable"], "out": report["limited_to"],
         "dropped": {}},
        {"stage": "prefilter", "in": report["limited_to"], "out": report["candidates"],
         "dropped": report["prefiltered"]},
        {"stage": "prune", "in": report["candidates"], "out": report["pruning"]["selected"],
         "dropped": {"pruned": report["pruning"]["pruned"]} if report["pruning"]["pruned"] else {}},
        {"stage": "judge", "in": report["judged"] + judge_drops.get("judge_unparseable", 0),
         "out": report["judged"] - judge_drops.get("criteria", 0), "dropped": judge_drops},
        {"stage": "translate", "in": report["translated"] + sum(tr_drops.values()),
         "out": report["translated"], "dropped": tr_drops},
        {"stage": "written", "in": report["rows_in"], "out": report["written"],
         "dropped": surplus},
    ]
    lines = [f"\nagnostic {report['language']}/{report['subset']} → {report['output']}",
             format_table(rows, ["stage", "in", "out", "dropped"])]
    target = report.get("target")
    if target:
        line = (f"target {target['records']:,}: selected {target['selected']:,}, translated ok "
                f"{target['translated_ok']:,}, failed {target['failed']:,}, refill rounds "
                f"{target['refill_rounds']} (+{target['refilled']:,} from the pool"
                + (f", {target['surplus_dropped']:,} past the target dropped"
                   if target["surplus_dropped"] else "") + "); ")
        if target["met"]:
            line += "met"
        else:
            why = "pool exhausted" if not target["pool_left"] else \
                f"refill_rounds reached, {target['pool_left']:,} left in the pool"
            line += f"NOT met: short by {target['short_by']:,} ({why})"
        lines.append(line)
    if report["criteria_hits"]:
        lines.append("criteria hits: " + ", ".join(f"{k}={v}" for k, v in
                                                   report["criteria_hits"].items()))
    t, r = report["tokens"], report["this_run"]
    lines.append(f"tokens: prompt {t['prompt']:,}, completion {t['completion']:,}, requests "
                 f"{t['requests']:,} ({t['retries']:,} retries); this run {r['tokens_per_s']} "
                 f"tok/s; units {report['units']['run']} run, {report['units']['skipped_done']} "
                 f"skipped; wall {report['wall_time_s']:.1f}s")
    if report["problems_total"]:
        lines.append(f"{report['problems_total']} input problems (see _report.json):")
        lines.extend("  " + p for p in report["problems"][:10])
    return "\n".join(lines)

