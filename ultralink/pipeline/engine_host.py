"""One loaded model per GPU, shared by every LLM stage of a job, and the pool that routes to it.

Pieces:

- :class:`EngineHost`: a Ray actor (async, ``max_concurrency`` ~1000) that builds its
  :class:`~ultralink.llm.types.ChatEngine` once, caps in-flight requests with a semaphore
  (~1.1 × the engine's max sequences, as Ray Data LLM does) so continuous batching always
  has work, times requests out, and counts tokens and busy time. An engine that raises
  :class:`~ultralink.llm.types.EngineDead` makes the host exit its process so Ray restarts it
  (``max_restarts``); its in-flight requests fail over to the pool's retry.
- ``HostSupervisor`` (one small named actor per pool, no CPU): creates and owns the hosts
  (so they share the job's fate), re-creates a host that is dead for good (``ray.kill`` or
  restarts used up), and collects the stages' counter deltas, which therefore survive Ray
  Data's actor scale-down.
- :class:`HostPool`: the client, on the driver and inside stage actors (it pickles to its
  names and reconnects lazily). ``await pool.generate(request)`` routes by
  ``request.affinity`` with rendezvous hashing (a dead host only moves its own keys) or to the
  least-loaded host, retries per-request errors with backoff, and retries requests whose host
  died on the next host in the key's order while the dead one is brought back.

Example (driver)::

    pool = HostPool.create(engine_config, num_hosts=8, name_prefix="ul")
    rows = stream(items, [read_stage, DialogueStage.stage(pool, concurrency=4)])  # dataflow
    print(format_summary(pool.stats()))
    pool.shutdown()
"""

from __future__ import annotations

import asyncio
import bisect
import heapq
import logging
import math
import os
import random
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any, Literal

import ray
from pydantic import Field
from ray.actor import ActorHandle
from ray.exceptions import ActorDiedError, RayActorError, RayTaskError

from ultralink.core.config import Strict
from ultralink.core.ids import stable_int
from ultralink.llm.factory import build_engine
from ultralink.llm.metrics import LLMMetrics, merge_snapshots
from ultralink.llm.registry import EngineConfig
from ultralink.llm.types import (
    ChatEngine,
    ChatRequest,
    Completion,
    EngineDead,
    EngineGone,
    RequestError,
)

log = logging.getLogger("ultralink.llm")

EngineFactory = Callable[[EngineConfig], ChatEngine]


class HostOptions(Strict):
    """How hosts are placed and how hard they are driven (independent of Ray Data's CPU ops)."""

    max_in_flight: int | None = Field(None, gt=0, description="requests inside the engine at "
                                      "once; default ceil(1.1 × config.max_concurrency)")
    actor_max_concurrency: int = Field(1000, gt=0, description="Ray actor max_concurrency: "
                                       "requests queued in the host beyond max_in_flight")
    request_timeout_s: float = Field(600.0, gt=0, description="engine time per request "
                                     "(queueing in the host not counted)")
    num_cpus: float = Field(1.0, ge=0)
    max_restarts: int = Field(3, ge=-1, description="Ray restarts of a crashed host process")
    max_recreates: int = Field(3, ge=0, description="re-creations of a host dead for good")
    ready_timeout_s: float = Field(3600.0, gt=0, description="model load time allowed")
    exit_on_engine_dead: bool = Field(True, description="exit the actor process on EngineDead "
                                      "so Ray restarts it with a fresh engine")
    stats_poll_s: float = Field(10.0, ge=0, description="how often the supervisor reads host "
                                "counters (a dead host loses at most this much); 0: only on "
                                "stats()")
    kv_output_quantile: float | None = Field(
        0.9, gt=0, le=1, description="KV tokens reserved for a request's output: this "
        "quantile of the outputs the host has seen for requests of a similar max_tokens (the "
        "cap until 64 of them finished; never above max_tokens). vLLM allocates KV as tokens "
        "are generated, so reserving every answer's full max_tokens (1024 for ~290-token "
        "answers) keeps ~10 % of the slots of an H100 empty; None: always max_tokens")
    admission: Literal["oldest_dialogue", "fifo"] = Field(
        "oldest_dialogue", description="which queued request enters the engine next: the one "
        "whose affinity key the host saw first (finishes started dialogues, so Ray Data "
        "batches do not all drain at once), or arrival order")


