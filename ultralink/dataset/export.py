"""Export a built dataset as JSONL: the UltraLink release format, ShareGPT or OpenAI chat.

One file per language × subset, ``{dest}/{lang}_{subset}.jsonl`` (the release's names), with
records in a deterministic order: sorted by our stable record id. Each file appears whole or
not at all (local: temp file + rename; S3: one upload). Memory stays bounded: each part file
is sorted on its own and spilled to a local Arrow file, then the sorted runs are merged.

Formats (one JSON object per line):

* ``ultralink``: ``{"id": "zh_chat_specific_0", "data": [q, a, q, a, ...]}`` as released: the
  id is ``{lang}_{subset}_{running index}`` (0-based, in id order) and the first question of a
  chat_specific dialogue carries its ``<document>`` block. The release has no place for a
  system message, so one is left out (counted); a record whose messages do not alternate
  user/assistant is skipped (counted). ``{dest}/_idmap/{lang}_{subset}.jsonl`` maps each
  running id to our record id (``{"id": ..., "record_id": ...}``), line for line.
* ``sharegpt``: ``{"id": <record id>, "conversations": [{"from": "system"|"human"|"gpt", "value"}]}``
* ``openai``: ``{"id": <record id>, "messages": [{"role", "content"}]}``

Example::

    ultralink export out/ultralink --format ultralink --dest out/release
    ultralink export s3://bucket/ultralink --format openai --dest s3://bucket/openai --languages zh fr
"""

from __future__ import annotations

import heapq
import json
import os
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from pyarrow import ipc

from ultralink.core.fs import Location, resolve, staging_file, upload_file, write_atomic
from ultralink.dataset.files import dataset_parts, iter_part_batches

FORMATS = ("ultralink", "sharegpt", "openai")
IDMAP_DIR = "_idmap"
SUMMARY_FILE = "_export.json"
SHAREGPT_ROLES = {"system": "system", "user": "human", "assistant": "gpt"}


@dataclass(slots=True)
class GroupResult:
    written: int = 0
    skipped_malformed: int = 0        # ultralink format: messages do not alternate user/assistant
    dropped_system: int = 0           # ultralink format: leading system message left out
    duplicate_ids: int = 0            # the same record id twice (kept once)
    files: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------ records


def to_ultralink(messages: list[dict[str, Any]], running_id: str) -> tuple[dict[str, Any] | None, bool]:
    """``({"id", "data"} or None when malformed, dropped_system)``."""
    dropped = bool(messages) and messages[0]["role"] == "system"
    body = messages[1:] if dropped else messages
    if not body or len(body) % 2:
        return None, dropped
    for i, m in enumerate(body):
        if m["role"] != ("user" if i % 2 == 0 else "assistant"):
            return None, dropped
    return {"id": running_id, "data": [m["content"] or "" for m in body]}, dropped


def to_sharegpt(record_id: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": record_id, "conversations": [
        {"from": SHAREGPT_ROLES.get(m["role"], m["role"]), "value": m["content"] or ""} for m in messages]}


def to_openai(record_id: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": record_id, "messages": [{"role": m["role"], "content": m["content"] or ""}
                                          for m in messages]}


# ------------------------------------------------------------------------------ sorted read


RUN_BATCH_BYTES = 1 << 20   # Arrow batch size in spilled runs: the merge holds one per run
FAN_IN = 64                 # runs merged at once; more runs are merged in passes first


