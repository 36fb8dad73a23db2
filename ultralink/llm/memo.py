"""Results memoised by content (judge verdicts): bounded in memory, persistent beside the output.

Why it exists: the criteria judge's verdict depends only on the English conversation and the
judge's settings (``criteria_filter.verdict_key``), so every target language, and a rerun after
a crash, can reuse it instead of paying for the LLM call again. Keeping verdicts in the pool's
supervisor held them all in memory for the job and lost them with the actor; here they live
in the request cache's directory (``<output>/_requests/_memo/`` unless ``request_cache.memo_dir``
names one shared by several jobs, as ``ultralink build`` does for its languages).

Layout and bounds: values are JSON; keys fall into 16 shards (first hex digit of their
SHA-256), each a folder of append-only JSONL segments written atomically by :meth:`flush`
(one per shard touched). A stage actor reads a shard once, on its first miss there, into an
LRU of ``max_entries`` values; a shard that lost an entry to the LRU is read again on its next
miss. A shard of more than ``compact_at`` segments is rewritten as one by the reader. A miss
only costs the call it would have saved, so a torn line or an unreadable segment is skipped.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
from collections import OrderedDict
from typing import Any

from ultralink.core.fs import Location, list_files, read_bytes, write_atomic

log = logging.getLogger("ultralink.llm")

MEMO_DIR = "_memo"


def shard_of(key: str) -> str:
    """The shard folder of ``key`` (one of 16)."""
    return hashlib.sha256(key.encode()).hexdigest()[0]


def _segment(entries: dict[str, str]) -> bytes:
    return "".join(f'{{"key": {json.dumps(k)}, "value": {v}}}\n'
                   for k, v in entries.items()).encode()


def read_shard(root: Location, shard: str, compact_at: int = 64,
               writer: str = "") -> dict[str, str]:
    """Every ``key → JSON value`` stored in ``shard`` (compacted when it has many segments)."""
    entries: dict[str, str] = {}
    segments = list_files(root.join(shard), ".jsonl")
    for seg in segments:
        try:
            data = read_bytes(seg).decode("utf-8")
        except (OSError, FileNotFoundError, UnicodeDecodeError):
            continue
        for line in data.splitlines():
            try:
                entry = json.loads(line)
                entries[entry["key"]] = json.dumps(entry["value"], ensure_ascii=False)
            except (ValueError, KeyError, TypeError):
                continue
    if len(segments) > compact_at and entries:
        try:
            write_atomic(root.join(shard, f"_{writer or uuid.uuid4().hex[:12]}-compact.jsonl"),
                         _segment(entries))
            for seg in segments:
                if not seg.path.endswith(f"_{writer}-compact.jsonl"):
                    seg.fs.delete_file(seg.path)
        except OSError as exc:  # compaction only saves listing time; never fail a batch
            log.warning("memo: could not compact shard %s: %s", shard, exc)
    return entries


class ResultMemo:
    """One stage actor's view of the memo; ``root=None`` keeps it in memory only."""

    def __init__(self, root: Location | None, max_entries: int = 100_000,
                 compact_at: int = 64) -> None:
        self.root = root
        self.max_entries = max_entries
        self.compact_at = compact_at
        self.writer = uuid.uuid4().hex[:12]
        self._seq = 0
        self._lru: OrderedDict[str, str] = OrderedDict()
        self._loaded: set[str] = set()
        self._loading: dict[str, asyncio.Task[None]] = {}
        self._buffer: dict[str, dict[str, str]] = {}
        self._flush_lock: asyncio.Lock | None = None
        self.hits = 0

    def __len__(self) -> int:
        """Values held in memory now (at most ``max_entries``)."""
        return len(self._lru)

    async def recall(self, key: str) -> Any:
        """The value stored under ``key`` by this or an earlier run (any actor), or None."""
        raw = self._lru.get(key)
        if raw is None and self.root is not None:
            shard = shard_of(key)
            raw = self._buffer.get(shard, {}).get(key)
            if raw is None and shard not in self._loaded:
                await self._load(shard)
                raw = self._lru.get(key)
        if raw is None:
            return None
        if key in self._lru:
            self._lru.move_to_end(key)
        self.hits += 1
        return json.loads(raw)

    async def remember(self, key: str, value: Any) -> None:
        """Store a JSON-able value; written with the next :meth:`flush`."""
        raw = json.dumps(value, ensure_ascii=False)  # keys keep their order (the output's)
        self._keep(key, raw)
        if self.root is not None:
            self._buffer.setdefault(shard_of(key), {})[key] = raw

    def _keep(self, key: str, raw: str) -> None:
        self._lru[key] = raw
        self._lru.move_to_end(key)
        while len(self._lru) > self.max_entries:
            old, _ = self._lru.popitem(last=False)
            self._loaded.discard(shard_of(old))  # its next miss reads the shard again

    async def _load(self, shard: str) -> None:
        task = self._loading.get(shard)
        if task is None:
            task = asyncio.ensure_future(asyncio.to_thread(
                read_shard, self.root, shard, self.compact_at, self.writer))
            self._loading[shard] = task
        try:
            entries = await task
        except OSError as exc:
            log.warning("memo: could not read shard %s: %s", shard, exc)
            entries = {}
        finally:
            self._loading.pop(shard, None)
        if shard in self._loaded:
            return  # another row's load of this shard finished first
        for key, raw in entries.items():
            if key not in self._lru:
                self._keep(key, raw)
        self._loaded.add(shard)

    async def flush(self) -> None:
        """Write what was remembered since the last flush: one new segment per shard."""
        if self.root is None:
            return
        if self._flush_lock is None:
            self._flush_lock = asyncio.Lock()
        async with self._flush_lock:
            if not self._buffer:
                return
            buffer, self._buffer = self._buffer, {}
            writes = []
            for shard, entries in sorted(buffer.items()):
                self._seq += 1
                loc = self.root.join(shard, f"_{self.writer}-{self._seq:06d}.jsonl")
                writes.append((loc, _segment(entries)))
            try:
                await asyncio.to_thread(_write_all, writes)
            except OSError as exc:  # the memo saves money; it must never fail a batch
                log.warning("memo: could not write %d segment(s): %s", len(writes), exc)


def _write_all(writes: list[tuple[Location, bytes]]) -> None:
    for loc, data in writes:
        write_atomic(loc, data)
