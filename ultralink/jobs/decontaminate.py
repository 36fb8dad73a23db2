"""Benchmark decontamination: drop records that share an n-gram with an evaluation set.

Evaluation sets (JSONL, TSV with or without a header, Parquet; local or ``s3://``) are read
once on the driver into a sorted array of n-gram hashes — 13 words, or 13 characters for
CJK/Thai text (:mod:`ultralink.text.ngrams`) — built per text field of each row (ids such as
``task_id`` are skipped). The index goes to the workers once (``ray.put``); one Ray task per
shard streams its records and drops any with a message sharing an n-gram with a set, reason
``contaminated:<set>`` (the set is the file name without extensions). A text shorter than n
tokens matches only a whole message equal to it after normalisation, and only when it has more
than n/2 tokens (a bare answer such as ``48`` is no evidence).

``ultralink build`` runs it over every language × subset when ``decontaminate:`` lists sets;
``ultralink decontaminate`` cleans an existing dataset into a new root::

    ultralink decontaminate --dataset out/ --against gsm8k_test.jsonl \\
        --against s3://evals/mgsm_zh.tsv --output out-clean/
"""

from __future__ import annotations

import csv
import io
import json
import logging
import posixpath
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from ultralink.core.fs import Location, read_bytes, resolve, write_atomic
from ultralink.pipeline.dataflow import declare, remote
from ultralink.pipeline.runner import JobSummary
from ultralink.text.ngrams import is_cjk, tokens, window_hashes

log = logging.getLogger("ultralink.jobs.decontaminate")

REPORT_FILE = "_decontamination.json"
WORD_N = 13
CHAR_N = 13
SNIPPET = 400
_ID_KEYS = {"id", "task_id", "idx", "entry_point", "index", "qid", "uid"}


def set_name(uri: str) -> str:
    """``s3://b/evals/gsm8k_test.jsonl.gz`` → ``gsm8k_test``."""
    return posixpath.basename(uri.rstrip("/")).split(".")[0]


def eval_rows(loc: Location) -> Iterator[list[str]]:
    """The text fields of each row of one evaluation file (JSONL, TSV, Parquet)."""
    name = loc.path.lower()
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        with loc.fs.open_input_file(loc.path) as f:
            for batch in pq.ParquetFile(f).iter_batches(batch_size=1024):
                for row in batch.to_pylist():
                    yield _fields(row)
        return
    raw = read_bytes(loc)
    if name.endswith(".gz"):
        import gzip

        raw = gzip.decompress(raw)
    text = raw.decode("utf-8")
    if ".tsv" in name:
        for cells in csv.reader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE):
            yield [c for c in cells if c.strip()]
        return
    if ".jsonl" in name or ".json" in name:
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise ValueError(f"{loc.uri}:{n}: not a JSON line ({exc})") from None
            yield _fields(row) if isinstance(row, dict) else [str(row)]
        return
    raise ValueError(f"{loc.uri}: unknown evaluation-set format (expected .jsonl, .tsv or "
                     ".parquet)")


def _fields(row: dict[str, Any]) -> list[str]:
    out = []
    for key, value in row.items():
        if key.lower() in _ID_KEYS:
            continue
        if isinstance(value, str) and value.strip():
            out.append(value)
        elif isinstance(value, list):  # e.g. MMLU choices
            out.extend(v for v in value if isinstance(v, str) and v.strip())
    return out


@dataclass
class EvalIndex:
    """Sorted n-gram hashes of the evaluation sets, each pointing at the row it came from."""

    word_n: int
    char_n: int
    names: list[str] = field(default_factory=list)
    uris: list[str] = field(default_factory=list)
    hashes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))
    row: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint32))
    row_set: list[int] = field(default_factory=list)
    row_text: list[str] = field(default_factory=list)
    rows_per_set: list[int] = field(default_factory=list)

    def grams(self, text: str) -> tuple[list[str], np.ndarray, int]:
        toks = tokens(text)
        n = self.char_n if is_cjk(toks) else self.word_n
        return toks, window_hashes(toks, n), n

    def match(self, text: str) -> dict[str, Any] | None:
        """The first evaluation row ``text`` shares an n-gram with, or None."""
        if not len(self.hashes):
            return None
        toks, h, n = self.grams(text)
        if not len(h):
            return None
        pos = np.searchsorted(self.hashes, h)
        pos[pos >= len(self.hashes)] = 0
        hit = np.nonzero(self.hashes[pos] == h)[0]
        if not len(hit):
            return None
        k = int(hit[0])
        r = int(self.row[pos[k]])
        sep = "" if is_cjk(toks) else " "
        return {"set": self.names[self.row_set[r]], "eval_row": r - self._first_row(r),
                "matched": self.row_text[r], "overlap": sep.join(toks[k:k + n])}

    def _first_row(self, r: int) -> int:
        s = self.row_set[r]
        return sum(self.rows_per_set[:s])


