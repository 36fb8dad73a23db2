"""The base of every LLM stage: an async Ray Data UDF that runs all rows of a batch at once.

A subclass writes one coroutine per row, ``process_row(row, client)``, which may make several
sequential requests (a multi-turn dialogue is a small state machine in that coroutine). The
base runs every row of a batch concurrently (and Ray Data runs several batches of one actor
concurrently), so the hosts always hold hundreds of requests and continuous batching never
waits on a turn barrier. It checks the declared input columns on the first batch, turns
per-row LLM failures into counted drops, and pushes its counters to the pool's supervisor
after every batch, so they outlive Ray Data's stage actors.

Example::

    class Answer(LLMStage):
        name = "answer"
        reads = {"id": "row id (request affinity)", "question": "the user's question"}
        writes = {"answer": "the model's answer"}

        async def process_row(self, row, client):
            out = await client.generate(ChatRequest(
                messages=[Message("user", row["question"])], affinity=row["id"]))
            if len(out.text) < 10:
                raise Drop("short_answer")
            return {"answer": out.text}

    stages = [..., Answer.stage(pool, concurrency=2)]   # batching sized from the hosts' capacity

``stage`` declares ``map_batches`` with what an async LLM stage needs, sized from the hosts' real
capacity (:func:`stage_sizing`): a batch keeps its Ray Data task until its slowest row ends,
so each stage actor runs many *small* batches at once, enough that the rows in flight stay
above the hosts' gates (the surplus waits in the host, oldest dialogue first) whatever the
tail of dialogue lengths. Nobody sets batch sizes; the actor pool starts at its full size.

Rows a stage drops leave the output and are counted as ``dropped_<reason>`` (LLM failures
after retries: ``dropped_llm_<reason>``); ``keep_dropped=True`` keeps them instead, with a
``drop_reason`` column ("" for kept rows) and the ``Drop``'s ``drop_detail``, so a job's
collector sees the fate of every row.
Every row carries its outcome counts (``row_counts``, :mod:`ultralink.pipeline.outcome`):
what ``process_row`` counted (``Kept(columns, counts)`` or ``Drop(reason, counts)``) plus the
stage's ``every_row`` counts.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import pyarrow as pa

from ultralink.llm.memo import ResultMemo
from ultralink.core.counters import Counters
from ultralink.core.stage import error_reason
from ultralink.dataset.sink import UnitStore
from ultralink.llm.metrics import LLMMetrics
from ultralink.llm.request_cache import REQUESTS_DIR, CacheSpec, RequestCache, remove_unit
from ultralink.llm.types import ChatRequest, Completion, EngineGone, RequestError
from ultralink.pipeline.dataflow import Actors, RayStage, Resources
from ultralink.hosting.pool import HostPool
from ultralink.pipeline.rows import rows_of, to_table
from ultralink.pipeline.outcome import (DETAIL_COLUMN, DROP_COLUMN, UNIT_COLUMN, Drop, Kept,
                                        counts_columns, counts_of, outcome_types)

__all__ = ["DROP_COLUMN", "Drop", "Kept", "LLMStage", "StageClient", "spend_request_cache",
           "stage_sizing"]


def spend_request_cache(store: UnitStore) -> Callable[[str], None]:
    """The hook an LLM job gives its ``UnitCollector``: a finished unit's request cache is
    spent (its shard and marker are written), so it is removed."""
    root = store.out.join(REQUESTS_DIR)
    return lambda unit_id: remove_unit(root, unit_id)

log = logging.getLogger("ultralink.llm")

class StageClient:
    """What ``process_row`` talks to: the pool, counting into this stage's metrics.

    With a request cache (``cache`` + the row's ``unit``), a request an earlier run of the
    unit completed is answered from the cache, and every fresh completion is recorded.
    ``recall``/``remember`` go to ``memo`` (the request cache's, persistent; else in memory).
    """

    def __init__(self, pool: HostPool, metrics: LLMMetrics, cache: RequestCache | None = None,
                 unit: str = "", memo: ResultMemo | None = None) -> None:
        self.pool = pool
        self.metrics = metrics
        self.cache = cache
        self.unit = unit
        self.memo = memo if memo is not None else (
            cache.memo if cache is not None else ResultMemo(None))

    async def generate(self, request: ChatRequest) -> Completion:
        """A completion, retried as the pool's policy says; raises RequestError at the end.

        Set ``request.affinity`` to the dialogue's id so all its turns hit one host's cache.
        """
        if self.cache is not None:
            replayed = await self.cache.get(self.unit, request)
            if replayed is not None:
                self.metrics.counters.add("requests_replayed")
                return replayed
            out = await self.pool.generate(request, self.metrics)
            await self.cache.put(self.unit, request, out)
            return out
        return await self.pool.generate(request, self.metrics)

    async def info(self) -> dict[str, Any]:
        """``model``, ``max_model_len`` and ``max_in_flight`` of the hosts (token budgets)."""
        return await self.pool.info()

    async def recall(self, key: str) -> Any:
        """A result stored with :meth:`remember` under this content key, by this run or an
        earlier one (another language, a run before a crash), or None."""
        return await self.memo.recall(key)

    async def remember(self, key: str, value: Any) -> None:
        """Keep a small JSON-able result under a key that names its content."""
        await self.memo.remember(key, value)


class LLMStage:
    """Base class; subclasses set ``name``, ``reads``, ``writes`` and write ``process_row``."""

    name: ClassVar[str] = ""
    reads: ClassVar[Mapping[str, str]] = {}
    writes: ClassVar[Mapping[str, str]] = {}
    # What one stage actor reserves: it only holds requests and waits on the engine hosts
    # (which reserve the GPUs), so a fraction of a CPU.
    resources: ClassVar[Resources] = Resources(num_cpus=0.25)
    # Written columns with a fixed Arrow type (records.py): every batch gets that type
    # whatever its rows hold (all-null fields would otherwise be inferred batch by batch).
    column_types: ClassVar[Mapping[str, Callable[[], pa.DataType]]] = {}
    # Counts every row of this stage carries whatever becomes of it (e.g. ``dialogues_in``),
    # LLM failures and errors included.
    every_row: ClassVar[Mapping[str, int]] = {}

    def __init__(self, pool: HostPool, *, keep_dropped: bool = False,
                 request_cache: CacheSpec | None = None) -> None:
        self.pool = pool
        self.keep_dropped = keep_dropped
        self.metrics = LLMMetrics()
        self._cache = RequestCache(request_cache) if request_cache is not None else None
        self._memo = self._cache.memo if self._cache is not None else ResultMemo(None)
        self._client = StageClient(pool, self.metrics, memo=self._memo)
        self._checked = False
        self._setup_done = False
        self._setup_lock: asyncio.Lock | None = None
        self._unreported: dict[str, Any] | None = None

    @property
    def stage_name(self) -> str:
        return self.name or re.sub(r"(?<!^)(?=[A-Z])", "_", type(self).__name__).lower()

    @classmethod
    def stage(cls, pool: HostPool, *, concurrency: int | tuple[int, int] = 1,
              batch_size: int | None = None, max_concurrent_batches: int | None = None,
              num_cpus: float | None = None, **stage_kwargs: Any) -> RayStage:
        """This stage, declared for a job's stage list: many small batches in flight per actor.

        Args:
            concurrency: stage actors (or ``(min, max)``); they only wait on the hosts, so a
                few per job are enough — the GPUs are sized by the pool, not here.
            batch_size, max_concurrent_batches: ``None`` (the default): from
                :func:`stage_sizing` of the pool's capacity; rows in flight per actor =
                ``batch_size × max_concurrent_batches``.
            num_cpus: instead of the declared ``resources``.
        """
        lo, hi = concurrency if isinstance(concurrency, tuple) else (concurrency, concurrency)
        if batch_size is None or max_concurrent_batches is None:
            auto = stage_sizing(pool.capacity()["total_in_flight"], hi)
            batch_size = batch_size or auto.batch_size
            max_concurrent_batches = max_concurrent_batches or auto.max_concurrent_batches
        return RayStage(cls, kwargs={"pool": pool, **stage_kwargs}, batch_size=batch_size,
                        batch_format="pyarrow",
                        actors=Actors(lo, hi, initial=None if isinstance(concurrency, tuple) else hi,
                                      max_concurrent_calls=max_concurrent_batches,
                                      max_tasks_in_flight=2 * max_concurrent_batches),
                        resources=None if num_cpus is None else Resources(num_cpus))

    async def setup(self) -> None:
        """Load prompts/tokenizers once per actor (before the first batch); default: nothing."""

    async def process_row(self, row: dict[str, Any], client: StageClient
                          ) -> Mapping[str, Any] | Kept | None:
        """The written columns for ``row`` (a :class:`Kept` to count something too);
        ``None`` or ``raise Drop(reason, counts)`` drops it."""
        raise NotImplementedError

    async def __call__(self, batch: Any) -> pa.Table:
        rows, columns = rows_of(batch)
        if not self._checked and columns is not None:
            self.check_columns(columns)
            self._checked = True
        await self._setup_once()
        results = await asyncio.gather(*(self._run_row(row) for row in rows))
        if self._cache is not None:
            await self._cache.flush()
        out = []
        for row, (result, reason, counts, detail) in zip(rows, results):
            counts.merge(counts_of(row))   # an earlier stage's counts of this row stay
            if reason is None:
                out.append({**row, **result, **counts_columns(counts)})
                if self.keep_dropped:
                    out[-1].update({DROP_COLUMN: "", DETAIL_COLUMN: ""})
            elif self.keep_dropped:
                out.append({**row, DROP_COLUMN: reason, DETAIL_COLUMN: detail,
                            **counts_columns(counts)})
        await self._report()
        return self._table(out, batch)

    def _table(self, out: list[dict[str, Any]], batch: Any) -> pa.Table:
        typed = {**self.column_types, **outcome_types()}
        if not self.keep_dropped:
            del typed[DROP_COLUMN], typed[DETAIL_COLUMN]
        table = to_table([{k: v for k, v in r.items() if k not in typed} for r in out], batch)
        table = table.drop_columns([n for n in typed if n in table.column_names])
        for name, kind in typed.items():  # built from the rows, never inferred
            table = table.append_column(name, pa.array([r.get(name) for r in out], kind()))
        return table

    def check_columns(self, columns: Sequence[str]) -> None:
        """STYLE rule 2: name the missing and the present columns."""
        missing = [c for c in self.reads if c not in columns]
        if missing:
            raise ValueError(
                f"stage {self.stage_name!r} is missing input column(s) {missing}; the batch has "
                f"{sorted(columns)}. It reads: "
                + "; ".join(f"{k} ({v})" for k, v in self.reads.items()))

    async def _setup_once(self) -> None:
        if self._setup_done:
            return
        if self._setup_lock is None:
            self._setup_lock = asyncio.Lock()
        async with self._setup_lock:
            if not self._setup_done:
                await self.setup()
                self._setup_done = True

    async def _run_row(self, row: dict[str, Any]
                       ) -> tuple[dict[str, Any], str | None, Counters, str]:
        """``(written columns, drop reason or None, the row's counts, the drop's detail)``."""
        counters = self.metrics.counters
        counters.add("total")
        self.metrics.begin()
        counts, detail = Counters(self.every_row), ""
        try:
            client = self._client
            if self._cache is not None and row.get(UNIT_COLUMN):
                client = StageClient(self.pool, self.metrics, self._cache, str(row[UNIT_COLUMN]),
                                     self._memo)
            result = await self.process_row(row, client)
        except Drop as d:
            result, reason, detail = None, d.reason, d.detail
            counts.merge(d.counts)
        except RequestError as e:  # retries used up (or not retryable): drop, never fail
            result, reason = None, "llm_" + e.reason
        except EngineGone:  # no engine left: stop the job, never mark its units done
            raise
        except Exception as e:  # a bug or a poison record: drop this row, never the batch
            result, reason = None, error_reason(self.stage_name, row, e)
        else:
            reason = None if result is not None else "rejected"
        finally:
            self.metrics.end()
        if reason is not None:
            counters.drop(reason)
            return {}, reason, counts, detail
        if isinstance(result, Kept):
            counts.merge(result.counts)
            result = result.columns
        self._check_written(result)
        counters.add("kept")
        return dict(result), None, counts, ""

    def _check_written(self, result: Mapping[str, Any]) -> None:
        if not self.writes:
            return
        missing = [c for c in self.writes if c not in result]
        extra = [c for c in result if c not in self.writes]
        if missing or extra:
            raise ValueError(f"stage {self.stage_name!r} declares writes {list(self.writes)} "
                             f"but process_row returned {list(result)} (missing {missing}, "
                             f"undeclared {extra})")

    async def _report(self) -> None:
        delta = self.metrics.take()
        if self._unreported:
            from ultralink.llm.metrics import merge_snapshots

            delta = merge_snapshots(self._unreported, delta)
        try:
            await self.pool.report(self.stage_name, delta)
            self._unreported = None
        except Exception:  # counters must never fail the batch; send them with the next one
            log.exception("stage %s: could not report counters", self.stage_name)
            self._unreported = delta


@dataclass(frozen=True, slots=True)
class StageSizing:
    rows_per_actor: int
    batch_size: int
    max_concurrent_batches: int


def stage_sizing(total_in_flight: int, actors: int, headroom: float = 2.0,
                 max_batch: int = 16) -> StageSizing:
    """Ray Data batching that keeps every host's gate full without a batch barrier.

    ``headroom`` × the hosts' total in-flight cap is kept in flight over all actors: the
    surplus covers rows whose batch waits on a slower sibling and the next turn's gap, and
    waits in the hosts' priority gates. Batches are small (≤ ``max_batch`` rows, ~32+ per
    actor) so one slow dialogue holds few finished ones.
    """
    rows = max(1, math.ceil(headroom * total_in_flight / max(1, actors)))
    batch = max(1, min(max_batch, rows // 32))
    return StageSizing(rows, batch, max(1, math.ceil(rows / batch)))
