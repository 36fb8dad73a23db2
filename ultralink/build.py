"""``ultralink build``: the whole dataset from one config — prepare → specific → agnostic → stats.

Per language: ``prepare`` writes segments to ``{output}/_work/segments/{lang}``, ``specific``
turns them into ``{output}/{lang}/chat_specific``, and ``agnostic`` writes
``{output}/{lang}/{chat_agnostic,math,code}`` (English passes through untranslated). Then
``stats.json``, ``figures/`` and the ``README.md`` card at the root, and a root
``_manifest.json`` (config hash, versions, per-stage status and counts).

Engines are started once per distinct engine config (``engines.generator`` /
``engines.translator``; equal configs share one ``HostPool``) and serve every stage. A rerun
resumes: a stage whose key (inputs + config + engine) is recorded ``done`` in the root manifest
and whose own ``_manifest.json`` says ``done`` is skipped without touching Ray; any other stage
reruns and its job skips the units it already finished.

Example::

    ultralink build --config jobs/sample.yaml                  # 2 CPU cores, a few minutes
    ray job submit --working-dir . -- python -m ultralink build --config jobs/full.yaml
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from typing import Any

from pydantic import Field, model_validator

from ultralink.agnostic.config import OUTPUT_SUBSET, AgnosticConfig
from ultralink.core.config import PrepareConfig, Strict
from ultralink.jobs.dedup import DedupConfig
from ultralink.core.lease import releasing
from ultralink.llm.registry import EngineConfig, cpu_engine
from ultralink.jobs.specific import SpecificConfig

log = logging.getLogger("ultralink.build")

MANIFEST = "_manifest.json"
SUBSETS = ("chat", "math", "code")
# Paper Table 1: records per language and subset (the projection's targets).
TABLE1 = {
    "en": {"chat_specific": 10_000, "chat_agnostic": 67_000, "math": 395_000, "code": 186_000},
    "other": {"chat_specific": 36_000, "chat_agnostic": 11_000, "math": 32_000, "code": 16_000},
}


class Sources(Strict):
    """Inputs: Wikipedia dumps per language, English SFT sets per agnostic subset."""

    wikipedia: dict[str, list[str]] = Field(default_factory=dict, description="{lang: [dump "
                                            "paths, globs or s3:// URIs]}")
    chat: list[str] = Field(default_factory=list, description="ShareGPT-style chat")
    math: list[str] = Field(default_factory=list, description="MetaMathQA / GSM8K")
    code: list[str] = Field(default_factory=list, description="Magicoder OSS / Evol")


class Engines(Strict):
    """One engine config per role; roles with equal configs share one HostPool."""

    generator: EngineConfig = Field(default_factory=cpu_engine, description="writes the "
                                    "language-specific dialogues")
    translator: EngineConfig | None = Field(None, description="translates agnostic data; "
                                            "default: the generator")
    judge: EngineConfig | None = Field(None, description="criteria filter; must equal the "
                                       "translator (run_agnostic serves both from one pool)")

    @model_validator(mode="after")
    def _judge(self) -> Engines:
        if self.judge is not None and self.judge != self.translator_config():
            raise ValueError("engines.judge must equal engines.translator (one agnostic pool "
                             "serves both); leave it unset")
        return self

    def translator_config(self) -> EngineConfig:
        return self.translator or self.generator


class SubsetSizes(Strict):
    chat: int | None = Field(None, gt=0)
    math: int | None = Field(None, gt=0)
    code: int | None = Field(None, gt=0)


class Sizes(Strict):
    """How much to make; ``None`` = everything the inputs give."""

    max_dialogues: int | dict[str, int] | None = Field(
        None, description="finished language-specific dialogues per language (Table 1): one "
        "number for every language or {lang: N}; segments are drawn in id order until it is "
        "met (specific.target_dialogues)")
    agnostic_limit: SubsetSizes = Field(default_factory=SubsetSizes, description="first N "
                                        "usable English records read per subset")
    prune: SubsetSizes = Field(default_factory=lambda: SubsetSizes(math=32_000, code=16_000),
                               description="records kept per non-English language (Table 1: "
                               "32K math, 16K code; chat unpruned)")


class Resources(Strict):
    num_hosts: int = Field(1, gt=0, description="engine hosts per engine config (one model "
                           "each; GPUs per host = the engine's tensor_parallel_size for vLLM)")
    stage_actors: int = Field(1, gt=0, description="LLM stage actors per stage")


class BuildConfig(Strict):
    """Everything ``ultralink build`` needs; unknown keys are errors naming them."""

    output: str = Field("./out", description="dataset root (local dir or s3://)")
    languages: list[str] = Field(default_factory=lambda: ["en", "zh", "ru", "fr", "es"],
                                 description="en is the source language, kept untranslated")
    seed: int = 0
    sources: Sources = Field(default_factory=Sources)
    prepare: PrepareConfig = Field(default_factory=PrepareConfig)
    specific: SpecificConfig = Field(default_factory=SpecificConfig, description="its llm, "
                                     "num_hosts, stage_actors, seed and target_dialogues are set "
                                     "from engines/resources/seed/sizes")
    agnostic: AgnosticConfig = Field(default_factory=AgnosticConfig, description="its seed, "
                                     "limit, prune_size, num_hosts, stage_concurrency and "
                                     "languages are set per subset by the build")
    engines: Engines = Field(default_factory=Engines)
    sizes: Sizes = Field(default_factory=Sizes)
    resources: Resources = Field(default_factory=Resources)
    prompts_dir: str | None = None
    dedup: DedupConfig | None = Field(None, description="near-duplicate removal of segments "
                                      "and of each language's questions; unset = off, {} = "
                                      "the defaults")
    decontaminate: list[str] = Field(default_factory=list, description="evaluation sets "
                                     "(JSONL/TSV/Parquet paths or s3:// URIs) whose n-grams "
                                     "no output record may share")

    @model_validator(mode="after")
    def _languages(self) -> BuildConfig:
        from ultralink.core.languages import get_language

        for lang in self.languages:
            get_language(lang)
        return self

    @model_validator(mode="after")
    def _dialogue_sizes(self) -> BuildConfig:
        sizes = self.sizes.max_dialogues
        values = sizes.values() if isinstance(sizes, dict) else [sizes]
        if any(v is not None and v <= 0 for v in values):
            raise ValueError(f"sizes.max_dialogues must be > 0, got {sizes}")
        return self

    # -- per-stage configs ------------------------------------------------------------------
    def dialogues_for(self, language: str | None) -> int | None:
        sizes = self.sizes.max_dialogues
        return sizes.get(language or "") if isinstance(sizes, dict) else sizes

    def specific_config(self, language: str | None = None) -> SpecificConfig:
        return self.specific.model_copy(update={
            "seed": self.seed, "target_dialogues": self.dialogues_for(language),
            "llm": self.engines.generator, "num_hosts": self.resources.num_hosts,
            "stage_actors": self.resources.stage_actors,
            "prompts_dir": self.specific.prompts_dir or self.prompts_dir})

    def agnostic_config(self, subset: str) -> AgnosticConfig:
        return self.agnostic.model_copy(update={
            "seed": self.seed, "limit": getattr(self.sizes.agnostic_limit, subset),
            "prune_size": getattr(self.sizes.prune, subset) if subset != "chat" else
            self.sizes.prune.chat,
            "num_hosts": self.resources.num_hosts,
            "stage_concurrency": self.resources.stage_actors,
            "languages": [lang for lang in self.languages if lang != "en"] or ["zh"],
            # one verdict store for every language: each English conversation is judged once
            "request_cache": self.agnostic.request_cache.model_copy(update={
                "memo_dir": self.agnostic.request_cache.memo_dir
                or f"{self.output.rstrip('/')}/_work/memo"})})


def load_config(path: str | None, **overrides: Any) -> BuildConfig:
    """Read a YAML job file (``BuildConfig`` keys at the top level); ``overrides`` win.

    ``path`` may also name a bundled config (``sample``, ``full``): its relative input paths
    then point into the bundle, so it runs from any directory of an installed package."""
    from ultralink.core.bundled import bundle_root, config_names, named_config

    values: dict[str, Any] = {}
    if path:
        from ultralink.core.errors import UsageError, load_yaml

        bundled = None if os.path.exists(path) else named_config(path)
        if bundled is None and not os.path.exists(path):
            raise UsageError(f"no config file {path!r} (bundled configs: "
                             f"{', '.join(config_names())})")
        values = load_yaml(str(bundled or path)) or {}
        if not isinstance(values, dict):
            raise ValueError(f"{path}: expected a mapping of BuildConfig keys")
        if bundled is not None:
            _anchor_inputs(values.get("sources") or {}, bundle_root())
    values.update({k: v for k, v in overrides.items() if v is not None})
    return BuildConfig(**values)


def _anchor_inputs(sources: dict[str, Any], root: Any) -> None:
    """Relative local input paths of a bundled config → absolute paths inside the bundle."""
    def anchor(paths: list[str]) -> list[str]:
        return [p if "://" in p or os.path.isabs(p) else str(root / p) for p in paths]

    for key, value in sources.items():
        if isinstance(value, dict):
            sources[key] = {lang: anchor(paths) for lang, paths in value.items()}
        elif isinstance(value, list):
            sources[key] = anchor(value)


# -- the run ------------------------------------------------------------------------------

class _Pools:
    """One HostPool per distinct engine config, created on first use, shut down at the end."""

    def __init__(self, num_hosts: int) -> None:
        self.num_hosts = num_hosts
        self.pools: dict[str, Any] = {}
        self.gpus: dict[str, float] = {}

    @staticmethod
    def key(engine: EngineConfig) -> str:
        return engine.model_dump_json()

    def get(self, engine: EngineConfig) -> Any:
        from ultralink.hosting.pool import HostPool

        k = self.key(engine)
        if k not in self.pools:
            log.info("starting %d engine host(s): %s %s", self.num_hosts, engine.engine,
                     engine.model)
            self.pools[k] = HostPool.create(engine, self.num_hosts,
                                            f"ul-build-{uuid.uuid4().hex[:8]}")
            self.gpus[k] = engine.gpus_per_host
        return self.pools[k]

    def busy(self, engine: EngineConfig) -> tuple[float, float]:
        """(engine busy seconds, GPU-seconds held) so far on this config's hosts (0 if not
        started): the projection prices the GPU time held, idle gaps included."""
        from ultralink.llm.metrics import job_report

        pool = self.pools.get(self.key(engine))
        if pool is None:
            return 0.0, 0.0
        hosts = job_report(pool.stats())["hosts"]
        return (sum(h["busy_s"] for h in hosts.values()),
                sum(h["gpu_seconds"] for h in hosts.values()))

    def shutdown(self) -> None:
        for pool in self.pools.values():
            try:
                pool.shutdown()
            except Exception as exc:  # noqa: BLE001 - report, keep releasing the others
                log.warning("engine pool shutdown failed: %s", exc)
        self.pools.clear()


def stage_key(name: str, payload: dict[str, Any]) -> str:
    """The stage's identity: its config and its inputs' identities (a changed file reruns it)."""
    from ultralink.core.fs import identities
    from ultralink.dataset.sink import config_hash

    if payload.get("inputs"):
        payload = {**payload, "input_identity": identities(payload["inputs"])}
    return config_hash({"stage": name, **payload})


def _stage_done(out_uri: str) -> bool:
    from ultralink.core.fs import exists, read_bytes, resolve

    loc = resolve(out_uri).join(MANIFEST)
    if not exists(loc):
        return False
    try:
        return json.loads(read_bytes(loc)).get("status") == "done"
    except ValueError:
        return False


def _summarize(job: str, report: dict[str, Any]) -> dict[str, Any]:
    """The run-summary numbers of one sub-job report (every job writes a ``JobSummary``)."""
    return report["summary"]


class Build:
    """Runs the stages in order, recording each in the root manifest as it finishes."""

    def __init__(self, cfg: BuildConfig, ray_address: str | None, overwrite: bool,
                 progress: bool = True) -> None:
        from ultralink.core.fs import resolve

        self.cfg = cfg
        self.root = resolve(cfg.output)
        self.ray_address = ray_address
        self.overwrite = overwrite
        self.progress = progress
        self.pools = _Pools(cfg.resources.num_hosts)
        self.stages: dict[str, dict[str, Any]] = {}
        self.started = time.time()

    def uri(self, *parts: str) -> str:
        return self.root.join(*parts).uri

    # -- manifest ---------------------------------------------------------------------------
    def _load_manifest(self) -> dict[str, Any]:
        from ultralink.core.fs import exists, read_bytes

        loc = self.root.join(MANIFEST)
        if self.overwrite or not exists(loc):
            return {}
        try:
            return json.loads(read_bytes(loc))
        except ValueError:
            return {}

    def write_manifest(self, status: str, **extra: Any) -> None:
        from ultralink.core.fs import write_atomic
        from ultralink.dataset.sink import config_hash, versions

        config = self.cfg.model_dump(mode="json")
        body = {"job": "build", "config_hash": config_hash(config), "config": config,
                "versions": versions(), "status": status, "updated_at": time.time(),
                "stages": self.stages, **extra}
        write_atomic(self.root.join(MANIFEST),
                     json.dumps(body, indent=2, ensure_ascii=False, default=str).encode())

    # -- stages -----------------------------------------------------------------------------
    def stage(self, name: str, job: str, lang: str, out_uri: str, payload: dict[str, Any],
              engine: EngineConfig | None, run: Any) -> dict[str, Any]:
        key = stage_key(name, payload)
        old = self.previous.get(name)
        if old and old.get("key") == key and old.get("status") in ("done", "empty") \
                and (old["status"] == "empty" or _stage_done(out_uri)):
            log.info("build: %s already done, skipped", name)
            entry = {**old, "skipped": True, "this_run": {"engine_s": 0.0, "gpu_s": 0.0,
                                                          "tokens": 0, "wall_s": 0.0}}
            self.stages[name] = entry
            return entry
        t0 = time.time()
        busy0 = self.pools.busy(engine) if engine is not None else (0.0, 0.0)
        status = "done"
        summary: dict[str, Any]
        try:
            report = run()
            summary = _summarize(job, report)
        except _Empty as exc:
            status = "empty"
            summary = {"in": 0, "out": 0, "dropped": {}, "tokens": 0, "note": str(exc)}
        busy1 = self.pools.busy(engine) if engine is not None else (0.0, 0.0)
        entry = {"stage": name, "job": job, "language": lang, "output": out_uri, "key": key,
                 "status": status, "skipped": False, **summary,
                 "this_run": {"engine_s": round(busy1[0] - busy0[0], 3),
                              "gpu_s": round(busy1[1] - busy0[1], 3),
                              "tokens": summary.get("run_tokens", 0),
                              "wall_s": round(time.time() - t0, 3)}}
        self.stages[name] = entry
        self.write_manifest("running")
        return entry

    def preflight(self) -> None:
        """Every user error before anything is written: output usable (and ours, for
        --overwrite), every named input present, the output not leased by another run."""
        from ultralink.core.errors import UsageError
        from ultralink.core.fs import check_output, expand
        from ultralink.dataset.sink import check_ours

        check_output(self.root)
        named = [(f"sources.wikipedia.{lang}", self.cfg.sources.wikipedia.get(lang, []))
                 for lang in self.cfg.languages]
        named += [(f"sources.{subset}", getattr(self.cfg.sources, subset)) for subset in SUBSETS]
        for key, uris in named:
            _files, missing = expand(uris)
            if missing:
                raise UsageError(f"{key}: {missing[0][0]}: {missing[0][1]}"
                                 + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
        if self.overwrite:
            check_ours(self.root)

    @releasing
    def run(self) -> dict[str, Any]:
        from ultralink.core.lease import Lease
        from ultralink.dataset.sink import clear_output

        cfg = self.cfg
        self.preflight()
        Lease.acquire(self.root)   # released when run() ends (``releasing``)
        if self.overwrite:
            clear_output(self.root)
        self.previous = self._load_manifest().get("stages", {})
        self.stages = {}
        self.write_manifest("running")
        try:
            for lang in cfg.languages:
                self._language(lang)
            self._clean()
        finally:
            self.pools.shutdown()
        stats = self._finish()
        return {"stages": self.stages, "stats": stats, "wall_s": round(time.time() - self.started, 3)}

    def _language(self, lang: str) -> None:
        cfg = self.cfg
        from ultralink.jobs.agnostic import run_agnostic
        from ultralink.jobs.prepare import run_prepare
        from ultralink.jobs.specific import run_specific

        wiki = cfg.sources.wikipedia.get(lang, [])
        if wiki:
            seg_uri = self.uri("_work", "segments", lang)
            prep = self.stage(f"prepare/{lang}", "prepare", lang, seg_uri,
                              {"lang": lang, "inputs": wiki,
                               "config": cfg.prepare.model_dump(mode="json")}, None,
                              lambda: run_prepare(lang, wiki, seg_uri, cfg.prepare,
                                                  self.ray_address, self.overwrite))
            if cfg.dedup and cfg.dedup.segments and prep["out"]:
                prep = self._dedup(lang, "segments", seg_uri, [f"prepare/{lang}"])
            spec_cfg = cfg.specific_config(lang)
            out_uri = self.uri(lang, "chat_specific")
            gen = cfg.engines.generator

            def specific() -> dict[str, Any]:
                if not prep["out"]:
                    raise _Empty("no segments")
                from ultralink.pipeline.runtime import init_ray

                init_ray(self.ray_address)
                return run_specific(lang, [seg_uri], out_uri, spec_cfg, self.ray_address,
                                    self.overwrite, pool=self.pools.get(gen))

            self.stage(f"specific/{lang}", "specific", lang, out_uri,
                       {"lang": lang, "segments": prep["key"],
                        "config": spec_cfg.model_dump(mode="json")}, gen, specific)
        for subset in SUBSETS:
            inputs = getattr(cfg.sources, subset)
            if not inputs:
                continue
            a_cfg = cfg.agnostic_config(subset)
            out_uri = self.uri(lang, OUTPUT_SUBSET[subset])
            eng = cfg.engines.translator_config()

            def agnostic(subset: str = subset, inputs: list[str] = inputs,
                         a_cfg: AgnosticConfig = a_cfg, out_uri: str = out_uri,
                         eng: EngineConfig = eng) -> dict[str, Any]:
                pool = None
                if lang != "en":
                    from ultralink.pipeline.runtime import init_ray

                    init_ray(self.ray_address)
                    pool = self.pools.get(eng)
                return run_agnostic(lang, subset, inputs, out_uri, a_cfg, eng, self.ray_address,
                                    self.overwrite, cfg.prompts_dir, self.progress, pool=pool)

            self.stage(f"agnostic/{lang}/{subset}", "agnostic", lang, out_uri,
                       {"lang": lang, "inputs": inputs, "config": a_cfg.model_dump(mode="json"),
                        "engine": eng.model_dump(mode="json") if lang != "en" else None},
                       eng if lang != "en" else None, agnostic)

    def _fresh(self, work: str, after: list[str]) -> list[str]:
        """Keys of the ``after`` stages; a cleaning stage whose input stage ran again this
        run (rewriting shards the cleaning had already thinned) loses its done marker."""
        from ultralink.core.fs import exists, resolve

        marker = resolve(work).join(MANIFEST)
        if any(not self.stages[a].get("skipped") for a in after) and exists(marker):
            marker.fs.delete_file(marker.path)
        return [self.stages[a]["key"] for a in after]

    def _dedup(self, lang: str, kind: str, data_uri: str, after: list[str]) -> dict[str, Any]:
        """Near-dup removal in place over ``data_uri``'s shards, a stage of its own."""
        from ultralink.jobs.dedup import dedup_shards
        from ultralink.core.fs import resolve
        from ultralink.pipeline.runtime import init_ray
        from ultralink.dataset.shard_filter import parts

        work = self.uri("_work", "dedup", lang, kind)
        after = self._fresh(work, after)
        dcfg = self.cfg.dedup or DedupConfig()  # only called when dedup is set

        def run() -> dict[str, Any]:
            shards = parts(resolve(data_uri))
            if kind == "questions":  # {lang}/{subset}/part-*: not _work or other languages
                shards = [s for s in shards if s.path.count("/") == resolve(data_uri).path.count("/") + 2]
            init_ray(self.ray_address)
            return dedup_shards(shards, kind, dcfg, resolve(work), lang)  # type: ignore[arg-type]

        entry = self.stage(f"dedup/{lang}/{kind}", "dedup", lang, work,
                           {"after": after, "config": dcfg.model_dump()}, None, run)
        return {**entry, "key": stage_key("dedup-out", {"after": after, "dedup": entry["key"]})}

    def _clean(self) -> None:
        """Per-language question dedup, then decontamination of every record."""
        from ultralink.core.fs import resolve

        for lang in self.cfg.languages if self.cfg.dedup and self.cfg.dedup.questions else []:
            after = [n for n, s in self.stages.items() if s["language"] == lang
                     and s["job"] in ("specific", "agnostic")]
            if after:
                self._dedup(lang, "questions", self.uri(lang), after)
        if not self.cfg.decontaminate:
            return
        from ultralink.jobs.decontaminate import REPORT_FILE, decontaminate
        from ultralink.pipeline.runtime import init_ray
        from ultralink.dataset.files import dataset_parts

        work = self.uri("_work", "decontaminate")
        after = self._fresh(work, [n for n in self.stages if n != "decontaminate"])

        def run() -> dict[str, Any]:
            shards = [loc for locs in dataset_parts(self.root).values() for loc in locs]
            init_ray(self.ray_address)
            report = decontaminate(shards, self.root, self.root, self.cfg.decontaminate,
                                   report_to=self.root.join(REPORT_FILE))
            from ultralink.core.fs import write_atomic

            write_atomic(resolve(work).join(MANIFEST), json.dumps(
                {"job": "decontaminate", "status": "done", "summary": report["summary"]}).encode())
            return report

        self.stage("decontaminate", "decontaminate", "*", work,
                   {"after": sorted(after), "against": self.cfg.decontaminate}, None, run)

    def _finish(self) -> dict[str, Any]:
        from ultralink.dataset.card import write_card
        from ultralink.dataset.stats import write_stats

        stats = write_stats(self.root.uri, languages=self.cfg.languages)
        write_card(self.root.uri, stats, self.cfg.model_dump(mode="json"))
        counts = {name: s.get("out", 0) for name, s in self.stages.items()}
        self.write_manifest("done", counts=counts, projection=projection(self.stages, self.cfg))
        return stats