def build_index(uris: list[str], word_n: int = WORD_N, char_n: int = CHAR_N) -> EvalIndex:
    """Read every evaluation set into one :class:`EvalIndex` (driver side)."""
    from ultralink.core.fs import expand_inputs

    idx = EvalIndex(word_n, char_n)
    chunks: list[np.ndarray] = []
    owners: list[np.ndarray] = []
    for uri in uris:
        files, problems = expand_inputs([uri])
        if problems:
            raise ValueError(f"evaluation set {problems[0]}")
        name = set_name(uri if len(files) != 1 else files[0].uri)
        if name in idx.names:
            raise ValueError(f"two evaluation sets are named {name!r} ({uri}); rename one")
        s = len(idx.names)
        idx.names.append(name)
        idx.uris.append(uri)
        n_rows = 0
        for loc in files:
            for texts in eval_rows(loc):
                r = len(idx.row_text)
                idx.row_set.append(s)
                idx.row_text.append(" | ".join(texts)[:SNIPPET])
                n_rows += 1
                for t in texts:
                    toks, h, n = idx.grams(t)
                    if len(toks) < n and len(toks) <= n // 2:
                        continue  # a bare answer ("48") or label is no evidence of anything
                    chunks.append(h)
                    owners.append(np.full(len(h), r, np.uint32))
        idx.rows_per_set.append(n_rows)
        log.info("evaluation set %s: %d rows from %s", name, n_rows, uri)
    if chunks:
        h = np.concatenate(chunks)
        o = np.concatenate(owners)
        order = np.argsort(h, kind="stable")
        h, o = h[order], o[order]
        first = np.r_[True, h[1:] != h[:-1]]
        idx.hashes, idx.row = h[first], o[first]
    return idx


def _texts(batch: pa.RecordBatch) -> list[list[str]]:
    if "messages" in batch.schema.names:
        return [[m["content"] or "" for m in msgs or []]
                for msgs in batch.column("messages").to_pylist()]
    if "text" in batch.schema.names:
        return [[t or ""] for t in batch.column("text").to_pylist()]
    raise ValueError(f"no 'messages' or 'text' column; present: {batch.schema.names}")


@declare(num_cpus=1)
def clean_shard(src: Location, dst: Location, index: EvalIndex) -> dict[str, Any]:
    """Ray task: ``src`` without its contaminated records, written to ``dst``."""
    from ultralink.dataset.shard_filter import filter_shard

    def judge(batch: pa.RecordBatch) -> list[dict[str, Any] | None]:
        out: list[dict[str, Any] | None] = []
        for texts in _texts(batch):
            found = None
            for t in texts:
                found = index.match(t)
                if found:
                    found = {"reason": f"contaminated:{found['set']}", **found}
                    break
            out.append(found)
        return out

    return filter_shard(src, dst, judge)


def decontaminate(shards: list[Location], src_root: Location, dst_root: Location,
                  against: list[str], word_n: int = WORD_N, char_n: int = CHAR_N,
                  report_to: Location | None = None) -> dict[str, Any]:
    """Clean ``shards`` (under ``src_root``) into the same paths under ``dst_root``.

    Writes the report (every removed id, its set, the evaluation text and the overlapping
    n-gram) to ``report_to`` (default ``dst_root/_decontamination.json``) and returns it.
    """
    import ray

    from ultralink.dataset.shard_filter import retarget

    t0 = time.time()
    index = build_index(against, word_n, char_n)
    ref = ray.put(index)
    task = remote(clean_shard)
    results = ray.get([task.remote(s, retarget(s, src_root, dst_root), ref) for s in shards])
    removed = [d for r in results for d in r["drops"]]
    removed.sort(key=lambda d: d["id"])
    by_set = {n: 0 for n in index.names}
    for d in removed:
        by_set[d["set"]] += 1
    report = {
        "job": "decontaminate", "dataset": src_root.uri, "output": dst_root.uri,
        "word_ngram": word_n, "char_ngram": char_n,
        "sets": [{"name": n, "uri": u, "rows": r}
                 for n, u, r in zip(index.names, index.uris, index.rows_per_set)],
        "checked": sum(r["rows_in"] for r in results),
        "kept": sum(r["rows_out"] for r in results),
        "removed": len(removed), "removed_by_set": by_set,
        "removed_records": [{k: d[k] for k in ("id", "set", "eval_row", "matched", "overlap")}
                            for d in removed],
        "wall_s": round(time.time() - t0, 3),
    }
    report["summary"] = JobSummary(report["checked"], report["kept"], {
        f"contaminated:{k}": v for k, v in by_set.items() if v}).to_dict()
    write_atomic(report_to or dst_root.join(REPORT_FILE),
                 json.dumps(report, indent=2, ensure_ascii=False).encode())
    log.info("decontaminate: %d of %d records removed (%s)", len(removed), report["checked"],
             ", ".join(f"{k}={v}" for k, v in by_set.items()))
    return report


def run_decontaminate(dataset: str, against: list[str], output: str, word_n: int = WORD_N,
                      char_n: int = CHAR_N, ray_address: str | None = None,
                      overwrite: bool = False) -> dict[str, Any]:
    """``ultralink decontaminate``: the cleaned dataset, same layout, under ``output``."""
    from ultralink.core.fs import NoInput, delete_dir, exists
    from ultralink.pipeline.runtime import init_ray
    from ultralink.dataset.shard_filter import copy_bookkeeping, parts
    from ultralink.dataset.sink import OutputConflict

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
    report = decontaminate(shards, src, dst, against, word_n, char_n)
    if exists(src.join("stats.json")):  # refresh the numbers and the card of a built dataset
        from ultralink.dataset.card import write_card
        from ultralink.dataset.stats import write_stats

        config = None
        if exists(dst.join("_manifest.json")):
            config = json.loads(read_bytes(dst.join("_manifest.json"))).get("config")
        stats = write_stats(dst.uri)
        write_card(dst.uri, stats, config)
    return report