class RetryPolicy(Strict):
    """Bounded retries: per-request errors back off; host deaths fail over."""

    max_attempts: int = Field(4, ge=1, description="attempts for a retryable RequestError")
    backoff_s: float = Field(0.5, ge=0)
    max_backoff_s: float = Field(30.0, ge=0)
    max_host_failures: int = Field(20, ge=0, description="host deaths one request survives")
    host_wait_s: float = Field(1800.0, ge=0, description="how long a request waits for a host "
                               "to come back when none is up (restarts reload the model)")
    call_timeout_s: float | None = Field(None, gt=0, description="client-side limit on one "
                                         "call (covers a hung host); None: none")

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter (attempt 1 → up to backoff_s)."""
        return random.uniform(0, min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1)))


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


class _PriorityGate:
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


class EngineHost:
    """Holds one engine; run as a Ray actor (see ``HostSupervisor``) or in process (tests)."""

    def __init__(self, config: EngineConfig, index: int = 0, options: HostOptions | None = None,
                 engine_factory: EngineFactory | None = None) -> None:
        self._started = time.time()  # GPU time is held from here (model load included)
        self._stopped: float | None = None
        self.incarnation = uuid.uuid4().hex[:12]
        self.config = config
        self.index = index
        self.options = options or HostOptions()
        self.engine = (engine_factory or build_engine)(config)  # weights load once, here
        self.metrics = LLMMetrics(num_gpus=config.gpus_per_host)
        self.capacity = engine_capacity(self.engine, config)
        self.max_in_flight = max_in_flight_for(config, self.options,
                                               self.capacity["max_num_seqs"])
        self._gate: _PriorityGate | None = None
        self._outputs = (OutputEstimate(self.options.kv_output_quantile)
                         if self.options.kv_output_quantile else None)
        self._first_seen: OrderedDict[str, int] = OrderedDict()
        self._arrivals = 0
        self._dead: str | None = None
        self._restarts = 0
        if ray.is_initialized() and ray.get_runtime_context().get_actor_id():
            self._restarts = int(ray.get_runtime_context().was_current_actor_reconstructed)

    async def ready(self) -> dict[str, Any]:
        """Answers once the model is loaded; what the stages need to budget tokens."""
        in_actor = ray.is_initialized() and ray.get_runtime_context().get_actor_id()
        return {"index": self.index, "model": self.engine.model_name,
                "max_model_len": self.engine.max_model_len, "pid": os.getpid(),
                "max_in_flight": self.max_in_flight, **self.capacity,
                "gpus": self.config.gpus_per_host,
                "gpu_ids": [str(g) for g in ray.get_gpu_ids()] if in_actor else []}

    def _kv_need(self, request: ChatRequest) -> int:
        """KV tokens a request is expected to grow to (prompt + the output reserve of
        :class:`OutputEstimate`, else max new tokens); 0 when the cache is unknown."""
        if self.capacity["kv_cache_tokens"] is None:
            return 0
        try:
            prompt = self.engine.count_tokens(request)
        except (RequestError, ValueError, TypeError, KeyError):  # generate reports it
            prompt = 0
        cap = request.sampling.max_tokens
        return prompt + (self._outputs.reserve(cap) if self._outputs is not None else cap)

    async def generate(self, request: ChatRequest) -> Completion:
        if self._dead:
            raise EngineDead(f"host {self.index}: {self._dead}")
        if self._gate is None:
            self._gate = _PriorityGate(self.max_in_flight, self.capacity["kv_cache_tokens"])
        need = self._kv_need(request)
        await self._gate.acquire(self._priority(request.affinity), need)
        try:
            if self._dead:
                raise EngineDead(f"host {self.index}: {self._dead}")
            self.metrics.begin()
            self.metrics.sent()
            start = time.perf_counter()
            try:
                completion = await asyncio.wait_for(self.engine.generate(request),
                                                    self.options.request_timeout_s)
            except asyncio.TimeoutError:
                self.metrics.error("timeout")
                raise RequestError("timeout", f"no answer in "
                                   f"{self.options.request_timeout_s}s") from None
            except RequestError as e:
                self.metrics.error(e.reason)
                raise
            except EngineDead as e:
                self.metrics.error("engine_dead")
                self._die(str(e) or "engine dead")
                raise
            except Exception as e:  # an engine bug on one request: retried, then the row dropped
                self.metrics.error("engine_" + type(e).__name__)
                raise RequestError("engine_" + type(e).__name__, repr(e)) from e
            finally:
                self.metrics.end()
        finally:
            self._gate.release(need)
        if not completion.latency_s:
            completion.latency_s = time.perf_counter() - start
        if self._outputs is not None:
            self._outputs.observe(request.sampling.max_tokens, completion.completion_tokens)
        self.metrics.completed(completion)
        return completion

    def _priority(self, affinity: str) -> int:
        """Arrival number of the request's dialogue (its first request), or of the request."""
        self._arrivals += 1
        if self.options.admission == "fifo" or not affinity:
            return self._arrivals
        first = self._first_seen.get(affinity)
        if first is None:
            first = self._first_seen[affinity] = self._arrivals
            if len(self._first_seen) > _MAX_KEYS:  # a forgotten key just counts as new
                self._first_seen.popitem(last=False)
        return first

    def count_tokens(self, request: ChatRequest) -> int:
        return self.engine.count_tokens(request)

    async def stats(self) -> dict[str, Any]:
        snap = self.metrics.snapshot()
        held = (self._stopped or time.time()) - self._started
        snap["timings"]["held"] = round(held, 6)
        snap.update(index=self.index, model=self.engine.model_name, restarts=self._restarts,
                    dead=self._dead or "", incarnation=self.incarnation)
        engine_stats = getattr(self.engine, "stats", None)
        if callable(engine_stats):
            snap["engine"] = engine_stats()
        return snap

    async def shutdown(self) -> None:
        """Release the engine explicitly (STYLE: no cleanup by ``__del__``)."""
        self._dead = self._dead or "shut down"
        self._stopped = self._stopped or time.time()
        self.engine.shutdown()

    def _die(self, why: str) -> None:
        if self._dead:
            return
        self._dead = why
        self._stopped = time.time()
        log.error("host %d: engine dead (%s)", self.index, why)
        try:
            self.engine.shutdown()
        except Exception:  # the engine is already broken; exiting is what matters
            log.exception("host %d: shutdown of a dead engine failed", self.index)
        in_actor = ray.is_initialized() and ray.get_runtime_context().get_actor_id()
        if in_actor and self.options.exit_on_engine_dead:
            # Let the EngineDead replies leave, then crash so Ray restarts the actor.
            asyncio.get_running_loop().call_later(0.2, os._exit, 1)


