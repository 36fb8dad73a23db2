"""Near-duplicate removal: exact (normalised hash) then MinHash LSH, sharded over Ray tasks.

Three streaming passes over the shards, one Ray task per shard each: :mod:`.sign` (ids,
exact hashes, band keys), :mod:`.cluster` (candidate pairs verified on full signatures,
connected components) and :mod:`.job` (every shard rewritten without the dropped ids, via
:mod:`ultralink.dataset.shard_filter`, and the report). Used by ``ultralink build`` on
segments before dialogue generation and on the questions of each language's final dataset
(across subsets).
"""

from ultralink.jobs.dedup.cluster import MAX_REPORTED, find_clusters
from ultralink.jobs.dedup.config import DedupConfig, Kind
from ultralink.jobs.dedup.job import DedupJob, dedup_shards
from ultralink.jobs.dedup.sign import Signer, sign_shard, signatures_of, text_of

__all__ = ["MAX_REPORTED", "DedupConfig", "DedupJob", "Kind", "Signer", "dedup_shards",
           "find_clusters", "sign_shard", "signatures_of", "text_of"]