class _Empty(Exception):
    """A stage with nothing to do (e.g. no segments survived prepare)."""


# -- summary ------------------------------------------------------------------------------

def _kind(stage: dict[str, Any]) -> str | None:
    if stage["job"] == "specific":
        return "chat_specific"
    if stage["job"] == "agnostic":
        return OUTPUT_SUBSET[stage["stage"].rsplit("/", 1)[1]]
    return None


def projection(stages: dict[str, dict[str, Any]], cfg: BuildConfig) -> dict[str, Any]:
    """Engine/GPU-hours the Table 1 targets would take at this run's measured rates.

    The rate per kept record is measured per subset over every stage that ran an engine this
    run (skipped stages carry no timing); English agnostic data is a pass-through (0).
    """
    rate: dict[str, list[float]] = {}
    for s in stages.values():
        kind = _kind(s)
        if kind is None or s.get("skipped") or not s["this_run"]["engine_s"]:
            continue
        produced = max(1, s["out"])
        r = rate.setdefault(kind, [0.0, 0.0, 0.0])
        r[0] += s["this_run"]["engine_s"]
        r[1] += s["this_run"]["gpu_s"]
        r[2] += produced
    gpus = cfg.engines.generator.gpus_per_host
    rows = []
    total_engine_h = total_gpu_h = 0.0
    for lang in cfg.languages:
        targets = TABLE1["en" if lang == "en" else "other"]
        for kind, target in targets.items():
            if lang == "en" and kind != "chat_specific":
                engine_h = gpu_h = 0.0  # English agnostic data passes through
            elif kind in rate:
                e, g, n = rate[kind]
                engine_h = target * e / n / 3600
                gpu_h = target * g / n / 3600
            else:
                engine_h = gpu_h = float("nan")
            rows.append({"language": lang, "subset": kind, "target": target,
                         "engine_hours": round(engine_h, 2), "gpu_hours": round(gpu_h, 2)})
            if engine_h == engine_h:  # not nan
                total_engine_h += engine_h
                total_gpu_h += gpu_h
    measured = {k: {"engine_s_per_record": round(v[0] / v[2], 3),
                    "gpu_s_per_record": round(v[1] / v[2], 3)} for k, v in rate.items()}
    return {"rows": rows, "measured": measured, "engine_hours": round(total_engine_h, 2),
            "gpu_hours": round(total_gpu_h, 2), "gpus_per_host": gpus,
            "unmeasured": sorted({r["subset"] for r in rows if r["engine_hours"] != r["engine_hours"]})}