class HostSupervisor:
    """Creates and owns a pool's hosts, re-creates dead ones, and collects stage counters."""

    def __init__(self, config: EngineConfig, num_hosts: int, name_prefix: str,
                 namespace: str | None, options: HostOptions) -> None:
        self.config = config
        self.name_prefix = name_prefix
        self.namespace = namespace
        self.options = options
        self._groups: dict[int, Any] = {}
        self._recreates = [0] * num_hosts
        self._hosts: list[Any] = [self._create(i) for i in range(num_hosts)]
        self._locks: list[asyncio.Lock] | None = None
        self._stages: dict[str, dict[str, Any]] = {}
        self._info: dict[str, Any] = {}
        self._memo: dict[str, Any] = {}  # results shared by every stage of the pool's job
        # per host: the latest snapshot seen and the sum of its earlier incarnations, so a
        # restarted or re-created host's counters and held GPU time are not lost
        self._last: list[dict[str, Any] | None] = [None] * num_hosts
        self._carried: list[dict[str, Any] | None] = [None] * num_hosts
        self._incarnations = [1] * num_hosts
        self._poller: asyncio.Task[None] | None = None

    def _create(self, index: int) -> Any:
        gpus = self.config.gpus_per_host
        placement: dict[str, Any] = {}
        if self.config.tensor_parallel_size > 1:
            # a TP group is all-or-nothing on one node: reserve its GPUs as one bundle
            from ray.util.placement_group import placement_group
            from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

            if index not in self._groups:
                bundle = {k: v for k, v in (("CPU", self.options.num_cpus), ("GPU", gpus)) if v}
                self._groups[index] = placement_group(
                    [bundle], strategy="STRICT_PACK",
                    name=f"{self.name_prefix}-tp-{index}")
            placement["scheduling_strategy"] = PlacementGroupSchedulingStrategy(
                self._groups[index], placement_group_bundle_index=0,
                placement_group_capture_child_tasks=True)
        # a re-created host gets a name of its own: the dead actor's name may still be
        # registered for a moment, and reusing it fails with ActorAlreadyExistsError
        again = self._recreates[index]
        name = f"{self.name_prefix}-host-{index}" + (f"-r{again}" if again else "")
        return _remote(EngineHost).options(
            name=name, namespace=self.namespace,
            num_cpus=self.options.num_cpus, num_gpus=gpus,
            max_restarts=self.options.max_restarts, max_task_retries=0,
            max_concurrency=self.options.actor_max_concurrency, **placement,
        ).remote(self.config, index, self.options)

    async def ready(self) -> list[dict[str, Any]]:
        infos = await asyncio.gather(*(_invoke(h, "ready") for h in self._hosts))
        self._info = infos[0]
        if self._poller is None and self.options.stats_poll_s:
            self._poller = asyncio.get_running_loop().create_task(self._poll())
        return infos

    async def _poll(self) -> None:
        """Read host counters now and then, so a host that dies loses at most one period."""
        while True:
            await asyncio.sleep(self.options.stats_poll_s)
            await self._host_snapshots()

    async def _host_snapshots(self) -> list[dict[str, Any]]:
        async def one(i: int, h: Any) -> dict[str, Any]:
            try:
                snap = await asyncio.wait_for(_invoke(h, "stats"), 30)
            except Exception as e:  # dead or restarting: its earlier counters are kept below
                return {"counts": {}, "timings": {}, "error": type(e).__name__}
            last = self._last[i]
            if last is not None and last.get("incarnation") != snap.get("incarnation"):
                self._carried[i] = merge_snapshots(self._carried[i], last)
                self._incarnations[i] += 1
            self._last[i] = snap
            return snap

        snaps = await asyncio.gather(*(one(i, h) for i, h in enumerate(self._hosts)))
        out = []
        for i, snap in enumerate(snaps):
            current = snap if "error" not in snap else (self._last[i] or snap)
            total = merge_snapshots(self._carried[i], current) if self._carried[i] else dict(
                current)
            for key in ("index", "model", "restarts", "dead", "engine", "incarnation", "error"):
                if key in snap:
                    total[key] = snap[key]
            total["incarnations"] = self._incarnations[i]
            out.append(total)
        return out

    async def hosts(self) -> list[Any]:
        return list(self._hosts)

    async def info(self) -> dict[str, Any]:
        if not self._info:
            await self.ready()
        return self._info

    async def ensure(self, index: int) -> Any | None:
        """A live handle for host ``index`` (waiting out a restart, re-creating a dead one).

        ``None`` once the host has been re-created ``max_recreates`` times: it is gone.
        """
        if self._locks is None:
            self._locks = [asyncio.Lock() for _ in self._hosts]
        async with self._locks[index]:
            delay = 0.2
            while True:
                handle = self._hosts[index]
                try:
                    await _invoke(handle, "ready")
                    return handle
                except ActorDiedError:  # dead for good: ray.kill, restarts used up, init failed
                    if self._recreates[index] >= self.options.max_recreates:
                        log.error("host %d: dead after %d re-creations", index,
                                  self._recreates[index])
                        return None
                    self._recreates[index] += 1
                    log.warning("host %d: dead, re-creating (%d)", index, self._recreates[index])
                    self._hosts[index] = self._create(index)
                except RayActorError:  # restarting (ActorUnavailableError): wait for it
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)

    async def report(self, stage: str, delta: dict[str, Any]) -> None:
        self._stages[stage] = merge_snapshots(self._stages.get(stage), delta)

    async def recall(self, key: str) -> Any:
        return self._memo.get(key)

    async def remember(self, key: str, value: Any) -> None:
        self._memo[key] = value

    async def stats(self) -> dict[str, Any]:
        snaps = await self._host_snapshots()
        for i, snap in enumerate(snaps):
            snap["recreated"] = self._recreates[i]
        return {"stages": dict(self._stages),
                "hosts": {f"{self.name_prefix}-host-{i}": s for i, s in enumerate(snaps)}}

    async def shutdown(self) -> None:
        async def one(h: Any) -> None:
            try:
                await asyncio.wait_for(_invoke(h, "shutdown"), 60)
            except Exception:  # already dead: nothing to release
                pass
            if isinstance(h, ActorHandle):
                ray.kill(h)

        if self._poller is not None:
            self._poller.cancel()
        await self._host_snapshots()  # the final counters, held time up to the stop
        await asyncio.gather(*(one(h) for h in self._hosts))
        if self._groups:
            from ray.util.placement_group import remove_placement_group

            for group in self._groups.values():
                remove_placement_group(group)


