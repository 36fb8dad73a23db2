"""Passes 2 and 3 of dedup, on the driver: exact groups, LSH candidate pairs verified on
their full signatures, and connected components as clusters (each keeps its smallest id).

The driver groups exact hashes, then sorts each band's keys (numpy) into candidate pairs;
the candidates' full signatures are fetched and a pair is kept only when its estimated
Jaccard similarity reaches the threshold (no merge on a band collision alone).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ultralink.core.fs import Location
from ultralink.jobs.dedup.config import DedupConfig, Kind
from ultralink.jobs.dedup.sign import sign_all, signatures_of
from ultralink.pipeline.dataflow import remote

MAX_REPORTED = 10_000  # clusters listed in a report; counts are always complete


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
    ids, h, b, shard_of = sign_all(shards, kind, cfg)
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
