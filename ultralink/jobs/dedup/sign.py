"""Pass 1 of dedup: every row's id, normalised-text hash and MinHash LSH band keys, signed
on Ray tasks (one per shard); and the full signatures of the candidate rows (pass 2).

``b``/``r`` come from datasketch's optimum for the threshold, weighted towards recall; only
compact arrays reach the driver (8 x (b + 1) bytes + the id per row).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from ultralink.core.fs import Location
from ultralink.jobs.dedup.config import DedupConfig, Kind
from ultralink.pipeline.dataflow import declare, remote
from ultralink.text.ngrams import is_cjk, text_hash, tokens, window_hashes


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


def sign_all(shards: list[Location], kind: Kind, cfg: DedupConfig
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
