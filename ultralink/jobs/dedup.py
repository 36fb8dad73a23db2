"""Near-duplicate removal: exact (normalised hash) then MinHash LSH, sharded over Ray tasks.

Three streaming passes over the shards, one Ray task per shard each:

1. every row → its id, a normalised-text hash and ``b`` band keys of its MinHash signature
   (datasketch ``MinHash``; ``b``/``r`` from datasketch's optimum for the threshold,
   weighted towards recall). Only
   these compact arrays reach the driver (8 × (b + 1) bytes + the id per row);
2. the driver groups exact hashes, then sorts each band's keys (numpy) into candidate pairs;
   the candidates' full signatures are fetched and a pair is kept only when its estimated
   Jaccard similarity reaches the threshold (no merge on a band collision alone);
3. connected components (scipy) are the clusters; each keeps its smallest id, and every shard
   is rewritten without the others (:mod:`ultralink.dataset.shard_filter`).

Used by ``ultralink build`` on segments before dialogue generation and on the questions of
each language's final dataset (across subsets).
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field

from ultralink.core.config import Strict
from ultralink.core.fs import Location
from ultralink.pipeline.dataflow import declare, remote
from ultralink.pipeline.runner import JobSummary
from ultralink.text.ngrams import is_cjk, text_hash, tokens, window_hashes

log = logging.getLogger("ultralink.jobs.dedup")

Kind = Literal["segments", "questions"]
MAX_REPORTED = 10_000  # clusters listed in a report; counts are always complete


class DedupConfig(Strict):
    """Near-duplicate removal settings (``dedup:`` in the build config)."""

    segments: bool = Field(True, description="dedup each language's segments before dialogues")
    questions: bool = Field(True, description="dedup each language's final dataset by its "
                            "questions (user turns, <document> block removed), across subsets")
    threshold: float = Field(0.7, gt=0, lt=1, description="estimated Jaccard similarity of "
                             "shingle sets at which two texts are one cluster")
    shingle: int = Field(5, gt=0, description="shingle size in words")
    char_shingle: int = Field(5, gt=0, description="shingle size in characters for "
                              "CJK/Thai text")
    num_perm: int = Field(128, ge=16, le=1024, description="MinHash permutations")


def text_of(kind: Kind, batch: pa.RecordBatch) -> list[str]:
    """The text compared for each row: a segment's text, or a dialogue's questions."""
    if kind == "segments":
        return [t or "" for t in batch.column("text").to_pylist()]
    from ultralink.dataset.stats import strip_document

    out = []
    for msgs in batch.column("messages").to_pylist():
        qs = [strip_document(m["content"] or "")[0] for m in msgs or [] if m["role"] == "user"]
        out.append("\n".join(qs))
    return out


class Signer:
    """MinHash signatures and band keys with fixed permutations (same in every worker)."""

    def __init__(self, cfg: DedupConfig) -> None:
        from datasketch import MinHash
        from datasketch.lsh import _optimal_param

        self.cfg = cfg
        # recall-leaning bands: every candidate pair is verified on its full signature, so a
        # false candidate costs a comparison, a missed one a duplicate left in the data
        self.bands, self.rows = _optimal_param(cfg.threshold, cfg.num_perm, 0.2, 0.8)
        self._template = MinHash(num_perm=cfg.num_perm, seed=1, scheme="affine32")

    def signature(self, text: str) -> np.ndarray:
        from datasketch import MinHash

        toks = tokens(text)
        n = self.cfg.char_shingle if is_cjk(toks) else self.cfg.shingle
        m = MinHash(num_perm=self.cfg.num_perm, hashfunc=int, scheme="affine32",
                    permutations=self._template.permutations)
        m.update_batch((window_hashes(toks, n) & np.uint64(0xFFFFFFFF)).tolist())
        return m.hashvalues.astype(np.uint32)

    def band_keys(self, sigs: np.ndarray) -> np.ndarray:
        """(n, bands) uint64: one hash per band of ``rows`` signature values."""
        used = sigs[:, : self.bands * self.rows].astype(np.uint64)
        banded = used.reshape(len(sigs), self.bands, self.rows)
        h = np.zeros(banded.shape[:2], dtype=np.uint64)
        with np.errstate(over="ignore"):
            for k in range(self.rows):
                h = h * np.uint64(0x100000001B3) + banded[:, :, k] + np.uint64(k + 1)
        return h


def _batches(loc: Location, columns: list[str]):
    import pyarrow.parquet as pq

    with loc.fs.open_input_file(loc.path) as f:
        yield from pq.ParquetFile(f).iter_batches(batch_size=1024, columns=columns)


def _columns(kind: Kind) -> list[str]:
    return ["id", "text"] if kind == "segments" else ["id", "messages"]


@declare(num_cpus=1)
def sign_shard(loc: Location, kind: Kind, cfg: DedupConfig) -> dict[str, Any]:
    """Pass 1 (Ray task): ids, exact hashes and band keys of one shard."""
    signer = Signer(cfg)
    ids: list[str] = []
    hashes: list[int] = []
    bands: list[np.ndarray] = []
    for batch in _batches(loc, _columns(kind)):
        texts = text_of(kind, batch)
        ids.extend(batch.column("id").to_pylist())
        hashes.extend(text_hash(t) for t in texts)
        if texts:
            bands.append(signer.band_keys(np.stack([signer.signature(t) for t in texts])))
    b = np.concatenate(bands) if bands else np.zeros((0, signer.bands), np.uint64)
    return {"ids": ids, "hashes": np.array(hashes, dtype=np.uint64), "bands": b}


@declare(num_cpus=1)
def signatures_of(loc: Location, kind: Kind, cfg: DedupConfig, wanted: set[str]
                  ) -> dict[str, np.ndarray]:
    """Pass 2 (Ray task): full signatures of the candidate rows of one shard."""
    signer = Signer(cfg)
    out: dict[str, np.ndarray] = {}
    for batch in _batches(loc, _columns(kind)):
        for rid, text in zip(batch.column("id").to_pylist(), text_of(kind, batch)):
            if rid in wanted:
                out[rid] = signer.signature(text)
    return out


def _sign_all(shards: list[Location], kind: Kind, cfg: DedupConfig
              ) -> tuple[list[str], np.ndarray, np.ndarray, list[int]]:
    """Every row's id, exact hash and LSH band keys, signed on Ray tasks (one per shard)
    and concatenated in shard order, with the shard each row came from."""
    import ray

    sign = remote(sign_shard)
    ids: list[str] = []
    hashes: list[np.ndarray] = []
    bands: list[np.ndarray] = []
    shard_of: list[int] = []
    pending = {sign.remote(loc, kind, cfg): i for i, loc in enumerate(shards)}
    results: dict[int, dict[str, Any]] = {}
    while pending:  # streaming: results arrive as shards finish, held in shard order
        done, _ = ray.wait(list(pending), num_returns=1)
        results[pending.pop(done[0])] = ray.get(done[0])
    for i in range(len(shards)):
        r = results.pop(i)
        ids.extend(r["ids"])
        hashes.append(r["hashes"])
        bands.append(r["bands"])
        shard_of.extend([i] * len(r["ids"]))
    if not ids:
        return ids, np.zeros(0, np.uint64), np.zeros((0, 0), np.uint64), shard_of
    return ids, np.concatenate(hashes), np.concatenate(bands), shard_of


def _exact_edges(h: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every row joins the first row with its hash (the kept id is chosen later); returns
    the edges and the rows (one per exact group) that go on to LSH."""
    n = len(h)
    order = np.argsort(h, kind="stable")
    first = np.empty(n, dtype=np.int64)
    same = np.r_[False, h[order][1:] == h[order][:-1]]
    run_start = np.maximum.accumulate(np.where(same, 0, np.arange(n)))
    first[order] = order[run_start]
    a = np.nonzero(first != np.arange(n))[0]
    return a, first[a], np.nonzero(first == np.arange(n))[0]


