"""The dedup job as one object: its config and identity, the shards it plans over, the
work (find clusters, filter the shards in place) and a typed :class:`JobReport`."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from ultralink.core.config import identity
from ultralink.core.fs import Location, write_atomic
from ultralink.jobs.dedup.cluster import find_clusters
from ultralink.jobs.dedup.config import DedupConfig, Kind
from ultralink.jobs.dedup.sign import Signer
from ultralink.pipeline.dataflow import declare, remote
from ultralink.pipeline.report import JobReport, StageRow

log = logging.getLogger("ultralink.jobs.dedup")

JOB = "dedup"


@dataclass(frozen=True, slots=True)
class DedupJob:
    """Near-duplicate removal over one set of shards (one language's segments or
    questions), in place; ``label`` names the set in the report (e.g. the language)."""

    kind: Kind
    config: DedupConfig
    label: str = ""
    name: str = JOB

    def identity(self) -> dict[str, Any]:
        """What the output depends on: the kind of text compared and the settings."""
        return {"kind": self.kind, **identity(self.config)}

    def plan(self, shards: Iterable[Location]) -> list[Location]:
        """The shards, in the order given (clusters keep the smallest id, so order only
        decides which shard's task runs first)."""
        return list(shards)

    def find(self, shards: list[Location]) -> dict[str, Any]:
        """Clusters over ``shards`` (see :func:`find_clusters`)."""
        return find_clusters(shards, self.kind, self.config)

    def filter(self, shards: list[Location], drop: dict[str, str]) -> None:
        """Rewrite every shard without the ids in ``drop`` (one Ray task per shard)."""
        import ray

        if not drop:
            return
        drop_ref = ray.put(drop)
        task = remote(_filter_with_ids)
        ray.get([task.remote(loc, drop_ref) for loc in shards])

    def report(self, found: dict[str, Any]) -> JobReport:
        """Two stage rows: exact duplicates out first, then near duplicates of the rest."""
        n, exact, near = found["records"], found["exact_dropped"], found["near_dropped"]
        return JobReport(self.name, n, n - exact - near, stages=[
            StageRow("exact", n, n - exact, {"exact_duplicate": exact} if exact else {}),
            StageRow("near", n - exact, n - exact - near,
                     {"near_duplicate": near} if near else {})])

    def run(self, shards: Iterable[Location], report_dir: Location) -> dict[str, Any]:
        """Find, filter, then write ``report_dir/_report.json`` and ``_manifest.json``."""
        t0 = time.time()
        planned = self.plan(shards)
        found = self.find(planned)
        drop = found.pop("drop")
        self.filter(planned, drop)
        signer = Signer(self.config)
        typed = self.report(found)
        report = {"job": JOB, "kind": self.kind, "label": self.label,
                  **self.config.model_dump(), "bands": signer.bands,
                  "rows_per_band": signer.rows, **found,
                  "kept": found["records"] - len(drop), "wall_s": round(time.time() - t0, 3),
                  "stages": [row.to_dict() for row in typed.stages],
                  "summary": typed.summary.to_dict()}
        write_atomic(report_dir.join("_report.json"),
                     json.dumps(report, indent=2, ensure_ascii=False).encode())
        write_atomic(report_dir.join("_manifest.json"), json.dumps(
            {"job": JOB, "status": "done", "summary": report["summary"]}).encode())
        log.info("dedup %s %s: %d records, %d clusters, %d dropped", self.kind, self.label,
                 found["records"], found.get("clusters_found", 0), len(drop))
        return report


def dedup_shards(shards: list[Location], kind: Kind, cfg: DedupConfig, report_dir: Location,
                 label: str = "") -> dict[str, Any]:
    """Find clusters over ``shards`` and drop all but each cluster's smallest id, in place.

    Writes ``report_dir/_report.json`` (clusters and what was kept) and a ``_manifest.json``
    marking it done; returns the report with a ``summary`` for the build manifest.
    """
    return DedupJob(kind, cfg, label).run(shards, report_dir)


@declare(num_cpus=1)
def _filter_with_ids(loc: Location, drop: dict[str, str]) -> dict[str, Any]:
    from ultralink.dataset.shard_filter import filter_shard

    def judge(batch: pa.RecordBatch) -> list[dict[str, Any] | None]:
        return [{"reason": drop[i]} if i in drop else None
                for i in batch.column("id").to_pylist()]

    return filter_shard(loc, loc, judge)
