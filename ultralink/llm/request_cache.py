"""Mid-unit resume: completed LLM requests kept beside the output, replayed by a rerun.

A unit's shard is written only when all its rows are done, so a GPU job killed an hour into
a unit would regenerate every finished turn of it. The request cache (datatrove keeps one
too) records each completion as it arrives, keyed by (engine, model, prompt, sampling
parameters, seed), in append-only JSONL segments under ``<output>/_requests/<unit id>/``:
each stage actor buffers its new completions and writes them as a new segment (atomically:
a local rename or one S3 PUT) every ``flush_every`` completions or ``flush_seconds``, and at
the end of every batch. A rerun loads a unit's segments the first time one of its rows asks,
and answers a request whose key is there without calling the engine; the dialogue then
continues exactly where the killed run was (same text, so the same next prompt). Entries are
replayed in the order they were recorded, each once, so two identical requests of one unit
get the two answers the first run got. The directory of a unit is removed when its shard and
marker are written (``UnitCollector``); ``--overwrite`` removes it with the rest.

Results a stage memoises by content (the judge's verdicts, ``StageClient.remember``) are kept
beside it, in ``<output>/_requests/_memo/`` or ``memo_dir`` (:mod:`ultralink.llm.memo`): they
outlive the unit and the job, bounded in memory, so other languages and reruns reuse them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections import defaultdict, deque
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import Field

from ultralink.core.config import Strict
from ultralink.core.fs import (
    Location,
    delete_dir,
    list_files,
    read_bytes,
    resolve,
    write_atomic,
)
from ultralink.core.ids import json_digest
from ultralink.dataset.sink import REQUESTS_DIR
from ultralink.llm.memo import MEMO_DIR, ResultMemo
from ultralink.llm.types import ChatRequest, Completion

log = logging.getLogger("ultralink.llm")



class RequestCacheConfig(Strict):
    """``request_cache:`` in a job config (not hashed: it never changes what is written)."""

    enabled: bool = Field(True, description="keep completed requests beside the output so a "
                          "rerun after a crash never pays twice for a finished turn")
    flush_every: int = Field(32, ge=1, description="completions buffered per stage actor "
                             "before they are written as a segment")
    flush_seconds: float = Field(10.0, gt=0.0, description="…or after this many seconds")
    memo_dir: str | None = Field(None, description="where memoised results (judge verdicts) "
                                 "persist; default <output>/_requests/_memo; jobs that share "
                                 "one (a build's languages) judge each conversation once")
    memo_entries: int = Field(100_000, ge=1, description="memoised results a stage actor "
                              "holds in memory (the rest are read back from memo_dir)")


@dataclass(frozen=True, slots=True)
class CacheSpec:
    """What a stage needs to open the cache (picklable: handed to Ray stage actors)."""

    root: Location          # <output>/_requests
    engine: str
    model: str
    flush_every: int = 32
    flush_seconds: float = 10.0
    memo: Location | None = None   # memoised results (llm.memo); None: in memory only
    memo_entries: int = 100_000

    @classmethod
    def for_output(cls, out: Location, engine: str, model: str,
                   config: RequestCacheConfig | None = None) -> CacheSpec | None:
        cfg = config or RequestCacheConfig()
        if not cfg.enabled:
            return None
        memo = resolve(cfg.memo_dir) if cfg.memo_dir else out.join(REQUESTS_DIR, MEMO_DIR)
        return cls(out.join(REQUESTS_DIR), engine, model, cfg.flush_every, cfg.flush_seconds,
                   memo, cfg.memo_entries)


def request_key(engine: str, model: str, request: ChatRequest) -> str:
    """Everything that decides a completion: engine, model, prompt or messages, sampling
    (temperature, top_p, max_tokens, stop, seed). Not the request id or affinity."""
    payload = {
        "engine": engine, "model": model, "prompt": request.prompt,
        "messages": ([[m.role, m.content] for m in request.messages]
                     if request.messages is not None else None),
        "sampling": asdict(request.sampling),
    }
    return json_digest(payload, length=None)


def _line(key: str, request: ChatRequest, out: Completion) -> str:
    return json.dumps({"key": key, "request_id": request.request_id, "text": out.text,
                       "finish_reason": out.finish_reason, "prompt_tokens": out.prompt_tokens,
                       "completion_tokens": out.completion_tokens,
                       "cached_prompt_tokens": out.cached_prompt_tokens, "model": out.model},
                      ensure_ascii=False)


def _completion(entry: dict[str, Any]) -> Completion:
    return Completion(text=entry["text"], finish_reason=entry["finish_reason"],
                      prompt_tokens=int(entry.get("prompt_tokens", 0)),
                      completion_tokens=int(entry.get("completion_tokens", 0)),
                      cached_prompt_tokens=int(entry.get("cached_prompt_tokens", 0)),
                      model=entry.get("model", ""))


def read_unit(root: Location, unit_id: str) -> list[dict[str, Any]]:
    """Every recorded entry of ``unit_id``, segment by segment (a torn line is skipped)."""
    entries: list[dict[str, Any]] = []
    for seg in list_files(root.join(unit_id), ".jsonl"):
        try:
            data = read_bytes(seg).decode("utf-8")
        except (OSError, FileNotFoundError):
            continue
        for line in data.splitlines():
            try:
                entries.append(json.loads(line))
            except ValueError:
                continue
    return entries


def remove_unit(root: Location, unit_id: str) -> None:
    """Drop a finished unit's entries (its shard and marker are written)."""
    try:
        delete_dir(root.join(unit_id))
        if not root.is_s3:
            import os

            os.rmdir(root.join(unit_id).path)
    except (OSError, FileNotFoundError):
        pass