def _write_run(table: pa.Table, path: str) -> None:
    per_row = max(1, table.nbytes // max(1, table.num_rows))
    rows = max(16, min(1024, RUN_BATCH_BYTES // per_row))
    with ipc.new_file(path, table.schema) as writer:
        writer.write_table(table, max_chunksize=rows)


def _spill_sorted(parts: list[Location], tmp_dir: str) -> list[str]:
    """Each part's ``id``/``messages`` sorted by id into a local Arrow file (one part in memory)."""
    runs = []
    for i, loc in enumerate(parts):
        table = pa.Table.from_batches(list(iter_part_batches(loc, ["id", "messages"])))
        if table.num_rows == 0:
            continue
        table = table.select(["id", "messages"]).sort_by("id")
        path = os.path.join(tmp_dir, f"run-{i:06d}.arrow")
        _write_run(table, path)
        runs.append(path)
        del table
    return runs


def _iter_run(path: str) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    with pa.OSFile(path, "rb") as source:   # not memory_map: touched pages would stay resident
        reader = ipc.open_file(source)
        for b in range(reader.num_record_batches):
            batch = reader.get_batch(b)
            yield from zip(batch.column("id").to_pylist(), batch.column("messages").to_pylist())


def _merge_runs(runs: list[str]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    return heapq.merge(*(_iter_run(p) for p in runs), key=lambda r: r[0])


def _reduce_runs(runs: list[str], tmp_dir: str) -> list[str]:
    """Merge runs ``FAN_IN`` at a time until at most ``FAN_IN`` remain (bounded open batches)."""
    level = 0
    while len(runs) > FAN_IN:
        merged = []
        for g in range(0, len(runs), FAN_IN):
            group = runs[g:g + FAN_IN]
            path = os.path.join(tmp_dir, f"merge-{level}-{g // FAN_IN:06d}.arrow")
            with pa.OSFile(group[0], "rb") as f:
                schema = ipc.open_file(f).schema
            with ipc.new_file(path, schema) as writer:
                rows: list[dict[str, Any]] = []
                size = 0
                for rid, messages in _merge_runs(group):
                    rows.append({"id": rid, "messages": messages})
                    size += len(rid) + sum(len(m["content"] or "") for m in messages or [])
                    if size >= RUN_BATCH_BYTES:
                        writer.write_table(pa.Table.from_pylist(rows, schema=schema))
                        rows, size = [], 0
                if rows:
                    writer.write_table(pa.Table.from_pylist(rows, schema=schema))
            for p in group:
                os.unlink(p)
            merged.append(path)
        runs = merged
        level += 1
    return runs


def iter_sorted(parts: list[Location]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """``(record id, messages)`` of all parts in id order, holding one batch per open run."""
    with tempfile.TemporaryDirectory(prefix="ultralink-export-") as tmp:
        runs = _reduce_runs(_spill_sorted(parts, tmp), tmp)
        yield from _merge_runs(runs)


# ------------------------------------------------------------------------------ writing


class _AtomicText:
    """A text file written locally, then renamed into place (local) or uploaded (S3)."""

    def __init__(self, loc: Location) -> None:
        self.loc = loc
        tmp_dir = None if loc.is_s3 else os.path.dirname(loc.path)
        if tmp_dir:
            os.makedirs(tmp_dir, exist_ok=True)
        fd, self.tmp = staging_file(tmp_dir, ".tmp-", ".jsonl")
        self.f = os.fdopen(fd, "w", encoding="utf-8", newline="\n")

    def write(self, obj: dict[str, Any]) -> None:
        self.f.write(json.dumps(obj, ensure_ascii=False))
        self.f.write("\n")

    def commit(self) -> None:
        self.f.close()
        if self.loc.is_s3:
            upload_file(self.tmp, self.loc)
            os.unlink(self.tmp)
        else:
            os.replace(self.tmp, self.loc.path)

    def abort(self) -> None:
        if not self.f.closed:
            self.f.close()
        if os.path.exists(self.tmp):
            os.unlink(self.tmp)


def export_group(parts: list[Location], lang: str, subset: str, fmt: str, dest: Location,
                 idmap: bool = True) -> GroupResult:
    """Write ``{dest}/{lang}_{subset}.jsonl`` (and its id map for ``ultralink``)."""
    name = f"{lang}_{subset}"
    res = GroupResult()
    out = _AtomicText(dest.join(f"{name}.jsonl"))
    ids = _AtomicText(dest.join(IDMAP_DIR, f"{name}.jsonl")) if fmt == "ultralink" and idmap else None
    try:
        last = None
        for record_id, messages in iter_sorted(parts):
            if record_id == last:
                res.duplicate_ids += 1
                continue
            last = record_id
            messages = messages or []
            if fmt == "ultralink":
                running = f"{name}_{res.written}"
                obj, dropped = to_ultralink(messages, running)
                res.dropped_system += dropped
                if obj is None:
                    res.skipped_malformed += 1
                    continue
                if ids is not None:
                    ids.write({"id": running, "record_id": record_id})
            elif fmt == "sharegpt":
                obj = to_sharegpt(record_id, messages)
            else:
                obj = to_openai(record_id, messages)
            out.write(obj)
            res.written += 1
        out.commit()
        res.files.append(f"{name}.jsonl")
        if ids is not None:
            ids.commit()
            res.files.append(f"{IDMAP_DIR}/{name}.jsonl")
    except BaseException:
        out.abort()
        if ids is not None:
            ids.abort()
        raise
    return res


def export(output_uri: str, dest_uri: str, fmt: str, languages: Iterable[str] | None = None,
           subsets: Iterable[str] | None = None, idmap: bool = True) -> dict[str, Any]:
    """Export every present language × subset; returns the summary also written to ``_export.json``.

    The summary's ``counts`` maps ``{lang}_{subset}`` to records written.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    t0 = time.perf_counter()
    root = resolve(output_uri)
    dest = resolve(dest_uri)
    groups = dataset_parts(root, languages, subsets)
    summary: dict[str, Any] = {"source": root.uri, "format": fmt, "counts": {}, "skipped_malformed": {},
                               "dropped_system": {}, "duplicate_ids": {}, "files": []}
    for (lang, subset), parts in groups.items():
        res = export_group(parts, lang, subset, fmt, dest, idmap)
        key = f"{lang}_{subset}"
        summary["counts"][key] = res.written
        for name in ("skipped_malformed", "dropped_system", "duplicate_ids"):
            if getattr(res, name):
                summary[name][key] = getattr(res, name)
        summary["files"] += res.files
    summary["total"] = sum(summary["counts"].values())
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    write_atomic(dest.join(SUMMARY_FILE), (json.dumps(summary, indent=2) + "\n").encode())
    return summary


def format_summary(summary: dict[str, Any]) -> str:
    lines = [f"exported {summary['total']:,} records as {summary['format']} in {summary['seconds']}s"]
    for key, n in summary["counts"].items():
        extra = [f"{name}={summary[name][key]:,}" for name in ("skipped_malformed", "dropped_system",
                                                               "duplicate_ids") if key in summary[name]]
        lines.append(f"  {key + '.jsonl':<28} {n:>10,}" + (f"  ({', '.join(extra)})" if extra else ""))
    return "\n".join(lines)