class _LocalHost:
    """In-process stand-in for a host actor handle (tests, benchmarks): same EngineHost code."""

    def __init__(self, host: EngineHost) -> None:
        self.host = host

    def __getattr__(self, method: str) -> Any:
        return getattr(self.host, method)


class _LocalSupervisor(HostSupervisor):
    """The supervisor without Ray: hosts are in-process; a dead engine is rebuilt on ensure."""

    def __init__(self, config: EngineConfig, num_hosts: int, options: HostOptions,
                 engine_factory: EngineFactory | None) -> None:
        self.engine_factory = engine_factory
        super().__init__(config, num_hosts, "local", None, options)

    def _create(self, index: int) -> Any:
        return _LocalHost(EngineHost(self.config, index, self.options, self.engine_factory))

    async def ensure(self, index: int) -> Any | None:
        if self._hosts[index].host._dead:
            if self._recreates[index] >= self.options.max_recreates:
                return None
            self._recreates[index] += 1
            self._hosts[index] = self._create(index)
        return self._hosts[index]


_REMOTE: dict[type, Any] = {}


def _remote(cls: type) -> Any:
    if cls not in _REMOTE:
        _REMOTE[cls] = ray.remote(cls)
    return _REMOTE[cls]


async def _invoke(target: Any, method: str, *args: Any) -> Any:
    if isinstance(target, ActorHandle):
        return await getattr(target, method).remote(*args)
    return await getattr(target, method)(*args)


