"""Admission: how many requests a host lets into its engine, and which queued one goes next.

Why it exists: vLLM batches whatever it holds, so the host must keep the engine just full
(~1.1 × its sequences, as Ray Data LLM does) without over-committing its KV cache (admitted
work that outgrows the cache is preempted and recomputed), and must let started dialogues
finish before new ones start (otherwise every Ray Data batch drains at once). The pieces are
pure (no Ray, no engine) so each rule is testable on its own:

- :func:`max_in_flight_for` / :func:`engine_capacity`: the gate's size, from what the engine
  reports after load;
- :class:`OutputEstimate`: the output tokens a request reserves in the KV budget;
- :class:`ArrivalOrder`: a request's priority (its dialogue's first arrival);
- :class:`PriorityGate`: slots and KV tokens, lowest priority number first.
"""

from __future__ import annotations

import asyncio
import bisect
import heapq
import math
from collections import OrderedDict, deque
from typing import Any, Literal

from ultralink.hosting.options import HostOptions
from ultralink.llm.registry import EngineConfig


def max_in_flight_for(config: EngineConfig, options: HostOptions,
                      engine_seqs: int | None = None) -> int:
    """The host's gate: ~1.1 × the sequences the engine really batches (read back after load,
    else the config's), so the engine's own queue holds only the next step's refills."""
    if options.max_in_flight:
        return options.max_in_flight
    return max(1, math.ceil(1.1 * (engine_seqs or config.seqs)))


def engine_capacity(engine: Any, config: EngineConfig) -> dict[str, int | None]:
    """``max_num_seqs`` and ``kv_cache_tokens`` the engine reports (``capacity()``), else the
    config's sequences and an unknown (unlimited) KV cache."""
    cap = getattr(engine, "capacity", None)
    got = cap() if callable(cap) else {}
    return {"max_num_seqs": int(got.get("max_num_seqs") or config.seqs),
            "kv_cache_tokens": (int(got["kv_cache_tokens"]) if got.get("kv_cache_tokens")
                                else None)}


_MAX_KEYS = 200_000


def _bucket(max_tokens: int) -> int:
    """Caps in (2^(k-1), 2^k] share bucket k (600 and 1024 do, 128 does not)."""
    return max(0, max_tokens - 1).bit_length()


class OutputEstimate:
    """Output tokens to reserve KV for: ``max_tokens`` until ``min_samples`` requests with a
    cap in the same power-of-two bucket finished, then the ``quantile`` of their output
    lengths (the last ``window``), never above the request's own ``max_tokens``.

    A high quantile per request keeps the sum over hundreds of admitted requests well above
    what they really generate (the engine preempts in the rare case it runs out), while the
    worst case (every answer at its cap) would leave a good share of the KV cache reserved
    for tokens that are never written.
    """

    def __init__(self, quantile: float, window: int = 512, min_samples: int = 64) -> None:
        self.quantile = quantile
        self.window = window
        self.min_samples = min_samples
        self._recent: dict[int, deque[int]] = {}
        self._sorted: dict[int, list[int]] = {}

    def reserve(self, max_tokens: int) -> int:
        ranked = self._sorted.get(_bucket(max_tokens))
        if not ranked or len(ranked) < self.min_samples:
            return max_tokens
        return min(max_tokens, ranked[min(len(ranked) - 1, int(self.quantile * len(ranked)))])

    def observe(self, max_tokens: int, output_tokens: int) -> None:
        key = _bucket(max_tokens)
        recent = self._recent.setdefault(key, deque())
        ranked = self._sorted.setdefault(key, [])
        recent.append(output_tokens)
        bisect.insort(ranked, output_tokens)
        if len(recent) > self.window:
            del ranked[bisect.bisect_left(ranked, recent.popleft())]


class PriorityGate:
    """Slots and KV tokens; waiters enter lowest priority number first (ties: arrival order).

    A request holds one slot and ``tokens`` (prompt + its output reserve, see
    :class:`OutputEstimate`) of the KV budget while inside the engine, so admitted work fits
    the engine's KV cache (no preemption thrash on small cards). One request is always
    admitted into an empty engine.
    """

    def __init__(self, capacity: int, kv_tokens: int | None = None) -> None:
        self.free = capacity
        self.kv_free = kv_tokens
        self._kv_total = kv_tokens
        self._waiters: list[tuple[int, int, int, asyncio.Future[None]]] = []
        self._seq = 0

    def _fits(self, tokens: int) -> bool:
        if self.free <= 0:
            return False
        return (self.kv_free is None or tokens <= self.kv_free
                or self.kv_free == self._kv_total)

    def _take(self, tokens: int) -> None:
        self.free -= 1
        if self.kv_free is not None:
            self.kv_free -= tokens

    async def acquire(self, priority: int, tokens: int = 0) -> None:
        if not self._waiters and self._fits(tokens):
            self._take(tokens)
            return
        self._seq += 1
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, self._seq, tokens, fut))
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():  # granted, then cancelled: pass it on
                self.release(tokens)
            raise

    def release(self, tokens: int = 0) -> None:
        self.free += 1
        if self.kv_free is not None:
            self.kv_free += tokens
        while self._waiters:
            _, _, need, fut = self._waiters[0]
            if fut.done():
                heapq.heappop(self._waiters)
                continue
            if not self._fits(need):
                return
            heapq.heappop(self._waiters)
            self._take(need)
            fut.set_result(None)


class ArrivalOrder:
    """A request's admission priority: the arrival number of its dialogue's first request
    (``oldest_dialogue``), or of the request itself (``fifo`` or no affinity key).

    The first arrivals of at most ``max_keys`` dialogues are remembered; a forgotten key
    simply counts as new.
    """

    def __init__(self, mode: Literal["oldest_dialogue", "fifo"] = "oldest_dialogue",
                 max_keys: int = _MAX_KEYS) -> None:
        self.mode = mode
        self.max_keys = max_keys
        self._first_seen: OrderedDict[str, int] = OrderedDict()
        self._arrivals = 0

    def priority(self, affinity: str) -> int:
        """Count one arrival and return its priority (lower enters first)."""
        self._arrivals += 1
        if self.mode == "fifo" or not affinity:
            return self._arrivals
        first = self._first_seen.get(affinity)
        if first is None:
            first = self._first_seen[affinity] = self._arrivals
            if len(self._first_seen) > self.max_keys:
                self._first_seen.popitem(last=False)
        return first