class RequestCache:
    """One stage actor's cache: replays earlier runs' completions, records new ones."""

    def __init__(self, spec: CacheSpec) -> None:
        self.spec = spec
        self.writer = uuid.uuid4().hex[:12]
        self._seq = 0
        self._replay: dict[str, dict[str, deque[dict[str, Any]]]] = {}
        self._loading: dict[str, asyncio.Task[None]] = {}
        self._buffer: dict[str, list[str]] = defaultdict(list)
        self._buffered = 0
        self._last_flush = time.monotonic()
        self._flush_lock: asyncio.Lock | None = None
        self.hits = 0
        self.memo = ResultMemo(spec.memo, spec.memo_entries)

    async def get(self, unit_id: str, request: ChatRequest) -> Completion | None:
        """The completion an earlier run got for this exact request in this unit, if any."""
        if unit_id not in self._replay:
            task = self._loading.get(unit_id)
            if task is None:
                task = asyncio.ensure_future(self._load(unit_id))
                self._loading[unit_id] = task
            await task
        queue = self._replay[unit_id].get(request_key(self.spec.engine, self.spec.model, request))
        if not queue:
            return None
        self.hits += 1
        return _completion(queue.popleft())

    async def _load(self, unit_id: str) -> None:
        entries = await asyncio.to_thread(read_unit, self.spec.root, unit_id)
        by_key: dict[str, deque[dict[str, Any]]] = defaultdict(deque)
        for e in entries:
            by_key[e["key"]].append(e)
        self._replay[unit_id] = by_key
        if entries:
            log.info("request cache: unit %s has %d completed request(s) to replay", unit_id,
                     len(entries))

    async def put(self, unit_id: str, request: ChatRequest, out: Completion) -> None:
        """Record a fresh completion; written with the next flush."""
        key = request_key(self.spec.engine, self.spec.model, request)
        self._buffer[unit_id].append(_line(key, request, out))
        self._buffered += 1
        if (self._buffered >= self.spec.flush_every
                or time.monotonic() - self._last_flush >= self.spec.flush_seconds):
            await self.flush()

    async def flush(self) -> None:
        """Write every buffered completion as one new segment per unit (atomic), and the
        memoised results remembered since the last flush."""
        await self.memo.flush()
        if self._flush_lock is None:
            self._flush_lock = asyncio.Lock()
        async with self._flush_lock:
            if not self._buffered:
                return
            buffer, self._buffer = self._buffer, defaultdict(list)
            self._buffered = 0
            self._last_flush = time.monotonic()
            writes = []
            for unit_id, lines in buffer.items():
                self._seq += 1
                loc = self.spec.root.join(unit_id, f"_{self.writer}-{self._seq:06d}.jsonl")
                writes.append((loc, ("\n".join(lines) + "\n").encode()))
            try:
                await asyncio.to_thread(_write_all, writes)
            except OSError as exc:  # the cache saves money; it must never fail a batch
                log.warning("request cache: could not write %d segment(s): %s", len(writes), exc)

    def forget(self, unit_id: str) -> None:
        self._replay.pop(unit_id, None)
        self._loading.pop(unit_id, None)


def _write_all(writes: list[tuple[Location, bytes]]) -> None:
    for loc, data in writes:
        write_atomic(loc, data)
