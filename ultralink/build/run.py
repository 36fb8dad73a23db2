"""Runs a build's stages in order, recording each in the root manifest as it finishes, so a
rerun skips finished stages."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from ultralink.jobs.agnostic.config import OUTPUT_SUBSET, AgnosticConfig
from ultralink.build.config import MANIFEST, SUBSETS, BuildConfig
from ultralink.build.pools import EnginePools
from ultralink.build.projection import projection, summary_text
from ultralink.core.lease import releasing
from ultralink.jobs.dedup import DedupConfig
from ultralink.llm.registry import EngineConfig

log = logging.getLogger("ultralink.build")
LEGACY_WORK = "_work"   # the work folder inside the dataset root, before ``work`` existed


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
        self.pools = EnginePools(cfg.resources.num_hosts)
        self.stages: dict[str, dict[str, Any]] = {}
        self.evals: list[tuple[str, str]] = []    # the evaluation sets' identities
        self.work_spec = ""                       # the work location as written, and
        self.work = self.root.join(LEGACY_WORK)   # resolved: both set by preflight
        self.started = time.time()

    def uri(self, *parts: str) -> str:
        return self.root.join(*parts).uri

    def work_uri(self, *parts: str) -> str:
        return self.work.join(*parts).uri

    def work_location(self) -> str:
        """Where the work files go: ``work`` as configured, else an output of the old layout
        keeps its ``{output}/_work`` (one line says so), else ``<output>_work`` beside it."""
        from ultralink.core.errors import UsageError
        from ultralink.core.fs import exists, resolve

        cfg = self.cfg
        if cfg.work is None and not self.overwrite and exists(self.root.join(LEGACY_WORK)):
            log.warning("build: %s holds this dataset's work files (the layout before 'work'); "
                        "still used, so the run resumes; --overwrite rebuilds with them outside "
                        "the dataset (beside it, or where work: says)", self.uri(LEGACY_WORK))
            return f"{cfg.output.rstrip('/')}/{LEGACY_WORK}"   # the string the memo had
        uri = cfg.work_uri()
        work, root = resolve(uri), self.root
        inside = work.fs.type_name == root.fs.type_name and (
            work.path.rstrip("/") + "/").startswith(root.path.rstrip("/") + "/")
        holds = work.fs.type_name == root.fs.type_name and (
            root.path.rstrip("/") + "/").startswith(work.path.rstrip("/") + "/")
        if holds:
            raise UsageError(f"work: {uri} is or holds the output {cfg.output}; the work files "
                             "need a place of their own")
        if inside:
            log.warning("build: work %s lies inside the dataset %s: readers of its **/*.parquet "
                        "will see the work files too", uri, cfg.output)
        return uri

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

    def _mark_work(self) -> None:
        """A manifest at the work root naming its dataset, so ``--overwrite`` knows it is ours."""
        from ultralink.core.fs import exists, write_atomic
        from ultralink.dataset.sink import config_hash

        loc = self.work.join(MANIFEST)
        if not exists(loc):
            write_atomic(loc, json.dumps({"job": "build-work", "dataset": self.root.uri,
                                          "config_hash": config_hash(
                                              self.cfg.model_dump(mode="json"))}).encode())

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
        from ultralink.core.fs import check_output, expand, resolve
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
        from ultralink.jobs.agnostic.contamination import refuse_by_name

        sft, _missing = expand([u for subset in SUBSETS for u in getattr(self.cfg.sources, subset)])
        refuse_by_name(sft, self.cfg.agnostic.allow_test_splits)
        dcfg = self.cfg.decontaminate
        _files, missing = expand(dcfg.against)
        if missing:
            raise UsageError(f"decontaminate.against: {missing[0][0]}: {missing[0][1]}")
        # the sets found now (each standard one missing is one warning line), by identity:
        # a set added or changed reruns the stages that checked against it
        from ultralink.core.fs import identities

        self.evals = identities(dcfg.resolve(fetch=True).uris)
        self.work_spec = self.work_location()
        self.work = resolve(self.work_spec)
        check_output(self.work)
        if self.overwrite:
            check_ours(self.root)
            check_ours(self.work)

    @releasing
    def run(self) -> dict[str, Any]:
        from ultralink.core.lease import Lease
        from ultralink.dataset.sink import clear_output

        cfg = self.cfg
        self.preflight()
        Lease.acquire(self.root)   # released when run() ends (``releasing``)
        if self.overwrite:
            clear_output(self.root)
            clear_output(self.work)
        self._mark_work()
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
            seg_uri = self.work_uri("segments", lang)
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
            a_cfg = cfg.agnostic_config(subset, self.work_spec)
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
                        "evals": self.evals,
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
        from ultralink.core.fs import resolve
        from ultralink.dataset.shard_filter import parts
        from ultralink.jobs.dedup import dedup_shards
        from ultralink.pipeline.runtime import init_ray

        work = self.work_uri("dedup", lang, kind)
        after = self._fresh(work, after)
        dcfg = self.cfg.dedup or DedupConfig()  # only called when dedup is set

        def run() -> dict[str, Any]:
            shards = parts(resolve(data_uri))
            if kind == "questions":  # {lang}/{subset}/part-*: not the subsets' bookkeeping
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
        from ultralink.dataset.files import dataset_parts
        from ultralink.jobs.decontaminate import REPORT_FILE, decontaminate
        from ultralink.pipeline.runtime import init_ray

        dcfg = self.cfg.decontaminate
        work = self.work_uri("decontaminate")
        after = self._fresh(work, [n for n in self.stages if n != "decontaminate"])

        def run() -> dict[str, Any]:
            shards = [loc for locs in dataset_parts(self.root).values() for loc in locs]
            init_ray(self.ray_address)
            report = decontaminate(shards, self.root, self.root, config=dcfg,
                                   report_to=self.root.join(REPORT_FILE),
                                   at_source=self._source_removals(),
                                   warn=False)   # preflight said it once
            from ultralink.core.fs import write_atomic

            # the root manifest's stage entry says per language/subset what went, by set and net
            report["summary"] = {**report["summary"],
                                 "removed_by_place": report["removed_by_place"],
                                 "not_checked": [m["name"] for m in report["not_checked"]]}
            write_atomic(resolve(work).join(MANIFEST), json.dumps(
                {"job": "decontaminate", "status": "done", "summary": report["summary"]}).encode())
            return report

        self.stage("decontaminate", "decontaminate", "*", work,
                   {"after": sorted(after), "config": dcfg.model_dump(mode="json"),
                    "evals": self.evals}, None, run)

    def _source_removals(self) -> dict[str, dict[str, int]]:
        """Per ``language/subset``, the English records each agnostic stage's scan dropped
        as contaminated, per set."""
        out: dict[str, dict[str, int]] = {}
        for name, s in self.stages.items():
            if s["job"] != "agnostic":
                continue
            sets = {k.split(":", 1)[1]: v for k, v in s.get("dropped", {}).items()
                    if k.startswith("contaminated:") and v}
            if sets:
                out[f"{s['language']}/{OUTPUT_SUBSET[name.rsplit('/', 1)[1]]}"] = sets
        return out

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

def run_build(cfg: BuildConfig, ray_address: str | None = None, overwrite: bool = False,
              progress: bool = True) -> dict[str, Any]:
    """Build the dataset under ``cfg.output``; returns ``{"stages", "stats", "wall_s"}``."""
    result = Build(cfg, ray_address, overwrite, progress).run()
    if progress:
        print(summary_text(result, cfg))
    return result


# -- CLI ----------------------------------------------------------------------------------