def rendezvous_order(key: str, num_hosts: int) -> list[int]:
    """Host indices by preference for ``key``; removing one host moves only its own keys."""
    return sorted(range(num_hosts), key=lambda i: stable_int(key, i, bits=64), reverse=True)


class HostPool:
    """Routes requests to a job's engine hosts; picklable (reconnects by name in stage actors)."""

    def __init__(self, name_prefix: str, num_hosts: int | None = None, *,
                 namespace: str | None = None, retry: RetryPolicy | None = None) -> None:
        self.name_prefix = name_prefix
        self.num_hosts = num_hosts
        self.namespace = namespace
        self.retry = retry or RetryPolicy()
        self._supervisor: Any = None
        self._local = False
        self._reset()

    def _reset(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handles: list[Any] = []
        self._in_flight: list[int] = []
        self._up: set[int] = set()
        self._gone: set[int] = set()
        self._reviving: dict[int, asyncio.Task[None]] = {}
        self._info: dict[str, Any] = {}

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def create(cls, config: EngineConfig, num_hosts: int, name_prefix: str, *,
               namespace: str | None = None, options: HostOptions | None = None,
               retry: RetryPolicy | None = None) -> HostPool:
        """Start ``num_hosts`` hosts (each ``config.num_gpus`` GPUs) and wait for their models.

        Call once per job on the driver; pass the pool (or its names) to the stages.
        """
        options = options or HostOptions()
        if num_hosts < 1:
            raise ValueError(f"num_hosts must be >= 1, got {num_hosts}")
        namespace = namespace or ray.get_runtime_context().namespace
        # The supervisor owns the hosts (they share its fate) and is not restartable (it holds
        # the stages' counters): pin it to the driver's node, whose loss ends the job anyway,
        # so that losing any other node only costs the hosts there (which Ray restarts).
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        sup = _remote(HostSupervisor).options(
            name=f"{name_prefix}-supervisor", namespace=namespace, num_cpus=0,
            max_concurrency=1000,
            scheduling_strategy=NodeAffinitySchedulingStrategy(
                ray.get_runtime_context().get_node_id(), soft=False),
        ).remote(config, num_hosts, name_prefix, namespace, options)
        try:
            ray.get(sup.ready.remote(), timeout=options.ready_timeout_s)
        except Exception:  # a model failed to load (or timed out): release the others
            try:
                ray.get(sup.shutdown.remote(), timeout=120)
            finally:
                ray.kill(sup)
            raise
        pool = cls(name_prefix, num_hosts, namespace=namespace, retry=retry)
        pool._supervisor = sup
        return pool

    @classmethod
    def connect(cls, name_prefix: str, num_hosts: int | None = None, *,
                namespace: str | None = None, retry: RetryPolicy | None = None) -> HostPool:
        """A client for hosts another process created (looked up by name on first use)."""
        return cls(name_prefix, num_hosts, namespace=namespace, retry=retry)

    @classmethod
    def local(cls, config: EngineConfig, num_hosts: int = 1, *, options: HostOptions | None = None,
              retry: RetryPolicy | None = None,
              engine_factory: EngineFactory | None = None) -> HostPool:
        """Hosts in this process (no Ray): the same host, routing and retry code, for tests."""
        pool = cls("local", num_hosts, retry=retry)
        pool._supervisor = _LocalSupervisor(config, num_hosts, options or HostOptions(),
                                            engine_factory)
        pool._local = True
        return pool

    def __getstate__(self) -> dict[str, Any]:
        if self._local:
            raise TypeError("a local HostPool lives in one process; use HostPool.create on Ray")
        return {"name_prefix": self.name_prefix, "num_hosts": self.num_hosts,
                "namespace": self.namespace, "retry": self.retry}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["name_prefix"], state["num_hosts"], namespace=state["namespace"],
                      retry=state["retry"])

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        self._reset()
        self._sup_handle()
        handles = await _invoke(self._supervisor, "hosts")
        if self.num_hosts is not None and len(handles) != self.num_hosts:
            raise ValueError(f"pool {self.name_prefix!r} has {len(handles)} hosts, "
                             f"expected {self.num_hosts}")
        self.num_hosts = len(handles)
        self._handles = handles
        self._in_flight = [0] * len(handles)
        self._up = set(range(len(handles)))
        self._loop = loop

    async def info(self) -> dict[str, Any]:
        """Model name, ``max_model_len`` and in-flight cap of the hosts (from host 0)."""
        await self._connect()
        if not self._info:
            self._info = await _invoke(self._supervisor, "info")
        return self._info

    # -- routing ----------------------------------------------------------------------------
    def route(self, affinity: str) -> int | None:
        """The host for a request: first live host in the key's rendezvous order, or the
        least-loaded live host for an empty key; ``None`` when none is up."""
        if not self._up:
            return None
        if affinity:
            for index in rendezvous_order(affinity, len(self._handles)):
                if index in self._up:
                    return index
        least = min(self._in_flight[i] for i in self._up)
        return random.choice([i for i in self._up if self._in_flight[i] == least])

    def _mark_down(self, index: int, handle: Any) -> None:
        if self._handles[index] is not handle or index not in self._up:
            return  # already known, or a stale handle
        self._up.discard(index)
        self._reviving[index] = asyncio.get_running_loop().create_task(self._revive(index))

    async def _revive(self, index: int) -> None:
        delay = 0.2
        while True:
            try:
                handle = await _invoke(self._supervisor, "ensure", index)
            except Exception:  # supervisor busy or restarting: try again
                log.exception("host %d: revive failed", index)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            if handle is None:
                self._gone.add(index)
            else:
                self._handles[index] = handle
                self._up.add(index)
            self._reviving.pop(index, None)
            return

    # -- requests ---------------------------------------------------------------------------
    async def generate(self, request: ChatRequest, metrics: LLMMetrics | None = None) -> Completion:
        """One completion, with bounded retries; raises a non-retryable RequestError at the end.

        Args:
            metrics: the caller's (a stage's) counters: attempts, retries, failures, tokens.
        """
        await self._connect()
        m = metrics or LLMMetrics()
        policy = self.retry
        attempts = 0
        host_failures = 0
        waiting_since: float | None = None
        while True:
            index = self.route(request.affinity)
            if index is None:  # every host is restarting: wait for one, within host_wait_s
                now = time.monotonic()
                waiting_since = waiting_since or now
                if len(self._gone) == len(self._handles):
                    m.failed("no_host")
                    raise EngineGone(f"all {len(self._handles)} engine host(s) are gone after "
                                     "their re-creations (see the host logs); rerun to resume")
                if now - waiting_since > policy.host_wait_s:
                    m.failed("no_host")
                    raise RequestError("no_host", "no engine host is up", retryable=False)
                await asyncio.sleep(random.uniform(0.05, 0.25))
                continue
            waiting_since = None
            handle = self._handles[index]
            self._in_flight[index] += 1
            m.sent()
            start = time.perf_counter()
            try:
                call = _invoke(handle, "generate", request)
                if policy.call_timeout_s:
                    call = asyncio.wait_for(call, policy.call_timeout_s)
                completion = await call
            except (EngineDead, RayActorError, asyncio.TimeoutError) as e:
                # The host is gone or hung (not this request's fault): fail over.
                m.error("host_dead")
                self._mark_down(index, handle)
                host_failures += 1
                if host_failures > policy.max_host_failures:
                    m.failed("host_dead")
                    raise RequestError("host_dead", f"{host_failures} host failures: {e!r}",
                                       retryable=False) from None
                m.retry()
                await asyncio.sleep(random.uniform(0, 0.05))
                continue
            except (RequestError, RayTaskError) as e:
                if isinstance(e, RequestError):
                    reason, retryable = e.reason, e.retryable
                else:  # an unexpected error in the host's own code
                    reason, retryable = "host_" + type(e.cause).__name__, True
                m.error(reason)
                attempts += 1
                if not retryable or attempts >= policy.max_attempts:
                    m.failed(reason)
                    raise RequestError(reason, f"{reason} after {attempts} attempt(s)",
                                       retryable=False) from None
                m.retry()
                await asyncio.sleep(policy.backoff(attempts))
                continue
            finally:
                self._in_flight[index] -= 1
            m.completed(completion, time.perf_counter() - start)
            return completion

    # -- job side ---------------------------------------------------------------------------
    async def report(self, stage: str, delta: dict[str, Any]) -> None:
        """Merge a stage's counter delta into the pool's record (kept by the supervisor)."""
        await self._connect()
        await _invoke(self._supervisor, "report", stage, delta)

    def capacity(self) -> dict[str, Any]:
        """Host 0's ``ready()`` info (engine capacity read back after load) plus
        ``num_hosts`` and ``total_in_flight``: what the stages size their concurrency from."""
        if self._local:
            info = asyncio.run(self._supervisor.info())
            n = len(self._supervisor._hosts)
        else:
            sup = self._sup_handle()
            info = ray.get(sup.info.remote())
            n = len(ray.get(sup.hosts.remote()))
        return {**info, "num_hosts": n, "total_in_flight": int(info["max_in_flight"]) * n}

    async def recall(self, key: str) -> Any:
        """A value some stage of this pool stored under ``key`` (e.g. a judge verdict that
        every target language reuses), or None."""
        await self._connect()
        return await _invoke(self._supervisor, "recall", key)

    async def remember(self, key: str, value: Any) -> None:
        """Store a small JSON-able value for every stage of this pool (kept for the job)."""
        await self._connect()
        await _invoke(self._supervisor, "remember", key, value)

    async def stats_async(self) -> dict[str, Any]:
        await self._connect()
        return await _invoke(self._supervisor, "stats")

    def stats(self) -> dict[str, Any]:
        """``{"stages": {name: snapshot}, "hosts": {name: snapshot}}`` for the job report."""
        if self._local:
            return asyncio.run(self._supervisor.stats())
        return ray.get(self._sup_handle().stats.remote())

    def shutdown(self) -> None:
        """Release every engine and end the hosts and the supervisor."""
        if self._local:
            asyncio.run(self._supervisor.shutdown())
            return
        sup = self._sup_handle()
        try:
            ray.get(sup.shutdown.remote(), timeout=120)
        finally:
            ray.kill(sup)

    def _sup_handle(self) -> Any:
        if self._supervisor is None:
            name = f"{self.name_prefix}-supervisor"
            try:
                self._supervisor = ray.get_actor(name, namespace=self.namespace)
            except ValueError:
                raise ValueError(f"no engine host pool {self.name_prefix!r} (actor {name!r}) in "
                                 f"namespace {self.namespace!r}; the job creates it with "
                                 "HostPool.create before the stages run") from None
        return self._supervisor
