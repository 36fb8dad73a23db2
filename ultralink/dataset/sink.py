"""Deterministic, atomic per-unit outputs with completion markers and a manifest.

Layout under an output location::

    part-<unit_id>.parquet      one shard per finished work unit (absent when it had no rows)
    part-<unit_id>.pNNNNN.parquet   or, for a unit written in parts, one shard per part
    _units/<unit_id>.json       completion marker + that unit's counts (written after the shard)
    _manifest.json              job, config hash, versions, units done, totals
    _report.json                the job report
    _lease.json                 the single-writer lease (``ultralink.core.lease``)

A unit's shard is written first, its marker second, each atomically; a crash between the
two only makes the rerun rewrite the same deterministic shard name. Reruns skip units that
have a marker, so nothing is duplicated or lost.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import posixpath
import re
import time
from collections.abc import Iterable, Mapping
from importlib import metadata
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ultralink import __version__
from ultralink.core.fs import (Location, check_output, exists, list_files, read_bytes, staging_file,
                               upload_file, write_atomic)
from ultralink.core.ids import json_digest

MANIFEST = "_manifest.json"
REPORT = "_report.json"
UNITS_DIR = "_units"
TMP_PREFIX = ".tmp-"   # temporary files: never end in .parquet/.json, swept on the next run
_PART = re.compile(r"(.+)\.p\d{5}")   # "<unit_id>.p00003": part 3 of a unit written in parts


class OutputConflict(Exception):
    """The output holds a different job's or config's results; ``--overwrite`` starts over."""


class JobIncomplete(Exception):
    """Some units failed (e.g. on I/O) and were not marked done; a rerun retries them."""


def is_tmp(name: str) -> bool:
    """A temporary name of ours: ``.tmp-…`` (shards) or ``….tmp-<hex>`` (``write_atomic``)."""
    return name.startswith(TMP_PREFIX) or ".tmp-" in name


def check_ours(out: Location) -> None:
    """Refuse (``OutputConflict``) to wipe an output that is neither empty nor ours.

    Ours: it holds a ``_manifest.json`` of ours, or nothing but our lease and temporary files.
    """
    from ultralink.core.lease import LEASE

    manifest = out.join(MANIFEST)
    if exists(manifest):
        try:
            body = json.loads(read_bytes(manifest))
        except ValueError:
            body = None
        if isinstance(body, dict) and "job" in body and "config_hash" in body:
            return
        raise OutputConflict(f"{out.uri}: {MANIFEST} is not an ultralink manifest; refusing "
                             "to delete it with --overwrite")
    strays = [loc.uri for loc in list_files(out)
              if posixpath.basename(loc.path) != LEASE and not is_tmp(posixpath.basename(loc.path))]
    if strays:
        raise OutputConflict(f"{out.uri} is not an ultralink output (no {MANIFEST}; holds "
                             f"{len(strays)} file(s), e.g. {strays[0]}); refusing to delete it "
                             "with --overwrite")


def clear_output(out: Location) -> None:
    """Delete everything under ``out`` except the lease this run holds."""
    from ultralink.core.lease import LEASE

    if not exists(out):
        return
    if out.is_s3:
        for loc in list_files(out):
            if posixpath.basename(loc.path) != LEASE or posixpath.dirname(loc.path) != out.path:
                out.fs.delete_file(loc.path)
        return
    import shutil

    for name in os.listdir(out.path):
        if name == LEASE:
            continue
        path = os.path.join(out.path, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)


def sweep_tmp(out: Location) -> int:
    """Remove temporary files a crashed run left under a local ``out``; returns how many."""
    if out.is_s3 or not os.path.isdir(out.path):
        return 0   # S3 temporaries live on the writer's local disk, never under the prefix
    n = 0
    for dirpath, _dirs, names in os.walk(out.path):
        for name in names:
            if is_tmp(name):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(dirpath, name))
                    n += 1
    return n


def config_hash(config: Mapping[str, Any]) -> str:
    return json_digest(config)


def versions() -> dict[str, str]:
    out = {"ultralink": __version__, "python": platform.python_version()}
    for pkg in ("ray", "pyarrow", "tiktoken", "opencc", "mwparserfromhell", "fasttext-predict",
                "sentencex", "llama_cpp_python", "vllm"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


# the request cache's folder in an output (``ultralink.llm.request_cache``)
REQUESTS_DIR = "_requests"


def _remove_empty_dirs(top: str) -> None:
    """``top`` and the folders under it that hold no file (a finished run leaves none)."""
    if not os.path.isdir(top):
        return
    for dirpath, _dirs, _files in os.walk(top, topdown=False):
        try:
            os.rmdir(dirpath)   # only succeeds when empty
        except OSError:
            pass


def write_parquet_atomic(loc: Location, batches: Iterable[pa.RecordBatch | pa.Table],
                         schema: pa.Schema) -> int:
    """Stream batches into one Parquet object that appears whole or not at all; returns rows.

    Rows go to a local temporary file first (memory stays bounded by one batch), which is
    then renamed into place (local) or uploaded in one object write with retries (S3).
    """
    tmp_dir = os.path.dirname(loc.path) if not loc.is_s3 else None
    if tmp_dir:
        os.makedirs(tmp_dir, exist_ok=True)
    # ".tmp-part-….parquet-XXXX": no "*.parquet" glob of a reader matches a half-written shard
    fd, tmp = staging_file(tmp_dir, f"{TMP_PREFIX}{posixpath.basename(loc.path)}-")
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
        self.token: int | None = None        # the lease's fencing token (set in workers too)
        self.lease: Any = None
        self.inputs: list[dict[str, str]] = []

    # -- setup -------------------------------------------------------------------------
    def open(self, overwrite: bool) -> None:
        """Start or resume: check the output, take its lease, refuse a different job/config
        unless ``overwrite`` wipes it (only an output of ours), sweep a crash's temporaries.

        Nothing is written before the checks pass but the lease itself.
        """
        from ultralink.core.lease import Lease

        check_output(self.out)
        manifest = self.out.join(MANIFEST)
        if overwrite:
            check_ours(self.out)
        self.lease = Lease.acquire(self.out)
        self.token = self.lease.token
        try:
            if overwrite:
                clear_output(self.out)
            elif exists(manifest):
                try:
                    old = json.loads(read_bytes(manifest))
                except ValueError:
                    old = {}
                if old.get("job") != self.job or old.get("config_hash") != self.hash:
                    raise OutputConflict(
                        f"{self.out.uri} holds output of job {old.get('job')!r} with config "
                        f"{old.get('config_hash')}; this run is {self.job!r} with config "
                        f"{self.hash}. Use --overwrite to start over, or another --output.")
        except BaseException:
            self.close()
            raise
        sweep_tmp(self.out)
        self.write_manifest(status="running")

    def close(self) -> None:
        """Release the lease (jobs decorated with ``lease.releasing`` do it for you); the
        request cache's folders that its finished units emptied go first."""
        if self.lease is not None and not self.out.is_s3:
            _remove_empty_dirs(os.path.join(self.out.path, REQUESTS_DIR))
        if self.lease is not None:
            self.lease.release()
            self.lease = None

    def record_inputs(self, files: Iterable[Location]) -> None:
        """Name each input with its identity in the manifest (what this output was made from)."""
        self.inputs = [{"uri": f.uri, "version": f.version} for f in files]

    # -- units -------------------------------------------------------------------------
    def shard(self, unit_id: str) -> Location:
        return self.out.join(f"part-{unit_id}.parquet")

    def part(self, unit_id: str, index: int) -> Location:
        """Shard of part ``index`` of a unit written in parts (a big input spread over workers)."""
        return self.out.join(f"part-{unit_id}.p{index:05d}.parquet")

    def owner(self, shard: Location) -> str | None:
        """The unit a shard directly under the output belongs to (its id), else ``None``."""
        if posixpath.dirname(shard.path) != self.out.path:
            return None
        stem = posixpath.basename(shard.path)[len("part-"):-len(".parquet")]
        m = _PART.fullmatch(stem)
        return m.group(1) if m else stem

    def clear_units(self, unit_ids: Iterable[str]) -> None:
        """Delete the shards of units about to run again, so a unit cut short by a crash
        leaves no part behind that this run does not rewrite."""
        ids = set(unit_ids)
        for loc in self.shards():
            if self.owner(loc) in ids:
                with contextlib.suppress(FileNotFoundError, OSError):
                    loc.fs.delete_file(loc.path)

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
        """Mark a unit done, after checking that this run still owns the output (fencing)."""
        if self.token is not None:
            from ultralink.core.lease import check_token

            if self.lease is not None and self.lease.lost:
                from ultralink.core.lease import LeaseLost

                raise LeaseLost(f"{self.out.uri}: this run lost its lease")
            check_token(self.out, self.token)
        payload = {"unit_id": unit_id, "finished_at": time.time(), "lease_token": self.token,
                   **marker}
        write_atomic(self.marker(unit_id), json.dumps(payload, ensure_ascii=False).encode())

    def drop_stale(self, planned: Iterable[str],
                   versions: Mapping[str, str] | None = None) -> list[str]:
        """Remove finished units outside this plan (a changed or removed input, a partial
        chunk since completed) and shards no marker owns, so the output equals a fresh run.

        ``versions``: the input identity each planned unit must have been made from (for
        units whose id does not hold it); a marker recording another one is stale too.
        """
        planned = set(planned)
        versions = versions or {}
        done = self.done()
        stale = sorted(uid for uid, m in done.items() if uid not in planned
                       or (uid in versions and (m.get("info") or {}).get("version") != versions[uid]))
        for uid in stale:
            with contextlib.suppress(FileNotFoundError, OSError):   # marker first: never a bare one
                self.marker(uid).fs.delete_file(self.marker(uid).path)
        # one sweep: the stale units' shards, and shards neither planned nor finished
        owned = (planned | set(done)) - set(stale)
        for loc in self.shards():
            uid = self.owner(loc)
            if uid is not None and uid not in owned:
                with contextlib.suppress(FileNotFoundError, OSError):
                    loc.fs.delete_file(loc.path)
        return stale

    # -- job files ---------------------------------------------------------------------
    def write_manifest(self, status: str, **extra: Any) -> None:
        body = {"job": self.job, "config_hash": self.hash, "config": self.config,
                "versions": versions(), "status": status, "updated_at": time.time(),
                **({"inputs": self.inputs} if self.inputs else {}), **extra}
        write_atomic(self.out.join(MANIFEST), json.dumps(body, indent=2, ensure_ascii=False,
                                                          default=str).encode())

    def write_report(self, report: Mapping[str, Any]) -> None:
        write_atomic(self.out.join(REPORT), json.dumps(report, indent=2, ensure_ascii=False,
                                                        default=str).encode())

    def shards(self) -> list[Location]:
        return [loc for loc in list_files(self.out, ".parquet")
                if os.path.basename(loc.path).startswith("part-")]
