"""The decontamination job as one object: its config and identity, the (source, target)
shard pairs it plans, the work (index the evaluation sets, clean each shard on a Ray task)
and a typed :class:`JobReport`; ``run_decontaminate`` is ``ultralink decontaminate``."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from ultralink.core.config import identity
from ultralink.core.fs import Location, read_bytes, resolve, write_atomic
from ultralink.jobs.decontaminate.config import (
    CHAR_N,
    REPORT_FILE,
    WORD_N,
    DecontaminateConfig,
)
from ultralink.jobs.decontaminate.index import EvalIndex, build_index
from ultralink.jobs.decontaminate.sets import ResolvedSets
from ultralink.pipeline.dataflow import declare, remote
from ultralink.pipeline.report import JobReport, StageRow

log = logging.getLogger("ultralink.jobs.decontaminate")

JOB = "decontaminate"
_RECORD_KEYS = ("id", "place", "set", "how", "eval_row", "matched", "overlap")


AGNOSTIC_SUBSETS = ("chat_agnostic", "math", "code")


def _messages(batch: pa.RecordBatch) -> list[list[tuple[str, str]]]:
    if "messages" in batch.schema.names:
        return [[(m["role"] or "", m["content"] or "") for m in msgs or []]
                for msgs in batch.column("messages").to_pylist()]
    if "text" in batch.schema.names:
        return [[("user", t or "")] for t in batch.column("text").to_pylist()]
    raise ValueError(f"no 'messages' or 'text' column; present: {batch.schema.names}")


def _origins(batch: pa.RecordBatch) -> list[str | None]:
    """Each row's English original (``dataset:id``) when it is made from one (a translated
    or copied SFT record), else None: what a removal is passed on by."""
    n = batch.num_rows
    if "source" not in batch.schema.names or "subset" not in batch.schema.names:
        return [None] * n
    out: list[str | None] = []
    for subset, src in zip(batch.column("subset").to_pylist(),
                           batch.column("source").to_pylist()):
        ok = subset in AGNOSTIC_SUBSETS and src and src.get("id")
        out.append(f"{src.get('dataset')}:{src['id']}" if ok else None)
    return out


def _place(batch: pa.RecordBatch, src: Location) -> list[str]:
    """``language/subset`` of each row (columns, or the shard's path in our layout)."""
    names = batch.schema.names
    if "language" in names and "subset" in names:
        return [f"{lang}/{sub}" for lang, sub in zip(batch.column("language").to_pylist(),
                                                    batch.column("subset").to_pylist())]
    parts = src.path.split("/")
    return ["/".join(parts[-3:-1])] * batch.num_rows


@declare(num_cpus=1)
def clean_shard(src: Location, dst: Location, index: EvalIndex,
                origins: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Ray task: ``src`` without its contaminated records, written to ``dst``. With
    ``origins`` (English originals found contaminated, anywhere), also every record made from
    one of them, whatever its language (``how: same_source``)."""
    from ultralink.dataset.shard_filter import filter_shard

    def judge(batch: pa.RecordBatch) -> list[dict[str, Any] | None]:
        out: list[dict[str, Any] | None] = []
        rows = zip(_messages(batch), _origins(batch), _place(batch, src))
        for messages, origin, place in rows:
            found = None
            if origins is not None:
                if origin in origins:
                    found = {**origins[origin], "how": "same_source"}
            else:
                found = index.match_messages(messages)
            if found:
                found = {"reason": f"contaminated:{found['set']}", **found,
                         "origin": origin, "place": place}
            out.append(found)
        return out

    return filter_shard(src, dst, judge)


@dataclass(frozen=True, slots=True)
class DecontaminateJob:
    """Every record sharing an n-gram with an evaluation set removed, reason
    ``contaminated:<set>``; each shard under ``src_root`` goes to the same path under
    ``dst_root`` (the same root: in place)."""

    config: DecontaminateConfig
    name: str = JOB

    def identity(self) -> dict[str, Any]:
        """What the output depends on: the sets and the n-gram sizes."""
        return identity(self.config)

    def plan(self, shards: Iterable[Location], src_root: Location, dst_root: Location
             ) -> list[tuple[Location, Location]]:
        """Each shard with the path it is cleaned to."""
        from ultralink.dataset.shard_filter import retarget

        return [(s, retarget(s, src_root, dst_root)) for s in shards]

    def index(self, found: ResolvedSets) -> EvalIndex:
        """The evaluation sets' n-gram index (read on the driver)."""
        cfg = self.config
        return build_index(found.sets, cfg.word_n, cfg.char_n, min_numbers=cfg.min_numbers,
                           min_containment=cfg.min_containment)

    def clean(self, pairs: list[tuple[Location, Location]], index: EvalIndex
              ) -> list[dict[str, Any]]:
        """One Ray task per shard (the index goes to the workers once); then, when any
        removed record was made from an English original, a second pass over the cleaned
        shards removes every other record made from it, in every language."""
        import ray

        ref = ray.put(index)
        task = remote(clean_shard)
        results = ray.get([task.remote(src, dst, ref) for src, dst in pairs])
        origins = {d["origin"]: {k: d[k] for k in ("set", "eval_row", "matched", "overlap")}
                   for r in results for d in r["drops"] if d.get("origin")}
        if not origins:
            return results
        again = ray.get([task.remote(dst, dst, ref, origins) for _src, dst in pairs
                         if _exists(dst)])
        by_uri = {r["uri"]: r for r in again}
        for r, (_src, dst) in zip(results, pairs):
            extra = by_uri.get(dst.uri)
            if extra:
                r["drops"] = r["drops"] + extra["drops"]
                r["rows_out"] = extra["rows_out"]
        return results

    def report(self, index: EvalIndex, results: list[dict[str, Any]]) -> JobReport:
        """One stage row: records checked, kept, and removed by set."""
        by_set = _by_set(index, results)
        checked = sum(r["rows_in"] for r in results)
        kept = sum(r["rows_out"] for r in results)
        return JobReport(self.name, checked, kept, stages=[StageRow(
            "decontaminate", checked, kept,
            {f"contaminated:{k}": v for k, v in by_set.items() if v})])

    def run(self, shards: Iterable[Location], src_root: Location, dst_root: Location,
            report_to: Location | None = None,
            at_source: dict[str, dict[str, int]] | None = None, warn: bool = True
            ) -> dict[str, Any]:
        """Index, clean, then write the report (default ``dst_root/_decontamination.json``).

        ``at_source``: per ``language/subset``, the records the build's scans already dropped
        per set before translation (stated with the rest, net ``source``)."""
        t0 = time.time()
        found = self.config.resolve(warn=warn)
        index = self.index(found)
        # no set available: nothing to remove, and the report says what was not checked
        results = self.clean(self.plan(shards, src_root, dst_root), index) if index else []
        removed = sorted((d for r in results for d in r["drops"]), key=lambda d: d["id"])
        typed = self.report(index, results)
        by_set = _by_set(index, results)
        report = {
            "job": JOB, "dataset": src_root.uri, "output": dst_root.uri,
            "word_ngram": self.config.word_n, "char_ngram": self.config.char_n,
            "sets": [{"name": n, "uri": u, "rows": r}
                     for n, u, r in zip(index.names, index.uris, index.rows_per_set)],
            "not_checked": found.not_checked(), "at_source": self.config.at_source,
            "checked": typed.records_in, "kept": typed.records_out,
            "removed": len(removed), "removed_by_set": by_set,
            "removed_by_place": _by_place(results, at_source or {}),
            "removed_at_source": sum(n for sets in (at_source or {}).values()
                                     for n in sets.values()),
            "removed_records": [{k: d[k] for k in _RECORD_KEYS} for d in removed],
            "wall_s": round(time.time() - t0, 3),
            "stages": [row.to_dict() for row in typed.stages],
            "summary": typed.summary.to_dict()}
        write_atomic(report_to or dst_root.join(REPORT_FILE),
                     json.dumps(report, indent=2, ensure_ascii=False).encode())
        log.info("decontaminate: %d of %d records removed (%s)", len(removed),
                 report["checked"], ", ".join(f"{k}={v}" for k, v in by_set.items()))
        return report


def _exists(loc: Location) -> bool:
    from ultralink.core.fs import exists

    return exists(loc)


def _by_place(results: list[dict[str, Any]], at_source: dict[str, dict[str, int]]
              ) -> dict[str, dict[str, dict[str, int]]]:
    """Records removed per ``language/subset``, per set, per net (source: before
    translation; ngram, numbers, shingles, same_source: after)."""
    out: dict[str, dict[str, dict[str, int]]] = {}
    for place, sets in at_source.items():
        for name, n in sets.items():
            out.setdefault(place, {}).setdefault(name, {})["source"] = n
    for r in results:
        for d in r["drops"]:
            hows = out.setdefault(d["place"], {}).setdefault(d["set"], {})
            hows[d["how"]] = hows.get(d["how"], 0) + 1
    return {k: out[k] for k in sorted(out)}


def _by_set(index: EvalIndex, results: list[dict[str, Any]]) -> dict[str, int]:
    """Records removed per set, every set named (in the order given)."""
    by_set = {n: 0 for n in index.names}
    for r in results:
        for d in r["drops"]:
            by_set[d["set"]] += 1
    return by_set


def _config(against: list[str] | None, word_n: int, char_n: int,
            config: DecontaminateConfig | None) -> DecontaminateConfig:
    """``config`` when given, else one from the older keyword parameters (those sets only:
    no standard sets looked up)."""
    return config or DecontaminateConfig(against=list(against or []), word_n=word_n,
                                         char_n=char_n, standard=[],
                                         at_source=False)


def decontaminate(shards: list[Location], src_root: Location, dst_root: Location,
                  against: list[str] | None = None, word_n: int = WORD_N, char_n: int = CHAR_N,
                  report_to: Location | None = None, *,
                  config: DecontaminateConfig | None = None,
                  at_source: dict[str, dict[str, int]] | None = None,
                  warn: bool = True) -> dict[str, Any]:
    """Clean ``shards`` (under ``src_root``) into the same paths under ``dst_root``.

    Writes the report (every removed id, its set, the evaluation text and the overlapping
    n-gram) to ``report_to`` (default ``dst_root/_decontamination.json``) and returns it.
    """
    job = DecontaminateJob(_config(against, word_n, char_n, config))
    return job.run(shards, src_root, dst_root, report_to, at_source, warn)


def run_decontaminate(dataset: str, against: list[str] | None, output: str,
                      word_n: int = WORD_N, char_n: int = CHAR_N,
                      ray_address: str | None = None, overwrite: bool = False, *,
                      config: DecontaminateConfig | None = None) -> dict[str, Any]:
    """``ultralink decontaminate``: the cleaned dataset, same layout, under ``output``
    (``config``, when given, replaces ``against``/``word_n``/``char_n``)."""
    from ultralink.core.fs import NoInput, delete_dir, exists
    from ultralink.dataset.shard_filter import copy_bookkeeping, parts
    from ultralink.dataset.sink import OutputConflict
    from ultralink.pipeline.runtime import init_ray

    src, dst = resolve(dataset), resolve(output)
    shards = parts(src)
    if not shards:
        raise NoInput(f"{dataset}: no part-*.parquet shards")
    if dst.uri.rstrip("/") != src.uri.rstrip("/"):
        if exists(dst) and any(True for _ in parts(dst)):
            if not overwrite:
                raise OutputConflict(f"{output} already holds shards; use --overwrite or "
                                     "another --output")
            delete_dir(dst)
        copy_bookkeeping(src, dst)
    init_ray(ray_address)
    report = decontaminate(shards, src, dst,
                           config=_config(against, word_n, char_n, config))
    if exists(src.join("stats.json")):  # refresh the numbers and the card of a built dataset
        from ultralink.dataset.card import write_card
        from ultralink.dataset.stats import write_stats

        built = None  # the build config the card names, when the dataset came from a build
        if exists(dst.join("_manifest.json")):
            built = json.loads(read_bytes(dst.join("_manifest.json"))).get("config")
        stats = write_stats(dst.uri)
        write_card(dst.uri, stats, built)
    return report
