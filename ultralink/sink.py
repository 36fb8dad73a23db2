"""Deterministic, atomic per-unit outputs with completion markers and a manifest.

Layout under an output location::

    part-<unit_id>.parquet      one shard per finished work unit (absent when it had no rows)
    _units/<unit_id>.json       completion marker + that unit's counts (written after the shard)
    _manifest.json              job, config hash, versions, units done, totals
    _report.json                the job report

A unit's shard is written first, its marker second, each atomically; a crash between the
two only makes the rerun rewrite the same deterministic shard name. Reruns skip units that
have a marker, so nothing is duplicated or lost.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
import time
from collections.abc import Iterable, Mapping
from importlib import metadata
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ultralink import __version__
from ultralink.fs import (Location, delete_dir, exists, list_files, read_bytes, upload_file,
                          write_atomic)

MANIFEST = "_manifest.json"
REPORT = "_report.json"
UNITS_DIR = "_units"


class OutputConflict(Exception):
    """The output holds a different job's or config's results; ``--overwrite`` starts over."""


def config_hash(config: Mapping[str, Any]) -> str:
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def versions() -> dict[str, str]:
    out = {"ultralink": __version__, "python": platform.python_version()}
    for pkg in ("ray", "pyarrow", "tiktoken", "opencc", "mwparserfromhell", "fasttext-predict",
                "sentencex", "llama_cpp_python", "vllm"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def write_parquet_atomic(loc: Location, batches: Iterable[pa.RecordBatch | pa.Table],
                         schema: pa.Schema) -> int:
    """Stream batches into one Parquet object that appears whole or not at all; returns rows.

    Rows go to a local temporary file first (memory stays bounded by one batch), which is
    then renamed into place (local) or uploaded in one object write with retries (S3).
    """
    tmp_dir = os.path.dirname(loc.path) if not loc.is_s3 else None
    if tmp_dir:
        os.makedirs(tmp_dir, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".parquet", dir=tmp_dir)
    os.close(fd)
    rows = 0
    try:
        with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
            for batch in batches:
                table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
                writer.write_table(table.cast(schema))
                rows += table.num_rows
        if loc.is_s3:
            upload_file(tmp, loc)
        else:
            os.replace(tmp, loc.path)
            tmp = ""
    finally:
        if tmp and os.path.exists(tmp):
            os.unlink(tmp)
    return rows


class UnitStore:
    """Resume bookkeeping for one job's output location."""

    def __init__(self, out: Location, job: str, config: Mapping[str, Any]) -> None:
        self.out = out
        self.job = job
        self.config = dict(config)
        self.hash = config_hash(self.config)

    # -- setup -------------------------------------------------------------------------
    def open(self, overwrite: bool) -> None:
        """Start or resume: refuse a different job/config unless ``overwrite`` wipes it."""
        manifest = self.out.join(MANIFEST)
        if overwrite:
            delete_dir(self.out)
        elif exists(manifest):
            old = json.loads(read_bytes(manifest))
            if old.get("job") != self.job or old.get("config_hash") != self.hash:
                raise OutputConflict(
                    f"{self.out.uri} holds output of job {old.get('job')!r} with config "
                    f"{old.get('config_hash')}; this run is {self.job!r} with config {self.hash}. "
                    "Use --overwrite to start over, or another --output.")
        self.write_manifest(status="running")

    # -- units -------------------------------------------------------------------------
    def shard(self, unit_id: str) -> Location:
        return self.out.join(f"part-{unit_id}.parquet")

    def marker(self, unit_id: str) -> Location:
        return self.out.join(UNITS_DIR, f"{unit_id}.json")

    def done(self) -> dict[str, dict[str, Any]]:
        """Markers of finished units, keyed by unit id."""
        found = {}
        for loc in list_files(self.out.join(UNITS_DIR), ".json"):
            try:
                data = json.loads(read_bytes(loc))
            except (OSError, ValueError):
                continue  # a torn marker cannot exist (atomic), but never trust a stray file
            found[data["unit_id"]] = data
        return found

    def finish_unit(self, unit_id: str, marker: Mapping[str, Any]) -> None:
        payload = {"unit_id": unit_id, "finished_at": time.time(), **marker}
        write_atomic(self.marker(unit_id), json.dumps(payload, ensure_ascii=False).encode())

    # -- job files ---------------------------------------------------------------------
    def write_manifest(self, status: str, **extra: Any) -> None:
        body = {"job": self.job, "config_hash": self.hash, "config": self.config,
                "versions": versions(), "status": status, "updated_at": time.time(), **extra}
        write_atomic(self.out.join(MANIFEST), json.dumps(body, indent=2, ensure_ascii=False,
                                                          default=str).encode())

    def write_report(self, report: Mapping[str, Any]) -> None:
        write_atomic(self.out.join(REPORT), json.dumps(report, indent=2, ensure_ascii=False,
                                                        default=str).encode())

    def shards(self) -> list[Location]:
        return [loc for loc in list_files(self.out, ".parquet")
                if os.path.basename(loc.path).startswith("part-")]