def _candidate_pairs(b: np.ndarray, live: np.ndarray) -> np.ndarray | None:
    """LSH: rows sharing a band key are candidates; each is paired with its run's first row."""
    cand_a: list[np.ndarray] = []
    cand_b: list[np.ndarray] = []
    for j in range(b.shape[1]):
        keys = b[live, j]
        o = np.argsort(keys, kind="stable")
        k = keys[o]
        same = np.r_[False, k[1:] == k[:-1]]
        if not same.any():
            continue
        start = np.maximum.accumulate(np.where(same, 0, np.arange(len(k))))
        sel = np.nonzero(same)[0]
        cand_a.append(live[o[sel]])
        cand_b.append(live[o[start[sel]]])
    if not cand_a:
        return None
    return np.unique(np.stack([np.concatenate(cand_a), np.concatenate(cand_b)], 1), axis=0)


def _similar(pairs: np.ndarray, ids: list[str], shard_of: list[int], shards: list[Location],
             kind: Kind, cfg: DedupConfig) -> np.ndarray:
    """The candidate pairs whose full MinHash signatures agree at ``cfg.threshold`` or more
    (signatures fetched only for the rows in a pair, one task per shard)."""
    import ray

    wanted_by_shard: dict[int, set[str]] = {}
    for r in np.unique(pairs).tolist():
        wanted_by_shard.setdefault(shard_of[r], set()).add(ids[r])
    fetch = remote(signatures_of)
    sigs: dict[str, np.ndarray] = {}
    for part in ray.get([fetch.remote(shards[s], kind, cfg, w)
                         for s, w in sorted(wanted_by_shard.items())]):
        sigs.update(part)
    sim = np.array([np.mean(sigs[ids[a]] == sigs[ids[c]]) for a, c in pairs.tolist()])
    return pairs[sim >= cfg.threshold]


