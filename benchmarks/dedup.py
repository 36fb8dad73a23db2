"""Near-duplicate removal on a synthetic corpus with planted near-duplicates.

    python benchmarks/dedup.py [--docs 20000] [--shards 8] [--cpus 2]

Base documents are 80–200 words drawn from a Zipf vocabulary (so common words recur as in real
text). A fraction gets planted near-duplicates (up to 2% of words substituted, deleted or
inserted, case and punctuation changed, or an exact copy); another fraction gets "related"
distinct documents that share their first 40% of words with a base document (boilerplate), which
must not be merged. Everything is written as segment shards and run through
``dedup.find_clusters`` on a local Ray with ``--cpus`` CPUs.

recall: planted (base, copy) pairs that end in one cluster; false_merge: distinct documents
(bases and related ones) that end in a cluster with another distinct document, over all
distinct documents; records_per_s_per_core: records / wall seconds / CPUs (the whole three-pass
job, Ray task start-up included). Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pyarrow as pa
import pyarrow.parquet as pq


def corpus(n_docs: int, seed: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]], set[str]]:
    """(rows (id, text), planted pairs (base id, copy id), ids of distinct documents)."""
    rng = random.Random(seed)
    vocab = [f"{''.join(rng.choice('abcdefghijklmnopqrstuvwxyz') for _ in range(rng.randint(2, 9)))}"
             for _ in range(30_000)]
    weights = [1 / (i + 1) for i in range(len(vocab))]
    rows: list[tuple[str, str]] = []
    planted: list[tuple[str, str]] = []
    distinct: set[str] = set()
    bases: list[list[str]] = []
    for i in range(n_docs):
        words = rng.choices(vocab, weights, k=rng.randint(80, 200))
        bases.append(words)
        rows.append((f"d{i:07d}", " ".join(words) + "."))
        distinct.add(f"d{i:07d}")
    for i, words in enumerate(bases):
        r = rng.random()
        if r < 0.15:  # planted near-duplicates (1–2 copies)
            for c in range(rng.randint(1, 2)):
                w = list(words)
                for _ in range(rng.randint(0, max(1, len(w) // 50))):
                    op = rng.random()
                    k = rng.randrange(len(w))
                    if op < 0.4:
                        w[k] = rng.choice(vocab)
                    elif op < 0.7:
                        del w[k]
                    else:
                        w.insert(k, rng.choice(vocab))
                text = " ".join(w)
                if rng.random() < 0.5:
                    text = text.capitalize().replace(" ", ", ", 3)
                cid = f"n{i:07d}_{c}"
                rows.append((cid, text + "!"))
                planted.append((f"d{i:07d}", cid))
        elif r < 0.20:  # related but distinct: shares 40% of its words with the base
            k = int(len(words) * 0.4)
            w = words[:k] + rng.choices(vocab, weights, k=len(words) - k)
            rid = f"r{i:07d}"
            rows.append((rid, " ".join(w)))
            distinct.add(rid)
    rng.shuffle(rows)
    return rows, planted, distinct


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=20_000)
    ap.add_argument("--shards", type=int, default=8)
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--threshold", type=float, default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import ray

    from ultralink.jobs.dedup import DedupConfig, find_clusters
    from ultralink.core.fs import resolve

    rows, planted, distinct = corpus(args.docs, args.seed)
    cfg = DedupConfig(**({"threshold": args.threshold} if args.threshold else {}))
    with tempfile.TemporaryDirectory() as tmp:
        shards = []
        per = -(-len(rows) // args.shards)
        for s in range(args.shards):
            chunk = rows[s * per:(s + 1) * per]
            path = f"{tmp}/part-{s:05d}.parquet"
            pq.write_table(pa.table({"id": [r[0] for r in chunk], "text": [r[1] for r in chunk]}), path)
            shards.append(resolve(path))
        ray.init(address="local", num_cpus=args.cpus, include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})
        t0 = time.time()
        found = find_clusters(shards, "segments", cfg)
        wall = time.time() - t0
    cluster_of: dict[str, str] = {}
    for c in found["clusters"]:
        for m in [c["kept"], *c["dropped"]]:
            cluster_of[m] = c["kept"]
    hit = sum(1 for a, b in planted if a in cluster_of and cluster_of.get(a) == cluster_of.get(b))
    by_cluster: dict[str, int] = {}
    for d in distinct:
        if d in cluster_of:
            by_cluster[cluster_of[d]] = by_cluster.get(cluster_of[d], 0) + 1
    merged = sum(v for v in by_cluster.values() if v > 1)
    result = {"recall": round(hit / max(1, len(planted)), 4),
              "false_merge": round(merged / len(distinct), 4),
              "records_per_s_per_core": round(len(rows) / wall / args.cpus, 1)}
    print(f"records {len(rows)}, planted pairs {len(planted)}, distinct {len(distinct)}, "
          f"threshold {cfg.threshold}, shingle {cfg.shingle}, num_perm {cfg.num_perm}; "
          f"candidate pairs {found['candidate_pairs']}, clusters {found.get('clusters_found', 0)}, "
          f"exact dropped {found['exact_dropped']}, near dropped {found['near_dropped']}; "
          f"wall {wall:.1f}s on {args.cpus} CPUs")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