def summary_text(result: dict[str, Any], cfg: BuildConfig) -> str:
    from ultralink.pipeline.chain import format_table
    from ultralink.dataset.stats import format_tables

    rows = []
    for s in result["stages"].values():
        t = s["this_run"]
        rows.append({
            "stage": s["stage"], "status": "skipped" if s.get("skipped") else s["status"],
            "in": s["in"], "out": s["out"],
            "dropped": ", ".join(f"{k}={v}" for k, v in sorted(s["dropped"].items())) or "-",
            "tokens": s["tokens"],
            "tok/s": round(t["tokens"] / t["engine_s"], 1) if t["engine_s"] else 0.0,
            "engine_s": t["engine_s"], "gpu_h": round(t["gpu_s"] / 3600, 4),
            "wall_s": t["wall_s"]})
    proj = projection(result["stages"], cfg)
    prow = [{"subset": k, **v} for k, v in proj["measured"].items()]
    lines = ["\nultralink build → " + cfg.output,
             format_table(rows, ["stage", "status", "in", "out", "dropped", "tokens", "tok/s",
                                 "engine_s", "gpu_h", "wall_s"]),
             f"engine-seconds this run {sum(r['engine_s'] for r in rows):.1f}, GPU-hours "
             f"{sum(s['this_run']['gpu_s'] for s in result['stages'].values()) / 3600:.4f}; "
             f"wall {result['wall_s']:.1f}s"]
    if prow:
        lines.append("measured engine cost per kept record:")
        lines.append(format_table(prow, ["subset", "engine_s_per_record", "gpu_s_per_record"]))
    lines.append(f"projection to the Table 1 targets ({', '.join(cfg.languages)}): "
                 f"{proj['engine_hours']:,} engine-hours, {proj['gpu_hours']:,} GPU-hours at "
                 f"these rates (GPU-hours: GPU time the hosts held, idle included; CPU engines "
                 f"hold 0 GPUs)" + (f"; not measured this run: {', '.join(proj['unmeasured'])}"
                             if proj["unmeasured"] else ""))
    lines.append(format_tables(result["stats"]))
    return "\n".join(lines)


def run_build(cfg: BuildConfig, ray_address: str | None = None, overwrite: bool = False,
              progress: bool = True) -> dict[str, Any]:
    """Build the dataset under ``cfg.output``; returns ``{"stages", "stats", "wall_s"}``."""
    result = Build(cfg, ray_address, overwrite, progress).run()
    if progress:
        print(summary_text(result, cfg))
    return result


# -- CLI ----------------------------------------------------------------------------------