def _clusters(ea: np.ndarray, eb: np.ndarray, ids: list[str], h: np.ndarray,
              report: dict[str, Any]) -> None:
    """Connected components of the duplicate edges; the smallest id of each is kept."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(ids)
    graph = coo_matrix((np.ones(len(ea), dtype=np.int8), (ea, eb)), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    members: dict[int, list[int]] = {}
    touched = np.unique(np.concatenate([ea, eb])) if len(ea) else np.zeros(0, np.int64)
    for r in touched.tolist():
        members.setdefault(int(label[r]), []).append(r)
    clusters = []
    for rows in members.values():
        rows.sort(key=lambda r: ids[r])
        keep, rest = rows[0], rows[1:]
        exact = all(h[r] == h[keep] for r in rest)
        for r in rest:
            why = "exact_duplicate" if h[r] == h[keep] else "near_duplicate"
            report["drop"][ids[r]] = why
            report["exact_dropped" if why == "exact_duplicate" else "near_dropped"] += 1
        clusters.append({"kept": ids[keep], "dropped": [ids[r] for r in rest],
                         "kind": "exact" if exact else "near"})
    clusters.sort(key=lambda c: c["kept"])
    report["clusters_found"] = len(clusters)
    report["clusters"] = clusters[:MAX_REPORTED]


def find_clusters(shards: list[Location], kind: Kind, cfg: DedupConfig) -> dict[str, Any]:
    """Clusters over ``shards``: ``{"clusters": [{kept, dropped, kind}], "drop": {id: kind}}``."""
    ids, h, b, shard_of = _sign_all(shards, kind, cfg)
    report: dict[str, Any] = {"records": len(ids), "clusters": [], "drop": {},
                              "exact_dropped": 0, "near_dropped": 0, "candidate_pairs": 0}
    if len(ids) < 2:
        return report
    exact_a, exact_b, live = _exact_edges(h)
    edges_a, edges_b = [exact_a], [exact_b]
    pairs = _candidate_pairs(b, live)
    if pairs is not None:
        report["candidate_pairs"] = len(pairs)
        ok = _similar(pairs, ids, shard_of, shards, kind, cfg)
        edges_a.append(ok[:, 0])
        edges_b.append(ok[:, 1])
    _clusters(np.concatenate(edges_a), np.concatenate(edges_b), ids, h, report)
    return report


def dedup_shards(shards: list[Location], kind: Kind, cfg: DedupConfig, report_dir: Location,
                 label: str = "") -> dict[str, Any]:
    """Find clusters over ``shards`` and drop all but each cluster's smallest id, in place.

    Writes ``report_dir/_report.json`` (clusters and what was kept) and a ``_manifest.json``
    marking it done; returns the report with a ``summary`` for the build manifest.
    """
    import json
    import time

    import ray

    from ultralink.core.fs import write_atomic

    t0 = time.time()
    found = find_clusters(shards, kind, cfg)
    drop = found.pop("drop")
    if drop:
        drop_ref = ray.put(drop)
        task = remote(_filter_with_ids)
        ray.get([task.remote(loc, drop_ref) for loc in shards])
    signer = Signer(cfg)
    dropped = {k: v for k, v in (("exact_duplicate", found["exact_dropped"]),
                                 ("near_duplicate", found["near_dropped"])) if v}
    report = {"job": "dedup", "kind": kind, "label": label, **cfg.model_dump(),
              "bands": signer.bands, "rows_per_band": signer.rows, **found,
              "kept": found["records"] - len(drop), "wall_s": round(time.time() - t0, 3)}
    report["summary"] = JobSummary(found["records"], report["kept"], dropped).to_dict()
    body = json.dumps(report, indent=2, ensure_ascii=False).encode()
    write_atomic(report_dir.join("_report.json"), body)
    write_atomic(report_dir.join("_manifest.json"), json.dumps(
        {"job": "dedup", "status": "done", "summary": report["summary"]}).encode())
    log.info("dedup %s %s: %d records, %d clusters, %d dropped", kind, label, found["records"],
             found.get("clusters_found", 0), len(drop))
    return report


@declare(num_cpus=1)
def _filter_with_ids(loc: Location, drop: dict[str, str]) -> dict[str, Any]:
    from ultralink.dataset.shard_filter import filter_shard

    def judge(batch: pa.RecordBatch) -> list[dict[str, Any] | None]:
        return [{"reason": drop[i]} if i in drop else None
                for i in batch.column("id").to_pylist()]

    return filter_shard(loc, loc, judge)
